package controlapi

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// deliveryLogSize is how many recent deliveries GET /v1/deliveries keeps:
// enough to draw the last few minutes of a busy dashboard, small enough
// (~300 bytes each) to never matter.
const deliveryLogSize = 1000

// Delivery paths as GET /v1/deliveries reports them: how a write reached
// this node.
const (
	// PathLocal: written on this node.
	PathLocal = "local"
	// PathPush: pushed along the origin's push tree (or to start it).
	PathPush = "push"
	// PathPull: announced by ID and pulled.
	PathPull = "pull"
	// PathSync: brought by a digest sync or a gap request.
	PathSync = "sync"
	// PathAE: arrived as key state, through anti-entropy or a snapshot.
	PathAE = "ae"
	// PathGossipSub: delivered by the GossipSub topic (dissemination: gossipsub).
	PathGossipSub = "gossipsub"
)

// Delivery is one write as it reached this node: GET /v1/deliveries.
type Delivery struct {
	// Event is the event's ID; Op put, delete or publish; Key the key or topic.
	Event string `json:"event"`
	Op    string `json:"op"`
	Key   string `json:"key"`
	// Origin and Seq identify the write: the node that made it and its
	// sequence number there.
	Origin string `json:"origin"`
	Seq    uint64 `json:"seq"`
	// Written is the write's timestamp (its origin's clock); Received when
	// this node applied it (this node's clock); DelayMS the difference,
	// which includes any skew between the two clocks.
	Written  time.Time `json:"written"`
	Received time.Time `json:"received"`
	DelayMS  float64   `json:"delay_ms"`
	// Path is local, push, pull, sync, ae or gossipsub (the Path* constants).
	Path string `json:"path"`
	// From is the peer that delivered it; empty for local writes.
	From string `json:"from,omitempty"`
}

// DeliveriesResult answers GET /v1/deliveries.
type DeliveriesResult struct {
	// Since is when recording started (the API's start, or its first use).
	Since time.Time `json:"since"`
	// Paths counts every delivery since then by path.
	Paths map[string]uint64 `json:"paths"`
	// Deliveries are the most recent, newest first.
	Deliveries []Delivery `json:"deliveries"`
}

// pathOf names the path of a created or received change.
func pathOf(c replica.Change) string {
	if c.Kind == replica.ChangeCreated {
		return PathLocal
	}
	switch c.Via {
	case replica.DeliveryPush:
		return PathPush
	case replica.DeliveryPull:
		return PathPull
	case replica.DeliverySync:
		return PathSync
	case replica.DeliveryExternal:
		return PathGossipSub
	}
	// A received event with no event path came as key state (mergeState).
	return PathAE
}

// deliveryLog records, from the node's change stream, how each recent write
// reached this node. It subscribes (through the server's hub) on first use:
// Start, or the first request that needs it.
type deliveryLog struct {
	hub  *hub
	done <-chan struct{} // the server's context

	mu      sync.Mutex
	running bool
	ring    []Delivery // deliveryLogSize entries once full; next is the oldest
	next    int
	counts  map[string]uint64
	since   time.Time
}

func newDeliveryLog(h *hub, done <-chan struct{}) *deliveryLog {
	return &deliveryLog{hub: h, done: done, counts: map[string]uint64{}}
}

// ensure starts recording unless it runs already; it fails while the node
// is not started.
func (d *deliveryLog) ensure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return nil
	}
	l, err := d.hub.listen()
	if err != nil {
		return err
	}
	d.running, d.since = true, time.Now().UTC()
	go d.run(l)
	return nil
}

func (d *deliveryLog) run(l *listener) {
	defer d.hub.unlisten(l)
	for {
		select {
		case <-d.done:
			return
		case c, ok := <-l.C:
			if !ok {
				return
			}
			if (c.Kind == replica.ChangeCreated || c.Kind == replica.ChangeReceived) && c.Event != nil {
				d.add(deliveryOf(c, time.Now()))
			}
		}
	}
}

// deliveryOf describes change c, applied at now.
func deliveryOf(c replica.Change, now time.Time) Delivery {
	ev := c.Event
	op := ev.Op.String()
	if ev.Op == replica.OpApp {
		op = "publish"
	}
	written := tsTime(ev.Time)
	d := Delivery{
		Event: ev.ID().String(), Op: op, Key: ev.Key, Origin: peer.ID(ev.Origin).String(), Seq: ev.Seq,
		Written: written, Received: now.UTC(), Path: pathOf(c),
		DelayMS: float64(now.Sub(written).Microseconds()) / 1000,
	}
	if c.Peer != "" {
		d.From = peer.ID(c.Peer).String()
	}
	return d
}

func (d *deliveryLog) add(x Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts[x.Path]++
	if len(d.ring) < deliveryLogSize {
		d.ring = append(d.ring, x)
		return
	}
	d.ring[d.next] = x
	d.next = (d.next + 1) % deliveryLogSize
}

// recent returns up to limit deliveries, newest first, and the counts.
func (d *deliveryLog) recent(limit int) DeliveriesResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	res := DeliveriesResult{Since: d.since, Paths: map[string]uint64{}, Deliveries: []Delivery{}}
	for k, v := range d.counts {
		res.Paths[k] = v
	}
	n := len(d.ring)
	for i := 0; i < n && i < limit; i++ {
		// The newest is just before next (0 until the ring is full).
		j := (d.next - 1 - i + 2*n) % n
		res.Deliveries = append(res.Deliveries, d.ring[j])
	}
	return res
}

// deliveries answers GET /v1/deliveries?limit=N: how the most recent writes
// reached this node (newest first).
func (s *Server) deliveries(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > deliveryLogSize {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: invalid value %q: want 1..%d", v, deliveryLogSize))
			return
		}
		limit = n
	}
	if err := s.deliveryLog.ensure(); err != nil {
		writeNodeError(w, "deliveries", err)
		return
	}
	writeJSON(w, http.StatusOK, s.deliveryLog.recent(limit))
}
