package replica

import "slices"

// pendingWrites are the store writes made since the last Advance. Until the
// caller applies them (Ready.Batch) the engine reads through them, so the
// store only ever sees whole, ordered batches.
type pendingWrites struct {
	events []*Event
	ids    map[EventID]*Event
	dots   map[Dot]*Event
	// keys holds new key states; a nil state deletes the key.
	keys map[string]*KeyState
	vv   VersionVector
	// delEvents are events garbage collection removes.
	delEvents []EventID
	meta      map[string][]byte
}

func (p *pendingWrites) empty() bool {
	return len(p.events) == 0 && len(p.keys) == 0 && len(p.vv) == 0 && len(p.delEvents) == 0 && len(p.meta) == 0
}

func (p *pendingWrites) init() {
	if p.ids == nil {
		p.ids = map[EventID]*Event{}
		p.dots = map[Dot]*Event{}
		p.vv = VersionVector{}
	}
}

// addEvent records the next event of its origin's log.
func (p *pendingWrites) addEvent(ev *Event, id EventID) {
	p.init()
	p.events = append(p.events, ev)
	p.ids[id] = ev
	p.dots[ev.Dot()] = ev
	p.vv.Raise(ev.Origin, ev.Seq)
}

// storeEvent records an event that a key state received from a peer holds
// as a version, without advancing the version vector (the log may then hold
// it above the vector; see the invariants in doc.go).
func (p *pendingWrites) storeEvent(ev *Event, id EventID) {
	p.init()
	if _, ok := p.ids[id]; ok {
		return
	}
	p.events = append(p.events, ev)
	p.ids[id] = ev
}

// raise raises the persisted version vector without events (catch-up by
// state).
func (p *pendingWrites) raise(origin PeerID, seq uint64) {
	p.init()
	p.vv.Raise(origin, seq)
}

// key returns the pending state of key, if any; a nil state with ok means
// the key is being deleted.
func (p *pendingWrites) key(k string) (*KeyState, bool) {
	ks, ok := p.keys[k]
	return ks, ok
}

// setKey records the new state of a key.
func (p *pendingWrites) setKey(ks *KeyState) {
	if p.keys == nil {
		p.keys = map[string]*KeyState{}
	}
	p.keys[ks.Key] = ks
}

// deleteKey records the removal of a key's state.
func (p *pendingWrites) deleteKey(k string) {
	if p.keys == nil {
		p.keys = map[string]*KeyState{}
	}
	p.keys[k] = nil
}

// setMeta records a metadata value.
func (p *pendingWrites) setMeta(name string, v []byte) {
	if p.meta == nil {
		p.meta = map[string][]byte{}
	}
	p.meta[name] = v
}

// batch builds the store batch (nil when empty). clock is the HLC to persist.
func (p *pendingWrites) batch(clock Timestamp) *Batch {
	if p.empty() {
		return nil
	}
	b := &Batch{Events: slices.Clone(p.events), VersionVector: p.vv.Clone(), Clock: clock,
		DeleteEvents: slices.Clone(p.delEvents)}
	keys := make([]string, 0, len(p.keys))
	for k := range p.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if ks := p.keys[k]; ks != nil {
			b.Keys = append(b.Keys, ks.Clone())
		} else {
			b.DeleteKeys = append(b.DeleteKeys, k)
		}
	}
	if len(p.meta) > 0 {
		b.Meta = make(map[string][]byte, len(p.meta))
		for k, v := range p.meta {
			b.Meta[k] = v
		}
	}
	return b
}

// reset forgets everything (after the batch was applied).
func (p *pendingWrites) reset() { *p = pendingWrites{} }
