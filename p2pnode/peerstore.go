package p2pnode

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
)

// PeersFileName is the file in the data dir where a node remembers the
// members it was recently connected to, with their addresses, so that a
// restart rejoins whichever of them are reachable even when every
// configured bootstrap peer is not.
const PeersFileName = "peers.json"

// Peerstore limits, and how often it is saved.
const (
	// maxRememberedPeers bounds the file: a few dozen members are plenty to
	// find the network again through one of them.
	maxRememberedPeers = 64
	// maxRememberedAddrs bounds the addresses kept per member.
	maxRememberedAddrs = 8
	// rememberFor drops members not seen for a week: their addresses have
	// likely moved on.
	rememberFor = 7 * 24 * time.Hour
	// peersSaveInterval is how often the connected members are written
	// (only when they changed, or every refreshInterval).
	peersSaveInterval = 10 * time.Second
	refreshInterval   = 5 * time.Minute
)

// rememberedPeer is one entry of the peers file.
type rememberedPeer struct {
	ID    string    `json:"id"`
	Addrs []string  `json:"addrs"`
	Seen  time.Time `json:"seen"`
}

// peersFile is the content of the peers file.
type peersFile struct {
	Peers []rememberedPeer `json:"peers"`
}

// loadPeers reads the peers file of dataDir: the members seen within
// rememberFor, most recent first, without self. A missing file is no
// peers; a damaged one is logged and ignored (it is only a hint).
func loadPeers(dataDir string, self peer.ID, now time.Time) []rememberedPeer {
	path := filepath.Join(dataDir, PeersFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var f peersFile
	if err == nil {
		err = json.Unmarshal(data, &f)
	}
	if err != nil {
		log.Warnw("ignoring the remembered peers", "file", path, "error", err)
		return nil
	}
	slices.SortFunc(f.Peers, func(a, b rememberedPeer) int { return b.Seen.Compare(a.Seen) })
	var out []rememberedPeer
	for _, rp := range f.Peers {
		if ai, ok := rp.addrInfo(); ok && ai.ID != self && now.Sub(rp.Seen) <= rememberFor {
			out = append(out, rp)
		}
		if len(out) == maxRememberedPeers {
			break
		}
	}
	return out
}

// addrInfo parses the entry; ok is false if it has no valid ID or address.
func (rp rememberedPeer) addrInfo() (peer.AddrInfo, bool) {
	id, err := peer.Decode(rp.ID)
	if err != nil {
		return peer.AddrInfo{}, false
	}
	ai := peer.AddrInfo{ID: id}
	for _, s := range rp.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	return ai, len(ai.Addrs) > 0
}

// addrInfos parses the entries.
func addrInfos(list []rememberedPeer) []peer.AddrInfo {
	out := make([]peer.AddrInfo, 0, len(list))
	for _, rp := range list {
		if ai, ok := rp.addrInfo(); ok {
			out = append(out, ai)
		}
	}
	return out
}

// withRememberedPeers returns the discovery config to start with: when
// bootstrap peers are configured, the remembered members are added to them,
// so joining succeeds through whichever is reachable first. A node without
// bootstrap peers (the first of its network) keeps starting alone; it dials
// the remembered members after start (dialRemembered).
func withRememberedPeers(cfg dhtdiscovery.Config, remembered []peer.AddrInfo) (dhtdiscovery.Config, error) {
	if len(cfg.Bootstrap) == 0 || len(remembered) == 0 {
		return cfg, nil
	}
	configured, err := dhtdiscovery.ParseBootstrap(cfg.Bootstrap)
	if err != nil {
		return cfg, err
	}
	have := map[peer.ID]bool{}
	for _, ai := range configured {
		have[ai.ID] = true
	}
	boot := append([]string(nil), cfg.Bootstrap...)
	for _, ai := range remembered {
		if have[ai.ID] {
			continue
		}
		addrs, err := peer.AddrInfoToP2pAddrs(&ai)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			boot = append(boot, a.String())
		}
	}
	cfg.Bootstrap = boot
	return cfg, nil
}

// dialRemembered connects to the remembered members in the background,
// for a node that has no bootstrap peers configured.
func dialRemembered(ctx context.Context, h host.Host, remembered []peer.AddrInfo) {
	for _, ai := range remembered {
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := h.Connect(ctx, ai); err != nil {
				log.Debugw("remembered peer not reachable", "peer", ai.ID, "error", err)
			}
		}()
	}
}

// peerSaver writes the connected members to the peers file.
type peerSaver struct {
	path   string
	host   host.Host
	disc   *dhtdiscovery.Discovery
	mu     sync.Mutex
	known  map[peer.ID]rememberedPeer
	saved  time.Time
	last   string // the members and addresses last written, to skip rewrites
	cancel context.CancelFunc
	done   chan struct{}
}

// startPeerSaver saves the connected members every peersSaveInterval until
// stop. remembered are the members loaded at start, kept (with their
// last-seen time) until they age out or more recent ones crowd them out.
func startPeerSaver(dataDir string, h host.Host, disc *dhtdiscovery.Discovery, remembered []rememberedPeer) *peerSaver {
	ctx, cancel := context.WithCancel(context.Background())
	s := &peerSaver{path: filepath.Join(dataDir, PeersFileName), host: h, disc: disc,
		known: map[peer.ID]rememberedPeer{}, cancel: cancel, done: make(chan struct{})}
	for _, rp := range remembered {
		if ai, ok := rp.addrInfo(); ok {
			s.known[ai.ID] = rp
		}
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(peersSaveInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.save()
			}
		}
	}()
	return s
}

// stop saves once more and ends the loop.
func (s *peerSaver) stop() {
	s.cancel()
	<-s.done
	s.save()
}

func addrStrings(addrs []ma.Multiaddr) []string {
	out := make([]string, 0, min(len(addrs), maxRememberedAddrs))
	for _, a := range addrs {
		if len(out) == maxRememberedAddrs {
			break
		}
		out = append(out, a.String())
	}
	return out
}

// save records the connected members and writes the file if they changed
// (or refreshInterval passed). Failures (a full disk) are logged: the file
// is only a hint for the next start.
func (s *peerSaver) save() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	for _, p := range s.disc.Peers() {
		addrs := s.host.Peerstore().Addrs(p)
		if len(addrs) == 0 {
			continue
		}
		s.known[p] = rememberedPeer{ID: p.String(), Addrs: addrStrings(addrs), Seen: now}
	}
	list := make([]rememberedPeer, 0, len(s.known))
	for id, rp := range s.known {
		if now.Sub(rp.Seen) > rememberFor {
			delete(s.known, id)
			continue
		}
		slices.Sort(rp.Addrs)
		list = append(list, rp)
	}
	slices.SortFunc(list, func(a, b rememberedPeer) int {
		if c := b.Seen.Compare(a.Seen); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(list) > maxRememberedPeers {
		for _, rp := range list[maxRememberedPeers:] {
			id, _ := peer.Decode(rp.ID)
			delete(s.known, id)
		}
		list = list[:maxRememberedPeers]
	}
	var key string
	for _, rp := range list {
		key += rp.ID + fmt.Sprint(rp.Addrs) + ";"
	}
	if key == s.last && now.Sub(s.saved) < refreshInterval {
		return
	}
	data, err := json.MarshalIndent(peersFile{Peers: list}, "", "  ")
	if err == nil {
		tmp := s.path + ".tmp"
		if err = os.WriteFile(tmp, append(data, '\n'), 0o644); err == nil {
			err = os.Rename(tmp, s.path)
		}
	}
	if err != nil {
		log.Debugw("could not save the remembered peers", "file", s.path, "error", err)
		return
	}
	s.last, s.saved = key, now
}
