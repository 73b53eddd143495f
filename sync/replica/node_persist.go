package replica

import "fmt"

// persistFailed handles a batch the store refused (a full disk, an I/O
// error): nothing of the Ready leaves the node, so no message acknowledges
// events that are not durable, and the sender retries or digest sync
// repairs later. The engine, whose state is now ahead of the store, is
// rebuilt from what the store holds, keeping its peers, clock and
// counters, so the node goes on serving reads and takes writes again once
// the store does. Only if the store cannot even be read does the node stop
// (closing its subscribers' channels). n.mu is held.
func (n *Node) persistFailed(err error) error {
	old := n.eng
	eng, rerr := New(old.cfg)
	if rerr != nil {
		n.closeLocked()
		return fmt.Errorf("node: persist batch: %w (node stopped: reload from the store: %v)", err, rerr)
	}
	eng.now, eng.tickGap, eng.stats = old.now, old.tickGap, old.stats
	for _, id := range old.peers.ids {
		eng.PeerUp(id)
	}
	n.eng = eng
	return fmt.Errorf("node: persist batch: %w", err)
}
