package p2pnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// ErrForbidden is returned by Put, Delete and Publish when this node's
// member certificate does not let it make the write (a closed network's
// roles and key prefixes). Nothing was signed. It is
// security.ErrNotPermitted, so either can be tested with errors.Is.
var ErrForbidden = security.ErrNotPermitted

// AccessConfig says who may connect and what members may do. The zero
// value (and the default) is an open network: anyone who finds the
// network's rendezvous may join and write any key. docs/architecture.md has
// the trust model.
type AccessConfig struct {
	// PSK is a private network key, as 64 hex digits or a swarm.key text;
	// with one, only nodes holding the same key can complete a connection
	// (go-libp2p pnet). At most one of PSK, SwarmKeyFile and PSKPassphrase.
	PSK string `yaml:"psk"`
	// SwarmKeyFile is a private network key file in kubo's swarm.key
	// format (relative paths are in data_dir; mode 0600).
	SwarmKeyFile string `yaml:"swarm_key_file"`
	// PSKPassphrase derives the private network key with Argon2id (time 3,
	// 64 MiB, 4 threads, 32 bytes, salt "murmur/psk/v1/" + network).
	PSKPassphrase string `yaml:"psk_passphrase"`
	// AcceptSwarmKeyFiles are further private network keys (swarm.key
	// files, relative to data_dir) accepted from peers while this node
	// still writes with its own key: the middle of a key rotation without
	// downtime (README). None by default.
	AcceptSwarmKeyFiles []string `yaml:"accept_swarm_key_files"`
	// Security lists the connection security transports offered, most
	// preferred first: noise, tls (TLS 1.3). Both by default, so peers that
	// speak either can connect.
	Security []string `yaml:"security"`
	// NetworkAuthorities lists the IDs of the authority keys whose member
	// certificates this network trusts (murmur network create prints one).
	// Setting any makes the network closed: a peer without a valid
	// certificate gets nothing. Two during an authority key rotation.
	NetworkAuthorities []string `yaml:"network_authorities"`
	// RetiredNetworkAuthorities lists authorities rotated out, as
	// "ID@RFC3339-time": their certificates admit no one, but events their
	// holders signed before the time stay valid, so the network's history
	// still replicates to new nodes. None by default.
	RetiredNetworkAuthorities []string `yaml:"retired_network_authorities"`
	// MemberCertFile is this node's member certificate (murmur network
	// admit writes one); relative paths are in data_dir. Default
	// member.cert.
	MemberCertFile string `yaml:"member_cert_file"`
	// APINoToken lets the control API on a loopback address serve requests
	// without the token (the token of DATA/api.token is otherwise
	// required). Off by default: any local process, or a web page through a
	// local proxy, could otherwise drive the node.
	APINoToken bool `yaml:"api_no_token"`
}

// Security transport names of AccessConfig.Security.
const (
	SecurityNoise = "noise"
	SecurityTLS   = "tls"
)

// DefaultMemberCertFile is the member certificate's file name in the data dir.
const DefaultMemberCertFile = "member.cert"

// DefaultAccessConfig returns an open network offering Noise and TLS.
func DefaultAccessConfig() AccessConfig {
	return AccessConfig{
		Security:       []string{SecurityNoise, SecurityTLS}, // Noise first: what js-libp2p and kubo prefer
		MemberCertFile: DefaultMemberCertFile,                // used only when network_authorities is set
	}
}

// validate checks the access settings (not the files they name).
func (a AccessConfig) validate() error {
	n := 0
	for _, s := range []string{a.PSK, a.SwarmKeyFile, a.PSKPassphrase} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("psk, swarm_key_file, psk_passphrase: set at most one")
	}
	if a.PSK != "" {
		if _, err := security.ParsePSK(a.PSK); err != nil {
			return fmt.Errorf("psk: %w", err)
		}
	}
	if len(a.AcceptSwarmKeyFiles) > 0 && n == 0 {
		return fmt.Errorf("accept_swarm_key_files: set only with a key of this node's own (psk, swarm_key_file or psk_passphrase)")
	}
	if len(a.Security) == 0 {
		return fmt.Errorf("security: at least one of %s, %s", SecurityNoise, SecurityTLS)
	}
	for i, s := range a.Security {
		if s != SecurityNoise && s != SecurityTLS {
			return fmt.Errorf("security[%d]: invalid value %q: want %s or %s", i, s, SecurityNoise, SecurityTLS)
		}
		if slices.Index(a.Security, s) != i {
			return fmt.Errorf("security[%d]: %q listed twice", i, s)
		}
	}
	for i, s := range a.NetworkAuthorities {
		if _, err := peer.Decode(s); err != nil {
			return fmt.Errorf("network_authorities[%d]: invalid authority ID %q: %w", i, s, err)
		}
	}
	for i, s := range a.RetiredNetworkAuthorities {
		if _, _, err := parseRetired(s); err != nil {
			return fmt.Errorf("retired_network_authorities[%d]: %w", i, err)
		}
	}
	return nil
}

// parseRetired parses a retired authority entry, "ID@RFC3339-time".
func parseRetired(s string) (string, time.Time, error) {
	id, at, ok := strings.Cut(s, "@")
	if !ok {
		return "", time.Time{}, fmt.Errorf("invalid value %q: want AUTHORITY_ID@2006-01-02T15:04:05Z", s)
	}
	if _, err := peer.Decode(id); err != nil {
		return "", time.Time{}, fmt.Errorf("invalid authority ID %q: %w", id, err)
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("invalid time %q: want RFC 3339 (2006-01-02T15:04:05Z)", at)
	}
	return id, t, nil
}

// inDataDir resolves a relative path against the data dir.
func inDataDir(dataDir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dataDir, path)
}

// loadAcceptedPSKs returns the keys of accept_swarm_key_files.
func (c Config) loadAcceptedPSKs() ([]pnet.PSK, error) {
	var out []pnet.PSK
	for i, f := range c.Access.AcceptSwarmKeyFiles {
		psk, err := security.LoadSwarmKey(inDataDir(c.DataDir, f))
		if err != nil {
			return nil, fmt.Errorf("accept_swarm_key_files[%d]: %w", i, err)
		}
		out = append(out, psk)
	}
	return out, nil
}

// loadPSK returns the configured private network key, or nil.
func (c Config) loadPSK() (pnet.PSK, error) {
	a := c.Access
	switch {
	case a.PSK != "":
		return security.ParsePSK(a.PSK)
	case a.SwarmKeyFile != "":
		psk, err := security.LoadSwarmKey(inDataDir(c.DataDir, a.SwarmKeyFile))
		if err != nil {
			return nil, fmt.Errorf("swarm_key_file: %w", err)
		}
		return psk, nil
	case a.PSKPassphrase != "":
		return security.PSKFromPassphrase(a.PSKPassphrase, c.Discovery.Network)
	}
	return nil, nil
}

// loadAccess builds the closed network's rules, or nil for an open network.
func (c Config) loadAccess(self peer.ID) (*security.Access, error) {
	if len(c.Access.NetworkAuthorities) == 0 {
		return nil, nil
	}
	file := c.Access.MemberCertFile
	if file == "" {
		file = DefaultMemberCertFile
	}
	path := inDataDir(c.DataDir, file)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("member_cert_file: this is a closed network (network_authorities is set) and this node needs its certificate: %w (get one with: murmur network admit %s)", err, self)
	}
	cert, err := security.ParseCertText(string(data))
	if err != nil {
		return nil, fmt.Errorf("member_cert_file %s: %w", path, err)
	}
	access, err := security.NewAccess(c.Discovery.Network, c.Access.NetworkAuthorities, self, cert)
	if err != nil {
		return nil, err
	}
	for i, s := range c.Access.RetiredNetworkAuthorities {
		id, until, err := parseRetired(s)
		if err == nil {
			err = access.RetireAuthority(id, until)
		}
		if err != nil {
			return nil, fmt.Errorf("retired_network_authorities[%d]: %w", i, err)
		}
	}
	return access, nil
}

// securityOptions returns the libp2p options of the TCP transport, the
// configured security transports and private network key. With a key, QUIC
// cannot be used (its handshake has no room for a PSK): QUIC listen
// addresses are dropped with a warning, and only TCP is offered. With
// accepted keys besides (a rotation), TCP runs through the keyring
// (pnet_keyring.go) instead of go-libp2p's pnet.
func (n *Node) securityOptions() (opts []libp2p.Option, listen []string, quicOK bool) {
	if len(n.pskAccept) > 0 {
		opts = append(opts, libp2p.Transport(keyringTCP(newKeyring(n.psk, n.pskAccept))))
	} else {
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport))
	}
	for _, s := range n.cfg.Access.Security {
		switch s {
		case SecurityNoise:
			opts = append(opts, libp2p.Security(noise.ID, noise.New))
		case SecurityTLS:
			opts = append(opts, libp2p.Security(libp2ptls.ID, libp2ptls.New))
		}
	}
	if n.psk == nil {
		return opts, n.cfg.Listen, true
	}
	if len(n.pskAccept) == 0 {
		opts = append(opts, libp2p.PrivateNetwork(n.psk))
	}
	for _, s := range n.cfg.Listen {
		if isQUIC(s) {
			log.Warnw("private network: not listening on QUIC, which cannot carry a pre-shared key (go-libp2p pnet); TCP only", "listen", s)
			continue
		}
		listen = append(listen, s)
	}
	return opts, listen, false
}

// isQUIC reports whether a listen multiaddr is a QUIC (or WebTransport) one.
func isQUIC(s string) bool {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return false
	}
	for _, p := range a.Protocols() {
		if p.Code == ma.P_QUIC || p.Code == ma.P_QUIC_V1 || p.Code == ma.P_UDP {
			return true
		}
	}
	return false
}

// checkWrite refuses, before anything is signed, a write this node's
// certificate does not allow.
func (n *Node) checkWrite(op replica.Op, key string, value []byte) error {
	if n.access == nil {
		return nil
	}
	if err := n.access.CheckOwnWrite(op, key, value); err != nil {
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	return nil
}

// Access returns the closed network's rules, or nil in an open network.
func (n *Node) Access() *security.Access { return n.access }

// Revoke replicates a revocation (Text form, signed by a network
// authority) as a write under security.RevocationPrefix: every node that
// receives it disconnects the revoked peer and refuses its later events.
func (n *Node) Revoke(text string) (*replica.Event, error) {
	if n.access == nil {
		return nil, fmt.Errorf("revoke: this is an open network (network_authorities is not set)")
	}
	r, err := security.ParseRevocationText(text)
	if err != nil {
		return nil, err
	}
	return n.Put(security.RevocationPrefix+r.Peer, []byte(strings.TrimSpace(text)))
}

// watchRevocations keeps the access rules' revocations in step with the
// replicated ones: at start, on every change under the revocation prefix,
// and every few seconds (state merged by anti-entropy arrives without a
// per-event change).
func (r *replication) watchRevocations(ctx context.Context, access *security.Access) {
	defer r.wg.Done()
	changes := r.node.Subscribe(64)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	scan := func() {
		states, err := r.node.List(security.RevocationPrefix)
		if err != nil {
			return
		}
		for _, ks := range states {
			for _, v := range ks.Versions {
				if v.Op != replica.OpPut {
					continue
				}
				if p, err := access.AddRevocation(string(v.Value)); err != nil {
					log.Warnw("ignoring an invalid replicated revocation", "key", ks.Key, "error", err)
				} else {
					log.Debugw("revocation known", "peer", p)
				}
			}
		}
	}
	scan()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				return
			}
			if c.Event != nil && strings.HasPrefix(c.Event.Key, security.RevocationPrefix) {
				scan()
			}
		case <-t.C:
			scan()
		}
	}
}
