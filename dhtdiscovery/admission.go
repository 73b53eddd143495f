package dhtdiscovery

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Admission decides who is a member of a closed network. With one set
// (WithAdmission), a connected peer is a member only once it has presented,
// on the member protocol, a credential Admit accepts; every other protocol
// handler of the network (those registered through GatedHost) waits for
// that answer and resets the streams of a peer without one, and a peer
// refused is disconnected. Without one (an open network), a peer is a
// member once identify shows it serves the member protocol.
type Admission interface {
	// Credential is what this node presents on the member protocol.
	Credential() []byte
	// Admit checks the credential p presented; nil admits p.
	Admit(p peer.ID, cred []byte) error
	// StillAdmitted reports whether p, admitted with cred, still is now
	// (its credential has not expired or been revoked).
	StillAdmitted(p peer.ID, cred []byte) bool
}

// Option adjusts a Discovery.
type Option func(*Discovery)

// WithAdmission makes the network closed: members are the peers a admits.
func WithAdmission(a Admission) Option { return func(d *Discovery) { d.admission = a } }

// Limits of the member protocol exchange.
const (
	// maxCredentialSize bounds a credential read from a peer.
	maxCredentialSize = 4096
	// admitTimeout bounds one credential exchange, and how long a gated
	// stream handler waits for the answer.
	admitTimeout = 10 * time.Second
	// recheckInterval is how often admitted peers are checked again
	// (expiry, revocation).
	recheckInterval = 5 * time.Second
	// identifyWait is how long a stream of an open network waits for
	// identify before asking the peer for the member protocol itself:
	// identify takes one round trip on an idle host.
	identifyWait = 3 * time.Second
)

// admissionState tracks the credential checks of a closed network.
type admissionState struct {
	mu       sync.Mutex
	admitted map[peer.ID][]byte        // admitted peer -> the credential it presented
	pending  map[peer.ID]chan struct{} // checks in flight, closed when done
	refused  map[peer.ID]time.Time     // refused peers -> when (not retried for a while)
}

func newAdmissionState() *admissionState {
	return &admissionState{admitted: map[peer.ID][]byte{}, pending: map[peer.ID]chan struct{}{}, refused: map[peer.ID]time.Time{}}
}

// refusalMemory is how long a refused peer is not checked again: it is
// disconnected, and a new connection within this time is closed at once.
const refusalMemory = time.Minute

// Closed reports whether the network is closed (an Admission is set).
func (d *Discovery) Closed() bool { return d.admission != nil }

// Admitted reports whether p is a member: in a closed network, admitted by
// the Admission; in an open one, shown by identify to serve the member
// protocol.
func (d *Discovery) Admitted(p peer.ID) bool {
	if d.admission == nil {
		return d.isMember(p)
	}
	d.adm.mu.Lock()
	_, ok := d.adm.admitted[p]
	d.adm.mu.Unlock()
	return ok
}

// AwaitAdmission returns whether p is a member, running (or joining) the
// credential check first if p has not been checked, for at most ctx's
// lifetime. In an open network it answers at once.
func (d *Discovery) AwaitAdmission(ctx context.Context, p peer.ID) bool {
	if d.admission == nil {
		// Wait for identify, which tells members from others; if it has
		// not told within identifyWait (it can fail or lag on a busy
		// host), ask the peer for the member protocol directly.
		giveUp := time.NewTimer(identifyWait)
		defer giveUp.Stop()
		for {
			d.identMu.Lock()
			wake := d.identified
			d.identMu.Unlock()
			if protos, err := d.host.Peerstore().GetProtocols(p); err == nil && len(protos) > 0 {
				return d.isMember(p)
			}
			select {
			case <-wake:
			case <-giveUp.C:
				return d.probeMember(p)
			case <-ctx.Done():
				return false
			}
		}
	}
	done := d.startCheck(p)
	if done == nil {
		return d.Admitted(p)
	}
	select {
	case <-done:
		return d.Admitted(p)
	case <-ctx.Done():
		return false
	}
}

// startCheck starts the credential check of p unless it is admitted, was
// refused recently or is being checked; it returns the channel closed when
// the check in flight ends, or nil if none is.
func (d *Discovery) startCheck(p peer.ID) chan struct{} {
	if p == d.host.ID() {
		return nil
	}
	a := d.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.admitted[p]; ok {
		return nil
	}
	if ch, ok := a.pending[p]; ok {
		return ch
	}
	if t, ok := a.refused[p]; ok && time.Since(t) < refusalMemory {
		go func() { _ = d.host.Network().ClosePeer(p) }()
		return nil
	}
	ch := make(chan struct{})
	a.pending[p] = ch
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := d.check(p)
		a.mu.Lock()
		delete(a.pending, p)
		if err != nil {
			a.refused[p] = time.Now()
		}
		a.mu.Unlock()
		close(ch)
		if err != nil {
			if d.ctx.Err() == nil {
				log.Warnw("peer refused: no valid member certificate; disconnecting", "peer", p, "error", err)
				_ = d.host.Network().ClosePeer(p)
			}
			return
		}
		log.Debugw("peer admitted", "peer", p)
		d.checkMember(p)
		d.addToRoutingTable(p)
	}()
	return ch
}

// check asks p for its credential on the member protocol and admits it.
func (d *Discovery) check(p peer.ID) error {
	ctx, cancel := context.WithTimeout(d.ctx, admitTimeout)
	defer cancel()
	s, err := d.host.NewStream(ctx, p, d.member)
	if err != nil {
		return fmt.Errorf("open member protocol %s: %w", d.member, err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(admitTimeout))
	cred, err := io.ReadAll(io.LimitReader(s, maxCredentialSize+1))
	if err != nil {
		_ = s.Reset()
		return fmt.Errorf("read credential: %w", err)
	}
	if len(cred) > maxCredentialSize {
		_ = s.Reset()
		return fmt.Errorf("credential over %d bytes", maxCredentialSize)
	}
	if err := d.admission.Admit(p, cred); err != nil {
		return err
	}
	d.adm.mu.Lock()
	d.adm.admitted[p] = cred
	delete(d.adm.refused, p)
	d.adm.mu.Unlock()
	return nil
}

// Evict ends p's membership now (its credential was revoked): p leaves the
// table and is disconnected, and its next connection is checked again.
func (d *Discovery) Evict(p peer.ID) {
	if d.admission == nil {
		return
	}
	d.adm.mu.Lock()
	delete(d.adm.admitted, p)
	d.adm.refused[p] = time.Now()
	d.adm.mu.Unlock()
	d.leave(p)
	_ = d.host.Network().ClosePeer(p)
}

// recheckLoop evicts admitted peers whose credentials expired or were
// revoked, and forgets old refusals.
func (d *Discovery) recheckLoop() {
	defer d.wg.Done()
	t := time.NewTicker(recheckInterval)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		var out []peer.ID
		d.adm.mu.Lock()
		for p, cred := range d.adm.admitted {
			if !d.admission.StillAdmitted(p, cred) {
				out = append(out, p)
			}
		}
		for p, when := range d.adm.refused {
			if time.Since(when) >= refusalMemory {
				delete(d.adm.refused, p)
			}
		}
		d.adm.mu.Unlock()
		for _, p := range out {
			log.Warnw("member certificate no longer valid (expired or revoked); disconnecting", "peer", p)
			d.Evict(p)
		}
	}
}

// forget drops the admission of a peer whose last connection closed: its
// next connection presents its credential again.
func (d *Discovery) forget(p peer.ID) {
	if d.admission == nil {
		return
	}
	d.adm.mu.Lock()
	delete(d.adm.admitted, p)
	d.adm.mu.Unlock()
}

// addToRoutingTable adds an admitted DHT server to the DHT's routing table,
// from which the routing-table filter kept it until now.
func (d *Discovery) addToRoutingTable(p peer.ID) {
	if d.dht == nil || d.cfg.DHT == DHTAmino {
		return
	}
	kad := protocol.ID(ProtocolPrefix(d.cfg.Network) + "/kad/1.0.0")
	if protos, err := d.host.Peerstore().SupportsProtocols(p, kad); err == nil && len(protos) > 0 {
		_, _ = d.dht.RoutingTable().TryAddPeer(p, true, true)
	}
}

// routingTableFilter keeps peers that are not admitted out of the DHT's
// routing table in a closed network, so this node neither asks them nor
// tells others of them.
func (d *Discovery) routingTableFilter(_ interface{}, p peer.ID) bool { return d.Admitted(p) }

// GatedHost returns h with every stream handler registered through it
// gated by membership: a stream from a peer that is not (or not yet) a
// member waits for the peer's admission and is reset if it does not come.
// murmur's stream protocols, the DHT and GossipSub are registered through
// it; identify, ping and the member protocol are not. In an open network
// the gate only turns away peers that identify shows are not members.
func (d *Discovery) GatedHost(h host.Host) host.Host { return gatedHost{Host: h, d: d} }

type gatedHost struct {
	host.Host
	d *Discovery
}

func (g gatedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	g.Host.SetStreamHandler(pid, g.gate(handler))
}

func (g gatedHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	g.Host.SetStreamHandlerMatch(pid, match, g.gate(handler))
}

func (g gatedHost) gate(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		p := s.Conn().RemotePeer()
		ctx, cancel := context.WithTimeout(context.Background(), admitTimeout)
		ok := g.d.AwaitAdmission(ctx, p)
		cancel()
		if !ok {
			g.d.gated.Add(1)
			_ = s.Reset()
			return
		}
		handler(s)
	}
}

// GatedStreams counts streams reset because their peer was not a member.
func (d *Discovery) GatedStreams() uint64 { return d.gated.Load() }
