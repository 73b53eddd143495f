package dhtdiscovery

import (
	"fmt"
	"regexp"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Config configures discovery. The yaml tags are the keys of murmur's config
// file; DefaultConfig documents each default.
type Config struct {
	// Network names the murmur network. Nodes only ever see peers of the same
	// network: it selects the DHT protocol prefix and the rendezvous key.
	Network string `yaml:"network"`
	// Bootstrap lists full /p2p/ multiaddrs of nodes to join through.
	Bootstrap []string `yaml:"bootstrap"`
	// BootstrapTimeout bounds how long Start waits for the first bootstrap
	// peer to answer; past it, with none answering, Start fails.
	BootstrapTimeout time.Duration `yaml:"bootstrap_timeout"`
	// TargetPeers is how many connected network peers discovery keeps.
	TargetPeers int `yaml:"target_peers"`
	// DiscoveryInterval is how often the rendezvous key is looked up while the
	// peer table is below TargetPeers.
	DiscoveryInterval time.Duration `yaml:"discovery_interval"`
	// DHTMode is "server" (answer DHT queries; the default), "client" or "auto".
	DHTMode string `yaml:"dht_mode"`
	// MDNS finds nodes of the same network on the local network by
	// multicast DNS, with no bootstrap peer (see MDNSService). It runs on
	// the non-loopback interfaces the node listens on.
	MDNS bool `yaml:"mdns"`

	// mdnsLoopback lets mDNS run on the loopback interface too (tests, in
	// a network namespace of their own).
	mdnsLoopback bool
	// DHT is the DHT discovery runs on: "murmur" (the network's own; the
	// default) or "amino" (the public IPFS DHT, /ipfs/kad/1.0.0, to meet
	// across the internet; see DHTAmino).
	DHT string `yaml:"dht"`
	// RendezvousSecret, when set, keys the network's rendezvous key on the
	// Amino DHT (AminoRendezvousKey), so that only holders of the secret can
	// find the network's members there. The embedding program sets it (from
	// the network's pre-shared key); it has no config file key.
	RendezvousSecret []byte `yaml:"-"`
}

// DefaultConfig returns the defaults: the "murmur" network, no bootstrap
// peers (a first node), a table of 8 peers, and mDNS on.
func DefaultConfig() Config {
	return Config{
		Network:           "murmur",
		BootstrapTimeout:  30 * time.Second, // long enough for a peer that is restarting
		TargetPeers:       8,                // gossip fanout 3 plus room to choose from
		DiscoveryInterval: 10 * time.Second, // DHT lookups are cheap at this rate, even for 1,000s of nodes
		DHTMode:           "server",         // every murmur node helps route
		MDNS:              true,             // nodes on one LAN find each other with no setup
		DHT:               DHTMurmur,        // a network's own DHT: members only, nothing published beyond it
	}
}

var networkName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Validate checks every field and names the key and value at fault.
func (c Config) Validate() error {
	if !networkName.MatchString(c.Network) {
		return fmt.Errorf("network: invalid value %q: want 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit", c.Network)
	}
	if _, err := ParseBootstrap(c.Bootstrap); err != nil {
		return err
	}
	if c.BootstrapTimeout <= 0 {
		return fmt.Errorf("bootstrap_timeout: invalid value %s: must be positive", c.BootstrapTimeout)
	}
	if c.TargetPeers < 1 {
		return fmt.Errorf("target_peers: invalid value %d: must be at least 1", c.TargetPeers)
	}
	if c.DiscoveryInterval < 10*time.Millisecond {
		return fmt.Errorf("discovery_interval: invalid value %s: must be at least 10ms", c.DiscoveryInterval)
	}
	if c.DHT != DHTMurmur && c.DHT != DHTAmino {
		return fmt.Errorf("dht: invalid value %q: want %s or %s", c.DHT, DHTMurmur, DHTAmino)
	}
	switch c.DHTMode {
	case "server", "client", "auto":
	default:
		return fmt.Errorf("dht_mode: invalid value %q: want server, client or auto", c.DHTMode)
	}
	return nil
}

// ParseBootstrap parses bootstrap multiaddrs, which must each end in /p2p/<peer ID>.
// Addresses of the same peer are merged into one AddrInfo.
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var infos []peer.AddrInfo
	index := make(map[peer.ID]int)
	for i, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("bootstrap[%d]: invalid multiaddr %q: %w", i, s, err)
		}
		info, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil {
			return nil, fmt.Errorf("bootstrap[%d]: multiaddr %q must end in /p2p/<peer ID>: %w", i, s, err)
		}
		if j, ok := index[info.ID]; ok {
			infos[j].Addrs = append(infos[j].Addrs, info.Addrs...)
			continue
		}
		index[info.ID] = len(infos)
		infos = append(infos, *info)
	}
	return infos, nil
}

// ProtocolPrefix is the DHT protocol prefix of a network: its DHT speaks
// <prefix>/kad/1.0.0, which no other network's DHT does.
func ProtocolPrefix(network string) string { return "/murmur/" + network }

// MemberProtocol is the protocol every node of a network serves; a connected
// peer that serves it is a member of the network and enters the peer table.
func MemberProtocol(network string) string { return "/murmur/" + network + "/member/1.0.0" }

// RendezvousKey is the DHT key under which a network's nodes advertise.
func RendezvousKey(network string) string { return "murmur/rendezvous/" + network }
