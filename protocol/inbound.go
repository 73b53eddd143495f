package protocol

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// handleStream serves one inbound stream until it ends, the peer commits a
// fault, or the Transport closes.
func (t *Transport) handleStream(s network.Stream) {
	p := s.Conn().RemotePeer()
	wp := t.wire[s.Protocol()]
	proto := wp.base
	c := t.stats[proto]
	if c == nil { // a protocol we do not serve; cannot happen via SetStreamHandler
		_ = s.Reset()
		return
	}
	if err := t.admit(p, s); err != nil {
		if errors.Is(err, ErrClosed) {
			_ = s.Reset()
			return
		}
		t.fault(s, c, FaultStreamLimit, err)
		return
	}
	defer t.leave(p, s)
	c.inbound.Add(1)
	fr := NewFrameReader(s, t.frameLimit(wp.codec))
	for {
		_ = s.SetReadDeadline(time.Now().Add(t.cfg.IdleTimeout))
		if err := fr.Wait(); err != nil {
			// Between frames: a clean end, an idle stream, a reset by the
			// remote or our own Close. None is the peer's fault; the first
			// two end the stream cleanly.
			var ne net.Error
			if err == io.EOF || (errors.As(err, &ne) && ne.Timeout()) {
				_ = s.Close()
			} else {
				log.Debugw("inbound stream ended", "peer", p, "protocol", proto, "error", err)
				_ = s.Reset()
			}
			return
		}
		_ = s.SetReadDeadline(time.Now().Add(t.cfg.FrameTimeout))
		frame, err := fr.ReadFrame()
		if err == nil {
			frame, err = t.inflate(wp.codec, c, frame)
		}
		if err == nil {
			err = t.receive(p, proto, c, frame)
		}
		if err != nil {
			if kind := classify(err, true); kind != 0 && !t.isClosed() {
				t.fault(s, c, kind, err)
			} else {
				_ = s.Reset()
				log.Debugw("inbound stream failed", "peer", p, "protocol", proto, "error", err)
			}
			return
		}
	}
}

// receive decodes one frame and delivers it.
func (t *Transport) receive(p peer.ID, proto p2pprotocol.ID, c *protoCounters, frame []byte) error {
	body, err := Unmarshal(frame, t.cfg.Limits)
	if err != nil {
		return err
	}
	if want, _ := ProtocolFor(body.Type()); want != proto {
		return fmt.Errorf("%w: %s on %s, which does not carry it", ErrUnknownMessage, body.Type(), proto)
	}
	c.msgsRecv.Add(1)
	c.bytesRecv.Add(uint64(frameSize(len(frame))))
	t.deliver(p, replica.Message{From: replica.PeerID(p), To: t.self, Body: body})
	return nil
}

// admit registers an inbound stream of p within the per-peer bound.
func (t *Transport) admit(p peer.ID, s network.Stream) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if n := t.inbound[p]; n >= t.cfg.MaxInboundStreamsPerPeer {
		return fmt.Errorf("%d inbound streams open, limit %d", n, t.cfg.MaxInboundStreamsPerPeer)
	}
	t.inbound[p]++
	t.streams[s] = struct{}{}
	t.wg.Add(1)
	return nil
}

// leave unregisters an inbound stream.
func (t *Transport) leave(p peer.ID, s network.Stream) {
	t.mu.Lock()
	if t.inbound[p]--; t.inbound[p] <= 0 {
		delete(t.inbound, p)
	}
	delete(t.streams, s)
	t.mu.Unlock()
	t.wg.Done()
}

// isClosed reports whether Close has begun.
func (t *Transport) isClosed() bool {
	select {
	case <-t.closing:
		return true
	default:
		return false
	}
}
