package p2pnode

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

func (n *Node) ordering() (*ordering, error) {
	if _, err := n.replication(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ord == nil {
		return nil, ErrOrderingOff
	}
	return n.ord, nil
}

// Order returns up to limit positions of the global order from index from
// (1-based), with their events. It stops early at the first position whose
// event has not reached this node yet (gossip brings it), so the result is
// always a gap-free run from from.
func (n *Node) Order(from uint64, limit int) ([]OrderedEvent, error) {
	o, err := n.ordering()
	if err != nil {
		return nil, err
	}
	evs, _, err := o.read(from, limit)
	return evs, err
}

// OrderStatus returns this node's view of the ordering group.
func (n *Node) OrderStatus() (OrderStatus, error) {
	o, err := n.ordering()
	if err != nil {
		return OrderStatus{}, err
	}
	return o.status(), nil
}

// SubscribeOrdered delivers every event in global order from index from
// (1-based; 0 means 1) until ctx ends, each once this node holds its
// payload. The channel is closed when ctx ends or the node closes; a
// consumer resumes after a restart from the last Index it handled + 1.
func (n *Node) SubscribeOrdered(ctx context.Context, from uint64) (<-chan OrderedEvent, error) {
	o, err := n.ordering()
	if err != nil {
		return nil, err
	}
	if from == 0 {
		from = 1
	}
	ch := make(chan OrderedEvent, 64)
	go func() {
		defer close(ch)
		for {
			evs, wait, err := o.read(from, 256)
			if err != nil {
				return
			}
			for _, e := range evs {
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
				from = e.Index + 1
			}
			if len(evs) > 0 {
				continue
			}
			select {
			case <-wait:
			case <-ctx.Done():
				return
			case <-o.done():
				return
			}
		}
	}()
	return ch, nil
}

// AddOrderVoter proposes making p a voter of the ordering group (a
// learner is promoted; a node not yet in the group is added). Any member
// may propose; followers forward to the leader. Check OrderStatus for the
// outcome.
func (n *Node) AddOrderVoter(p peer.ID) error {
	o, err := n.ordering()
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.book[orderRaftID(p)] = p
	if err := o.core.AddVoter(replica.PeerID(p)); err != nil {
		return fmt.Errorf("add voter %s: %w", p, err)
	}
	return nil
}

// RemoveOrderVoter proposes removing p from the ordering group. A leader
// that removes itself steps down once the change is applied.
func (n *Node) RemoveOrderVoter(p peer.ID) error {
	o, err := n.ordering()
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.core.RemoveVoter(replica.PeerID(p)); err != nil {
		return fmt.Errorf("remove voter %s: %w", p, err)
	}
	return nil
}
