package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"fmt"
)

// EventID is the sha256 of an event's canonical encoding without signature.
type EventID [32]byte

// String returns the first 8 bytes in hex.
func (id EventID) String() string { return hex.EncodeToString(id[:8]) }

// Op is the operation an event carries.
type Op uint8

const (
	// OpPut sets Key to Value.
	OpPut Op = 1
	// OpDelete writes a tombstone for Key.
	OpDelete Op = 2
	// OpApp is an application event: Value is an opaque payload, Key a topic.
	// It is replicated and delivered but does not change key/value state.
	OpApp Op = 3
)

// String names the operation.
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpApp:
		return "app"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Limits on event fields, checked by Event.Validate. They keep a malicious
// origin from making other nodes store arbitrarily large entries.
const (
	// MaxKeySize is the largest key, in bytes.
	MaxKeySize = 1 << 10
	// MaxValueSize is the largest value or payload, in bytes.
	MaxValueSize = 1 << 20
	// MaxContextEntries bounds the causal context of one write.
	MaxContextEntries = 1 << 14
	// MaxPeerIDSize bounds an origin ID (libp2p IDs are 38 bytes for Ed25519).
	MaxPeerIDSize = 128
)

// encodingVersion is the first byte of the canonical event encoding.
const encodingVersion = 1

// signingDomain prefixes the bytes an origin signs, so a signature over an
// event can never be replayed as a signature over anything else.
const signingDomain = "murmur/event/v1\x00"

// Event is one replicated, signed write. Events are immutable once created:
// nothing may modify an Event or its byte slices after it was signed.
type Event struct {
	// Origin is the node that created the event and signed it.
	Origin PeerID
	// Seq is the origin's sequence number: 1, 2, 3, ... without gaps.
	Seq uint64
	// Time is the origin's hybrid logical clock when it created the event.
	Time Timestamp
	// Op is the operation.
	Op Op
	// Key is the key written (OpPut, OpDelete) or the topic (OpApp).
	Key string
	// Value is the value (OpPut) or opaque payload (OpApp); empty for OpDelete.
	Value []byte
	// Context is the causal context the write was made against: per origin,
	// the highest sequence number of that origin's writes to Key the writer
	// had seen. The write supersedes exactly the versions it covers.
	Context VersionVector
	// Signature is Origin's signature over SigningBytes.
	Signature []byte
}

// Dot returns the event's (origin, seq) identity.
func (e *Event) Dot() Dot { return Dot{Origin: e.Origin, Seq: e.Seq} }

// Body returns the canonical encoding of every field except the signature.
// The encoding is: version byte, then uvarint-length-prefixed origin, uvarint
// seq, 8-byte big-endian wall, 4-byte logical, op byte, uvarint-prefixed key,
// uvarint-prefixed value, uvarint context count and the context entries as
// (uvarint-prefixed origin, uvarint seq) sorted by origin.
func (e *Event) Body() []byte {
	b := make([]byte, 0, e.bodySize())
	b = append(b, encodingVersion)
	b = appendBytes(b, []byte(e.Origin))
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.Wall))
	b = binary.BigEndian.AppendUint32(b, e.Time.Logical)
	b = append(b, byte(e.Op))
	b = appendBytes(b, []byte(e.Key))
	b = appendBytes(b, e.Value)
	origins := e.Context.Origins()
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		b = appendBytes(b, []byte(o))
		b = binary.AppendUvarint(b, e.Context[o])
	}
	return b
}

// bodySize is len(e.Body()) without building it.
func (e *Event) bodySize() int {
	n := 1 + bytesSize(len(e.Origin)) + uvarintSize(e.Seq) + 8 + 4 + 1 +
		bytesSize(len(e.Key)) + bytesSize(len(e.Value))
	cnt := 0
	for o, s := range e.Context {
		if s > 0 {
			cnt++
			n += bytesSize(len(o)) + uvarintSize(s)
		}
	}
	return n + uvarintSize(uint64(cnt))
}

// Size is the event's encoded size in bytes: its body plus the
// length-prefixed signature.
func (e *Event) Size() int { return e.bodySize() + bytesSize(len(e.Signature)) }

// ID returns the content hash of the event body.
func (e *Event) ID() EventID { return sha256.Sum256(e.Body()) }

// SigningBytes returns what the origin signs: a domain prefix and the body.
func (e *Event) SigningBytes() []byte {
	return append([]byte(signingDomain), e.Body()...)
}

// Validate checks the event's fields for well-formedness (not the
// signature). It returns an error wrapping ErrInvalidEvent naming the field.
func (e *Event) Validate() error {
	switch {
	case e == nil:
		return fmt.Errorf("%w: nil event", ErrInvalidEvent)
	case len(e.Origin) == 0:
		return fmt.Errorf("%w: empty origin", ErrInvalidEvent)
	case len(e.Origin) > MaxPeerIDSize:
		return fmt.Errorf("%w: origin of %d bytes exceeds %d", ErrInvalidEvent, len(e.Origin), MaxPeerIDSize)
	case e.Seq == 0:
		return fmt.Errorf("%w: seq 0 from %s", ErrInvalidEvent, e.Origin)
	case e.Op != OpPut && e.Op != OpDelete && e.Op != OpApp:
		return fmt.Errorf("%w: unknown op %d in %s/%d", ErrInvalidEvent, e.Op, e.Origin, e.Seq)
	case len(e.Key) == 0 && e.Op != OpApp:
		return fmt.Errorf("%w: empty key in %s/%d", ErrInvalidEvent, e.Origin, e.Seq)
	case len(e.Key) > MaxKeySize:
		return fmt.Errorf("%w: key of %d bytes exceeds %d in %s/%d", ErrInvalidEvent, len(e.Key), MaxKeySize, e.Origin, e.Seq)
	case len(e.Value) > MaxValueSize:
		return fmt.Errorf("%w: value of %d bytes exceeds %d in %s/%d", ErrInvalidEvent, len(e.Value), MaxValueSize, e.Origin, e.Seq)
	case len(e.Context) > MaxContextEntries:
		return fmt.Errorf("%w: context of %d entries exceeds %d in %s/%d", ErrInvalidEvent, len(e.Context), MaxContextEntries, e.Origin, e.Seq)
	case e.Op == OpDelete && len(e.Value) != 0:
		return fmt.Errorf("%w: delete with a value in %s/%d", ErrInvalidEvent, e.Origin, e.Seq)
	case e.Op == OpApp && len(e.Context) != 0:
		return fmt.Errorf("%w: app event with a causal context in %s/%d", ErrInvalidEvent, e.Origin, e.Seq)
	}
	for o := range e.Context {
		if len(o) == 0 || len(o) > MaxPeerIDSize {
			return fmt.Errorf("%w: context origin of %d bytes in %s/%d", ErrInvalidEvent, len(o), e.Origin, e.Seq)
		}
	}
	if e.Context.Covers(e.Dot()) {
		return fmt.Errorf("%w: context covers the event itself in %s/%d", ErrInvalidEvent, e.Origin, e.Seq)
	}
	return nil
}

// Sign sets e.Signature using s. s must sign as e.Origin.
func (e *Event) Sign(s Signer) error {
	sig, err := s.Sign(e.SigningBytes())
	if err != nil {
		return fmt.Errorf("sign event %s/%d: %w", e.Origin, e.Seq, err)
	}
	e.Signature = sig
	return nil
}

// Verify checks the event's fields and its signature with v and, if v is
// also an Authorizer, whether its origin may write it. It returns an error
// wrapping ErrInvalidEvent, ErrBadSignature or ErrUnauthorized.
func (e *Event) Verify(v Verifier) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if len(e.Signature) == 0 {
		return fmt.Errorf("%w: event %s/%d is unsigned", ErrBadSignature, e.Origin, e.Seq)
	}
	var err error
	if c, ok := v.(eventSigChecker); ok {
		err = c.checkEventSig(e) // a Node's verdict reached off the engine lock
	} else {
		err = v.Verify(e.Origin, e.SigningBytes(), e.Signature)
	}
	if err != nil {
		return fmt.Errorf("%w: event %s/%d: %w", ErrBadSignature, e.Origin, e.Seq, err)
	}
	if a, ok := v.(Authorizer); ok {
		if err := a.Authorize(e); err != nil {
			return fmt.Errorf("%w: event %s/%d: %w", ErrUnauthorized, e.Origin, e.Seq, err)
		}
	}
	return nil
}

// appendBytes appends b with a uvarint length prefix.
func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// uvarintSize is the encoded size of v as a uvarint.
func uvarintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// bytesSize is the encoded size of a length-prefixed field of n bytes.
func bytesSize(n int) int { return uvarintSize(uint64(n)) + n }
