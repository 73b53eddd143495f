package protocol

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-varint"
)

// senderKey names one outgoing stream: a peer and a protocol.
type senderKey struct {
	peer  peer.ID
	proto p2pprotocol.ID
}

// sender owns the outgoing stream of one (peer, protocol) and writes the
// frames queued for it, in order, from its own goroutine.
type sender struct {
	t     *Transport
	key   senderKey
	c     *protoCounters
	queue chan []byte

	// s is the current stream (nil when none is open); gone is closed when
	// the stream ended (detected by a read that returns); ours is set
	// before this side ends it, so only remote ends are counted.
	s    network.Stream
	gone chan struct{}
	ours *atomic.Bool
	// codec is the compression negotiated for s.
	codec Compression
}

func newSender(t *Transport, key senderKey) *sender {
	return &sender{t: t, key: key, c: t.stats[key.proto], queue: make(chan []byte, t.cfg.SendQueueSize)}
}

// run writes queued frames until the Transport closes or the stream has
// been idle for SendIdleTimeout with nothing queued.
func (s *sender) run() {
	defer s.t.wg.Done()
	idle := time.NewTimer(s.t.cfg.SendIdleTimeout)
	defer idle.Stop()
	for {
		select {
		case f := <-s.queue:
			s.write(f)
			idle.Reset(s.t.cfg.SendIdleTimeout)
		case <-idle.C:
			if s.retire() {
				return
			}
			idle.Reset(s.t.cfg.SendIdleTimeout)
		case <-s.t.closing:
			s.drop(true)
			return
		}
	}
}

// retire removes the sender from the Transport if nothing is queued, so a
// later Send starts a new one; it reports whether it did.
func (s *sender) retire() bool {
	s.t.mu.Lock()
	if len(s.queue) > 0 {
		s.t.mu.Unlock()
		return false
	}
	delete(s.t.senders, s.key)
	s.t.mu.Unlock()
	s.drop(false)
	return true
}

// write sends one frame: on the current stream if the remote has not ended
// it, else on a new one. A write that fails on a reused stream is retried
// once on a new stream (the old one may have died silently); duplicates
// from a retry are harmless, the engine ignores events it holds.
func (s *sender) write(frame []byte) {
	for attempt := 0; attempt < 2; attempt++ {
		fresh := false
		if s.s != nil {
			select {
			case <-s.gone:
				s.drop(true)
			default:
			}
		}
		if s.s == nil {
			if err := s.open(); err != nil {
				s.c.sendFailures.Add(1)
				log.Debugw("open stream failed", "peer", s.key.peer, "protocol", s.key.proto, "error", err)
				return
			}
			fresh = true
		}
		_ = s.s.SetWriteDeadline(time.Now().Add(s.t.cfg.WriteTimeout))
		wire, compressed := s.t.codecs.compressFrame(s.codec, frame)
		if _, err := s.s.Write(wire); err != nil {
			log.Debugw("write failed", "peer", s.key.peer, "protocol", s.key.proto, "fresh", fresh, "error", err)
			s.drop(true)
			if fresh {
				s.c.sendFailures.Add(1)
				return
			}
			continue
		}
		s.c.msgsSent.Add(1)
		s.c.bytesSent.Add(uint64(len(frame)))
		s.c.comp.sent(len(wire), compressed)
		if s.t.cfg.StreamPerMessage {
			s.drop(false)
		}
		return
	}
}

// open opens a new stream to the peer and watches it for the remote's end.
func (s *sender) open() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.t.cfg.OpenTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.t.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	st, err := s.t.h.NewStream(ctx, s.key.peer, offers(s.key.proto, s.t.cfg.Compression)...)
	if err != nil {
		return fmt.Errorf("open %s stream to %s: %w", s.key.proto, s.key.peer, err)
	}
	s.codec = s.t.wire[st.Protocol()].codec
	// Register the stream so that Close can interrupt a blocked write.
	s.t.mu.Lock()
	if s.t.closed {
		s.t.mu.Unlock()
		_ = st.Reset()
		return ErrClosed
	}
	s.t.streams[st] = struct{}{}
	s.t.mu.Unlock()
	s.c.opened.Add(1)
	s.s = st
	if s.t.cfg.StreamPerMessage {
		return nil
	}
	// The protocol is one-way: the remote never writes on this stream, so
	// a read returns only when the remote closed or reset it (or we did).
	gone, ours := make(chan struct{}), &atomic.Bool{}
	s.gone, s.ours = gone, ours
	s.t.wg.Add(1)
	go func() {
		defer s.t.wg.Done()
		var b [1]byte
		_, err := st.Read(b[:])
		if !ours.Load() {
			s.c.remoteEnded.Add(1)
			log.Debugw("outgoing stream ended by remote", "peer", s.key.peer, "protocol", s.key.proto, "error", err)
		}
		close(gone)
	}()
	return nil
}

// drop ends the current stream: a reset when it failed, else a close.
func (s *sender) drop(reset bool) {
	if s.s == nil {
		return
	}
	if s.ours != nil {
		s.ours.Store(true)
	}
	if reset {
		_ = s.s.Reset()
	} else {
		_ = s.s.Close()
	}
	s.t.mu.Lock()
	delete(s.t.streams, s.s)
	s.t.mu.Unlock()
	s.s, s.gone, s.ours = nil, nil, nil
}

// frameSize is the size of a frame with a body of n bytes.
func frameSize(n int) int { return varint.UvarintSize(uint64(n)) + n }
