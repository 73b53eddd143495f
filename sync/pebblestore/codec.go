package pebblestore

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/murmur-p2p/murmur/sync/internal/record"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Key layout. Every key starts with one byte naming its table.
const (
	tabEvent = 'e' // 'e' EventID -> event record
	tabDot   = 'd' // 'd' uvarint(len origin) origin seq(8, big-endian) -> EventID
	tabKey   = 'k' // 'k' key -> key state record
	tabHash  = 'h' // 'h' KeyHash -> digest(32) key
	tabLeaf  = 'l' // 'l' leaf index(4, big-endian) -> merkle node (40)
	tabSym   = 'c' // 'c' symbol index(4, big-endian) -> coded sketch symbol (24)
	tabVV    = 'v' // 'v' origin -> uvarint seq
	tabMeta  = 'm' // 'm' name -> application metadata
	tabStore = 's' // 's' name -> the store's own metadata (format, depth, clock)
)

// Names in tabStore.
const (
	storeFormat = "format"
	storeDepth  = "merkle-depth"
	// storeSketch is the length of the persisted coded sketch.
	storeSketch = "sketch-symbols"
	storeClock  = "clock"
	// storeApplied numbers the applied batches, for the watermark check.
	storeApplied = "applied"
)

// formatVersion is written once at creation; Open refuses other versions.
const formatVersion = 1

// crcTable is CRC-32C, the checksum every record carries.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// seal appends the record checksum: CRC-32C over the key and the payload,
// so a value moved under another key is caught as well as flipped bits.
func seal(key, payload []byte) []byte {
	c := crc32.Update(crc32.Checksum(key, crcTable), crcTable, payload)
	out := make([]byte, len(payload), len(payload)+4)
	copy(out, payload)
	return binary.BigEndian.AppendUint32(out, c)
}

// unseal checks a sealed record and returns its payload.
func unseal(key, rec []byte) ([]byte, error) {
	if len(rec) < 4 {
		return nil, fmt.Errorf("%w: record %s of %d bytes has no checksum", ErrCorrupt, describeKey(key), len(rec))
	}
	payload := rec[:len(rec)-4]
	want := binary.BigEndian.Uint32(rec[len(rec)-4:])
	if got := crc32.Update(crc32.Checksum(key, crcTable), crcTable, payload); got != want {
		return nil, fmt.Errorf("%w: checksum mismatch in record %s (stored %08x, computed %08x)", ErrCorrupt, describeKey(key), want, got)
	}
	return payload, nil
}

// describeKey names a store key for error messages.
func describeKey(k []byte) string {
	if len(k) == 0 {
		return "<empty key>"
	}
	rest := k[1:]
	switch k[0] {
	case tabEvent:
		return fmt.Sprintf("event %x", rest)
	case tabDot:
		return fmt.Sprintf("event index %x", rest)
	case tabKey:
		return fmt.Sprintf("key %q", rest)
	case tabHash:
		return fmt.Sprintf("key-hash index %x", rest)
	case tabLeaf:
		return fmt.Sprintf("merkle leaf %x", rest)
	case tabSym:
		return fmt.Sprintf("sketch symbol %x", rest)
	case tabVV:
		return fmt.Sprintf("version vector entry %x", rest)
	case tabMeta:
		return fmt.Sprintf("metadata %q", rest)
	case tabStore:
		return fmt.Sprintf("store metadata %q", rest)
	}
	return fmt.Sprintf("unknown key %x", k)
}

func tableKey(tab byte, rest []byte) []byte {
	return append([]byte{tab}, rest...)
}

func eventKey(id replica.EventID) []byte { return tableKey(tabEvent, id[:]) }

func dotPrefix(origin replica.PeerID) []byte {
	b := binary.AppendUvarint([]byte{tabDot}, uint64(len(origin)))
	return append(b, origin...)
}

func dotKey(origin replica.PeerID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(dotPrefix(origin), seq)
}

func keyKey(key string) []byte { return tableKey(tabKey, []byte(key)) }

func hashKey(h merkle.KeyHash) []byte { return tableKey(tabHash, h[:]) }

func symKey(i int) []byte { return binary.BigEndian.AppendUint32([]byte{tabSym}, uint32(i)) }

func leafKey(i uint64) []byte { return binary.BigEndian.AppendUint32([]byte{tabLeaf}, uint32(i)) }

func vvKey(origin replica.PeerID) []byte { return tableKey(tabVV, []byte(origin)) }

func metaKey(name string) []byte { return tableKey(tabMeta, []byte(name)) }

func storeKey(name string) []byte { return tableKey(tabStore, []byte(name)) }

// done returns nil if the payload was read completely and well, else an
// error wrapping ErrCorrupt that names what (formatted only on failure:
// this runs for every record read).
func done(r *record.Reader, what string, arg any) error {
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrCorrupt, fmt.Sprintf(what, arg), err)
	}
	return nil
}

// encodeEvent is the event record payload.
func encodeEvent(e *replica.Event) []byte {
	b := make([]byte, 0, e.Size()+16)
	b = record.AppendBytes(b, []byte(e.Origin))
	b = binary.AppendUvarint(b, e.Seq)
	b = record.AppendTime(b, e.Time)
	b = append(b, byte(e.Op))
	b = record.AppendBytes(b, []byte(e.Key))
	b = record.AppendBytes(b, e.Value)
	b = record.AppendVV(b, e.Context)
	return record.AppendBytes(b, e.Signature)
}

// decodeEvent decodes an event record payload stored under id and checks
// that the event's content hash is id.
func decodeEvent(id replica.EventID, p []byte) (*replica.Event, error) {
	r := &record.Reader{B: p}
	e := &replica.Event{}
	e.Origin = replica.PeerID(r.Bytes())
	e.Seq = r.Uvarint()
	e.Time = r.Time()
	if op := r.Fixed(1); op != nil {
		e.Op = replica.Op(op[0])
	}
	e.Key = string(r.Bytes())
	e.Value = r.Bytes()
	e.Context = r.VV()
	e.Signature = r.Bytes()
	if err := done(r, "event %x", id[:8]); err != nil {
		return nil, err
	}
	if e.ID() != id {
		return nil, fmt.Errorf("%w: event stored under %x has content hash %s", ErrCorrupt, id[:8], e.ID())
	}
	return e, nil
}

// encodeKeyState is the key state record payload (the key is the record
// key, not repeated).
func encodeKeyState(ks *replica.KeyState) []byte { return record.AppendKeyState(nil, ks) }

func decodeKeyState(key string, p []byte) (*replica.KeyState, error) {
	ks, err := record.DecodeKeyState(key, p)
	if err != nil {
		return nil, fmt.Errorf("%w: decode key %q: %w", ErrCorrupt, key, err)
	}
	return ks, nil
}

// digestDomain separates key-state digests from other sha256 uses.
const digestDomain = "murmur/keystate/v1\x00"

// Digest returns the digest of a key's state that the Merkle tree covers:
// sha256 over the key, the event IDs of its versions in order and its
// causal context sorted by origin. Two nodes get equal digests exactly
// when their states are equal (replica.KeyState.Equal).
func Digest(ks *replica.KeyState) merkle.Digest {
	h := sha256.New()
	n := len(digestDomain) + 2*binary.MaxVarintLen64 + len(ks.Key) + len(ks.Versions)*len(replica.EventID{}) + 1
	for o := range ks.Context {
		n += 2*binary.MaxVarintLen64 + len(o)
	}
	b := record.AppendBytes(append(make([]byte, 0, n), digestDomain...), []byte(ks.Key))
	b = binary.AppendUvarint(b, uint64(len(ks.Versions)))
	for _, v := range ks.Versions {
		b = append(b, v.Event[:]...)
	}
	b = record.AppendVV(b, ks.Context)
	h.Write(b)
	var d merkle.Digest
	h.Sum(d[:0])
	return d
}

// hashRecord is the payload of a key-hash index row.
func hashRecord(d merkle.Digest, key string) []byte {
	return append(d[:], key...)
}

func decodeHashRecord(h []byte, p []byte) (merkle.Digest, string, error) {
	var d merkle.Digest
	if len(p) < len(d) {
		return d, "", fmt.Errorf("%w: key-hash index %x: record of %d bytes", ErrCorrupt, h, len(p))
	}
	copy(d[:], p)
	return d, string(p[len(d):]), nil
}
