package order

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Save applies the durable part of rd to p, as a disk store must: a
// snapshot from the leader replaces the snapshot and the whole log; the
// hard state is replaced; entries replace the log from their first index
// on; a local snapshot replaces the snapshot and the log is cut to after
// CompactTo. It is the in-memory reference for on-disk stores (the
// simulator's disk), and Pebble's store does the same.
func (p *Persisted) Save(rd Ready) {
	if !raft.IsEmptySnap(rd.Snapshot) {
		p.Snapshot = rd.Snapshot
		p.Entries = nil
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		p.HardState = rd.HardState
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].Index
		keep := p.Entries[:0:0]
		for _, e := range p.Entries {
			if e.Index < first {
				keep = append(keep, e)
			}
		}
		p.Entries = append(keep, rd.Entries...)
	}
	if !raft.IsEmptySnap(rd.LocalSnapshot) {
		p.Snapshot = rd.LocalSnapshot
	}
	if rd.CompactTo > 0 {
		keep := p.Entries[:0:0]
		for _, e := range p.Entries {
			if e.Index > rd.CompactTo {
				keep = append(keep, e)
			}
		}
		p.Entries = keep
	}
}

// Clone returns a deep enough copy of p for a simulator to keep as the
// disk of a node while the node's Core runs on.
func (p *Persisted) Clone() Persisted {
	return Persisted{HardState: p.HardState, Snapshot: p.Snapshot, Entries: append([]raftpb.Entry(nil), p.Entries...)}
}
