package protocol

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// The pre-scan walks an encoded Envelope with protowire before it is
// unmarshalled, counting the elements of every repeated field it knows, so
// that a frame of many tiny (for instance empty) elements is rejected before
// proto.Unmarshal allocates a Go message for each of them: an empty Event is
// 2 bytes on the wire and about 230 bytes decoded. It allocates nothing per
// element but a counter array per event or key state it walks into.

// scanField describes one field of a message the pre-scan follows: a
// repeated field whose elements are counted against a limit, or a singular
// message field whose repeated fields are counted.
type scanField struct {
	// name names the field in errors ("events", "version vector entries").
	name string
	// limit caps the elements of a repeated field in one message; nil marks
	// a singular message field.
	limit func(Limits) int
	// err is the sentinel of a count over limit.
	err error
	// slot indexes the field's count in scanCounts: distinct among the
	// repeated fields of a message and of its singular message fields.
	slot int
	// elem, if set, is the layout of the field's message: of each element
	// of a repeated field (counted per element), or of a singular message
	// field (whose occurrences merge, so its counts add up across them).
	elem scanMessage
}

// scanMessage maps the field numbers the pre-scan follows to their layout;
// other fields are only checked to be well-formed.
type scanMessage map[protowire.Number]scanField

// Limits of the pre-scan, from Limits or the engine's fixed caps.
func limEvents(l Limits) int      { return l.MaxEventsPerMessage }
func limIDs(l Limits) int         { return l.MaxIDsPerMessage }
func limRanges(l Limits) int      { return l.MaxRangesPerMessage }
func limVector(l Limits) int      { return l.MaxVectorEntries }
func limContext(Limits) int       { return replica.MaxContextEntries }
func limStateVersions(Limits) int { return replica.MaxStateVersions }
func limStates(l Limits) int      { return l.MaxIDsPerMessage }

// minElementBytes is the least wire size of any valid repeated element (a
// 32-byte ID plus its tag and length; entries and ranges carry a peer ID of
// 34 bytes or more); minElementSlack lets small frames through regardless.
const (
	minElementBytes = 32
	minElementSlack = 64
)

// scanSlots is the number of repeated fields counted per message.
const scanSlots = 3

var (
	// scanEvent is an Event: its causal context (field 8).
	scanEvent = scanMessage{8: {name: "context entries", limit: limContext, err: ErrInvalidMessage}}
	// scanVector is a VersionVector: its entries (field 1).
	scanVector = scanMessage{1: {name: "entries", limit: limVector, err: ErrMessageTooLarge, slot: 2}}
	// scanKeyState is a KeyState: its versions (2) and context (3).
	scanKeyState = scanMessage{
		2: {name: "versions", limit: limStateVersions, err: ErrMessageTooLarge, elem: scanEvent},
		3: {name: "context entries", limit: limContext, err: ErrMessageTooLarge, slot: 1},
	}
	// scanBodies maps the Envelope's body field numbers to their names and
	// layouts (see pb/murmur.proto).
	scanBodies = map[protowire.Number]struct {
		name   string
		layout scanMessage
	}{
		1: {"push", scanMessage{3: {name: "events", limit: limEvents, err: ErrMessageTooLarge, elem: scanEvent}}},
		2: {"push-ack", scanMessage{2: {name: "ids", limit: limIDs, err: ErrMessageTooLarge}}},
		3: {"pull-sync", scanMessage{2: {name: "ids", limit: limIDs, err: ErrMessageTooLarge}}},
		4: {"pull-request", scanMessage{1: {name: "ids", limit: limIDs, err: ErrMessageTooLarge}}},
		5: {"pull-response", scanMessage{1: {name: "events", limit: limEvents, err: ErrMessageTooLarge, elem: scanEvent}}},
		6: {"sync-root", nil},
		7: {"sync-digest", scanMessage{3: {name: "version vector", elem: scanVector}}},
		8: {"sync-exchange", scanMessage{
			2: {name: "events", limit: limEvents, err: ErrMessageTooLarge, elem: scanEvent},
			3: {name: "ranges", limit: limRanges, err: ErrMessageTooLarge, slot: 1},
			5: {name: "compacted", elem: scanVector},
		}},
		9: {"sync-events", scanMessage{
			2: {name: "events", limit: limEvents, err: ErrMessageTooLarge, elem: scanEvent},
			4: {name: "compacted", elem: scanVector},
		}},
		16: {"ae-request", nil},
		17: {"ae-response", scanMessage{4: {name: "version vector", elem: scanVector}}},
		18: {"ae-states", scanMessage{
			2: {name: "states", limit: limStates, err: ErrMessageTooLarge, elem: scanKeyState},
			3: {name: "ranges", limit: limRanges, err: ErrMessageTooLarge, slot: 1},
			4: {name: "version vector", elem: scanVector},
		}},
		19: {"snapshot-request", nil},
		20: {"snapshot-chunk", scanMessage{
			4: {name: "states", limit: limStates, err: ErrMessageTooLarge, elem: scanKeyState},
			6: {name: "version vector", elem: scanVector},
		}},
	}
)

// prescan checks an encoded Envelope before it is unmarshalled: that it is
// well-formed protobuf wire data (ErrMalformedFrame), and that no repeated
// field of its body, nor of an event, key state or version vector in it,
// holds more elements than lim (or the engine's caps) allow
// (ErrMessageTooLarge; ErrInvalidMessage for an event's context, as in
// EventFromProto). It follows protobuf's merge rules: a body field that
// repeats merges into the earlier one (counts add up), another body field
// replaces it (counts restart).
func prescan(data []byte, lim Limits) error {
	var (
		cur    protowire.Number // body field number being counted, 0 for none
		counts scanCounts
	)
	// Every element of a valid message takes at least minElementBytes on the
	// wire (an ID is 32 bytes, a vector entry or range holds a peer ID), so
	// a frame cannot validly hold more elements in all than its length
	// allows; this bounds what empty, cheaply repeated elements nested in
	// events or key states could make proto.Unmarshal allocate.
	budget := len(data)/minElementBytes + minElementSlack
	for off := 0; off < len(data); {
		num, typ, n := protowire.ConsumeField(data[off:])
		if n < 0 {
			return fmt.Errorf("%w: envelope: field at byte %d: %w", ErrMalformedFrame, off, protowire.ParseError(n))
		}
		field := data[off : off+n]
		off += n
		body, known := scanBodies[num]
		if !known || typ != protowire.BytesType {
			continue // an unknown field, or a wire type proto.Unmarshal keeps as unknown
		}
		if num != cur {
			cur, counts = num, scanCounts{}
		}
		if err := scanMsg(bytesValue(field), body.layout, lim, &counts, "", &budget); err != nil {
			return fmt.Errorf("%s: %w", body.name, err)
		}
	}
	return nil
}

// scanCounts counts the elements of the repeated fields of one message by
// their scanField.slot.
type scanCounts [scanSlots]int

// bytesValue returns the value of a length-delimited field that
// protowire.ConsumeField accepted (tag, length, value).
func bytesValue(field []byte) []byte {
	_, _, n := protowire.ConsumeTag(field)
	v, _ := protowire.ConsumeBytes(field[n:])
	return v
}

// scanMsg walks one encoded message of the given layout, adding the
// elements of its repeated fields to counts (prefix names a singular
// message field the message is the value of), and walks each element of a
// repeated message field with counts of its own.
func scanMsg(b []byte, layout scanMessage, lim Limits, counts *scanCounts, prefix string, budget *int) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeField(b[off:])
		if n < 0 {
			return fmt.Errorf("%w: %sfield at byte %d: %w", ErrMalformedFrame, prefix, off, protowire.ParseError(n))
		}
		field := b[off : off+n]
		off += n
		f, known := layout[num]
		if !known || typ != protowire.BytesType {
			continue
		}
		v := bytesValue(field)
		if f.limit == nil {
			// A singular message field: its occurrences merge, so their
			// elements count together.
			if err := scanMsg(v, f.elem, lim, counts, prefix+f.name+": ", budget); err != nil {
				return err
			}
			continue
		}
		i := counts[f.slot]
		if max := f.limit(lim); i >= max {
			return fmt.Errorf("%w: %s%s: more than the limit of %d", f.err, prefix, f.name, max)
		}
		counts[f.slot]++
		if *budget--; *budget < 0 {
			return fmt.Errorf("%w: %s%s: more elements in all than a frame of this size can validly hold", ErrMessageTooLarge, prefix, f.name)
		}
		if f.elem != nil {
			var sub scanCounts
			if err := scanMsg(v, f.elem, lim, &sub, "", budget); err != nil {
				return fmt.Errorf("%s%s[%d]: %w", prefix, f.name, i, err)
			}
		}
	}
	return nil
}
