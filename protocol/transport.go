package protocol

import (
	"fmt"
	stdsync "sync"

	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/murmur-p2p/murmur/sync/replica"
)

var log = logging.Logger("murmur/protocol")

// DeliverFunc receives each message decoded from a peer. msg.From is the
// authenticated remote peer and msg.To the local host. It is called from
// the stream's goroutine, one message at a time per stream; while it runs
// that stream reads nothing more, so a slow consumer back-pressures the
// sending peer only. It should hand the message on (for example to the
// engine's inbox) rather than process it in place.
type DeliverFunc func(from peer.ID, msg replica.Message)

// Transport carries sync engine messages between libp2p hosts over
// murmur's stream protocols.
//
// Inbound: New registers a stream handler for every protocol in
// Protocols(). Each inbound stream is read frame after frame: the first
// byte of a frame must arrive within IdleTimeout (else the stream is
// closed quietly), the rest within FrameTimeout. Each frame is decoded,
// validated and handed to the DeliverFunc. A malformed frame, an oversize
// length prefix, an unknown message, an invalid message or a stall resets
// that stream only; the fault is counted for the peer (PeerFaults) and
// reported through Config.OnFault.
//
// Outbound: engine messages are one-way (answers are messages of their
// own), so Send queues each message for one outgoing stream per (peer,
// protocol), reused across messages. A goroutine per such stream writes
// the queue with a write deadline per message; a stream the remote closed
// or reset, or whose write failed, is replaced by a new one. The stream is
// closed after SendIdleTimeout without messages.
//
// A Transport is safe for concurrent use.
type Transport struct {
	h       host.Host
	cfg     Config
	deliver DeliverFunc
	self    replica.PeerID

	stats  map[p2pprotocol.ID]*protoCounters
	faults *faultTable
	// wire maps each protocol ID served to its base protocol and
	// compression; codecs compress and decompress (compression.go).
	wire   map[p2pprotocol.ID]wireProto
	codecs *codecs

	mu      stdsync.Mutex
	closed  bool
	senders map[senderKey]*sender
	inbound map[peer.ID]int
	// streams holds every open stream, inbound and outgoing, for Close.
	streams map[network.Stream]struct{}
	closing chan struct{}
	wg      stdsync.WaitGroup
}

// New binds a Transport to h and registers its stream handlers. deliver
// receives every valid inbound message. Zero fields of cfg take the
// defaults of DefaultConfig.
func New(h host.Host, cfg Config, deliver DeliverFunc) (*Transport, error) {
	if h == nil {
		return nil, fmt.Errorf("protocol transport: nil host")
	}
	if deliver == nil {
		return nil, fmt.Errorf("protocol transport: nil deliver function")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	faults, err := newFaultTable(cfg.FaultTableSize)
	if err != nil {
		return nil, err
	}
	codecs, err := newCodecs(cfg.Limits.MaxMessageSize, cfg.CompressionThreshold)
	if err != nil {
		return nil, err
	}
	t := &Transport{
		h:       h,
		cfg:     cfg,
		deliver: deliver,
		self:    replica.PeerID(h.ID()),
		stats:   map[p2pprotocol.ID]*protoCounters{},
		faults:  faults,
		wire:    wireProtocols(Protocols(), cfg.Compression),
		codecs:  codecs,
		senders: map[senderKey]*sender{},
		inbound: map[peer.ID]int{},
		streams: map[network.Stream]struct{}{},
		closing: make(chan struct{}),
	}
	for _, p := range Protocols() {
		t.stats[p] = &protoCounters{}
	}
	for p := range t.wire {
		h.SetStreamHandler(p, t.handleStream)
	}
	return t, nil
}

// Config returns the effective configuration (defaults filled in).
func (t *Transport) Config() Config { return t.cfg }

// Send queues msg for msg.To on the protocol that carries its type and
// returns without waiting for the network. It fails with ErrUnknownMessage
// for a type without a protocol, ErrMessageTooLarge for a message over
// Limits.MaxMessageSize, ErrQueueFull when the peer's queue is full (the
// message is dropped) and ErrClosed after Close. Messages are written in
// the order Send accepted them per (peer, protocol); like the engine
// assumes, any of them may still be lost (a failed stream loses what was
// being written).
func (t *Transport) Send(msg replica.Message) error {
	if msg.Body == nil {
		return fmt.Errorf("send: %w: nil body", ErrInvalidMessage)
	}
	to := peer.ID(msg.To)
	if to == "" || msg.To == t.self {
		return fmt.Errorf("send %s: %w: bad destination %q", msg.Body.Type(), ErrInvalidMessage, to)
	}
	proto, err := ProtocolFor(msg.Body.Type())
	if err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	frame, err := MarshalFrame(msg.Body, t.cfg.Limits.MaxMessageSize)
	if err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	key := senderKey{to, proto}
	s := t.senders[key]
	if s == nil {
		s = newSender(t, key)
		t.senders[key] = s
		t.wg.Add(1)
		go s.run()
	}
	select {
	case s.queue <- frame:
		return nil
	default:
		t.stats[proto].dropped.Add(1)
		return fmt.Errorf("send %s to %s: %w (%d queued)", msg.Body.Type(), to, ErrQueueFull, cap(s.queue))
	}
}

// Stats returns the counters of every protocol the Transport serves.
func (t *Transport) Stats() map[p2pprotocol.ID]ProtocolStats {
	out := make(map[p2pprotocol.ID]ProtocolStats, len(t.stats))
	for p, c := range t.stats {
		out[p] = c.snapshot()
	}
	return out
}

// PeerFaults returns the faults counted for p (zero when none are
// remembered).
func (t *Transport) PeerFaults(p peer.ID) FaultCounts { return t.faults.get(p) }

// Close removes the stream handlers, resets the open streams, drops queued
// messages and waits for the Transport's goroutines to end. It does not
// close the host.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.closing)
	for p := range t.wire {
		t.h.RemoveStreamHandler(p)
	}
	for s := range t.streams {
		_ = s.Reset()
	}
	t.mu.Unlock()
	t.wg.Wait()
	t.codecs.close()
	return nil
}

// fault counts a fault of the stream's peer, resets the stream and reports
// the fault. It counts before the reset, so whoever sees the reset sees
// the count.
func (t *Transport) fault(s network.Stream, c *protoCounters, kind FaultKind, err error) {
	p, proto := s.Conn().RemotePeer(), s.Protocol()
	t.faults.add(p, kind)
	c.reset.Add(1)
	_ = s.Reset()
	log.Debugw("peer fault", "peer", p, "protocol", proto, "kind", kind, "error", err)
	if t.cfg.OnFault != nil {
		t.cfg.OnFault(Fault{Peer: p, Protocol: proto, Kind: kind, Err: err})
	}
}
