package mplex

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/network"
)

var log = logging.Logger("murmur/mplex")

// ErrConnClosed is returned by operations on a closed connection, and by
// streams the connection's end cut short. It wraps network.ErrReset.
var ErrConnClosed = fmt.Errorf("mplex connection closed: %w", network.ErrReset)

// streamKey names a stream: IDs are chosen independently by each side, so
// the side that opened the stream is part of its name.
type streamKey struct {
	id    uint64
	local bool // this side opened the stream
}

// conn is one mplex session over a net.Conn.
type conn struct {
	cfg  Config
	nc   net.Conn
	span network.ResourceScopeSpan // nil without a scope

	// writeCh carries frames whose order matters (NewStream, data, close)
	// to writeLoop; ctrl holds resets, which never wait.
	writeCh  chan []byte
	ctrlMu   sync.Mutex
	ctrl     [][]byte
	ctrlWake chan struct{}

	acceptCh chan *stream
	closed   chan struct{}
	readDone chan struct{}

	mu        sync.Mutex
	closeErr  error
	streams   map[streamKey]*stream
	nextID    uint64
	inbound   int
	outbound  int
	closeOnce sync.Once
}

var _ network.MuxedConn = (*conn)(nil)

func newConn(nc net.Conn, isServer bool, scope network.PeerScope, cfg Config) *conn {
	c := &conn{
		cfg:      cfg,
		nc:       nc,
		writeCh:  make(chan []byte, cfg.WriteQueue),
		ctrlWake: make(chan struct{}, 1),
		acceptCh: make(chan *stream, cfg.AcceptBacklog),
		closed:   make(chan struct{}),
		readDone: make(chan struct{}),
		streams:  make(map[streamKey]*stream),
	}
	if scope != nil {
		if span, err := scope.BeginSpan(); err == nil {
			c.span = span
		} else {
			log.Debugw("no resource span for mplex connection; buffers are not accounted", "error", err)
		}
	}
	_ = isServer // mplex's stream names carry the opener in the flag, not the ID parity
	go c.readLoop()
	go c.writeLoop()
	return c
}

// Close closes the session and the underlying connection; open streams fail
// with ErrConnClosed. It waits for the read loop to release every buffer.
func (c *conn) Close() error {
	c.shutdown(nil)
	<-c.readDone
	return nil
}

// CloseWithError closes the connection: mplex cannot carry an error code.
func (c *conn) CloseWithError(network.ConnErrorCode) error { return c.Close() }

// IsClosed reports whether the session is closed.
func (c *conn) IsClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// As sets *target to the underlying net.Conn when target is a *net.Conn.
func (c *conn) As(target any) bool {
	if t, ok := target.(*net.Conn); ok {
		*t = c.nc
		return true
	}
	return false
}

// shutdown closes the session once, remembering why.
func (c *conn) shutdown(why error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closeErr = why
		c.mu.Unlock()
		close(c.closed)
		_ = c.nc.Close()
		if why != nil {
			log.Debugw("mplex connection closed", "remote", c.nc.RemoteAddr(), "error", why)
		}
	})
}

// err is what operations on the closed session return.
func (c *conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeErr != nil {
		return fmt.Errorf("%w: %w", ErrConnClosed, c.closeErr)
	}
	return ErrConnClosed
}

// OpenStream opens a stream; it fails once MaxOutboundStreams of this
// side's streams are open.
func (c *conn) OpenStream(ctx context.Context) (network.MuxedStream, error) {
	c.mu.Lock()
	if c.IsClosed() {
		c.mu.Unlock()
		return nil, c.err()
	}
	if c.outbound >= c.cfg.MaxOutboundStreams {
		c.mu.Unlock()
		return nil, fmt.Errorf("open mplex stream: %d streams open, the limit (MaxOutboundStreams)", c.outbound)
	}
	if c.nextID > maxStreamID {
		c.mu.Unlock()
		return nil, errors.New("open mplex stream: stream IDs exhausted")
	}
	id := c.nextID
	c.nextID++
	s := newStream(c, id, true)
	c.streams[s.key()] = s
	c.outbound++
	c.mu.Unlock()

	f := appendFrame(nil, id, flagNewStream, []byte(strconv.FormatUint(id, 10)))
	select {
	case c.writeCh <- f:
		return s, nil
	case <-ctx.Done():
		c.remove(s)
		return nil, fmt.Errorf("open mplex stream: %w", ctx.Err())
	case <-c.closed:
		c.remove(s)
		return nil, c.err()
	}
}

// AcceptStream returns the next stream the peer opened.
func (c *conn) AcceptStream() (network.MuxedStream, error) {
	select {
	case s := <-c.acceptCh:
		return s, nil
	case <-c.closed:
		return nil, c.err()
	}
}

// remove forgets s; frames for it are dropped from now on.
func (c *conn) remove(s *stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streams[s.key()] != s {
		return
	}
	delete(c.streams, s.key())
	if s.local {
		c.outbound--
	} else {
		c.inbound--
	}
}

func (c *conn) lookup(k streamKey) *stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[k]
}

// sendCtrl queues a reset frame ahead of ordered frames. It never blocks; a
// peer that lets resets pile up (by not reading) loses the connection.
func (c *conn) sendCtrl(f []byte) {
	c.ctrlMu.Lock()
	over := len(c.ctrl) >= c.cfg.MaxInboundStreams+c.cfg.MaxOutboundStreams
	if !over {
		c.ctrl = append(c.ctrl, f)
	}
	c.ctrlMu.Unlock()
	if over {
		c.shutdown(fmt.Errorf("%w: the peer does not read (%d reset frames queued)", errProtocol, c.cfg.MaxInboundStreams+c.cfg.MaxOutboundStreams))
		return
	}
	select {
	case c.ctrlWake <- struct{}{}:
	default:
	}
}

func (c *conn) takeCtrl() [][]byte {
	c.ctrlMu.Lock()
	defer c.ctrlMu.Unlock()
	out := c.ctrl
	c.ctrl = nil
	return out
}

// writeLoop writes queued frames, resets first, flushing when the queues run
// dry.
func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	write := func(f []byte) bool {
		if _, err := bw.Write(f); err != nil {
			c.shutdown(fmt.Errorf("write: %w", err))
			return false
		}
		return true
	}
	for {
		for _, f := range c.takeCtrl() {
			if !write(f) {
				return
			}
		}
		select {
		case f := <-c.writeCh:
			if !write(f) {
				return
			}
			continue // drain before flushing
		default:
		}
		if bw.Buffered() > 0 {
			if err := bw.Flush(); err != nil {
				c.shutdown(fmt.Errorf("write: %w", err))
				return
			}
		}
		select {
		case f := <-c.writeCh:
			if !write(f) {
				return
			}
		case <-c.ctrlWake:
		case <-c.closed:
			return
		}
	}
}

// readLoop reads and dispatches frames until the connection fails, then
// fails every stream that is still waiting for data.
func (c *conn) readLoop() {
	defer close(c.readDone)
	defer c.failStreams()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		h, err := readHeader(br, c.cfg.MaxMessageSize)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil // the peer hung up between frames
			}
			c.shutdown(err)
			return
		}
		if err := c.handle(br, h); err != nil {
			c.shutdown(err)
			return
		}
	}
}

// handle acts on one frame whose header has been read.
func (c *conn) handle(br *bufio.Reader, h header) error {
	if h.flag == flagNewStream {
		if _, err := br.Discard(h.length); err != nil { // the name means nothing to the protocol
			return fmt.Errorf("read stream name: %w", err)
		}
		return c.newRemoteStream(h.id)
	}
	// Receiver flags (odd) come from the side that accepted the stream, so
	// they name a stream this side opened.
	k := streamKey{id: h.id, local: h.flag%2 == 1}
	s := c.lookup(k)
	switch h.flag {
	case flagMessageReceiver, flagMessageInitiator:
		if s == nil || h.length == 0 {
			_, err := br.Discard(h.length)
			return wrapRead(err)
		}
		body := make([]byte, h.length)
		if _, err := io.ReadFull(br, body); err != nil {
			return wrapRead(err)
		}
		s.deliver(body)
	case flagCloseReceiver, flagCloseInitiator:
		if _, err := br.Discard(h.length); err != nil {
			return wrapRead(err)
		}
		if s != nil {
			s.remoteClose()
		}
	case flagResetReceiver, flagResetInitiator:
		if _, err := br.Discard(h.length); err != nil {
			return wrapRead(err)
		}
		if s != nil {
			s.remoteReset()
		}
	}
	return nil
}

func wrapRead(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read frame body: %w", err)
}

// newRemoteStream registers a stream the peer opened and queues it for
// AcceptStream, or resets it when the limits are reached.
func (c *conn) newRemoteStream(id uint64) error {
	k := streamKey{id: id, local: false}
	c.mu.Lock()
	if _, ok := c.streams[k]; ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: the peer opened stream %d while it is still open", errProtocol, id)
	}
	if c.inbound >= c.cfg.MaxInboundStreams {
		c.mu.Unlock()
		log.Debugw("refusing mplex stream: too many inbound streams", "remote", c.nc.RemoteAddr(), "limit", c.cfg.MaxInboundStreams)
		c.sendCtrl(appendFrame(nil, id, flagResetReceiver, nil))
		return nil
	}
	s := newStream(c, id, false)
	c.streams[k] = s
	c.inbound++
	c.mu.Unlock()
	select {
	case c.acceptCh <- s:
	default:
		log.Debugw("refusing mplex stream: accept backlog full", "remote", c.nc.RemoteAddr(), "backlog", c.cfg.AcceptBacklog)
		_ = s.Reset()
	}
	return nil
}

// failStreams ends every stream when the session is over and releases the
// memory their buffers hold.
func (c *conn) failStreams() {
	c.mu.Lock()
	all := make([]*stream, 0, len(c.streams))
	for _, s := range c.streams {
		all = append(all, s)
	}
	c.streams = map[streamKey]*stream{}
	c.mu.Unlock()
	for _, s := range all {
		s.connClosed()
	}
	for {
		select {
		case s := <-c.acceptCh:
			s.connClosed()
		default:
			if c.span != nil {
				c.span.Done()
			}
			return
		}
	}
}

func (c *conn) reserve(n int) error {
	if c.span == nil {
		return nil
	}
	return c.span.ReserveMemory(n, network.ReservationPriorityMedium)
}

func (c *conn) release(n int) {
	if c.span != nil && n > 0 {
		c.span.ReleaseMemory(n)
	}
}
