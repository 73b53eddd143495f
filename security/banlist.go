package security

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// BanConfig sets when a misbehaving peer is banned and for how long.
type BanConfig struct {
	// Threshold is the number of faults (malformed, oversize or invalid
	// messages, stalls, stream floods, refused events) within Window that
	// gets a peer banned. 0 disables banning.
	Threshold int `yaml:"ban_threshold"`
	// Window is the period over which faults are counted.
	Window time.Duration `yaml:"ban_window"`
	// Duration is how long a ban lasts; the peer is disconnected and every
	// connection to or from it is refused meanwhile.
	Duration time.Duration `yaml:"ban_duration"`
}

// DefaultBanConfig bans a peer for 10 minutes after 20 faults in a minute:
// an honest peer on a bad link commits a few (stalls, cut frames), an
// abusive one many.
func DefaultBanConfig() BanConfig {
	return BanConfig{Threshold: 20, Window: time.Minute, Duration: 10 * time.Minute}
}

// Banlist scores peers by their faults and bans those over the threshold.
// It is a libp2p ConnectionGater that refuses banned peers and, optionally,
// peers outside an allow-list. Safe for concurrent use.
type Banlist struct {
	cfg   BanConfig
	now   func() time.Time
	allow map[peer.ID]bool // nil: everyone allowed

	// faults and banned are LRUs, so peer IDs made up by the thousand
	// cannot grow them without bound: the least recently faulting peers
	// are forgotten first.
	mu     sync.Mutex
	faults *simplelru.LRU[peer.ID, []time.Time]
	banned *simplelru.LRU[peer.ID, time.Time] // until
}

// banlistSize is how many peers' fault histories and bans are remembered.
const banlistSize = 4096

var _ connmgr.ConnectionGater = (*Banlist)(nil)

// NewBanlist returns a Banlist. now supplies the time (time.Now when nil);
// allow, when not empty, is the only set of peers that may connect.
func NewBanlist(cfg BanConfig, now func() time.Time, allow []peer.ID) *Banlist {
	if now == nil {
		now = time.Now
	}
	faults, _ := simplelru.NewLRU[peer.ID, []time.Time](banlistSize, nil)
	banned, _ := simplelru.NewLRU[peer.ID, time.Time](banlistSize, nil)
	b := &Banlist{cfg: cfg, now: now, faults: faults, banned: banned}
	if len(allow) > 0 {
		b.allow = make(map[peer.ID]bool, len(allow))
		for _, p := range allow {
			b.allow[p] = true
		}
	}
	return b
}

// Fault records one fault of p and reports whether p is now banned (newly
// or still).
func (b *Banlist) Fault(p peer.ID) bool {
	if b.cfg.Threshold <= 0 {
		return false
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if until, ok := b.banned.Get(p); ok && now.Before(until) {
		return true
	}
	cutoff := now.Add(-b.cfg.Window)
	fs, _ := b.faults.Get(p)
	i := 0
	for i < len(fs) && fs[i].Before(cutoff) {
		i++
	}
	fs = append(fs[i:], now)
	if len(fs) >= b.cfg.Threshold {
		b.faults.Remove(p)
		b.banned.Add(p, now.Add(b.cfg.Duration))
		return true
	}
	b.faults.Add(p, fs)
	return false
}

// Banned reports whether p is banned now.
func (b *Banlist) Banned(p peer.ID) bool {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.banned.Peek(p)
	if ok && !now.Before(until) {
		b.banned.Remove(p)
		return false
	}
	return ok
}

// BannedPeers lists the peers banned now with when each ban ends.
func (b *Banlist) BannedPeers() map[peer.ID]time.Time {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[peer.ID]time.Time)
	for _, p := range b.banned.Keys() {
		if until, _ := b.banned.Peek(p); now.Before(until) {
			out[p] = until
		}
	}
	return out
}

func (b *Banlist) permitted(p peer.ID) bool {
	if b.allow != nil && !b.allow[p] {
		return false
	}
	return !b.Banned(p)
}

// InterceptPeerDial refuses dials to banned or not-allowed peers.
func (b *Banlist) InterceptPeerDial(p peer.ID) bool { return b.permitted(p) }

// InterceptAddrDial refuses dials to banned or not-allowed peers.
func (b *Banlist) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return b.permitted(p) }

// InterceptAccept accepts every inbound connection; the peer is known only
// once it is secured.
func (b *Banlist) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses banned or not-allowed peers once their identity
// is authenticated.
func (b *Banlist) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return b.permitted(p)
}

// InterceptUpgraded accepts upgraded connections.
func (b *Banlist) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
