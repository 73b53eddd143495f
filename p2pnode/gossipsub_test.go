package p2pnode

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// gossipCluster starts n loopback nodes with dissemination: gossipsub,
// bootstrapped through node 0, and waits until each sees the others on the
// events topic.
func gossipCluster(t *testing.T, netName string, n int, tune func(*Config)) []*Node {
	t.Helper()
	cfg := func(bootstrap ...string) Config {
		c := testConfig(t, netName, bootstrap...)
		c.Dissemination = DisseminationGossipSub
		if tune != nil {
			tune(&c)
		}
		return c
	}
	nodes := []*Node{startNode(t, cfg())}
	for i := 1; i < n; i++ {
		nodes = append(nodes, startNode(t, cfg(firstAddr(t, nodes[0]))))
	}
	waitFor(t, 20*time.Second, func() bool {
		for _, nd := range nodes {
			gs, err := nd.GossipStats()
			if err != nil || len(nd.repl.gossip.topic.ListPeers()) < n-1 || gs.MeshPeers == 0 {
				return false
			}
		}
		return true
	}, func() string {
		s := "topic peers:"
		for i, nd := range nodes {
			gs, _ := nd.GossipStats()
			s += fmt.Sprintf(" %d:%d (mesh %d)", i, len(nd.repl.gossip.topic.ListPeers()), gs.MeshPeers)
		}
		return s
	})
	return nodes
}

func TestGossipSubConcurrentWritesConverge(t *testing.T) {
	// Digest sync effectively off: the writes must travel over GossipSub.
	nodes := gossipCluster(t, "gossip-converge", 5, func(c *Config) { c.Sync.SyncInterval = time.Hour })
	const perNode = 20
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes))
	for i, nd := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perNode; j++ {
				if _, err := nd.Put(fmt.Sprintf("k/%d/%d", i, j), []byte(fmt.Sprint(i, j))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := len(nodes) * perNode
	waitFor(t, 20*time.Second, func() bool {
		for _, nd := range nodes {
			if ks, err := nd.List("k/"); err != nil || len(ks) != want {
				return false
			}
		}
		return true
	}, func() string {
		gs, _ := nodes[0].GossipStats()
		s := fmt.Sprintf("node 0 gossip %+v; want %d keys on every node, have:", gs, want)
		for i, nd := range nodes {
			ks, _ := nd.List("k/")
			s += fmt.Sprintf(" %d:%d(topic peers %d, conns %d, banned %d)", i, len(ks), len(nd.repl.gossip.topic.ListPeers()), len(nd.Host().Network().Peers()), len(nd.Banned()))
		}
		return s
	})
	for i, nd := range nodes {
		st, err := nd.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if p := st.Engine.SentByType[replica.TypePush]; p != 0 {
			t.Errorf("node %d sent %d pushes with dissemination: gossipsub", i, p)
		}
		gs, err := nd.GossipStats()
		if err != nil {
			t.Fatal(err)
		}
		if gs.Published != perNode || gs.Received == 0 || gs.Rejected != 0 {
			t.Errorf("node %d gossip stats %+v: want %d published, some received, none rejected", i, gs, perNode)
		}
		v, err := nd.Get("k/3/7")
		if err != nil || string(v) != "3 7" {
			t.Errorf("node %d reads k/3/7 = %q, %v", i, v, err)
		}
	}
}

func TestGossipSubRejectsBadlySignedEvent(t *testing.T) {
	nodes := gossipCluster(t, "gossip-reject", 3, func(c *Config) { c.Ban.Threshold = 3 })
	victim := nodes[1]

	// The attacker is a bare libp2p host running GossipSub with the same
	// message policy, so that only murmur's topic validator can refuse it.
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	claimMember(h, "gossip-reject") // so that only the validator stands in its way
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithNoAuthor(), pubsub.WithMessageIdFn(messageID))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(EventsTopic("gossip-reject"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, peer.AddrInfo{ID: victim.ID(), Addrs: victim.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return len(topic.ListPeers()) > 0 },
		func() string { return "attacker sees no topic peer" })

	signer, err := security.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	event := func(seq uint64, key, value string) *replica.Event {
		ev := &replica.Event{Origin: signer.ID(), Seq: seq, Op: replica.OpPut, Key: key, Value: []byte(value),
			Time: replica.Timestamp{Wall: time.Now().UnixNano()}}
		if err := ev.Sign(signer); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	publishRaw := func(data []byte) {
		if err := topic.Publish(ctx, data); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(ev *replica.Event) {
		data, err := encodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		publishRaw(data)
	}
	bad := event(1, "evil", "signed")
	bad.Value = []byte("tampered after signing")
	publish(bad)
	publishRaw([]byte{0xff, 0xff, 0xff}) // not an event at all
	waitFor(t, 10*time.Second, func() bool {
		gs, _ := victim.GossipStats()
		return gs.Rejected >= 2
	}, func() string { gs, _ := victim.GossipStats(); return fmt.Sprintf("victim gossip stats %+v", gs) })

	// A good event from the same peer still gets through, and reaches the
	// other nodes by GossipSub forwarding: the channel works, only the
	// forgery was refused.
	publish(event(1, "fine", "ok"))
	waitFor(t, 10*time.Second, func() bool {
		for _, nd := range nodes {
			if _, err := nd.Get("fine"); err != nil {
				return false
			}
		}
		return true
	}, func() string { return "good event not on every node" })
	for i, nd := range nodes {
		if v, err := nd.Get("evil"); !errors.Is(err, ErrNotFound) {
			t.Errorf("node %d applied the badly signed event: %q, %v", i, v, err)
		}
		if i != 1 {
			if gs, _ := nd.GossipStats(); gs.Rejected != 0 {
				t.Errorf("node %d saw %d rejected messages: the victim forwarded them", i, gs.Rejected)
			}
		}
	}

	// Forwarding invalid events counts against the peer: a third one
	// reaches the ban threshold and the victim cuts the attacker off.
	if _, banned := victim.Banned()[h.ID()]; banned {
		t.Fatal("attacker banned before the threshold")
	}
	publishRaw([]byte{0xfe, 0xfe})
	waitFor(t, 10*time.Second, func() bool {
		_, banned := victim.Banned()[h.ID()]
		return banned
	}, func() string { return "attacker not banned after 3 invalid events" })
}
