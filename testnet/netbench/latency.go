package main

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// delayHost wraps a mocknet host so that every byte written on an
// application stream (murmur's protocols, GossipSub) reaches the other side
// one link latency later, pipelined: a write at t arrives at t+latency
// whatever else is in flight on the stream. mocknet's own link latency
// cannot be used for this: its stream buffers small writes and re-arms one
// timer for the newest write, so on a busy stream earlier writes wait until
// the stream has been idle for a whole latency (seconds of delay at a few
// dozen messages per second).
type delayHost struct {
	host.Host
	links *links
}

// links holds the latency of every link, keyed by both ends.
type links struct {
	mu sync.Mutex
	m  map[[2]peer.ID]time.Duration
	// stop ends every delayStream's goroutine when the run is over.
	stop chan struct{}
	// late records, for each delayed write, how long after its arrival
	// time it was handed to the underlying stream: scheduling delay and
	// time blocked behind earlier writes (mocknet's stream is a
	// synchronous pipe, so a receiver that does not read holds the
	// sender). It shows whether the harness itself adds queueing.
	late []time.Duration
}

func newLinks() *links {
	return &links{m: map[[2]peer.ID]time.Duration{}, stop: make(chan struct{})}
}

func (l *links) set(a, b peer.ID, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[[2]peer.ID{a, b}], l.m[[2]peer.ID{b, a}] = d, d
}

// lateness records one delayed write's lateness.
func (l *links) lateness(d time.Duration) {
	l.mu.Lock()
	l.late = append(l.late, d)
	l.mu.Unlock()
}

// takeLateness returns the lateness recorded since the last call.
func (l *links) takeLateness() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	late := l.late
	l.late = nil
	return late
}

func (l *links) get(a, b peer.ID) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[[2]peer.ID{a, b}]
}

// NewStream opens a stream whose writes are delayed by the link latency.
func (h delayHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return newDelayStream(s, h.links.get(h.ID(), p), h.links), nil
}

// SetStreamHandler hands the handler streams whose writes are delayed.
func (h delayHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.wrap(handler))
}

// SetStreamHandlerMatch hands the handler streams whose writes are delayed.
func (h delayHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, match, h.wrap(handler))
}

func (h delayHost) wrap(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		handler(newDelayStream(s, h.links.get(h.ID(), s.Conn().RemotePeer()), h.links))
	}
}

// delayStream delivers each write to the underlying stream at its arrival
// time, in order, from its own goroutine; Close and CloseWrite take effect
// after the writes before them.
type delayStream struct {
	network.Stream
	latency time.Duration
	queue   chan delayed
	once    sync.Once
	done    chan struct{}
	stop    <-chan struct{}
	links   *links
}

// delayed is one write (or a close) waiting for its arrival time.
type delayed struct {
	at        time.Time
	b         []byte
	close     bool // Close after the writes before it
	closeSend bool // CloseWrite after the writes before it
}

func newDelayStream(s network.Stream, latency time.Duration, links *links) *delayStream {
	stop := links.stop
	d := &delayStream{Stream: s, latency: latency, links: links, queue: make(chan delayed, 4096), done: make(chan struct{}), stop: stop}
	go d.run()
	return d
}

func (d *delayStream) run() {
	for {
		select {
		case w := <-d.queue:
			if wait := time.Until(w.at); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-d.done:
					t.Stop()
					return
				case <-d.stop:
					t.Stop()
					return
				}
			}
			switch {
			case w.close:
				d.Stream.Close()
				return
			case w.closeSend:
				d.Stream.CloseWrite()
			default:
				d.links.lateness(time.Since(w.at))
				if _, err := d.Stream.Write(w.b); err != nil {
					d.Stream.Reset()
					return
				}
			}
		case <-d.done:
			return
		case <-d.stop:
			return
		}
	}
}

func (d *delayStream) enqueue(w delayed) error {
	select {
	case d.queue <- w:
		return nil
	case <-d.done:
		return network.ErrReset
	case <-d.stop:
		return network.ErrReset
	}
}

// Write queues a copy of b to arrive one latency from now.
func (d *delayStream) Write(b []byte) (int, error) {
	if err := d.enqueue(delayed{at: time.Now().Add(d.latency), b: append([]byte(nil), b...)}); err != nil {
		return 0, err
	}
	return len(b), nil
}

// CloseWrite ends the sending side after the queued writes arrived.
func (d *delayStream) CloseWrite() error {
	return d.enqueue(delayed{at: time.Now().Add(d.latency), closeSend: true})
}

// Close closes the stream after the queued writes arrived.
func (d *delayStream) Close() error {
	return d.enqueue(delayed{at: time.Now().Add(d.latency), close: true})
}

// Reset drops the queued writes and resets the stream at once.
func (d *delayStream) Reset() error {
	d.once.Do(func() { close(d.done) })
	return d.Stream.Reset()
}

// ResetWithError drops the queued writes and resets the stream at once.
func (d *delayStream) ResetWithError(code network.StreamErrorCode) error {
	d.once.Do(func() { close(d.done) })
	return d.Stream.ResetWithError(code)
}
