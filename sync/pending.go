package sync

import "slices"

// pendingWrites are the store writes made since the last Advance. Until the
// caller applies them (Ready.Batch) the engine reads through them, so the
// store only ever sees whole, ordered batches.
type pendingWrites struct {
	events []*Event
	ids    map[EventID]*Event
	dots   map[Dot]*Event
	keys   map[string]*KeyState
	vv     VersionVector
}

func (p *pendingWrites) empty() bool { return len(p.events) == 0 && len(p.keys) == 0 }

// addEvent records a new event of the log.
func (p *pendingWrites) addEvent(ev *Event, id EventID) {
	if p.ids == nil {
		p.ids = map[EventID]*Event{}
		p.dots = map[Dot]*Event{}
		p.vv = VersionVector{}
	}
	p.events = append(p.events, ev)
	p.ids[id] = ev
	p.dots[ev.Dot()] = ev
	p.vv.Raise(ev.Origin, ev.Seq)
}

// key returns the pending state of key, if any.
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

// batch builds the store batch (nil when empty). clock is the HLC to persist.
func (p *pendingWrites) batch(clock Timestamp) *Batch {
	if p.empty() {
		return nil
	}
	b := &Batch{Events: slices.Clone(p.events), VersionVector: p.vv.Clone(), Clock: clock}
	keys := make([]string, 0, len(p.keys))
	for k := range p.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.Keys = append(b.Keys, p.keys[k].Clone())
	}
	return b
}

// reset forgets everything (after the batch was applied).
func (p *pendingWrites) reset() { *p = pendingWrites{} }
