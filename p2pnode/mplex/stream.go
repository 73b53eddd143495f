package mplex

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

var (
	errReadClosed  = errors.New("mplex stream: closed for reading")
	errWriteClosed = errors.New("mplex stream: closed for writing")
)

// stream is one mplex stream.
type stream struct {
	c     *conn
	id    uint64
	local bool // this side opened it: it sends Initiator flags

	// readWake wakes a blocked Read (data, close, reset, deadline change);
	// writeWake a blocked Write; space the read loop waiting for room.
	readWake  chan struct{}
	writeWake chan struct{}
	space     chan struct{}

	mu            sync.Mutex
	chunks        [][]byte
	buffered      int
	accounted     bool // buffered bytes are reserved from the conn's span
	remoteClosed  bool // the peer closed its side: EOF after the buffer
	readClosed    bool
	writeClosed   bool
	resetErr      error // set once the stream is reset or its conn ends
	readDeadline  time.Time
	writeDeadline time.Time
}

var _ network.MuxedStream = (*stream)(nil)

func newStream(c *conn, id uint64, local bool) *stream {
	return &stream{
		c: c, id: id, local: local,
		readWake:  make(chan struct{}, 1),
		writeWake: make(chan struct{}, 1),
		space:     make(chan struct{}, 1),
		accounted: true,
	}
}

func (s *stream) key() streamKey { return streamKey{id: s.id, local: s.local} }

// flag returns the flag this side sends for kind, one of the Receiver flags.
func (s *stream) flag(receiverFlag flag) flag {
	if s.local {
		return receiverFlag + 1
	}
	return receiverFlag
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// deliver buffers a received data frame. If the stream's reader does not
// make room within SlowReaderTimeout, or the connection's memory budget is
// spent, the stream is reset. It runs on the read loop.
func (s *stream) deliver(b []byte) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		if s.resetErr != nil || s.readClosed || s.remoteClosed {
			s.mu.Unlock()
			return // nobody will read it (data after the peer's close is dropped too)
		}
		if s.buffered+len(b) <= s.c.cfg.MaxStreamBuffer {
			if err := s.c.reserve(len(b)); err != nil {
				s.mu.Unlock()
				log.Debugw("resetting mplex stream: no memory left to buffer it", "stream", s.id, "bytes", len(b), "error", err)
				_ = s.Reset()
				return
			}
			s.chunks = append(s.chunks, b)
			s.buffered += len(b)
			s.mu.Unlock()
			wake(s.readWake)
			return
		}
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(s.c.cfg.SlowReaderTimeout)
		}
		select {
		case <-s.space:
		case <-timer.C:
			log.Debugw("resetting mplex stream: its reader fell behind", "stream", s.id, "buffered_bytes", s.bufferedBytes(), "waited", s.c.cfg.SlowReaderTimeout.String())
			_ = s.Reset()
			return
		case <-s.c.closed:
			return
		}
	}
}

// bufferedBytes returns the bytes the stream holds unread.
func (s *stream) bufferedBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buffered
}

// Read reads received data; it returns io.EOF once the peer closed its side
// and the buffer is empty.
func (s *stream) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		switch {
		case s.readClosed:
			s.mu.Unlock()
			return 0, errReadClosed
		case s.buffered > 0:
			n := s.take(p)
			s.mu.Unlock()
			wake(s.space)
			return n, nil
		case s.resetErr != nil:
			err := s.resetErr
			s.mu.Unlock()
			return 0, err
		case s.remoteClosed:
			s.mu.Unlock()
			return 0, io.EOF
		}
		dl := s.readDeadline
		s.mu.Unlock()
		if err := s.wait(s.readWake, dl); err != nil {
			return 0, err
		}
	}
}

// take copies buffered data into p; s.mu is held.
func (s *stream) take(p []byte) int {
	n := 0
	for n < len(p) && len(s.chunks) > 0 {
		k := copy(p[n:], s.chunks[0])
		n += k
		if k == len(s.chunks[0]) {
			s.chunks[0] = nil
			s.chunks = s.chunks[1:]
		} else {
			s.chunks[0] = s.chunks[0][k:]
		}
	}
	s.buffered -= n
	if s.accounted {
		s.c.release(n)
	}
	return n
}

// wait blocks until ch fires, the deadline passes or the connection ends.
func (s *stream) wait(ch chan struct{}, deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ch:
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	case <-s.c.closed:
		// The read loop fails the stream; look again so buffered data of
		// a stream the peer closed is still read.
		<-s.c.readDone
		return nil
	}
}

// Write sends p as data frames of at most MaxMessageSize bytes.
func (s *stream) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), s.c.cfg.MaxMessageSize)
		f := appendFrame(make([]byte, 0, n+frameOverhead), s.id, s.flag(flagMessageReceiver), p[:n])
		if err := s.send(f); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// send queues an ordered frame, waiting for room until the write deadline.
func (s *stream) send(f []byte) error {
	for {
		s.mu.Lock()
		switch {
		case s.resetErr != nil:
			err := s.resetErr
			s.mu.Unlock()
			return err
		case s.writeClosed:
			s.mu.Unlock()
			return errWriteClosed
		}
		dl := s.writeDeadline
		s.mu.Unlock()
		sent, err := s.trySend(f, dl)
		if sent || err != nil {
			return err
		}
	}
}

// trySend waits once for room in the write queue; it returns false, nil
// when woken by a state or deadline change.
func (s *stream) trySend(f []byte, deadline time.Time) (bool, error) {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return false, os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	// A closed session refuses writes even while its queue has room (a
	// select picks among ready cases at random).
	select {
	case <-s.c.closed:
		return false, s.c.err()
	default:
	}
	select {
	case s.c.writeCh <- f:
		return true, nil
	case <-s.writeWake:
		return false, nil
	case <-timeout:
		return false, os.ErrDeadlineExceeded
	case <-s.c.closed:
		return false, s.c.err()
	}
}

// CloseWrite sends the peer an end of stream; reading stays open.
func (s *stream) CloseWrite() error {
	s.mu.Lock()
	if s.writeClosed || s.resetErr != nil {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	err := s.send(appendFrame(nil, s.id, s.flag(flagCloseReceiver), nil))
	s.mu.Lock()
	s.writeClosed = true
	done := s.remoteClosed
	s.mu.Unlock()
	wake(s.writeWake)
	if done {
		s.c.remove(s)
	}
	if err != nil {
		return fmt.Errorf("close mplex stream %d: %w", s.id, err)
	}
	return nil
}

// CloseRead discards buffered and future data; Read fails from now on.
func (s *stream) CloseRead() error {
	s.mu.Lock()
	s.readClosed = true
	s.drop()
	s.mu.Unlock()
	wake(s.readWake)
	wake(s.space)
	return nil
}

// drop discards the buffer; s.mu is held.
func (s *stream) drop() {
	if s.accounted {
		s.c.release(s.buffered)
	}
	s.chunks, s.buffered = nil, 0
}

// Close closes both directions: CloseRead and CloseWrite.
func (s *stream) Close() error {
	_ = s.CloseRead()
	return s.CloseWrite()
}

// Reset ends both directions at once and tells the peer. It never blocks.
func (s *stream) Reset() error {
	s.mu.Lock()
	if s.resetErr != nil || (s.writeClosed && s.remoteClosed) {
		s.mu.Unlock()
		return nil
	}
	s.resetErr = network.ErrReset
	s.drop()
	s.mu.Unlock()
	s.c.remove(s)
	s.c.sendCtrl(appendFrame(nil, s.id, s.flag(flagResetReceiver), nil))
	s.wakeAll()
	return nil
}

// ResetWithError resets the stream; mplex cannot carry the code.
func (s *stream) ResetWithError(network.StreamErrorCode) error { return s.Reset() }

func (s *stream) wakeAll() {
	wake(s.readWake)
	wake(s.writeWake)
	wake(s.space)
}

// remoteClose records the peer's end of stream.
func (s *stream) remoteClose() {
	s.mu.Lock()
	s.remoteClosed = true
	done := s.writeClosed
	s.mu.Unlock()
	if done {
		s.c.remove(s)
	}
	wake(s.readWake)
	wake(s.space)
}

// remoteReset records the peer's reset.
func (s *stream) remoteReset() {
	s.mu.Lock()
	if s.resetErr == nil {
		s.resetErr = &network.StreamError{ErrorCode: network.StreamNoError, Remote: true}
	}
	s.drop()
	s.mu.Unlock()
	s.c.remove(s)
	s.wakeAll()
}

// connClosed fails the stream when its connection ends; data the peer sent
// before closing its side can still be read.
func (s *stream) connClosed() {
	s.mu.Lock()
	if s.remoteClosed {
		// Reads drain the buffer, then see EOF; writes fail on the closed
		// connection.
		if s.accounted {
			s.c.release(s.buffered)
			s.accounted = false
		}
	} else {
		if s.resetErr == nil {
			s.resetErr = ErrConnClosed
		}
		s.drop()
	}
	s.mu.Unlock()
	s.wakeAll()
}

// SetDeadline sets the read and write deadlines.
func (s *stream) SetDeadline(t time.Time) error {
	_ = s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline makes Read fail with os.ErrDeadlineExceeded after t.
func (s *stream) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDeadline = t
	s.mu.Unlock()
	wake(s.readWake)
	return nil
}

// SetWriteDeadline makes Write fail with os.ErrDeadlineExceeded after t.
func (s *stream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.writeDeadline = t
	s.mu.Unlock()
	wake(s.writeWake)
	return nil
}
