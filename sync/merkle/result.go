package merkle

import (
	"bytes"
	"slices"
)

// Result is what a finished session found. Both sides of a session end
// with the same InSync, FullSync and Ranges.
type Result struct {
	// InSync: the roots were equal; nothing to do.
	InSync bool
	// FullSync: at least Config.FullSyncThreshold of the initiator's leaves
	// differ (or the estimate of them does); the caller should stream a
	// snapshot instead of exchanging entries. Ranges is then incomplete.
	FullSync bool
	// Ranges are the nodes whose entries differ, in ascending KeyHash order
	// and disjoint. Each side sends the other every entry it holds in them
	// (Entries lists them; a store walks one with
	// ScanKeyHashes(r.First(), ...) while r.Contains(hash)); nothing
	// outside them differs. The initiator's list may hold ranges where only
	// it has entries, which the responder does not know of.
	Ranges []Range
	// DifferingLeaves is the number of the initiator's leaves found to
	// differ: exact for differences located at or below leaf level, an
	// expectation for ranges above it that one side has no entries in.
	DifferingLeaves int
	// Leaves is the initiator's number of leaves (2^Depth).
	Leaves int
	// RoundTrips counts request/response pairs; the final Done or FullSync
	// request travels one way on top of them.
	RoundTrips int
	// BytesSent and BytesReceived count this side's encoded protocol
	// messages (not the entries exchanged afterwards).
	BytesSent, BytesReceived int
	// NodesCompared counts node hashes the responder sent.
	NodesCompared int
	// Coded says the coded fast path found the difference: Ranges are then
	// level-32 ranges, one per differing key.
	Coded bool
}

// Entries returns the entries of src in r.Ranges: what this side sends
// its peer after the session.
func (r Result) Entries(src Source) ([]Entry, error) {
	var out []Entry
	for _, rg := range r.Ranges {
		err := src.Scan(rg.First(), func(e Entry) bool {
			if !rg.Contains(e.KeyHash) {
				return false
			}
			out = append(out, e)
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sortRanges orders disjoint ranges by the KeyHash where they start.
func sortRanges(rs []Range) {
	slices.SortFunc(rs, func(a, b Range) int {
		fa, fb := a.First(), b.First()
		return bytes.Compare(fa[:], fb[:])
	})
}
