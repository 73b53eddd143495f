package p2pnode

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/murmur-p2p/murmur/protocol"
	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// The values of Config.Dissemination.
const (
	// DisseminationPushPull spreads new events with the engine's own
	// push/ack and announce/pull on /murmur/push/1.0.0 (the default).
	DisseminationPushPull = "pushpull"
	// DisseminationGossipSub spreads new events over a GossipSub topic per
	// network (EventsTopic); digest sync runs unchanged underneath.
	DisseminationGossipSub = "gossipsub"
)

// EventsTopic is the GossipSub topic that carries the events of a network
// with dissemination: gossipsub. Each message is one event, encoded as a
// protobuf pb.Event (docs/protocol.md).
func EventsTopic(network string) string { return "/murmur/" + network + "/events/1.0.0" }

// publishQueueSize bounds local events waiting to be published; beyond it
// they are dropped (digest sync delivers them instead).
const publishQueueSize = 1024

// gossipQueueSize sizes GossipSub's per-peer outbound queues, its
// validation queue and the subscription buffer.
const gossipQueueSize = 1024

// gossipRouter disseminates new events over GossipSub for the engine
// (sync.Config.ExternalDissemination): the engine's broadcasts are
// published on the network's topic, and events received on it are handed
// to the engine's Receive. GossipSub forwards; the engine never does.
//
// Messages are unsigned at the GossipSub level (StrictNoSign, no author or
// sequence number) and identified by the sha256 of their data: every event
// already carries its origin's signature, which the topic validator checks
// before a message is delivered or forwarded, so a second, per-message
// signature would only add ~100 bytes and a verification per hop. A
// content-based ID also means the same event published twice (for example
// after a restart) is one message, deduplicated by every router.
type gossipRouter struct {
	ps        *pubsub.PubSub
	topic     *pubsub.Topic
	sub       *pubsub.Subscription
	self      peer.ID
	drop      func(peer.ID) bool
	fault     func(peer.ID, string) // told of peers that forward invalid events
	allow     func(peer.ID) bool    // the per-peer rate limit shared with the stream protocols
	nonMember func(peer.ID) bool    // whether a peer is known not to be a member
	verify    replica.Verifier      // checks (and in a closed network authorizes) events
	queue     chan *replica.Event
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	tracer    *gossipTracer
	maxSize   int

	published, publishFailed, queueFull atomic.Uint64
	received, rejected, lost, limited   atomic.Uint64
}

// GossipStats are the counters of a node's GossipSub dissemination.
type GossipStats struct {
	// Published counts local events published; PublishFailed those the
	// router refused; QueueFull those dropped before publishing because the
	// publish queue was full.
	Published, PublishFailed, QueueFull uint64
	// Received counts events delivered to the engine; Rejected counts
	// messages the topic validator refused (undecodable or badly signed);
	// Lost counts messages dropped by a WithReceiveLoss hook; RateLimited
	// messages over their sender's peer_byte_rate budget (ignored, not forwarded).
	Received, Rejected, Lost, RateLimited uint64
	// RPCsSent and BytesSent count the GossipSub RPCs queued to peers and
	// their encoded size; PayloadsSent and PayloadBytesSent count the event
	// messages in them and their data bytes; ControlBytesSent is the rest
	// (control messages, topic and framing fields). PayloadsReceived counts
	// event messages received, duplicates included. RPCsDropped counts RPCs
	// GossipSub dropped instead of queueing them (queue full, no stream to
	// the peer yet, oversized).
	RPCsSent, BytesSent, PayloadsSent, PayloadBytesSent, ControlBytesSent uint64
	RPCsDropped, PayloadsReceived                                         uint64
	// MeshPeers is the number of peers in this node's mesh for the topic.
	MeshPeers int
}

// startGossip joins the network's events topic on h. drop, if not nil,
// simulates loss of received messages (see WithReceiveLoss).
//
// nonMember tells peers known not to be members of the network (in a
// closed network: not admitted): GossipSub's peer filter keeps them out of
// the topic's mesh and the validator rejects what they send. verifier checks events (in a closed network it also authorizes
// them against their origin's certificate).
func startGossip(h host.Host, cfg Config, drop func(peer.ID) bool, fault func(peer.ID, string), allow func(peer.ID) bool,
	nonMember func(peer.ID) bool, verifier replica.Verifier) (*gossipRouter, error) {
	ctx, cancel := context.WithCancel(context.Background())
	g := &gossipRouter{
		self:      h.ID(),
		drop:      drop,
		fault:     fault,
		allow:     allow,
		nonMember: nonMember,
		verify:    verifier,
		queue:     make(chan *replica.Event, publishQueueSize),
		cancel:    cancel,
		tracer:    &gossipTracer{},
		maxSize:   cfg.Sync.MaxMessageSize,
	}
	if g.maxSize == 0 {
		g.maxSize = replica.DefaultConfig().MaxMessageSize
	}
	ps, err := pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(),
		pubsub.WithMessageIdFn(messageID),
		pubsub.WithMaxMessageSize(g.maxSize+4096),
		pubsub.WithRawTracer(g.tracer),
		// Bursts of writes: GossipSub's defaults (32) drop RPCs and
		// throttle validation under a few hundred events a second.
		pubsub.WithPeerOutboundQueueSize(gossipQueueSize),
		pubsub.WithValidateQueueSize(gossipQueueSize),
		pubsub.WithPeerFilter(func(p peer.ID, _ string) bool { return !nonMember(p) }),
		// Only the network's topic is tracked: peers cannot make the
		// router keep state for topics of their choosing.
		pubsub.WithSubscriptionFilter(pubsub.NewAllowlistSubscriptionFilter(EventsTopic(cfg.Discovery.Network))),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("start gossipsub: %w", err)
	}
	name := EventsTopic(cfg.Discovery.Network)
	if err := ps.RegisterTopicValidator(name, g.validate); err != nil {
		cancel()
		return nil, fmt.Errorf("gossipsub topic %s: validator: %w", name, err)
	}
	if g.topic, err = ps.Join(name); err != nil {
		cancel()
		return nil, fmt.Errorf("gossipsub topic %s: join: %w", name, err)
	}
	if g.sub, err = g.topic.Subscribe(pubsub.WithBufferSize(gossipQueueSize)); err != nil {
		cancel()
		return nil, fmt.Errorf("gossipsub topic %s: subscribe: %w", name, err)
	}
	g.ps = ps
	return g, nil
}

// messageID identifies a message by its content, so that dissemination
// deduplicates by event whoever published it.
func messageID(m *pubsubpb.Message) string {
	sum := sha256.Sum256(m.GetData())
	return string(sum[:])
}

// encodeEvent is the message data of an event.
func encodeEvent(ev *replica.Event) ([]byte, error) {
	p, err := protocol.EventToProto(ev)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(p)
}

// decodeEvent decodes and verifies message data: the event's fields are
// checked and its origin's signature verified.
func decodeEvent(data []byte, v replica.Verifier) (*replica.Event, error) {
	var p pb.Event
	if err := proto.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%w: decode event: %v", protocol.ErrInvalidMessage, err)
	}
	ev, err := protocol.EventFromProto(&p)
	if err != nil {
		return nil, err
	}
	if err := ev.Verify(v); err != nil {
		return nil, err
	}
	return ev, nil
}

// validate is the topic validator: an event that does not decode or whose
// signature does not verify is rejected, so it is neither delivered nor
// forwarded. A message the loss hook drops is ignored, as if it never
// arrived: GossipSub does not mark it seen, so another copy is accepted.
func (g *gossipRouter) validate(_ context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	if from != g.self && g.drop != nil && g.drop(from) {
		g.lost.Add(1)
		return pubsub.ValidationIgnore
	}
	if from != g.self && g.allow != nil && !g.allow(from) {
		// Over the sender's budget: neither delivered nor forwarded (digest
		// sync brings it later). Not a fault: honest load can do this.
		g.limited.Add(1)
		return pubsub.ValidationIgnore
	}
	if from != g.self && g.nonMember(from) {
		// Not a member (in a closed network: not admitted): nothing it
		// sends is delivered or forwarded.
		g.rejected.Add(1)
		return pubsub.ValidationReject
	}
	ev, err := decodeEvent(m.GetData(), g.verify)
	if err != nil {
		g.rejected.Add(1)
		log.Debugw("gossipsub event rejected", "from", from, "error", err)
		// An unauthorized event is not the forwarder's fault: a revocation
		// may not have reached it yet.
		if g.fault != nil && !errors.Is(err, replica.ErrUnauthorized) {
			// from forwarded it: GossipSub peers validate before forwarding.
			g.fault(from, "invalid gossipsub event")
		}
		return pubsub.ValidationReject
	}
	m.ValidatorData = ev
	return pubsub.ValidationAccept
}

// run publishes queued events and hands received ones to node until close.
func (g *gossipRouter) run(node *replica.Node) {
	ctx, cancel := context.WithCancel(context.Background())
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		defer cancel()
		g.publishLoop(ctx)
	}()
	go func() {
		defer g.wg.Done()
		g.receiveLoop(node)
	}()
}

func (g *gossipRouter) publishLoop(ctx context.Context) {
	for {
		var ev *replica.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-g.queue:
		}
		if ev == nil {
			return
		}
		data, err := encodeEvent(ev)
		if err == nil {
			err = g.topic.Publish(ctx, data)
		}
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, pubsub.ErrTopicClosed) {
				return
			}
			g.publishFailed.Add(1)
			log.Debugw("gossipsub publish failed", "origin", peer.ID(ev.Origin), "seq", ev.Seq, "error", err)
			continue
		}
		g.published.Add(1)
	}
}

func (g *gossipRouter) receiveLoop(node *replica.Node) {
	for {
		m, err := g.sub.Next(context.Background())
		if err != nil {
			return // subscription cancelled
		}
		if m.ReceivedFrom == g.self || m.Local {
			continue // our own publication
		}
		ev, ok := m.ValidatorData.(*replica.Event)
		if !ok {
			continue
		}
		g.received.Add(1)
		if err := node.Receive(replica.PeerID(m.ReceivedFrom), []*replica.Event{ev}); err != nil {
			if errors.Is(err, replica.ErrClosed) {
				return
			}
			log.Debugw("gossipsub event refused", "from", m.ReceivedFrom, "error", err)
		}
	}
}

// Broadcast queues local events for publication; it never blocks (the
// engine's lock is held). Events that do not fit the queue are dropped and
// reach the other nodes by digest sync.
func (g *gossipRouter) Broadcast(evs []*replica.Event) {
	for _, ev := range evs {
		select {
		case g.queue <- ev:
		default:
			g.queueFull.Add(1)
		}
	}
}

// close leaves the topic and stops the router; the host stays open.
func (g *gossipRouter) close() {
	if g == nil {
		return
	}
	g.sub.Cancel()
	g.cancel() // stops GossipSub's event loop and the publish loop's Publish
	select {
	case g.queue <- nil:
	default:
	}
	g.wg.Wait()
	_ = g.topic.Close()
}

// stats returns the counters.
func (g *gossipRouter) stats() GossipStats {
	t := g.tracer
	st := GossipStats{
		Published: g.published.Load(), PublishFailed: g.publishFailed.Load(), QueueFull: g.queueFull.Load(),
		Received: g.received.Load(), Rejected: g.rejected.Load(), Lost: g.lost.Load(), RateLimited: g.limited.Load(),
		RPCsSent: t.sent.rpcs.Load(), BytesSent: t.sent.bytes.Load(),
		PayloadsSent: t.sent.payloads.Load(), PayloadBytesSent: t.sent.payloadBytes.Load(),
		RPCsDropped:      t.dropped.rpcs.Load(),
		PayloadsReceived: t.payloadsRecv.Load(),
		MeshPeers:        int(t.mesh.Load()),
	}
	st.ControlBytesSent = st.BytesSent - st.PayloadBytesSent
	return st
}

// gossipTransport is the engine's transport with dissemination over
// GossipSub: engine messages (digest sync, gap requests) go on murmur's
// protocols, broadcasts on the topic.
type gossipTransport struct {
	replica.Transport
	*gossipRouter
}

// GossipStats returns the counters of GossipSub dissemination; it fails
// when the node does not run with dissemination: gossipsub.
func (n *Node) GossipStats() (GossipStats, error) {
	if _, err := n.engine(); err != nil {
		return GossipStats{}, err
	}
	n.mu.Lock()
	g := n.repl.gossip
	n.mu.Unlock()
	if g == nil {
		return GossipStats{}, fmt.Errorf("gossip stats: dissemination is %q, not %s", n.cfg.Dissemination, DisseminationGossipSub)
	}
	return g.stats(), nil
}

// gossipTracer counts GossipSub traffic (a pubsub.RawTracer). RPCs are
// counted when queued to a peer; those dropped instead (queue full, no
// stream to the peer yet, oversized) are counted apart.
type gossipTracer struct {
	sent, dropped counts
	payloadsRecv  atomic.Uint64
	mesh          atomic.Int64 // grafts minus prunes
}

// counts are RPC counters.
type counts struct{ rpcs, bytes, payloads, payloadBytes atomic.Uint64 }

func (c *counts) add(rpc *pubsub.RPC) {
	n := proto.Size(&rpc.RPC)
	c.rpcs.Add(1)
	c.bytes.Add(uint64(n + protowire.SizeVarint(uint64(n)))) // length-prefixed on the stream
	for _, m := range rpc.GetPublish() {
		c.payloads.Add(1)
		c.payloadBytes.Add(uint64(len(m.GetData())))
	}
}

func (t *gossipTracer) SendRPC(rpc *pubsub.RPC, _ peer.ID) { t.sent.add(rpc) }
func (t *gossipTracer) DropRPC(rpc *pubsub.RPC, _ peer.ID) { t.dropped.add(rpc) }
func (t *gossipTracer) RecvRPC(rpc *pubsub.RPC) {
	t.payloadsRecv.Add(uint64(len(rpc.GetPublish())))
}

func (t *gossipTracer) Join(string)                                          {}
func (t *gossipTracer) Leave(string)                                         {}
func (t *gossipTracer) Graft(peer.ID, string)                                { t.mesh.Add(1) }
func (t *gossipTracer) Prune(peer.ID, string)                                { t.mesh.Add(-1) }
func (t *gossipTracer) ValidateMessage(*pubsub.Message)                      {}
func (t *gossipTracer) DeliverMessage(*pubsub.Message)                       {}
func (t *gossipTracer) RejectMessage(*pubsub.Message, string)                {}
func (t *gossipTracer) DuplicateMessage(*pubsub.Message)                     {}
func (t *gossipTracer) ThrottlePeer(peer.ID)                                 {}
func (t *gossipTracer) UndeliverableMessage(*pubsub.Message)                 {}
func (t *gossipTracer) OnNewOutboundStream(peer.ID, p2pprotocol.ID)          {}
func (t *gossipTracer) OnClosedOutboundStream(peer.ID)                       {}
func (t *gossipTracer) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
