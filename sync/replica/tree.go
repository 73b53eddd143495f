package replica

import (
	"slices"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// This file holds the push trees: one per origin, in the manner of
// Plumtree (Leitão, Pereira and Rodrigues, "Epidemic Broadcast Trees"),
// but kept per origin rather than shared. Each node remembers, for the
// origins whose events it has seen recently, the peers it pushes that
// origin's events to (its children) and the peer that last brought one
// first (its parent). Events of one origin only ever change that origin's
// tree, so concurrent writers do not tear at one another's paths, and each
// origin's events travel the paths its own earlier events found fastest.

// maxTreeOrigins bounds the origins whose trees a node remembers (least
// recently used first out). An origin that falls out starts cold again at
// this node: its next event is announced rather than pushed on, and the
// children it had pull and graft a new parent.
const maxTreeOrigins = 4096

// originTree is this node's place in one origin's push tree.
type originTree struct {
	// parent is the peer whose push or pull answer last brought one of the
	// origin's events here first.
	parent PeerID
	// children are the peers this node pushes the origin's events to.
	children []PeerID
}

func newTrees() *simplelru.LRU[PeerID, *originTree] {
	t, err := simplelru.NewLRU[PeerID, *originTree](maxTreeOrigins, nil)
	if err != nil {
		panic(err) // only for a non-positive size
	}
	return t
}

// treeOf returns origin's tree, creating it; existed reports whether this
// node knew the origin already.
func (e *Engine) treeOf(origin PeerID) (t *originTree, existed bool) {
	if t, ok := e.trees.Get(origin); ok {
		return t, true
	}
	t = &originTree{}
	e.trees.Add(origin, t)
	return t, false
}

// children returns the live children of t other than from, dropping the
// ones that failed or left the peer table (suspected ones stay: under load
// answers come late, not never). A dropped child grafts again by pulling.
func (e *Engine) children(t *originTree, from PeerID) []PeerID {
	keep := t.children[:0]
	for _, p := range t.children {
		if info, ok := e.peers.m[p]; ok && info.state != PeerFailed {
			keep = append(keep, p)
		} else {
			e.stats.Prunes++
		}
	}
	clear(t.children[len(keep):])
	t.children = keep
	var out []PeerID
	for _, p := range t.children {
		if p != from {
			out = append(out, p)
		}
	}
	return out
}

// graft makes p a child in origin's tree (Plumtree's GRAFT): origin's next
// events are pushed to it. Only peers in the peer table qualify.
func (e *Engine) graft(origin, p PeerID) {
	if p == "" || p == origin || e.cfg.ExternalDissemination {
		return
	}
	if _, ok := e.peers.m[p]; !ok {
		return
	}
	t, _ := e.treeOf(origin)
	if !slices.Contains(t.children, p) {
		t.children = append(t.children, p)
		e.stats.Grafts++
	}
}

// prune takes p out of origin's tree (Plumtree's PRUNE): it gets the
// origin's events' IDs only.
func (e *Engine) prune(origin, p PeerID) {
	t, ok := e.trees.Peek(origin)
	if !ok {
		return
	}
	if i := slices.Index(t.children, p); i >= 0 {
		t.children = slices.Delete(t.children, i, i+1)
		e.stats.Prunes++
	}
}

// TreePeers returns, for origin, the peer this node last got one of its
// events from first and the peers it pushes its events to (see the package
// documentation, "Dissemination"); ok is false when this node keeps no
// tree for origin.
func (e *Engine) TreePeers(origin PeerID) (parent PeerID, children []PeerID, ok bool) {
	t, ok := e.trees.Peek(origin)
	if !ok {
		return "", nil, false
	}
	return t.parent, slices.Clone(t.children), true
}
