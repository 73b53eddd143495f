package p2pnode

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/protocol"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// TestMisbehavingPeerIsBanned has a raw libp2p host send garbage frames on
// the push protocol. Each one resets only its stream; at the ban threshold
// the node disconnects the peer and refuses it, while it keeps replicating
// with an honest peer.
func TestMisbehavingPeerIsBanned(t *testing.T) {
	cfg := testConfig(t, "ban")
	cfg.Ban.Threshold = 3
	a := startNode(t, cfg)
	b := startNode(t, testConfig(t, "ban", firstAddr(t, a)))

	attacker, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	// It claims membership (as any peer of an open network can), so its
	// streams get past the membership gate to the frame decoder.
	claimMember(attacker, "ban")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ai := peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}
	if err := attacker.Connect(ctx, ai); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		s, err := attacker.NewStream(ctx, a.ID(), protocol.PushProtocol)
		if err != nil {
			t.Fatalf("open stream %d: %v", i, err)
		}
		// A length prefix of 5 followed by 5 bytes that are not protobuf.
		_, _ = s.Write([]byte{5, 0xff, 0xff, 0xff, 0xff, 0xff})
		_ = s.CloseWrite()
		_, _ = s.Read(make([]byte, 1)) // returns once the node resets the stream
		s.Close()
	}
	waitFor(t, 10*time.Second, func() bool {
		_, banned := a.Banned()[attacker.ID()]
		return banned && a.Host().Network().Connectedness(attacker.ID()) != network.Connected
	}, func() string { return "attacker not banned and disconnected" })
	if err := attacker.Connect(ctx, ai); err == nil {
		waitFor(t, 5*time.Second, func() bool {
			return a.Host().Network().Connectedness(attacker.ID()) != network.Connected
		}, func() string { return "banned peer could reconnect" })
	}
	st, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Banned != 1 {
		t.Fatalf("Stats.Banned = %d, want 1", st.Banned)
	}

	// The honest peer is unaffected.
	if _, err := a.Put("still", []byte("serving")); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, []*Node{a, b}, 1, 10*time.Second)
}

func TestSenderAtFault(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("x: %w", replica.ErrBadSignature), true},
		{fmt.Errorf("x: %w", replica.ErrInvalidEvent), true},
		{fmt.Errorf("x: %w", replica.ErrInvalidMessage), true},
		{fmt.Errorf("x: %w", replica.ErrMessageTooLarge), true},
		{fmt.Errorf("relayed: %w", replica.ErrEquivocation), false},
		{fmt.Errorf("persist: %w", replica.ErrClosed), false},
		{errors.New("disk full"), false},
	}
	for _, tc := range cases {
		if got := senderAtFault(tc.err); got != tc.want {
			t.Errorf("senderAtFault(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestMessagesFromNonMembersAreDropped: murmur's stream protocols are
// shared by every network, so a host that identify shows is not a member of
// ours (here a bare libp2p host speaking the protocol) is not heard by the
// engine and never enters its peer view: the membership gate resets its
// streams (Stats.GatedStreams).
func TestMessagesFromNonMembersAreDropped(t *testing.T) {
	a := startNode(t, testConfig(t, "members"))
	outsider, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	defer outsider.Close()
	tr, err := protocol.New(outsider, protocol.DefaultConfig(), func(peer.ID, replica.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := outsider.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool {
		protos, _ := a.Host().Peerstore().GetProtocols(outsider.ID())
		return len(protos) > 0
	}, func() string { return "the node never identified the outsider" })
	msg := replica.Message{From: replica.PeerID(outsider.ID()), To: replica.PeerID(a.ID()), Body: &replica.SyncRoot{Nonce: 1}}
	waitFor(t, 10*time.Second, func() bool {
		_ = tr.Send(msg)
		st, _ := a.Stats()
		return st.GatedStreams > 0
	}, func() string { return "no stream of the outsider was turned away" })
	ps, err := a.EnginePeers()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if peer.ID(p.ID) == outsider.ID() {
			t.Fatal("the outsider entered the engine's peer view")
		}
	}
	if st, _ := a.Stats(); st.Engine.MessagesReceived != 0 {
		t.Fatalf("the engine stepped %d messages from a non-member", st.Engine.MessagesReceived)
	}
}
