package controlapi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// CursorStart is the cursor of an empty version vector: resuming from it
// replays every event the node's store holds.
const CursorStart = "0"

// EncodeCursor renders a version vector as a watch cursor: the entries
// "PEERID:SEQ" sorted by origin and joined by commas, or CursorStart for
// the empty vector. It is plain text, safe in an SSE id line and a URL query
// (after escaping).
func EncodeCursor(vv replica.VersionVector) string {
	origins := vv.Origins()
	if len(origins) == 0 {
		return CursorStart
	}
	parts := make([]string, 0, len(origins))
	for _, o := range origins {
		parts = append(parts, peer.ID(o).String()+":"+strconv.FormatUint(vv[o], 10))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// DecodeCursor parses a cursor made by EncodeCursor.
func DecodeCursor(s string) (replica.VersionVector, error) {
	vv := replica.VersionVector{}
	if s == CursorStart {
		return vv, nil
	}
	if s == "" {
		return nil, fmt.Errorf("cursor: empty (use %q to replay from the start)", CursorStart)
	}
	for i, part := range strings.Split(s, ",") {
		id, seqText, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("cursor: entry %d %q: want PEERID:SEQ", i, part)
		}
		p, err := peer.Decode(id)
		if err != nil {
			return nil, fmt.Errorf("cursor: entry %d: invalid peer ID %q: %w", i, id, err)
		}
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cursor: entry %d: invalid sequence number %q", i, seqText)
		}
		if _, dup := vv[replica.PeerID(p)]; dup {
			return nil, fmt.Errorf("cursor: entry %d: peer %s appears twice", i, id)
		}
		vv[replica.PeerID(p)] = seq
	}
	return vv, nil
}
