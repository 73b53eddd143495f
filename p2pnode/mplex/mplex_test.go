package mplex

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	muxtest "github.com/libp2p/go-libp2p/p2p/muxer/testsuite"
)

// testTransport returns a transport with cfg (DefaultConfig if nil).
func testTransport(t testing.TB, adjust func(*Config)) *Transport {
	t.Helper()
	cfg := DefaultConfig()
	if adjust != nil {
		adjust(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestMuxerSuite runs go-libp2p's multiplexer test suite (the one yamux
// passes) over TCP, except SubtestStreamOpenStress, which asserts a speed
// (50,000 streams in 10 s) that a loaded machine does not promise;
// TestOpenCloseManyStreams is its counterpart without a clock.
func TestMuxerSuite(t *testing.T) {
	tr := testTransport(t, nil)
	for _, sub := range []muxtest.TransportTest{
		muxtest.SubtestSimpleWrite,
		muxtest.SubtestWriteAfterClose,
		muxtest.SubtestStress1Conn1Stream1Msg,
		muxtest.SubtestStress1Conn1Stream100Msg,
		muxtest.SubtestStress1Conn100Stream100Msg,
		muxtest.SubtestStress10Conn10Stream50Msg,
		muxtest.SubtestStreamReset,
		muxtest.SubtestStreamLeftOpen,
	} {
		t.Run(funcName(sub), func(t *testing.T) { sub(t, tr) })
	}
}

func funcName(f muxtest.TransportTest) string {
	for name, g := range muxtest.Subtests {
		if reflect.ValueOf(f).Pointer() == reflect.ValueOf(g).Pointer() {
			return name[bytes.LastIndexByte([]byte(name), '.')+1:]
		}
	}
	return "subtest"
}

// TestOpenCloseManyStreams opens, half-closes and drains thousands of
// streams from several goroutines while the other side accepts and closes
// them; afterwards both sides have forgotten every stream.
func TestOpenCloseManyStreams(t *testing.T) {
	a, b := net.Pipe()
	tr := testTransport(t, nil)
	ma, _ := tr.NewConn(a, false, nil)
	scope := &countingScope{}
	mb, _ := tr.NewConn(b, true, scope)
	defer ma.Close()
	defer mb.Close()
	const workers, each = 5, 400
	go func() {
		for {
			s, err := mb.AcceptStream()
			if err != nil {
				return
			}
			go func() { _ = s.Close() }()
		}
	}()
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range each {
				s, err := ma.OpenStream(context.Background())
				if err == nil {
					err = s.CloseWrite()
				}
				if err == nil {
					_, err = s.Read(make([]byte, 1))
					if err == io.EOF {
						err = nil
					} else if err == nil {
						err = errors.New("read data from a stream the peer only closed")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("streams stalled")
		}
	}
	open := func(m network.MuxedConn) int {
		c := m.(*conn)
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.streams) + c.inbound + c.outbound
	}
	deadline := time.Now().Add(time.Minute)
	for open(ma)+open(mb) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("streams still registered: %d and %d", open(ma), open(mb))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := scope.reserved(); got != 0 {
		t.Fatalf("%d bytes still reserved", got)
	}
}

// rawPeer is the far end of a session, speaking mplex frames by hand.
type rawPeer struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// pair starts a session (as the session receiver) whose peer is driven by
// hand through the returned rawPeer.
func pair(t *testing.T, adjust func(*Config), scope network.PeerScope) (*conn, *rawPeer) {
	t.Helper()
	a, b := net.Pipe()
	mc, err := testTransport(t, adjust).NewConn(a, true, scope)
	if err != nil {
		t.Fatal(err)
	}
	c := mc.(*conn)
	t.Cleanup(func() { _ = c.Close(); _ = b.Close() })
	return c, &rawPeer{t: t, nc: b, br: bufio.NewReader(b)}
}

func (p *rawPeer) send(id uint64, f flag, body []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(appendFrame(nil, id, f, body)); err != nil {
		p.t.Fatalf("raw peer write: %v", err)
	}
}

// next reads the next frame the session sent.
func (p *rawPeer) next() (header, []byte) {
	p.t.Helper()
	_ = p.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	h, err := readHeader(p.br, 1<<24)
	if err != nil {
		p.t.Fatalf("raw peer read: %v", err)
	}
	body := make([]byte, h.length)
	if _, err := io.ReadFull(p.br, body); err != nil {
		p.t.Fatalf("raw peer read body: %v", err)
	}
	return h, body
}

// drain reads and discards whatever the session sends, until it closes.
func (p *rawPeer) drain() {
	go func() { _, _ = io.Copy(io.Discard, p.nc) }()
}

func waitClosed(t *testing.T, c *conn) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("session still open")
	}
}

func TestOversizeFrameClosesConnection(t *testing.T) {
	c, p := pair(t, func(c *Config) { c.MaxMessageSize = 1024; c.MaxStreamBuffer = 4096 }, nil)
	p.drain()
	p.send(0, flagNewStream, nil)
	s, err := c.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	p.send(0, flagMessageInitiator, make([]byte, 1025))
	waitClosed(t, c)
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, network.ErrReset) {
		t.Fatalf("read on a stream of the closed session: got %v, want an ErrReset", err)
	}
	if err := c.err(); !errors.Is(err, errProtocol) {
		t.Fatalf("close reason: %v, want a protocol violation", err)
	}
}

func TestUnknownFlagClosesConnection(t *testing.T) {
	c, p := pair(t, nil, nil)
	p.drain()
	p.send(3, 7, nil)
	waitClosed(t, c)
	if err := c.err(); !errors.Is(err, errProtocol) {
		t.Fatalf("close reason: %v, want a protocol violation", err)
	}
}

func TestStreamIDReusedWhileOpenClosesConnection(t *testing.T) {
	c, p := pair(t, nil, nil)
	p.drain()
	p.send(5, flagNewStream, []byte("a"))
	p.send(5, flagNewStream, []byte("b"))
	waitClosed(t, c)
	if err := c.err(); !errors.Is(err, errProtocol) {
		t.Fatalf("close reason: %v, want a protocol violation", err)
	}
}

func TestStreamIDOverflowClosesConnection(t *testing.T) {
	c, p := pair(t, nil, nil)
	p.drain()
	// Eleven continuation bytes: more than a 64-bit varint holds.
	if _, err := p.nc.Write(bytes.Repeat([]byte{0xff}, 11)); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, c)
}

func TestInboundStreamLimitResetsExtraStreams(t *testing.T) {
	c, p := pair(t, func(c *Config) { c.MaxInboundStreams = 2 }, nil)
	for id := uint64(0); id < 3; id++ {
		p.send(id, flagNewStream, nil)
	}
	h, _ := p.next()
	if h.id != 2 || h.flag != flagResetReceiver {
		t.Fatalf("got %s for stream %d, want ResetReceiver for stream 2", h.flag, h.id)
	}
	for range 2 {
		if _, err := c.AcceptStream(); err != nil {
			t.Fatal(err)
		}
	}
	// Closing a stream from both sides frees its slot.
	p.send(0, flagCloseInitiator, nil)
	c.mu.Lock()
	s := c.streams[streamKey{id: 0}]
	c.mu.Unlock()
	go func() { _ = s.CloseWrite() }()
	if h, _ := p.next(); h.id != 0 || h.flag != flagCloseReceiver {
		t.Fatalf("got %s for stream %d, want CloseReceiver for stream 0", h.flag, h.id)
	}
	p.send(3, flagNewStream, nil)
	s3, err := c.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	if s3.(*stream).id != 3 {
		t.Fatalf("accepted stream %d, want 3", s3.(*stream).id)
	}
}

func TestSlowReaderIsResetAndOthersContinue(t *testing.T) {
	scope := &countingScope{}
	c, p := pair(t, func(c *Config) {
		c.MaxMessageSize = 100
		c.MaxStreamBuffer = 300
		c.SlowReaderTimeout = 50 * time.Millisecond
	}, scope)
	p.send(0, flagNewStream, nil)
	p.send(1, flagNewStream, nil)
	slow, _ := c.AcceptStream()
	fast, _ := c.AcceptStream()
	for range 4 { // 400 bytes to a 300-byte buffer nobody reads
		p.send(0, flagMessageInitiator, bytes.Repeat([]byte{'s'}, 100))
	}
	h, _ := p.next()
	if h.id != 0 || h.flag != flagResetReceiver {
		t.Fatalf("got %s for stream %d, want ResetReceiver for stream 0", h.flag, h.id)
	}
	if _, err := slow.Read(make([]byte, 10)); !errors.Is(err, network.ErrReset) {
		t.Fatalf("read on the overflowed stream: got %v, want ErrReset", err)
	}
	p.send(1, flagMessageInitiator, []byte("still here"))
	buf := make([]byte, 32)
	n, err := fast.Read(buf)
	if err != nil || string(buf[:n]) != "still here" {
		t.Fatalf("other stream read %q, %v", buf[:n], err)
	}
	if got := scope.reserved(); got != 0 {
		t.Fatalf("%d bytes still reserved after every buffer was read or dropped", got)
	}
}

func TestHalfCloseAndRemoteReset(t *testing.T) {
	c, p := pair(t, nil, nil)
	p.send(0, flagNewStream, nil)
	s, _ := c.AcceptStream()
	p.send(0, flagMessageInitiator, []byte("hello"))
	p.send(0, flagCloseInitiator, nil)
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello then EOF", got, err)
	}
	// The peer closed only its side: this side still writes.
	go func() { _, _ = s.Write([]byte("back")) }()
	h, body := p.next()
	if h.flag != flagMessageReceiver || string(body) != "back" {
		t.Fatalf("got %s %q, want MessageReceiver \"back\"", h.flag, body)
	}

	p.send(1, flagNewStream, nil)
	s1, _ := c.AcceptStream()
	p.send(1, flagResetInitiator, nil)
	if _, err := s1.Read(make([]byte, 1)); !errors.Is(err, network.ErrReset) {
		t.Fatalf("read after the peer's reset: %v, want ErrReset", err)
	}
	if _, err := s1.Write([]byte("x")); !errors.Is(err, network.ErrReset) {
		t.Fatalf("write after the peer's reset: %v, want ErrReset", err)
	}
}

// TestDataBeforeHangUpIsRead: a peer that writes, closes its side and hangs
// up at once (a short request/response exchange) is read to the end, then
// EOF; writing fails.
func TestDataBeforeHangUpIsRead(t *testing.T) {
	c, p := pair(t, nil, &countingScope{})
	p.send(0, flagNewStream, nil)
	p.send(0, flagMessageInitiator, []byte("last words"))
	p.send(0, flagCloseInitiator, nil)
	s, err := c.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	// The stream has its data once the next frame is handled.
	p.send(1, flagNewStream, nil)
	if _, err := c.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	_ = p.nc.Close()
	waitClosed(t, c)
	<-c.readDone
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v; want the data then EOF", got, err)
	}
	if _, err := s.Write([]byte("x")); err == nil {
		t.Fatal("write on a closed connection succeeded")
	}
}

func TestWriteSplitsIntoFramesAndUsesInitiatorFlags(t *testing.T) {
	c, p := pair(t, func(c *Config) { c.MaxMessageSize = 10; c.MaxStreamBuffer = 10 }, nil)
	done := make(chan error, 1)
	go func() {
		s, err := c.OpenStream(context.Background())
		if err == nil {
			_, err = s.Write([]byte("0123456789abcde"))
		}
		if err == nil {
			err = s.CloseWrite()
		}
		done <- err
	}()
	want := []struct {
		f    flag
		body string
	}{{flagNewStream, "0"}, {flagMessageInitiator, "0123456789"}, {flagMessageInitiator, "abcde"}, {flagCloseInitiator, ""}}
	for _, w := range want {
		h, body := p.next()
		if h.id != 0 || h.flag != w.f || string(body) != w.body {
			t.Fatalf("got %s %q on stream %d, want %s %q on stream 0", h.flag, body, h.id, w.f, w.body)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWriteDeadlineWhenPeerDoesNotRead(t *testing.T) {
	c, _ := pair(t, func(c *Config) { c.WriteQueue = 1 }, nil)
	done := make(chan error, 1)
	go func() {
		s, err := c.OpenStream(context.Background())
		if err != nil {
			done <- err
			return
		}
		_ = s.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		for {
			if _, err := s.Write(make([]byte, 1000)); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
			t.Fatalf("write error %v, want a deadline error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("write blocked past its deadline")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// countingScope is a PeerScope that counts reserved memory.
type countingScope struct {
	mu  sync.Mutex
	mem int
}

func (s *countingScope) reserved() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem
}

func (s *countingScope) ReserveMemory(n int, _ uint8) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem += n
	return nil
}

func (s *countingScope) ReleaseMemory(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem -= n
	if s.mem < 0 {
		panic("released more memory than reserved")
	}
}

func (s *countingScope) Stat() network.ScopeStat {
	return network.ScopeStat{Memory: int64(s.reserved())}
}
func (s *countingScope) BeginSpan() (network.ResourceScopeSpan, error) { return s, nil }
func (s *countingScope) Done()                                         {}
func (s *countingScope) Peer() peer.ID                                 { return "" }
