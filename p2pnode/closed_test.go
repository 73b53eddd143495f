package p2pnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
	mproto "github.com/murmur-p2p/murmur/protocol"
	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// connectErr dials n's first address from a bare libp2p host built with
// opts and returns the dial's error.
func connectErr(t *testing.T, n *Node, opts ...libp2p.Option) error {
	t.Helper()
	h, err := libp2p.New(append([]libp2p.Option{libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.Connect(ctx, peer.AddrInfo{ID: n.ID(), Addrs: n.Host().Addrs()})
}

func TestPrivateNetworkRefusesOutsiders(t *testing.T) {
	psk, err := security.GeneratePSK()
	if err != nil {
		t.Fatal(err)
	}
	other, err := security.GeneratePSK()
	if err != nil {
		t.Fatal(err)
	}
	withPSK := func(c *Config) { c.Access.PSK = fmt.Sprintf("%x", []byte(psk)) }
	cfg0 := testConfig(t, "pnet")
	withPSK(&cfg0)
	// A QUIC listen address is dropped: QUIC cannot carry a PSK.
	cfg0.Listen = append(cfg0.Listen, "/ip4/127.0.0.1/udp/0/quic-v1")
	a := startNode(t, cfg0)
	for _, addr := range a.Host().Addrs() {
		if isQUIC(addr.String()) {
			t.Fatalf("node with a PSK listens on QUIC: %s", addr)
		}
	}
	// The same key from a swarm.key file (kubo's format).
	cfg1 := testConfig(t, "pnet", firstAddr(t, a))
	if err := security.WriteSwarmKey(filepath.Join(cfg1.DataDir, security.SwarmKeyFileName), psk); err != nil {
		t.Fatal(err)
	}
	cfg1.Access.SwarmKeyFile = security.SwarmKeyFileName
	b := startNode(t, cfg1)
	if _, err := a.Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool { v, err := b.Get("k"); return err == nil && string(v) == "v" },
		func() string { return "member with the key did not receive the write" })

	// A host without the key, and one with another network's key, cannot
	// complete a connection.
	if err := connectErr(t, a); err == nil {
		t.Fatal("a host without the PSK connected to a private network node")
	}
	if err := connectErr(t, a, libp2p.PrivateNetwork(other)); err == nil {
		t.Fatal("a host with another network's PSK connected")
	}
	if err := connectErr(t, a, libp2p.PrivateNetwork(psk)); err != nil {
		t.Fatalf("a host with the PSK could not connect: %v", err)
	}
	// A murmur node of the same network name without the key cannot join.
	cfgOut := testConfig(t, "pnet", firstAddr(t, a))
	cfgOut.Discovery.BootstrapTimeout = 2 * time.Second
	out, err := New(cfgOut)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := out.Start(ctx); !errors.Is(err, dhtdiscovery.ErrNoBootstrapPeer) {
		t.Fatalf("node without the PSK: Start = %v, want ErrNoBootstrapPeer", err)
	}
}

func TestPassphrasePSK(t *testing.T) {
	k1, err := security.PSKFromPassphrase("correct horse", "net-a")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := security.PSKFromPassphrase("correct horse", "net-a")
	k3, _ := security.PSKFromPassphrase("correct horse", "net-b")
	if string(k1) != string(k2) || string(k1) == string(k3) || len(k1) != security.PSKSize {
		t.Fatal("passphrase derivation is not deterministic per network")
	}
	cfg := testConfig(t, "net-a")
	cfg.Access.PSKPassphrase = "correct horse"
	a := startNode(t, cfg)
	if err := connectErr(t, a, libp2p.PrivateNetwork(k1)); err != nil {
		t.Fatalf("host with the derived key could not connect: %v", err)
	}
	if err := connectErr(t, a, libp2p.PrivateNetwork(k3)); err == nil {
		t.Fatal("host with another network's derived key connected")
	}
}

func TestSecurityTransportTLSOnly(t *testing.T) {
	cfg := testConfig(t, "tls")
	cfg.Access.Security = []string{SecurityTLS}
	a := startNode(t, cfg)
	cfg2 := testConfig(t, "tls", firstAddr(t, a))
	b := startNode(t, cfg2) // offers noise and tls: agrees on tls
	waitFor(t, 15*time.Second, func() bool { return len(a.Peers()) == 1 }, func() string { return peerCounts([]*Node{a, b}) })
	for _, c := range a.Host().Network().ConnsToPeer(b.ID()) {
		if got := c.ConnState().Security; got != "/tls/1.0.0" {
			t.Fatalf("connection security = %s, want /tls/1.0.0", got)
		}
	}
}

// authority is a test network authority.
type authority struct {
	t       *testing.T
	key     crypto.PrivKey
	id      string
	network string
}

func newAuthority(t *testing.T, network string) *authority {
	k, err := security.GenerateAuthorityKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := security.AuthorityID(k)
	if err != nil {
		t.Fatal(err)
	}
	return &authority{t: t, key: k, id: id, network: network}
}

// member returns the config and identity of a node with a certificate of
// role (issued now, valid for validFor; negative: expired) from a.
func (a *authority) member(role security.Role, prefixes []string, validFor time.Duration, tune func(*Config), bootstrap ...string) (Config, crypto.PrivKey) {
	t := a.t
	t.Helper()
	key, id := newKey(t)
	cfg := testConfig(t, a.network, bootstrap...)
	cfg.Access.NetworkAuthorities = []string{a.id}
	issued := time.Now()
	if validFor < 0 {
		issued, validFor = time.Now().Add(2*validFor), -validFor
	}
	cert, err := security.IssueCert(a.key, a.network, id, role, prefixes, issued, validFor)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, DefaultMemberCertFile), []byte(cert.Text()), 0o600); err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(&cfg)
	}
	return cfg, key
}

// closedCluster starts an admin, a writer under app/ and a reader, all
// admitted, and waits until each has the other two in its peer table.
func closedCluster(t *testing.T, a *authority, tune func(*Config)) (admin, writer, reader *Node) {
	cfg, key := a.member(security.RoleAdmin, nil, time.Hour, tune)
	admin = startNode(t, cfg, WithIdentity(key))
	boot := firstAddr(t, admin)
	cfg, key = a.member(security.RoleWriter, []string{"app/"}, time.Hour, tune, boot)
	writer = startNode(t, cfg, WithIdentity(key))
	cfg, key = a.member(security.RoleReader, nil, time.Hour, tune, boot)
	reader = startNode(t, cfg, WithIdentity(key))
	nodes := []*Node{admin, writer, reader}
	waitFor(t, 30*time.Second, func() bool {
		for _, n := range nodes {
			if len(n.Peers()) != 2 {
				return false
			}
		}
		return true
	}, func() string { return peerCounts(nodes) })
	return admin, writer, reader
}

// forceWrite signs and replicates a write through n's engine directly,
// skipping the API-level permission check, as a modified node would.
func forceWrite(t *testing.T, n *Node, key, value string) *replica.Event {
	t.Helper()
	e, err := n.engine()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := e.Put(key, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestClosedNetwork(t *testing.T) {
	for _, mode := range []string{DisseminationPushPull, DisseminationGossipSub} {
		t.Run(mode, func(t *testing.T) {
			testClosedNetwork(t, mode)
		})
	}
}

func testClosedNetwork(t *testing.T, mode string) {
	a := newAuthority(t, "closed-"+mode)
	tune := func(c *Config) { c.Dissemination = mode }
	admin, writer, reader := closedCluster(t, a, tune)
	honest := []*Node{admin, writer, reader}
	converged := func(key, want string) func() bool {
		return func() bool {
			for _, n := range honest {
				if v, err := n.Get(key); err != nil || string(v) != want {
					return false
				}
			}
			return true
		}
	}

	// A writer writes under its prefix; everyone, the reader included, gets it.
	if _, err := writer.Put("app/1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, converged("app/1", "one"), func() string { return "app/1 did not reach every member" })

	// Writes beyond a role are refused before anything is signed.
	vvBefore, _ := reader.VersionVector()
	if _, err := reader.Put("app/2", []byte("x")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("reader Put: %v, want ErrForbidden", err)
	}
	if _, err := writer.Put("other/1", []byte("x")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("writer Put outside its prefix: %v, want ErrForbidden", err)
	}
	if _, err := writer.Put(security.ReservedPrefix+"x", []byte("x")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("writer Put under the reserved prefix: %v, want ErrForbidden", err)
	}
	if vv, _ := reader.VersionVector(); vv[replica.PeerID(reader.ID())] != vvBefore[replica.PeerID(reader.ID())] {
		t.Fatal("a refused write was signed")
	}

	// A modified reader that signs anyway: every other node refuses the
	// event, counts it, and the honest nodes keep converging.
	forceWrite(t, reader, "app/forged", "x")
	forceWrite(t, writer, "other/forged", "x")
	waitFor(t, 20*time.Second, func() bool {
		st0, _ := admin.Stats()
		st1, _ := writer.Stats()
		return st0.Unauthorized > 0 && st1.Unauthorized > 0
	}, func() string { return "forged events were not refused (Stats.Unauthorized)" })
	if _, err := admin.Put("app/after", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, converged("app/after", "ok"), func() string { return "app/after did not converge" })
	for _, n := range []*Node{admin, writer} {
		if _, err := n.Get("app/forged"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s holds the reader's forged write: %v", n.ID(), err)
		}
	}
	for _, n := range []*Node{admin, reader} {
		if _, err := n.Get("other/forged"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s holds the writer's out-of-prefix write: %v", n.ID(), err)
		}
	}

	outsiders := map[string]func() (Config, crypto.PrivKey){
		"expired certificate": func() (Config, crypto.PrivKey) {
			return a.member(security.RoleAdmin, nil, -time.Hour, tune)
		},
		"certificate of another authority": func() (Config, crypto.PrivKey) {
			cfg, key := newAuthority(t, a.network).member(security.RoleAdmin, nil, time.Hour, tune)
			cfg.Access.NetworkAuthorities = []string{a.id, cfg.Access.NetworkAuthorities[0]}
			return cfg, key
		},
	}
	for name, mk := range outsiders {
		cfg, key := mk()
		cfg.Discovery.BootstrapTimeout = 3 * time.Second
		out, err := New(cfg, WithIdentity(key))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer out.Close()
		if err := out.Start(context.Background()); err != nil {
			t.Fatalf("%s: start: %v", name, err)
		}
		refusedBefore := admin.access.RefusedPeers()
		// It gets a connection (no PSK here), then nothing: the admin
		// refuses its certificate and disconnects it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = out.Host().Connect(ctx, peer.AddrInfo{ID: admin.ID(), Addrs: admin.Host().Addrs()})
		cancel()
		waitFor(t, 20*time.Second, func() bool { return admin.access.RefusedPeers() > refusedBefore },
			func() string { return name + ": the admin did not refuse the certificate" })
		if _, err := out.Get("app/1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: got data: %v", name, err)
		}
		for _, n := range honest {
			for _, p := range n.Peers() {
				if p == out.ID() {
					t.Fatalf("%s: in the peer table of %s", name, n.ID())
				}
			}
		}
	}

	// Revoke the writer: the revocation replicates as a write, every node
	// disconnects it, and its later events are refused.
	rev, err := security.IssueRevocation(a.key, a.network, writer.ID(), time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Revoke(rev.Text()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool {
		return len(reader.access.Revoked()) == 1 && len(admin.Peers()) == 1 && len(reader.Peers()) == 1
	}, func() string { return "writer not revoked everywhere: " + peerCounts(honest) })
	// The writer may not have received the revocation before it was cut
	// off; whatever it writes now stays with it. Reconnecting does not help.
	forceWrite(t, writer, "app/late", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = writer.Host().Connect(network.WithForceDirectDial(ctx, "test"), peer.AddrInfo{ID: reader.ID(), Addrs: reader.Host().Addrs()})
	cancel()
	if _, err := admin.Put("app/final", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	honest = []*Node{admin, reader}
	waitFor(t, 20*time.Second, converged("app/final", "ok"), func() string { return "admin and reader stopped converging" })
	for _, n := range honest {
		if _, err := n.Get("app/late"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s holds a write the revoked writer made: %v", n.ID(), err)
		}
		for _, p := range n.Peers() {
			if p == writer.ID() {
				t.Fatalf("revoked writer is in the peer table of %s", n.ID())
			}
		}
	}
}

func TestClosedNetworkNonMemberGetsNothing(t *testing.T) {
	for _, mode := range []string{DisseminationPushPull, DisseminationGossipSub} {
		t.Run(mode, func(t *testing.T) { testNonMemberGetsNothing(t, mode) })
	}
}

func testNonMemberGetsNothing(t *testing.T, mode string) {
	a := newAuthority(t, "closed-js-"+mode)
	cfg, key := a.member(security.RoleAdmin, nil, time.Hour, func(c *Config) { c.Dissemination = mode })
	admin := startNode(t, cfg, WithIdentity(key))
	if _, err := admin.Put("app/1", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	// A js-libp2p-style peer: a bare host that registers the network's
	// member protocol (answering with junk) and then speaks murmur's
	// protocols and the DHT.
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.SetStreamHandler(protocol.ID(dhtdiscovery.MemberProtocol(a.network)), func(s network.Stream) {
		_, _ = s.Write([]byte("member, trust me\n"))
		_ = s.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var topic *pubsub.Topic
	if mode == DisseminationGossipSub {
		// It also runs GossipSub on the network's topic, with murmur's
		// message policy, and publishes a validly signed event.
		ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
			pubsub.WithNoAuthor(), pubsub.WithMessageIdFn(messageID))
		if err != nil {
			t.Fatal(err)
		}
		if topic, err = ps.Join(EventsTopic(a.network)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Connect(ctx, peer.AddrInfo{ID: admin.ID(), Addrs: admin.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if topic != nil {
		signer, err := security.NewSigner(h.Peerstore().PrivKey(h.ID()))
		if err != nil {
			t.Fatal(err)
		}
		ev := &replica.Event{Origin: signer.ID(), Seq: 1, Op: replica.OpPut, Key: "app/1", Value: []byte("overwritten"),
			Time: replica.Timestamp{Wall: time.Now().UnixNano()}}
		if err := ev.Sign(signer); err != nil {
			t.Fatal(err)
		}
		data, err := encodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		_ = topic.Publish(ctx, data)
	}
	protos := []protocol.ID{mproto.SyncProtocol, mproto.PushProtocol, protocol.ID(dhtdiscovery.ProtocolPrefix(a.network) + "/kad/1.0.0")}
	for _, p := range protos {
		s, err := h.NewStream(ctx, admin.ID(), p)
		if err != nil {
			continue // refused, or already disconnected: nothing reached
		}
		_ = s.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = s.Write([]byte{0, 0, 0, 1, 0})
		buf := make([]byte, 16)
		if n, err := s.Read(buf); err == nil && n > 0 {
			t.Fatalf("non-member got %d bytes on %s", n, p)
		}
		_ = s.Reset()
	}
	// The admin asked for its credential (identify showed the member
	// protocol), refused it and disconnected it; any stream that got in
	// first was reset.
	waitFor(t, 20*time.Second, func() bool {
		st, _ := admin.Stats()
		return st.RefusedPeers > 0 && admin.Host().Network().Connectedness(h.ID()) != network.Connected
	}, func() string { return "the non-member was not refused and disconnected" })
	st, _ := admin.Stats()
	if len(admin.Peers()) != 0 || st.Engine.Accepted != 0 {
		t.Fatalf("non-member reached the table or the engine: peers %d, accepted %d", len(admin.Peers()), st.Engine.Accepted)
	}
	if v, err := admin.Get("app/1"); err != nil || string(v) != "secret" {
		t.Fatalf("app/1 = %q, %v: the non-member had an effect", v, err)
	}
}

// TestPSKRotationWithoutDowntime walks a private network key rotation: a
// node that writes with the old key and accepts the new one, a node that
// writes with the new key and accepts the old one, and a node with only
// the new key all connect to one another as the rotation requires, while a
// host with an unrelated key still cannot connect.
func TestPSKRotationWithoutDowntime(t *testing.T) {
	oldKey, _ := security.GeneratePSK()
	newKey, _ := security.GeneratePSK()
	stranger, _ := security.GeneratePSK()
	keyed := func(primary pnet.PSK, accept []pnet.PSK, bootstrap ...string) Config {
		c := testConfig(t, "rotation", bootstrap...)
		if err := security.WriteSwarmKey(filepath.Join(c.DataDir, "swarm.key"), primary); err != nil {
			t.Fatal(err)
		}
		c.Access.SwarmKeyFile = "swarm.key"
		for i, k := range accept {
			name := fmt.Sprintf("accept%d.key", i)
			if err := security.WriteSwarmKey(filepath.Join(c.DataDir, name), k); err != nil {
				t.Fatal(err)
			}
			c.Access.AcceptSwarmKeyFiles = append(c.Access.AcceptSwarmKeyFiles, name)
		}
		return c
	}
	// Phase 1 node: old key, accepts the new one.
	a := startNode(t, keyed(oldKey, []pnet.PSK{newKey}))
	// A node with only the old key (not yet restarted) still talks to it:
	// the keyring speaks go-libp2p pnet's wire format.
	if err := connectErr(t, a, libp2p.PrivateNetwork(oldKey)); err != nil {
		t.Fatalf("pnet host with the old key: %v", err)
	}
	// Phase 2 node: new key, accepts the old one.
	b := startNode(t, keyed(newKey, []pnet.PSK{oldKey}, firstAddr(t, a)))
	// Phase 3 node: the new key only.
	c := startNode(t, keyed(newKey, nil, firstAddr(t, b)))
	nodes := []*Node{a, b, c}
	waitFor(t, 30*time.Second, func() bool { return len(b.Peers()) == 2 }, func() string { return peerCounts(nodes) })
	if _, err := a.Put("rotated", []byte("yes")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool { v, err := c.Get("rotated"); return err == nil && string(v) == "yes" },
		func() string { return "the write did not cross the rotation" })
	if err := connectErr(t, a, libp2p.PrivateNetwork(stranger)); err == nil {
		t.Fatal("a host with an unrelated key connected to the keyring node")
	}
	if err := connectErr(t, a); err == nil {
		t.Fatal("a host without a key connected to the keyring node")
	}
}
