package replica

import "fmt"

// KV is one write of Node.PutMany: Value under Key.
type KV struct {
	Key   string
	Value []byte
}

// PutMany writes each pair in order, each as its own signed event (exactly
// what Put would write, one sequence number each), all in one commit group:
// one store batch and one fsync for all of them, and one pass through the
// write queue. When it returns nil, every event is durable. It is for
// clients that need throughput: n puts in one call cost one round trip,
// not n, and their signatures are made in parallel (Engine.putAll).
//
// If the engine refuses pair i (a key or value over the limits, a node
// that does not know its own sequence number yet), the pairs before it are
// still written and durable, and returned with an error naming i; the
// rest are not written. A full write queue (ErrOverloaded) or a failed
// store write refuses the whole call, and nothing is returned.
func (n *Node) PutMany(kvs []KV) ([]*Event, error) {
	var evs []*Event
	var refused error
	err := n.do(true, func(e *Engine) error {
		all, errs := e.putAll(kvs, true)
		for i, ev := range all {
			if errs[i] != nil {
				refused = fmt.Errorf("put %d of %d: %w", i+1, len(kvs), errs[i])
				return refused
			}
			evs = append(evs, ev)
		}
		return nil
	})
	switch {
	case err == nil:
		return evs, nil
	case err == refused:
		return evs, err // the group was made durable: evs are written
	default:
		return nil, err
	}
}
