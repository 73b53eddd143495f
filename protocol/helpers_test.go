package protocol

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// newHost starts a libp2p host on loopback TCP only, closed with the test.
func newHost(tb testing.TB) host.Host {
	tb.Helper()
	return newHostWith(tb, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.Transport(tcp.NewTCPTransport))
}

// newQUICHost starts a libp2p host on loopback QUIC only.
func newQUICHost(tb testing.TB) host.Host {
	tb.Helper()
	return newHostWith(tb, libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"), libp2p.Transport(quic.NewTransport))
}

func newHostWith(tb testing.TB, opts ...libp2p.Option) host.Host {
	tb.Helper()
	h, err := libp2p.New(append(opts, libp2p.DisableRelay())...)
	if err != nil {
		tb.Fatalf("new host: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// connect connects a to b.
func connect(tb testing.TB, a, b host.Host) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		tb.Fatalf("connect: %v", err)
	}
}

// inbox collects delivered messages.
type inbox struct{ ch chan replica.Message }

func newInbox() *inbox { return &inbox{ch: make(chan replica.Message, 4096)} }

func (in *inbox) deliver(_ peer.ID, m replica.Message) { in.ch <- m }

// next returns the next delivered message or fails the test after 10 s.
func (in *inbox) next(tb testing.TB) replica.Message {
	tb.Helper()
	select {
	case m := <-in.ch:
		return m
	case <-time.After(10 * time.Second):
		tb.Fatal("no message delivered within 10s")
		return replica.Message{}
	}
}

// node is a host with a Transport.
type node struct {
	h  host.Host
	t  *Transport
	in *inbox
}

// newNode starts a TCP host with a Transport.
func newNode(tb testing.TB, cfg Config) *node {
	tb.Helper()
	return newNodeOn(tb, newHost(tb), cfg)
}

// newNodeOn binds a Transport to h.
func newNodeOn(tb testing.TB, h host.Host, cfg Config) *node {
	tb.Helper()
	n := &node{h: h, in: newInbox()}
	t, err := New(n.h, cfg, n.in.deliver)
	if err != nil {
		tb.Fatalf("new transport: %v", err)
	}
	tb.Cleanup(func() { _ = t.Close() })
	n.t = t
	return n
}

// msg addresses a body from a to b.
func msg(a, b *node, body replica.Body) replica.Message {
	return replica.Message{From: replica.PeerID(a.h.ID()), To: replica.PeerID(b.h.ID()), Body: body}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
