package protocol

import (
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/sync/replica"
)

func TestMessagesFlowBothWaysOnReusedStreams(t *testing.T) {
	a, b := newNode(t, Config{}), newNode(t, Config{})
	connect(t, a.h, b.h)
	const n = 20
	for i := 1; i <= n; i++ {
		if err := a.t.Send(msg(a, b, &replica.PullSync{Hops: uint32(i), IDs: []replica.EventID{{byte(i)}}})); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if err := b.t.Send(msg(b, a, &replica.SyncRoot{Nonce: uint64(i)})); err != nil {
			t.Fatalf("send %d back: %v", i, err)
		}
	}
	for i := 1; i <= n; i++ {
		m := b.in.next(t)
		ps, ok := m.Body.(*replica.PullSync)
		if !ok || ps.Hops != uint32(i) || ps.IDs[0][0] != byte(i) {
			t.Fatalf("b got %#v as message %d", m.Body, i)
		}
		if m.From != replica.PeerID(a.h.ID()) || m.To != replica.PeerID(b.h.ID()) {
			t.Fatalf("message %d from %s to %s", i, m.From, m.To)
		}
		back := a.in.next(t)
		if sr, ok := back.Body.(*replica.SyncRoot); !ok || sr.Nonce != uint64(i) || back.From != replica.PeerID(b.h.ID()) {
			t.Fatalf("a got %#v as message %d", back.Body, i)
		}
	}
	as, bs := a.t.Stats(), b.t.Stats()
	if got := as[PushProtocol]; got.StreamsOpened != 1 || got.MessagesSent != n {
		t.Fatalf("a push stats %+v: want 1 stream for %d messages", got, n)
	}
	if got := bs[SyncProtocol]; got.StreamsOpened != 1 || got.MessagesSent != n {
		t.Fatalf("b sync stats %+v: want 1 stream for %d messages", got, n)
	}
	if as[PushProtocol].BytesSent != bs[PushProtocol].BytesReceived || bs[PushProtocol].MessagesReceived != n {
		t.Fatalf("push bytes sent %d, received %d", as[PushProtocol].BytesSent, bs[PushProtocol].BytesReceived)
	}
	if bs[SyncProtocol].BytesSent != as[SyncProtocol].BytesReceived || as[SyncProtocol].MessagesReceived != n {
		t.Fatalf("sync bytes sent %d, received %d", bs[SyncProtocol].BytesSent, as[SyncProtocol].BytesReceived)
	}
	if bs[PushProtocol].InboundStreams != 1 || as[SyncProtocol].InboundStreams != 1 {
		t.Fatalf("inbound streams: b push %d, a sync %d, want 1 each", bs[PushProtocol].InboundStreams, as[SyncProtocol].InboundStreams)
	}
}

// A push with a real event keeps everything the engine needs.
func TestEventArrivesIntact(t *testing.T) {
	a, b := newNode(t, Config{}), newNode(t, Config{})
	connect(t, a.h, b.h)
	ev := &replica.Event{Origin: replica.PeerID(a.h.ID()), Seq: 1, Time: replica.Timestamp{Wall: 5, Logical: 1}, Op: replica.OpPut, Key: "k", Value: []byte("v"), Signature: []byte("s")}
	sent := &replica.Push{Nonce: 9, Hops: 1, Events: []*replica.Event{ev}}
	if err := a.t.Send(msg(a, b, sent)); err != nil {
		t.Fatal(err)
	}
	if got := b.in.next(t).Body; !reflect.DeepEqual(got, sent) {
		t.Fatalf("got %#v, want %#v", got, sent)
	}
}

func TestReopensStreamAfterRemoteReset(t *testing.T) {
	a, b := newNode(t, Config{}), newNode(t, Config{})
	connect(t, a.h, b.h)
	if err := a.t.Send(msg(a, b, &replica.PullRequest{IDs: []replica.EventID{{1}}})); err != nil {
		t.Fatal(err)
	}
	b.in.next(t)
	// b resets every inbound stream, as it would on a fault or shutdown.
	b.t.mu.Lock()
	for s := range b.t.streams {
		_ = s.Reset()
	}
	b.t.mu.Unlock()
	waitFor(t, "a to notice the reset", func() bool { return a.t.Stats()[PushProtocol].RemoteEnded == 1 })
	if err := a.t.Send(msg(a, b, &replica.PullRequest{IDs: []replica.EventID{{2}}})); err != nil {
		t.Fatal(err)
	}
	if m := b.in.next(t); m.Body.(*replica.PullRequest).IDs[0][0] != 2 {
		t.Fatalf("got %#v after the reopen", m.Body)
	}
	if got := a.t.Stats()[PushProtocol].StreamsOpened; got != 2 {
		t.Fatalf("%d streams opened, want 2 (one reopened)", got)
	}
}

func TestStreamPerMessage(t *testing.T) {
	a, b := newNode(t, Config{StreamPerMessage: true}), newNode(t, Config{})
	connect(t, a.h, b.h)
	sendRoots(t, a, b, 1, 2, 3)
	if got := a.t.Stats()[SyncProtocol].StreamsOpened; got != 3 {
		t.Fatalf("%d streams opened for 3 messages, want 3", got)
	}
	waitFor(t, "b's inbound streams to end", func() bool {
		b.t.mu.Lock()
		defer b.t.mu.Unlock()
		return len(b.t.streams) == 0
	})
	if f := b.t.PeerFaults(a.h.ID()); f.Total() != 0 {
		t.Fatalf("closed streams counted as faults: %+v", f)
	}
}

// rawFrame builds a frame from an envelope.
func rawFrame(t *testing.T, env *pb.Envelope) []byte {
	t.Helper()
	return AppendFrame(nil, envBytes(t, env))
}

// faultCase is one kind of misbehaviour on a raw stream.
type faultCase struct {
	name  string
	proto p2pprotocol.ID
	bytes func(t *testing.T) []byte
	kind  FaultKind
}

func faultCases() []faultCase {
	future := protowire.AppendBytes(protowire.AppendTag(nil, 30, protowire.BytesType), nil)
	return []faultCase{
		{"malformed frame", PushProtocol, func(*testing.T) []byte { return AppendFrame(nil, []byte{0xff, 0xff, 0xff}) }, FaultMalformed},
		{"non-minimal length prefix", SyncProtocol, func(*testing.T) []byte { return []byte{0x81, 0x00} }, FaultMalformed},
		{"oversize length prefix", PushProtocol, func(*testing.T) []byte { return appendUvarint(nil, 1<<20+1) }, FaultOversize},
		{"unknown message type", SyncProtocol, func(*testing.T) []byte { return AppendFrame(nil, future) }, FaultUnknownMessage},
		{"message on the wrong protocol", PushProtocol, func(t *testing.T) []byte {
			return rawFrame(t, &pb.Envelope{Body: &pb.Envelope_SyncRoot{SyncRoot: &pb.SyncRoot{Root: make([]byte, 32)}}})
		}, FaultUnknownMessage},
		{"invalid message", PushProtocol, func(t *testing.T) []byte {
			return rawFrame(t, &pb.Envelope{Body: &pb.Envelope_PullRequest{PullRequest: &pb.PullRequest{Ids: [][]byte{make([]byte, 31)}}}})
		}, FaultInvalid},
		{"stall mid-frame", SyncProtocol, func(*testing.T) []byte { return append(appendUvarint(nil, 100), make([]byte, 10)...) }, FaultStalled},
	}
}

// TestFaultEndsOnlyThatStream: each fault resets the offending stream and
// is counted against the peer; the victim keeps serving a well-behaved
// peer and the offender's other streams.
func TestFaultEndsOnlyThatStream(t *testing.T) {
	for _, fc := range faultCases() {
		t.Run(fc.name, func(t *testing.T) {
			faults := make(chan Fault, 8)
			victim := newNode(t, Config{
				Limits:       Limits{MaxMessageSize: 1 << 20},
				FrameTimeout: time.Second,
				OnFault:      func(f Fault) { faults <- f },
			})
			good, bad := newNode(t, Config{}), newHost(t)
			connect(t, good.h, victim.h)
			connect(t, bad, victim.h)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// The bad peer keeps a well-behaved stream open on the other
			// protocol throughout.
			other := SyncProtocol
			if fc.proto == SyncProtocol {
				other = PushProtocol
			}
			okStream, err := bad.NewStream(ctx, victim.h.ID(), other)
			if err != nil {
				t.Fatal(err)
			}
			defer okStream.Reset()
			validOn := func(p p2pprotocol.ID) []byte {
				if p == PushProtocol {
					return rawFrame(t, &pb.Envelope{Body: &pb.Envelope_PullSync{PullSync: &pb.PullSync{Hops: 1}}})
				}
				return rawFrame(t, &pb.Envelope{Body: &pb.Envelope_SyncRoot{SyncRoot: &pb.SyncRoot{Root: make([]byte, 32)}}})
			}
			if _, err := okStream.Write(validOn(other)); err != nil {
				t.Fatal(err)
			}
			victim.in.next(t)

			s, err := bad.NewStream(ctx, victim.h.ID(), fc.proto)
			if err != nil {
				t.Fatal(err)
			}
			// A valid message first: the stream works until the fault.
			if _, err := s.Write(append(validOn(fc.proto), fc.bytes(t)...)); err != nil {
				t.Fatal(err)
			}
			if m := victim.in.next(t); m.From != replica.PeerID(bad.ID()) {
				t.Fatalf("message from %s, want the bad peer", m.From)
			}
			_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := s.Read(make([]byte, 1)); !errors.Is(err, network.ErrReset) {
				t.Fatalf("bad stream read: %v, want a reset", err)
			}
			select {
			case f := <-faults:
				if f.Peer != bad.ID() || f.Kind != fc.kind || f.Protocol != fc.proto || f.Err == nil {
					t.Fatalf("fault %+v, want %s from %s on %s", f, fc.kind, bad.ID(), fc.proto)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no fault reported")
			}
			want := FaultCounts{}
			want.add(fc.kind)
			if got := victim.t.PeerFaults(bad.ID()); got != want {
				t.Fatalf("faults %+v, want %+v", got, want)
			}
			if got := victim.t.PeerFaults(good.h.ID()); got.Total() != 0 {
				t.Fatalf("good peer charged with %+v", got)
			}
			// The victim still serves the good peer and the bad peer's
			// other stream.
			if err := good.t.Send(msg(good, victim, &replica.PullRequest{IDs: []replica.EventID{{7}}})); err != nil {
				t.Fatal(err)
			}
			if m := victim.in.next(t); m.From != replica.PeerID(good.h.ID()) {
				t.Fatalf("message from %s, want the good peer", m.From)
			}
			if _, err := okStream.Write(validOn(other)); err != nil {
				t.Fatal(err)
			}
			if m := victim.in.next(t); m.From != replica.PeerID(bad.ID()) {
				t.Fatalf("message from %s, want the bad peer's other stream", m.From)
			}
			if got := victim.t.Stats()[fc.proto].StreamsReset; got != 1 {
				t.Fatalf("%d streams reset on %s, want 1", got, fc.proto)
			}
		})
	}
}

func TestIdleInboundStreamClosedWithoutFault(t *testing.T) {
	victim := newNode(t, Config{IdleTimeout: 200 * time.Millisecond})
	peerHost := newHost(t)
	connect(t, peerHost, victim.h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := peerHost.NewStream(ctx, victim.h.ID(), SyncProtocol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(rawFrame(t, &pb.Envelope{Body: &pb.Envelope_SyncDigest{SyncDigest: &pb.SyncDigest{Match: true}}})); err != nil {
		t.Fatal(err)
	}
	victim.in.next(t)
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle stream read: %v, want io.EOF (a clean close)", err)
	}
	if f := victim.t.PeerFaults(peerHost.ID()); f.Total() != 0 {
		t.Fatalf("idle stream counted as a fault: %+v", f)
	}
}

func TestInboundStreamsPerPeerBounded(t *testing.T) {
	victim := newNode(t, Config{MaxInboundStreamsPerPeer: 2})
	peerHost, other := newHost(t), newNode(t, Config{})
	connect(t, peerHost, victim.h)
	connect(t, other.h, victim.h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	frame := rawFrame(t, &pb.Envelope{Body: &pb.Envelope_PushAck{PushAck: &pb.PushAck{Nonce: 1}}})
	var streams []network.Stream
	for i := 0; i < 3; i++ {
		s, err := peerHost.NewStream(ctx, victim.h.ID(), PushProtocol)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		if _, err := s.Write(frame); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
		if i < 2 {
			victim.in.next(t)
		}
	}
	_ = streams[2].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := streams[2].Read(make([]byte, 1)); !errors.Is(err, network.ErrReset) {
		t.Fatalf("third stream read: %v, want a reset", err)
	}
	if got := victim.t.PeerFaults(peerHost.ID()).StreamLimit; got != 1 {
		t.Fatalf("stream-limit faults %d, want 1", got)
	}
	// The admitted streams and other peers are still served.
	if _, err := streams[0].Write(frame); err != nil {
		t.Fatal(err)
	}
	victim.in.next(t)
	if err := other.t.Send(msg(other, victim, &replica.PushAck{Nonce: 2})); err != nil {
		t.Fatal(err)
	}
	if m := victim.in.next(t); m.From != replica.PeerID(other.h.ID()) {
		t.Fatalf("message from %s, want the other peer", m.From)
	}
}

// fakeBody is a message type the wire does not know.
type fakeBody struct{}

func (fakeBody) Type() replica.MessageType { return 42 }
func (fakeBody) Size() int                 { return 1 }

func TestSendRejects(t *testing.T) {
	a, b := newNode(t, Config{Limits: Limits{MaxMessageSize: 100}}), newNode(t, Config{})
	cases := []struct {
		name string
		m    replica.Message
		want error
	}{
		{"unknown type", msg(a, b, fakeBody{}), ErrUnknownMessage},
		{"too large", msg(a, b, &replica.PullRequest{IDs: make([]replica.EventID, 4)}), ErrMessageTooLarge},
		{"nil body", msg(a, b, nil), ErrInvalidMessage},
		{"to self", msg(a, a, &replica.PullRequest{}), ErrInvalidMessage},
		{"no destination", replica.Message{Body: &replica.PullRequest{}}, ErrInvalidMessage},
	}
	for _, c := range cases {
		if err := a.t.Send(c.m); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestQueueBoundedAndCloseInterruptsOpen: while a stream cannot be opened
// (the peer's address accepts TCP and never answers), Send drops beyond the
// queue, and Close returns without waiting for the open to time out.
func TestQueueBoundedAndCloseInterruptsOpen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // open and silent: the handshake never completes
		for {
			c, err := l.Accept()
			if err != nil {
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			_ = c.Close()
		}
	}()
	a := newNode(t, Config{SendQueueSize: 2, OpenTimeout: time.Minute})
	silent := newHost(t).ID() // a real peer ID whose address is the silent listener
	addr, err := multiaddr.NewMultiaddr("/ip4/127.0.0.1/tcp/" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	a.h.Peerstore().AddAddr(silent, addr, time.Hour)
	to := replica.Message{To: replica.PeerID(silent), Body: &replica.PushAck{Nonce: 1}}
	full := 0
	for i := 0; i < 10; i++ {
		if err := a.t.Send(to); errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if full < 7 || uint64(full) != a.t.Stats()[PushProtocol].Dropped {
		t.Fatalf("%d sends refused, %d counted dropped; want 7 or 8 of 10 with a queue of 2", full, a.t.Stats()[PushProtocol].Dropped)
	}
	done := make(chan struct{})
	go func() { _ = a.t.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a stream open")
	}
	if err := a.t.Send(to); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v, want ErrClosed", err)
	}
}

// TestQUICFlowAndStall: the same transport over QUIC streams: messages
// flow on a reused stream and a stall mid-frame is cut off by the frame
// deadline (QUIC reports deadlines as os.ErrDeadlineExceeded).
func TestQUICFlowAndStall(t *testing.T) {
	a, b := newNodeOn(t, newQUICHost(t), Config{}), newNodeOn(t, newQUICHost(t), Config{FrameTimeout: time.Second})
	connect(t, a.h, b.h)
	sendRoots(t, a, b, 1, 2, 3)
	if got := a.t.Stats()[SyncProtocol].StreamsOpened; got != 1 {
		t.Fatalf("%d QUIC streams for 3 messages, want 1", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := a.h.NewStream(ctx, b.h.ID(), PushProtocol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(append(appendUvarint(nil, 50), 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stall fault", func() bool { return b.t.PeerFaults(a.h.ID()).Stalled == 1 })
	sendRoots(t, a, b, 4)
}

// neverReads makes h accept push streams and never read them, until the
// test ends.
func neverReads(t *testing.T, h host.Host) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	h.SetStreamHandler(PushProtocol, func(s network.Stream) {
		<-done
		_ = s.Reset()
	})
}

// bigPush is a Push of one 200 KiB event to h: a few fill a stream's
// flow-control window when nobody reads.
func bigPush(h host.Host) replica.Message {
	ev := &replica.Event{Origin: "o", Seq: 1, Op: replica.OpPut, Key: "k", Value: make([]byte, 200<<10), Signature: []byte{1}}
	return replica.Message{To: replica.PeerID(h.ID()), Body: &replica.Push{Nonce: 1, Hops: 1, Events: []*replica.Event{ev}}}
}

// TestCloseInterruptsBlockedWrite: Close does not wait for a write
// blocked on a peer that does not read.
func TestCloseInterruptsBlockedWrite(t *testing.T) {
	a := newNode(t, Config{WriteTimeout: time.Minute})
	sink := newHost(t)
	neverReads(t, sink)
	connect(t, a.h, sink)
	for i := 0; i < 3; i++ {
		if err := a.t.Send(bigPush(sink)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// The first message fits the window, the second blocks, the third waits.
	waitFor(t, "a write to block", func() bool {
		a.t.mu.Lock()
		defer a.t.mu.Unlock()
		s := a.t.senders[senderKey{sink.ID(), PushProtocol}]
		return a.t.Stats()[PushProtocol].MessagesSent == 1 && s != nil && len(s.queue) == 1
	})
	done := make(chan struct{})
	go func() { _ = a.t.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a blocked write")
	}
}

// TestWriteDeadlineReplacesStuckStream: a remote that accepts the stream
// and never reads fills the flow-control window; the write deadline
// expires, the stream is reset and a new one opened, and the sender never
// hangs.
func TestWriteDeadlineReplacesStuckStream(t *testing.T) {
	a := newNode(t, Config{WriteTimeout: 200 * time.Millisecond})
	sink := newHost(t)
	neverReads(t, sink)
	connect(t, a.h, sink)
	for i := 0; i < 8; i++ {
		if err := a.t.Send(bigPush(sink)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	waitFor(t, "a stuck write to be replaced", func() bool {
		s := a.t.Stats()[PushProtocol]
		return s.StreamsOpened >= 2 && s.MessagesSent+s.SendFailures >= 2
	})
}

// sendRoots sends a SyncRoot per nonce from a to b, each delivered before
// the next is sent.
func sendRoots(t *testing.T, a, b *node, nonces ...uint64) {
	t.Helper()
	for _, n := range nonces {
		if err := a.t.Send(msg(a, b, &replica.SyncRoot{Nonce: n})); err != nil {
			t.Fatal(err)
		}
		if m := b.in.next(t); m.Body.(*replica.SyncRoot).Nonce != n {
			t.Fatalf("got %#v, want sync-root %d", m.Body, n)
		}
	}
}
