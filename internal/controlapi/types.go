package controlapi

import (
	"encoding/base64"
	"fmt"
	"time"
	"unicode/utf8"
)

// Encodings of a value or payload in JSON: EncodingUTF8 carries it as the
// string itself, EncodingBase64 as standard base64. Responses use utf8 when
// the bytes are valid UTF-8 and base64 otherwise; requests default to utf8.
const (
	EncodingUTF8   = "utf8"
	EncodingBase64 = "base64"
)

// encode returns b as a JSON string and the encoding it uses.
func encode(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), EncodingUTF8
	}
	return base64.StdEncoding.EncodeToString(b), EncodingBase64
}

// decode turns a JSON string in the named encoding back into bytes.
func decode(s, encoding, field string) ([]byte, error) {
	switch encoding {
	case "", EncodingUTF8:
		return []byte(s), nil
	case EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid base64: %w", field, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("encoding: invalid value %q: want %s or %s", encoding, EncodingUTF8, EncodingBase64)
}

// Bytes decodes a value or payload carried in the given encoding.
func Bytes(s, encoding string) ([]byte, error) { return decode(s, encoding, "value") }

// PutRequest is the body of PUT /v1/kv/{key}.
type PutRequest struct {
	// Value is the value, in Encoding (utf8 when empty).
	Value    string `json:"value"`
	Encoding string `json:"encoding,omitempty"`
}

// PublishRequest is the body of POST /v1/publish.
type PublishRequest struct {
	// Topic names the application event; Payload is its content, in
	// Encoding (utf8 when empty).
	Topic    string `json:"topic"`
	Payload  string `json:"payload"`
	Encoding string `json:"encoding,omitempty"`
}

// SyncRequest is the body of POST /v1/sync.
type SyncRequest struct {
	// Peer is the libp2p peer ID (12D3KooW...) to run a digest sync with.
	Peer string `json:"peer"`
}

// WriteResult answers a put, delete or publish: the event that carries the
// write, durable on the node when the response is sent.
type WriteResult struct {
	Op     string    `json:"op"`
	Key    string    `json:"key"`
	Origin string    `json:"origin"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
}

// Version is one sibling of a key.
type Version struct {
	Origin   string    `json:"origin"`
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Deleted  bool      `json:"deleted,omitempty"`
	Value    string    `json:"value"`
	Encoding string    `json:"encoding"`
}

// Entry is a key with its value: the deterministic winner every node agrees
// on, and every sibling when concurrent writes left more than one.
type Entry struct {
	Key      string    `json:"key"`
	Value    string    `json:"value"`
	Encoding string    `json:"encoding"`
	Origin   string    `json:"origin"`
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Conflict bool      `json:"conflict"`
	Versions []Version `json:"versions"`
}

// Bytes returns the entry's value.
func (e Entry) Bytes() ([]byte, error) { return decode(e.Value, e.Encoding, "value") }

// ListResult answers GET /v1/kv?prefix=P.
type ListResult struct {
	Prefix string  `json:"prefix"`
	Keys   []Entry `json:"keys"`
	// Truncated is true when more keys matched than limit allowed.
	Truncated bool `json:"truncated"`
}

// Change is one event of the watch stream: a put, delete or publish, from
// this node or replicated from another. Cursor resumes the stream right after
// it.
type Change struct {
	Op       string    `json:"op"`  // put, delete or publish
	Key      string    `json:"key"` // the key, or the topic of a publish
	Value    string    `json:"value"`
	Encoding string    `json:"encoding"`
	Origin   string    `json:"origin"`
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	// Replayed is true for changes read back from the store (the client's
	// cursor was behind), false for changes streamed as they happened.
	Replayed bool   `json:"replayed"`
	Cursor   string `json:"cursor"`
}

// Bytes returns the change's value or payload.
func (c Change) Bytes() ([]byte, error) { return decode(c.Value, c.Encoding, "value") }

// Peer is one peer of the node: connected members and the replication
// engine's failure-detector view, merged.
type Peer struct {
	ID        string `json:"id"`
	Connected bool   `json:"connected"`
	// State is alive, suspected or failed; empty for a connected member the
	// engine does not track yet.
	State string `json:"state"`
	// LastContact is when a message was last sent to the peer (zero if
	// never); Reliability the smoothed share of requests it answered.
	LastContact time.Time `json:"last_contact"`
	Reliability float64   `json:"reliability"`
	// RTTMillis is the smoothed round-trip time in milliseconds (libp2p
	// ping; GET /v1/peers?ping=1 measures afresh), 0 if never measured.
	RTTMillis float64 `json:"rtt_ms"`
}

// PeersResult answers GET /v1/peers.
type PeersResult struct {
	Peers []Peer `json:"peers"`
}

// Status answers GET /v1/status.
type Status struct {
	PeerID  string   `json:"peer_id"`
	Network string   `json:"network"`
	Addrs   []string `json:"addrs"`
	// VersionVector maps each origin to the highest sequence number the node
	// holds without a gap; Cursor is the same vector as a watch cursor.
	VersionVector  map[string]uint64 `json:"version_vector"`
	Cursor         string            `json:"cursor"`
	PeersConnected int               `json:"peers_connected"`
	Store          StoreStatus       `json:"store"`
	Engine         EngineStatus      `json:"engine"`
	Wire           WireStatus        `json:"wire"`
	Uptime         string            `json:"uptime"`
}

// WireStatus sums the frames of every murmur protocol: bytes as encoded
// and bytes on the streams, after compression.
type WireStatus struct {
	Compression       string `json:"compression"` // what this node sends: none, snappy or zstd
	BytesSent         uint64 `json:"bytes_sent"`
	WireBytesSent     uint64 `json:"wire_bytes_sent"`
	BytesReceived     uint64 `json:"bytes_received"`
	WireBytesReceived uint64 `json:"wire_bytes_received"`
}

// StoreStatus describes the node's store.
type StoreStatus struct {
	Kind      string `json:"kind"` // pebble, memory or postgres
	Dir       string `json:"dir,omitempty"`
	Schema    string `json:"schema,omitempty"` // postgres: the schema of the node's tables
	SizeBytes int64  `json:"size_bytes"`
	Events    uint64 `json:"events"`
	Origins   int    `json:"origins"`
}

// EngineStatus holds the replication engine's main counters.
type EngineStatus struct {
	Created          uint64 `json:"created"`
	Accepted         uint64 `json:"accepted"`
	Duplicates       uint64 `json:"duplicates"`
	Rejected         uint64 `json:"rejected"`
	PayloadsReceived uint64 `json:"payloads_received"`
	PayloadsSent     uint64 `json:"payloads_sent"`
	Conflicts        uint64 `json:"conflicts"`
	MessagesSent     uint64 `json:"messages_sent"`
	MessagesReceived uint64 `json:"messages_received"`
	BytesSent        uint64 `json:"bytes_sent"`
	BytesReceived    uint64 `json:"bytes_received"`
	Pulls            uint64 `json:"pulls"`
	SyncRounds       uint64 `json:"sync_rounds"`
	SyncMatches      uint64 `json:"sync_matches"`
	SyncTimeouts     uint64 `json:"sync_timeouts"`
	InboxDropped     uint64 `json:"inbox_dropped"`
	AERounds         uint64 `json:"ae_rounds"`
	AEMatches        uint64 `json:"ae_matches"`
	AEFullSyncs      uint64 `json:"ae_full_syncs"`
	AECoded          uint64 `json:"ae_coded"`
	AEBytesSent      uint64 `json:"ae_bytes_sent"`
	AEBytesReceived  uint64 `json:"ae_bytes_received"`
	StatesMerged     uint64 `json:"states_merged"`
	GCEvents         uint64 `json:"gc_events"`
	GCKeys           uint64 `json:"gc_keys"`
	// Snapshot is the running (or last) snapshot pull: long work shows its
	// progress here.
	Snapshot SnapshotStatus `json:"snapshot"`
}

// SnapshotStatus is the progress of a snapshot pull.
type SnapshotStatus struct {
	Active    bool      `json:"active"`
	Peer      string    `json:"peer,omitempty"`
	KeysDone  uint64    `json:"keys_done"`
	KeysTotal uint64    `json:"keys_total"`
	BytesDone uint64    `json:"bytes_done"`
	Started   time.Time `json:"started,omitzero"`
	Done      bool      `json:"done"`
}

// SyncResult answers POST /v1/sync: the outcome of the digest sync, or
// Pending when it had not finished within the request's wait.
type SyncResult struct {
	Peer     string `json:"peer"`
	Pending  bool   `json:"pending"`
	Match    bool   `json:"match"`
	Sent     int    `json:"sent"`
	Received int    `json:"received"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}
