package metrics

import (
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Source is what the collector reads. *p2pnode.Node implements it.
type Source interface {
	Config() p2pnode.Config
	Peers() []peer.ID
	EnginePeers() ([]replica.PeerStatus, error)
	Stats() (p2pnode.Stats, error)
}

// NodeCollector is a prometheus.Collector over a node's counters, read at
// scrape time. A node that is not running yields no node metrics.
type NodeCollector struct {
	src Source
}

// NewNodeCollector returns a collector for src.
func NewNodeCollector(src Source) *NodeCollector { return &NodeCollector{src: src} }

// stat describes one metric without labels and how to read it.
type stat struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	read func(*p2pnode.Stats) float64
}

func newStat(name, help string, kind prometheus.ValueType, read func(*p2pnode.Stats) float64) stat {
	return stat{prometheus.NewDesc(name, help, nil, nil), kind, read}
}

var (
	engineStats = []stat{
		newStat("gossip_deltas_sent_total", "Events (deltas) sent to peers in any message: the payload copies.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.PayloadsSent) }),
		newStat("gossip_deltas_received_total", "Events (deltas) received in any message, new or duplicate: the payload copies.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.PayloadsReceived) }),
		newStat("murmur_events_created_total", "Events created by local writes and publishes.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Created) }),
		newStat("murmur_events_accepted_total", "Events from other origins accepted and applied.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Accepted) }),
		newStat("murmur_events_duplicate_total", "Events received that were already known.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Duplicates) }),
		newStat("murmur_events_rejected_total", "Events refused: invalid, badly signed or equivocating.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Rejected) }),
		newStat("murmur_events_buffered_total", "Events held while an earlier event of their origin was missing.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Buffered) }),
		newStat("murmur_events_buffer_dropped_total", "Out-of-order events dropped because the pending buffer was full.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Dropped) }),
		newStat("murmur_conflicts_total", "Applied writes that left their key with concurrent siblings.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Conflicts) }),
		newStat("murmur_pulls_total", "Events requested from peers by PullRequest.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Pulls) }),
		newStat("murmur_pulls_served_total", "Events sent to peers in PullResponses.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.PullsServed) }),
		newStat("murmur_tree_grafts_total", "Children added to this node's per-origin push trees (a peer pulled what the tree should have brought it).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Grafts) }),
		newStat("murmur_tree_prunes_total", "Children taken out of this node's per-origin push trees (a duplicate push, or the peer failed).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Prunes) }),
		newStat("murmur_sync_rounds_total", "Digest syncs started.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.SyncRounds) }),
		newStat("murmur_sync_timeouts_total", "Digest syncs not finished in time.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.SyncTimeouts) }),
		newStat("murmur_sync_matches_total", "Digest syncs whose roots matched (nothing to exchange).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.SyncMatches) }),
		newStat("murmur_engine_bytes_sent_total", "Bytes of engine messages sent (canonical encoding).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.BytesSent) }),
		newStat("murmur_engine_bytes_received_total", "Bytes of engine messages received (canonical encoding).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.BytesReceived) }),
		newStat("murmur_inbox_dropped_total", "Received messages dropped because the engine's inbox was full.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.InboxDropped) }),
		newStat("murmur_messages_rejected_total", "Received messages the engine refused.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Rejected) }),
		newStat("murmur_events_unauthorized_total", "Received events refused because their origin's member certificate does not allow them (closed networks).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Unauthorized) }),
		newStat("murmur_peers_refused_total", "Peers refused admission: no valid member certificate (closed networks).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.RefusedPeers) }),
		newStat("murmur_streams_gated_total", "Inbound streams reset because their peer is not a member of the network.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.GatedStreams) }),
		newStat("murmur_ae_rounds_total", "Anti-entropy sessions started.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.AERounds) }),
		newStat("murmur_ae_matches_total", "Anti-entropy sessions whose Merkle roots were equal.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.AEMatches) }),
		newStat("murmur_ae_coded_total", "Anti-entropy sessions (either side) whose difference the coded fast path found.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.AECoded) }),
		newStat("murmur_ae_full_syncs_total", "Anti-entropy sessions that chose a full snapshot (past full_sync_threshold).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.AEFullSyncs) }),
		newStat("murmur_ae_failed_total", "Anti-entropy sessions refused, timed out or aborted.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 {
				return float64(s.Engine.AERefused + s.Engine.AETimeouts + s.Engine.AEAborted)
			}),
		newStat("murmur_ae_bytes_sent_total", "Bytes of anti-entropy messages sent (tree walk and states).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.AEBytesSent) }),
		newStat("murmur_ae_bytes_received_total", "Bytes of anti-entropy messages received (tree walk and states).",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.AEBytesReceived) }),
		newStat("murmur_ae_differing_leaves_total", "Differing Merkle leaves found by anti-entropy sessions.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.AEDifferingLeaves) }),
		newStat("murmur_ae_states_merged_total", "Received key states that changed the local state: keys repaired.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.StatesMerged) }),
		newStat("murmur_snapshots_sent_total", "Complete state snapshots sent.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.SnapshotsSent) }),
		newStat("murmur_snapshots_received_total", "Complete state snapshots received.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.SnapshotsReceived) }),
		newStat("murmur_snapshot_bytes_received_total", "Bytes of snapshot chunks received.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.SnapshotBytesReceived) }),
		newStat("murmur_snapshot_active", "1 while a snapshot pull runs.",
			prometheus.GaugeValue, func(s *p2pnode.Stats) float64 {
				if s.Engine.Snapshot.Active {
					return 1
				}
				return 0
			}),
		newStat("murmur_snapshot_keys_done", "Keys received by the running (or last) snapshot pull.",
			prometheus.GaugeValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Snapshot.KeysDone) }),
		newStat("murmur_gc_events_total", "Superseded events garbage-collected.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.GCEvents) }),
		newStat("murmur_gc_keys_total", "Tombstoned keys garbage-collected.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.GCKeys) }),
		newStat("murmur_catch_ups_total", "Version vector raises by state after a snapshot or catch-up session.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.CatchUps) }),
		newStat("murmur_compacted_ignored_total", "Compacted reports ignored because they did not answer a digest sync this node started.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.CompactedIgnored) }),
		newStat("murmur_snapshot_requests_refused_total", "Snapshot requests refused for coming too soon after the same peer's last chunk.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.SnapshotRequestsRefused) }),
		newStat("murmur_events_held_expired_total", "Out-of-order events dropped because their gap did not fill in time.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.HeldExpired) }),
		newStat("murmur_messages_rate_limited_total", "Received messages dropped after waiting peer_rate_max_wait for their sender's peer_byte_rate budget.",
			prometheus.CounterValue, func(s *p2pnode.Stats) float64 { return float64(s.RateLimited) }),
		newStat("murmur_peers_banned", "Peers banned now for misbehaving.",
			prometheus.GaugeValue, func(s *p2pnode.Stats) float64 { return float64(s.Banned) }),
		newStat("murmur_store_events", "Events in the node's log.",
			prometheus.GaugeValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Events) }),
		newStat("murmur_store_origins", "Origins with at least one event in the log.",
			prometheus.GaugeValue, func(s *p2pnode.Stats) float64 { return float64(s.Engine.Origins) }),
	}

	messagesSentDesc = prometheus.NewDesc("murmur_messages_sent_total", "Engine messages sent, by message type.", []string{"type"}, nil)
	messagesRecvDesc = prometheus.NewDesc("murmur_messages_received_total", "Engine messages received, by message type.", []string{"type"}, nil)

	protoLabels   = []string{"protocol"}
	protoMsgSent  = prometheus.NewDesc("murmur_protocol_messages_sent_total", "Messages written to streams, by libp2p protocol.", protoLabels, nil)
	protoMsgRecv  = prometheus.NewDesc("murmur_protocol_messages_received_total", "Messages read from streams, by libp2p protocol.", protoLabels, nil)
	protoByteSent = prometheus.NewDesc("murmur_protocol_bytes_sent_total", "Frame bytes sent (before compression), by libp2p protocol.", protoLabels, nil)
	protoByteRecv = prometheus.NewDesc("murmur_protocol_bytes_received_total", "Frame bytes received (after decompression), by libp2p protocol.", protoLabels, nil)
	// Compression: the two above count frames before compression, these after.
	protoWireSent = prometheus.NewDesc("murmur_protocol_wire_bytes_sent_total", "Bytes written to streams after compression (equal to murmur_protocol_bytes_sent_total without it), by libp2p protocol.", protoLabels, nil)
	protoWireRecv = prometheus.NewDesc("murmur_protocol_wire_bytes_received_total", "Bytes read from streams before decompression, by libp2p protocol.", protoLabels, nil)
	protoDropped  = prometheus.NewDesc("murmur_protocol_send_dropped_total", "Messages not sent because the send queue was full, by libp2p protocol.", protoLabels, nil)
	protoFailures = prometheus.NewDesc("murmur_protocol_send_failures_total", "Messages lost to a stream that could not be opened or written, by libp2p protocol.", protoLabels, nil)
	protoResets   = prometheus.NewDesc("murmur_protocol_streams_reset_total", "Inbound streams reset for a fault, by libp2p protocol.", protoLabels, nil)
	protoOpened   = prometheus.NewDesc("murmur_protocol_streams_opened_total", "Outgoing streams opened, by libp2p protocol.", protoLabels, nil)

	peersConnectedDesc = prometheus.NewDesc("gossip_peers_connected", "Connected members of the network (the peer table) that the failure detector does not hold failed.", nil, nil)
	peersStateDesc     = prometheus.NewDesc("murmur_peers", "Peers in the replication engine's view, by failure-detector state.", []string{"state"}, nil)
	syncDurationDesc   = prometheus.NewDesc("gossip_sync_duration_seconds", "How long digest syncs took, from the first message to the end of the exchange (timeouts included).", nil, nil)
	storeSizeDesc      = prometheus.NewDesc("murmur_store_size_bytes", "Size of the on-disk store (0 for the memory store).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *NodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range engineStats {
		ch <- s.desc
	}
	for _, d := range []*prometheus.Desc{messagesSentDesc, messagesRecvDesc, protoMsgSent, protoMsgRecv, protoByteSent,
		protoByteRecv, protoWireSent, protoWireRecv, protoDropped, protoFailures, protoResets, protoOpened, peersConnectedDesc, peersStateDesc, syncDurationDesc, storeSizeDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *NodeCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.src.Stats()
	if err != nil {
		return // not running: nothing to report
	}
	for _, s := range engineStats {
		ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.read(&st))
	}
	for t := range st.Engine.SentByType {
		mt := replica.MessageType(t)
		if t == 0 {
			continue // no message type 0
		}
		ch <- prometheus.MustNewConstMetric(messagesSentDesc, prometheus.CounterValue, float64(st.Engine.SentByType[t]), mt.String())
		ch <- prometheus.MustNewConstMetric(messagesRecvDesc, prometheus.CounterValue, float64(st.Engine.ReceivedByType[t]), mt.String())
	}
	for id, ps := range st.Protocols {
		for _, m := range []struct {
			d *prometheus.Desc
			v uint64
		}{
			{protoMsgSent, ps.MessagesSent}, {protoMsgRecv, ps.MessagesReceived}, {protoByteSent, ps.BytesSent},
			{protoByteRecv, ps.BytesReceived}, {protoDropped, ps.Dropped}, {protoFailures, ps.SendFailures},
			{protoResets, ps.StreamsReset}, {protoOpened, ps.StreamsOpened},
			{protoWireSent, ps.Compression.WireBytesSent}, {protoWireRecv, ps.Compression.WireBytesReceived},
		} {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v), id)
		}
	}
	h := st.Engine.SyncDurations
	buckets := make(map[float64]uint64, len(replica.SyncDurationBounds))
	for i, b := range replica.SyncDurationBounds {
		buckets[b.Seconds()] = h.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(syncDurationDesc, h.Count, h.Sum.Seconds(), buckets)
	// A connection outlives reachability by tens of seconds in a partition
	// (TCP and yamux keepalives): members the failure detector holds
	// failed are not counted.
	connected := c.src.Peers()
	peers, perr := c.src.EnginePeers()
	failed := map[peer.ID]bool{}
	for _, p := range peers {
		if p.State == replica.PeerFailed {
			failed[peer.ID(p.ID)] = true
		}
	}
	reachable := 0
	for _, p := range connected {
		if !failed[p] {
			reachable++
		}
	}
	ch <- prometheus.MustNewConstMetric(peersConnectedDesc, prometheus.GaugeValue, float64(reachable))
	if perr == nil {
		counts := map[string]int{replica.PeerAlive.String(): 0, replica.PeerSuspected.String(): 0, replica.PeerFailed.String(): 0}
		for _, p := range peers {
			counts[p.State.String()]++
		}
		for state, n := range counts {
			ch <- prometheus.MustNewConstMetric(peersStateDesc, prometheus.GaugeValue, float64(n), state)
		}
	}
	var size int64
	if cfg := c.src.Config(); cfg.Store == "pebble" {
		size = DirSize(filepath.Join(cfg.DataDir, p2pnode.StoreDirName))
	}
	ch <- prometheus.MustNewConstMetric(storeSizeDesc, prometheus.GaugeValue, float64(size))
}
