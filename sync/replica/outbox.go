package replica

import "time"

// outbox collects what the engine wants to send until Ready, so that
// everything for one peer is batched into as few messages as the limits
// allow (max_events_per_message, max_message_size).
type outbox struct {
	direct []Message
	order  []PeerID
	m      map[PeerID]*outgoing
}

// outgoing is the batched traffic for one peer.
type outgoing struct {
	push     []hopEvents
	announce []hopIDs
	pullReq  []EventID
	pullResp []*Event
}

type hopEvents struct {
	hops uint32
	evs  []*Event
}

type hopIDs struct {
	hops uint32
	ids  []EventID
}

func (o *outbox) empty() bool { return len(o.direct) == 0 && len(o.order) == 0 }

// send queues a message as is.
func (o *outbox) send(to PeerID, b Body) { o.direct = append(o.direct, Message{To: to, Body: b}) }

// peer returns the batch for a peer, creating it.
func (o *outbox) peer(to PeerID) *outgoing {
	if o.m == nil {
		o.m = map[PeerID]*outgoing{}
	}
	g, ok := o.m[to]
	if !ok {
		g = &outgoing{}
		o.m[to] = g
		o.order = append(o.order, to)
	}
	return g
}

func (o *outbox) addPush(to PeerID, hops uint32, ev *Event) {
	g := o.peer(to)
	for i := range g.push {
		if g.push[i].hops == hops {
			g.push[i].evs = append(g.push[i].evs, ev)
			return
		}
	}
	g.push = append(g.push, hopEvents{hops, []*Event{ev}})
}

func (o *outbox) addAnnounce(to PeerID, hops uint32, id EventID) {
	g := o.peer(to)
	for i := range g.announce {
		if g.announce[i].hops == hops {
			g.announce[i].ids = append(g.announce[i].ids, id)
			return
		}
	}
	g.announce = append(g.announce, hopIDs{hops, []EventID{id}})
}

func (o *outbox) addPullRequest(to PeerID, id EventID) {
	g := o.peer(to)
	g.pullReq = append(g.pullReq, id)
}

func (o *outbox) addPullResponse(to PeerID, ev *Event) {
	g := o.peer(to)
	g.pullResp = append(g.pullResp, ev)
}

// flush turns everything queued into messages and empties the outbox.
// Push messages are registered for their acks.
func (o *outbox) flush(e *Engine) []Message {
	msgs := o.direct
	for _, to := range o.order {
		g := o.m[to]
		for _, he := range g.push {
			for _, chunk := range e.chunkEvents(he.evs) {
				p := &Push{Nonce: e.nextNonce(), Hops: he.hops, Events: chunk}
				ids := make([]EventID, len(chunk))
				origins := make([]PeerID, len(chunk))
				for i, ev := range chunk {
					ids[i], origins[i] = ev.ID(), ev.Origin
				}
				e.pushes[p.Nonce] = &pushState{peer: to, ids: ids, origins: origins, deadline: e.now.Add(e.cfg.AckTimeout)}
				msgs = append(msgs, Message{To: to, Body: p})
			}
		}
		for _, ha := range g.announce {
			for _, chunk := range chunkIDs(ha.ids, e.maxIDs()) {
				msgs = append(msgs, Message{To: to, Body: &PullSync{Hops: ha.hops, IDs: chunk}})
			}
		}
		for _, chunk := range chunkIDs(g.pullReq, e.maxIDs()) {
			msgs = append(msgs, Message{To: to, Body: &PullRequest{IDs: chunk}})
		}
		for _, chunk := range e.chunkEvents(g.pullResp) {
			msgs = append(msgs, Message{To: to, Body: &PullResponse{Events: chunk}})
		}
	}
	for i := range msgs {
		msgs[i].From = e.id
	}
	*o = outbox{}
	return msgs
}

// messageOverhead bounds the non-event bytes of an event-carrying message.
const messageOverhead = 64

// chunkEvents splits evs into groups within the per-message limits.
func (e *Engine) chunkEvents(evs []*Event) [][]*Event {
	var out [][]*Event
	budget := e.cfg.MaxMessageSize - messageOverhead
	var cur []*Event
	size := 0
	for _, ev := range evs {
		s := bytesSize(ev.Size())
		if len(cur) > 0 && (len(cur) >= e.cfg.MaxEventsPerMessage || size+s > budget) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, ev)
		size += s
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// chunkIDs splits ids into groups of at most n.
func chunkIDs(ids []EventID, n int) [][]EventID {
	var out [][]EventID
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// pushState is a Push message awaiting its ack.
type pushState struct {
	peer     PeerID
	ids      []EventID
	origins  []PeerID // the origin of each of ids (a prune is per origin)
	deadline time.Time
}
