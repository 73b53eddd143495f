package p2pnode

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/davidlazar/go-crypto/salsa20"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/tcpreuse"
	manet "github.com/multiformats/go-multiaddr/net"
)

// A private network key rotation needs a node to accept connections made
// with either of two keys for a while, as memberlist's keyring does, which
// go-libp2p's pnet (one key per host) cannot. The keyring below speaks the
// same wire format as pnet (a 24-byte random nonce, then the stream
// XSalsa20-encrypted under the key), so with a single key it interoperates
// with pnet and kubo; it is used only when accept_swarm_key_files is set,
// and pnet otherwise.
//
// Each direction of a connection is encrypted by its writer under the
// writer's primary key. A reader with several keys tells which one the
// writer used from the first bytes, which in libp2p are always the
// multistream-select header: it decrypts them under each key and keeps the
// one that yields the header.

// multistreamHeader is what every libp2p connection starts with in both
// directions: the varint length 19, then "/multistream/1.0.0\n".
var multistreamHeader = []byte("\x13/multistream/1.0.0\n")

// errNoSharedKey is the error of a connection made under a key this node
// does not hold.
var errNoSharedKey = errors.New("private network: the peer uses a key this node does not accept (not in swarm_key_file or accept_swarm_key_files)")

// keyring holds the primary key (for writing) and every accepted key.
type keyring struct {
	primary  [32]byte
	accepted [][32]byte // primary first
}

func newKeyring(primary pnet.PSK, others []pnet.PSK) *keyring {
	k := &keyring{}
	copy(k.primary[:], primary)
	k.accepted = append(k.accepted, k.primary)
	for _, o := range others {
		var a [32]byte
		copy(a[:], o)
		k.accepted = append(k.accepted, a)
	}
	return k
}

// keyringConn encrypts a raw connection like pnet, accepting any key of
// the ring on the read side.
type keyringConn struct {
	manet.Conn
	ring   *keyring
	read   cipher.Stream
	write  cipher.Stream
	unread []byte // plaintext decrypted while choosing the key
}

func (c *keyringConn) Read(out []byte) (int, error) {
	if c.read == nil {
		if err := c.chooseKey(); err != nil {
			return 0, err
		}
	}
	if len(c.unread) > 0 {
		n := copy(out, c.unread)
		c.unread = c.unread[n:]
		return n, nil
	}
	n, err := c.Conn.Read(out)
	if n > 0 {
		c.read.XORKeyStream(out[:n], out[:n])
	}
	return n, err
}

// chooseKey reads the peer's nonce and, with one key, starts decrypting;
// with several, reads the first bytes and keeps the key that decrypts them
// to the multistream header.
func (c *keyringConn) chooseKey() error {
	nonce := make([]byte, 24)
	if _, err := io.ReadFull(c.Conn, nonce); err != nil {
		return fmt.Errorf("private network: read nonce: %w", err)
	}
	if len(c.ring.accepted) == 1 {
		c.read = salsa20.New(&c.ring.primary, nonce)
		return nil
	}
	head := make([]byte, len(multistreamHeader))
	if _, err := io.ReadFull(c.Conn, head); err != nil {
		return fmt.Errorf("private network: read first bytes: %w", err)
	}
	plain := make([]byte, len(head))
	for i := range c.ring.accepted {
		s := salsa20.New(&c.ring.accepted[i], nonce)
		s.XORKeyStream(plain, head)
		if bytes.Equal(plain, multistreamHeader) {
			c.read, c.unread = s, plain
			return nil
		}
	}
	return errNoSharedKey
}

func (c *keyringConn) Write(in []byte) (int, error) {
	if c.write == nil {
		nonce := make([]byte, 24)
		if _, err := rand.Read(nonce); err != nil {
			return 0, fmt.Errorf("private network: nonce: %w", err)
		}
		if _, err := c.Conn.Write(nonce); err != nil {
			return 0, err
		}
		c.write = salsa20.New(&c.ring.primary, nonce)
	}
	out := make([]byte, len(in))
	c.write.XORKeyStream(out, in)
	return c.Conn.Write(out)
}

// keyringUpgrader wraps every raw connection in a keyringConn before the
// libp2p upgrade (security, muxer) runs.
type keyringUpgrader struct {
	transport.Upgrader
	ring *keyring
}

func (u keyringUpgrader) Upgrade(ctx context.Context, t transport.Transport, c manet.Conn, dir network.Direction, p peer.ID, scope network.ConnManagementScope) (transport.CapableConn, error) {
	return u.Upgrader.Upgrade(ctx, t, &keyringConn{Conn: c, ring: u.ring}, dir, p, scope)
}

func (u keyringUpgrader) UpgradeGatedMaListener(t transport.Transport, l transport.GatedMaListener) transport.Listener {
	return u.Upgrader.UpgradeGatedMaListener(t, keyringListener{l, u.ring})
}

func (u keyringUpgrader) UpgradeListener(t transport.Transport, l manet.Listener) transport.Listener {
	return u.UpgradeGatedMaListener(t, u.Upgrader.GateMaListener(l))
}

// keyringListener wraps accepted connections; the key exchange itself
// happens on the connection's first read and write, in the upgrade, not in
// Accept.
type keyringListener struct {
	transport.GatedMaListener
	ring *keyring
}

func (l keyringListener) Accept() (manet.Conn, network.ConnManagementScope, error) {
	c, scope, err := l.GatedMaListener.Accept()
	if err != nil {
		return nil, scope, err
	}
	return &keyringConn{Conn: c, ring: l.ring}, scope, nil
}

// keyringTCP returns a libp2p TCP transport constructor whose connections
// go through ring.
func keyringTCP(ring *keyring) func(transport.Upgrader, network.ResourceManager, *tcpreuse.ConnMgr) (*tcp.TcpTransport, error) {
	return func(u transport.Upgrader, rcmgr network.ResourceManager, shared *tcpreuse.ConnMgr) (*tcp.TcpTransport, error) {
		return tcp.NewTCPTransport(keyringUpgrader{Upgrader: u, ring: ring}, rcmgr, shared)
	}
}

var _ transport.Upgrader = keyringUpgrader{}
