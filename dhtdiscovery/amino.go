package dhtdiscovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mh "github.com/multiformats/go-multihash"
)

// The DHTs discovery can run on (Config.DHT).
const (
	// DHTMurmur is a DHT of the network's own, under ProtocolPrefix: only
	// murmur nodes of the network speak it. The default.
	DHTMurmur = "murmur"
	// DHTAmino is the public Amino DHT that IPFS (kubo, Helia) runs, protocol
	// /ipfs/kad/1.0.0: nodes that share no bootstrap peer find each other
	// across the internet through it. Bootstrap peers are then DHT peers,
	// not necessarily members; without any, the public Amino bootstrap
	// peers are used.
	DHTAmino = "amino"
)

// AminoProtocol is the Amino DHT's protocol.
const AminoProtocol = "/ipfs/kad/1.0.0"

// dhtOptions returns the DHT options of the configured DHT.
func (d *Discovery) dhtOptions(mode dht.ModeOpt) []dht.Option {
	if d.cfg.DHT == DHTAmino {
		// The Amino DHT's own rules (providers and values on, its record
		// validators, bucket size 20) are kad-dht's defaults for the
		// /ipfs prefix.
		return []dht.Option{dht.Mode(mode), dht.BootstrapPeers(d.bootstrap...)}
	}
	return []dht.Option{
		dht.Mode(mode),
		dht.ProtocolPrefix(protocol.ID(ProtocolPrefix(d.cfg.Network))),
		dht.DisableValues(),
		dht.BootstrapPeers(d.bootstrap...),
	}
}

// defaultBootstrap returns the bootstrap peers to use when none are
// configured: none for murmur's DHT (this is the first node), the public
// Amino bootstrap peers for the Amino DHT.
func defaultBootstrap(cfg Config) []peer.AddrInfo {
	if cfg.DHT == DHTAmino {
		return dht.GetDefaultBootstrapPeerAddrInfos()
	}
	return nil
}

// rendezvousKey returns the key this node advertises under.
func rendezvousKey(cfg Config) string {
	if cfg.DHT == DHTAmino {
		return AminoRendezvousKey(cfg.Network, cfg.RendezvousSecret)
	}
	return RendezvousKey(cfg.Network)
}

// AminoRendezvousKey is the rendezvous key of a network on the public Amino
// DHT: "murmur/rendezvous/v1/" and a base32 HMAC-SHA256 of the network name
// keyed by the network's secret (by "murmur" for a network without one).
// The DHT sees only the SHA-256 of this key, as a CID (RendezvousCID), so
// neither the name nor the secret is published; without the secret, a
// stranger cannot compute a closed network's key to look its members up,
// and a list of provider records tells nothing about which networks exist.
func AminoRendezvousKey(network string, secret []byte) string {
	if len(secret) == 0 {
		secret = []byte("murmur")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("murmur rendezvous v1\x00" + network))
	return "murmur/rendezvous/v1/" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac.Sum(nil)))
}

// RendezvousCID is the DHT key (a CIDv1 of raw data: the SHA-256 of the
// rendezvous key) under which members provide themselves, as go-libp2p's
// routing discovery computes it. Other DHT clients can look it up, for
// example `ipfs routing findprovs CID` in kubo.
func RendezvousCID(key string) (cid.Cid, error) {
	h, err := mh.Sum([]byte(key), mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, err
	}
	return cid.NewCidV1(cid.Raw, h), nil
}
