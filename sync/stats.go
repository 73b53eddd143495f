package sync

// Stats are the engine's counters since it was created.
type Stats struct {
	// Events is the number of events in the log; Origins the number of
	// origins with at least one event.
	Events  uint64
	Origins int
	// Created counts local events; Accepted counts events from other origins
	// applied; Duplicates counts events received that were already known;
	// Rejected counts events refused (invalid, badly signed, equivocating).
	Created, Accepted, Duplicates, Rejected uint64
	// PayloadsReceived counts full events received in any message, or
	// through Receive, new or duplicate: the payload copies.
	PayloadsReceived uint64
	// Broadcast counts local events handed to the external dissemination
	// router (Ready.Broadcast); ExternalReceived counts events it delivered
	// (Receive), new or duplicate.
	Broadcast, ExternalReceived uint64
	// MessagesSent, MessagesReceived, BytesSent and BytesReceived count all
	// messages; the ByType arrays split them by MessageType.
	MessagesSent, MessagesReceived, BytesSent, BytesReceived uint64
	SentByType, ReceivedByType                               [numMessageTypes]uint64
	// Pulls counts events requested by PullRequest; PullsServed counts events
	// sent in PullResponses.
	Pulls, PullsServed uint64
	// SyncRounds counts digest syncs started; SyncMatches those whose roots
	// matched.
	SyncRounds, SyncMatches uint64
	// Buffered counts events held while an earlier event of their origin was
	// missing; Dropped counts events dropped because that buffer was full.
	Buffered, Dropped uint64
}
