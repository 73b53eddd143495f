package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdsync "sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
)

// OrderProtocol carries the global ordering's Raft traffic (package
// sync/order): Raft messages between the members of the ordering group and
// join requests. docs/protocol.md specifies it.
const OrderProtocol p2pprotocol.ID = "/murmur/order/1.0.0"

// Kinds of frame on OrderProtocol: the first byte of a frame's body.
const (
	// OrderFrameRaft: the rest of the body is one raftpb.Message in its
	// protobuf encoding.
	OrderFrameRaft byte = 1
	// OrderFrameJoin: the sender asks to join the ordering group as a
	// learner; the rest of the body is empty.
	OrderFrameJoin byte = 2
)

// OrderConfig configures an OrderTransport.
type OrderConfig struct {
	// MaxFrameSize bounds one frame body; a longer length prefix resets the
	// stream before anything is allocated. Default 64 MiB: a snapshot of
	// the order (about 40 bytes per ordered event) travels as one message,
	// so this allows about 1.5 million ordered events.
	MaxFrameSize int
	// QueueSize bounds the frames waiting to go to one peer; beyond it
	// frames are dropped (Raft retransmits). Default 256.
	QueueSize int
	// WriteTimeout bounds writing one frame. Default 30 s (a large snapshot
	// on a slow link).
	WriteTimeout time.Duration
	// IdleTimeout closes an inbound stream with no frame for this long, and
	// bounds reading one frame. Default 1 minute; a leader's heartbeats
	// arrive every tick.
	IdleTimeout time.Duration
}

// DefaultOrderConfig returns the defaults documented on OrderConfig.
func DefaultOrderConfig() OrderConfig {
	return OrderConfig{MaxFrameSize: 64 << 20, QueueSize: 256, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
}

// OrderHandler receives each frame: its kind and the rest of the body,
// valid only during the call. An error counts as a fault of the sender
// and resets the stream.
type OrderHandler func(from peer.ID, kind byte, body []byte) error

// OrderTransport carries OrderProtocol frames: one outgoing stream per
// peer, reused, written by a goroutine from a bounded queue; inbound
// streams read frame by frame. It is safe for concurrent use.
type OrderTransport struct {
	h       host.Host
	cfg     OrderConfig
	handler OrderHandler
	fault   func(peer.ID, string)

	mu      stdsync.Mutex
	closed  bool
	out     map[peer.ID]chan orderFrame
	streams map[network.Stream]struct{}
	wg      stdsync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

type orderFrame struct {
	body []byte
	done func(error)
}

// NewOrderTransport serves OrderProtocol on h. fault is told about every
// peer whose frames are malformed or refused.
func NewOrderTransport(h host.Host, cfg OrderConfig, handler OrderHandler, fault func(peer.ID, string)) *OrderTransport {
	ctx, cancel := context.WithCancel(context.Background())
	t := &OrderTransport{h: h, cfg: cfg, handler: handler, fault: fault, out: map[peer.ID]chan orderFrame{},
		streams: map[network.Stream]struct{}{}, ctx: ctx, cancel: cancel}
	h.SetStreamHandler(OrderProtocol, t.handle)
	return t
}

// Send queues one frame to p. done, if not nil, is called once with the
// outcome (nil once written to the stream). A full queue fails at once.
func (t *OrderTransport) Send(p peer.ID, kind byte, body []byte, done func(error)) {
	b := AppendFrame(nil, append([]byte{kind}, body...))
	fail := func(err error) {
		if done != nil {
			done(err)
		}
	}
	if len(b) > t.cfg.MaxFrameSize+16 {
		fail(fmt.Errorf("%w: order frame of %d bytes, limit %d", ErrMessageTooLarge, len(b), t.cfg.MaxFrameSize))
		return
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		fail(errors.New("order transport closed"))
		return
	}
	q, ok := t.out[p]
	if !ok {
		q = make(chan orderFrame, t.cfg.QueueSize)
		t.out[p] = q
		t.wg.Add(1)
		go t.sendLoop(p, q)
	}
	t.mu.Unlock()
	select {
	case q <- orderFrame{body: b, done: done}:
	default:
		fail(fmt.Errorf("order queue to %s full", p))
	}
}

// sendLoop writes p's queue to one stream, opening a new one after a
// failure; the frame that failed is reported and dropped.
func (t *OrderTransport) sendLoop(p peer.ID, q chan orderFrame) {
	defer t.wg.Done()
	var s network.Stream
	defer func() {
		if s != nil {
			t.untrack(s)
			_ = s.Reset()
		}
	}()
	for {
		var f orderFrame
		select {
		case <-t.ctx.Done():
			return
		case f = <-q:
		}
		var err error
		if s == nil {
			ctx, cancel := context.WithTimeout(t.ctx, t.cfg.WriteTimeout)
			s, err = t.h.NewStream(network.WithAllowLimitedConn(ctx, "order"), p, OrderProtocol)
			cancel()
			if err == nil {
				t.track(s)
			}
		}
		if err == nil {
			_ = s.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
			if _, err = s.Write(f.body); err != nil {
				t.untrack(s)
				_ = s.Reset()
				s = nil
			}
		}
		if err != nil {
			err = fmt.Errorf("send order frame to %s: %w", p, err)
		}
		if f.done != nil {
			f.done(err)
		}
	}
}

func (t *OrderTransport) track(s network.Stream) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.streams[s] = struct{}{}
	return true
}

func (t *OrderTransport) untrack(s network.Stream) {
	t.mu.Lock()
	delete(t.streams, s)
	t.mu.Unlock()
}

func (t *OrderTransport) handle(s network.Stream) {
	if !t.track(s) {
		_ = s.Reset()
		return
	}
	defer t.untrack(s)
	from := s.Conn().RemotePeer()
	fr := NewFrameReader(s, t.cfg.MaxFrameSize+1)
	for {
		_ = s.SetReadDeadline(time.Now().Add(t.cfg.IdleTimeout))
		body, err := fr.ReadFrame()
		if err == io.EOF {
			_ = s.Close()
			return
		}
		if err == nil && len(body) == 0 {
			err = fmt.Errorf("%w: empty order frame", ErrMalformedFrame)
		}
		if err == nil {
			err = t.handler(from, body[0], body[1:])
		}
		if err != nil {
			if errors.Is(err, ErrMalformedFrame) || errors.Is(err, ErrMessageTooLarge) || !isStreamError(err) {
				t.fault(from, "order: "+err.Error())
			}
			_ = s.Reset()
			return
		}
	}
}

// isStreamError reports errors of the stream itself (deadline, reset,
// closed connection) rather than of what the peer sent.
func isStreamError(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) || errors.Is(err, network.ErrReset) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.Canceled)
}

// Close stops serving and sending; queued frames are dropped.
func (t *OrderTransport) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	for s := range t.streams {
		_ = s.Reset()
	}
	t.mu.Unlock()
	t.h.RemoveStreamHandler(OrderProtocol)
	t.cancel()
	t.wg.Wait()
}
