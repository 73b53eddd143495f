package dhtdiscovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/miekg/dns"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/net/ipv4"
)

// mDNS discovery: on the local network, nodes of the same network find each
// other with no bootstrap peer. Each node answers DNS-SD queries for its
// network's service name (MDNSService) with its multiaddrs in TXT records
// ("dnsaddr=/ip4/.../p2p/<peer ID>", as libp2p's mDNS does), and queries for
// it now and then; a peer found is dialled, and enters the table only once
// identify shows it serves the network's member protocol, as with every
// other connection. mDNS runs on the interfaces the host listens on: all
// system's default multicast interface for an unspecified address
// (0.0.0.0), else the interfaces of the addresses; never loopback, which
// holds other programs of this host, not the LAN (a node that listens on
// loopback alone runs no mDNS).

// Limits on what one mDNS answer may make this node do: every record is a
// claim by whoever sent it.
const (
	// mdnsMaxAddrs caps the addresses taken from one peer's TXT records.
	mdnsMaxAddrs = 16
	// mdnsMaxPeersPerRound caps the peers dialled after one query.
	mdnsMaxPeersPerRound = 8
	// mdnsQueryWait is how long a query collects answers.
	mdnsQueryWait = time.Second
	// mdnsMaxInterval is the longest wait between queries, reached by
	// doubling from one second: a LAN flooded with queries helps no one.
	mdnsMaxInterval = time.Minute
)

// MDNSService is the DNS-SD service name under which a network's nodes
// answer on the local network: "_murmur-" and 8 hex digits of a hash of
// the network name (a service name has at most 15 characters), so two
// networks on one LAN never see each other's nodes.
func MDNSService(network string) string {
	sum := sha256.Sum256([]byte("murmur mdns network " + network))
	return "_murmur-" + hex.EncodeToString(sum[:4]) + "._udp"
}

// errNoLANInterface: the node listens on loopback only, so mDNS has nowhere
// to run. Not a fault (every local testnet is such a node).
var errNoLANInterface = errors.New("mdns: the node listens on no IPv4 address of a LAN interface (loopback is not one)")

// mdnsDiscovery is the mDNS responder and querier of one Discovery.
type mdnsDiscovery struct {
	d       *Discovery
	service string
	ifaces  []*net.Interface // nil entry: the system's default multicast interface
	servers []*mdns.Server
	logger  *stdlog.Logger
}

// startMDNS starts answering and querying; the querier stops with d.ctx.
func (d *Discovery) startMDNS() (*mdnsDiscovery, error) {
	m := &mdnsDiscovery{d: d, service: MDNSService(d.cfg.Network), logger: stdlog.New(mdnsLogWriter{}, "", 0)}
	var err error
	if m.ifaces, err = listenInterfaces(d.host, d.cfg.mdnsLoopback); err != nil {
		return nil, err
	}
	zone, err := m.zone()
	if err != nil {
		return nil, err
	}
	for _, ifi := range m.ifaces {
		srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Iface: ifi, Logger: m.logger})
		if err != nil {
			m.close()
			return nil, fmt.Errorf("mdns: answer on %s: %w", ifaceName(ifi), err)
		}
		m.servers = append(m.servers, srv)
	}
	d.wg.Add(1)
	go m.queryLoop()
	log.Infow("mDNS discovery on", "service", m.service, "interfaces", len(m.ifaces))
	return m, nil
}

func (m *mdnsDiscovery) close() {
	for _, s := range m.servers {
		_ = s.Shutdown()
	}
	m.servers = nil
}

// zone is this node's DNS-SD record: instance = its peer ID, TXT = its
// full multiaddrs.
func (m *mdnsDiscovery) zone() (*mdns.MDNSService, error) {
	h := m.d.host
	var txt []string
	var ips []net.IP
	port := 0
	for _, a := range h.Addrs() {
		if len(txt) < mdnsMaxAddrs {
			txt = append(txt, "dnsaddr="+a.Encapsulate(ma.StringCast("/p2p/"+h.ID().String())).String())
		}
		if ip, err := manet.ToIP(a); err == nil {
			ips = append(ips, ip)
		}
		if port == 0 {
			if p, err := a.ValueForProtocol(ma.P_TCP); err == nil {
				port, _ = strconv.Atoi(p)
			} else if p, err := a.ValueForProtocol(ma.P_UDP); err == nil {
				port, _ = strconv.Atoi(p)
			}
		}
	}
	if len(txt) == 0 || port == 0 {
		return nil, errors.New("mdns: the host listens on no TCP or UDP address to announce")
	}
	instance := h.ID().String()
	zone, err := mdns.NewMDNSService(instance, m.service, "local.", instance+".local.", port, ips, txt)
	if err != nil {
		return nil, fmt.Errorf("mdns: build the service record: %w", err)
	}
	return zone, nil
}

// queryLoop asks for the service at once, then at intervals doubling from
// one second to mdnsMaxInterval, while the table is short of TargetPeers: a
// node that joins the LAN asks at once and dials who answers, so old nodes
// need not keep asking to meet it.
func (m *mdnsDiscovery) queryLoop() {
	defer m.d.wg.Done()
	interval := time.Second
	for {
		if m.d.tableSize() < m.d.cfg.TargetPeers {
			m.round()
		}
		interval = min(2*interval, mdnsMaxInterval)
		select {
		case <-m.d.ctx.Done():
			return
		case <-time.After(jitter(interval)):
		}
	}
}

// round queries on every interface and dials the new peers found.
func (m *mdnsDiscovery) round() {
	found := map[peer.ID][]ma.Multiaddr{}
	for _, ifi := range m.ifaces {
		if err := m.query(ifi, found); err != nil && m.d.ctx.Err() == nil {
			log.Debugw("mDNS query failed", "interface", ifaceName(ifi), "error", err)
		}
	}
	dialled := 0
	for id, addrs := range found {
		if id == m.d.host.ID() || m.d.host.Network().Connectedness(id) == network.Connected {
			continue
		}
		if dialled++; dialled > mdnsMaxPeersPerRound {
			return
		}
		ctx, cancel := context.WithTimeout(m.d.ctx, 10*time.Second)
		err := m.d.host.Connect(ctx, peer.AddrInfo{ID: id, Addrs: addrs})
		cancel()
		if err != nil {
			log.Debugw("could not connect to a peer found by mDNS", "peer", id, "error", err)
			continue
		}
		log.Debugw("connected to a peer found by mDNS", "peer", id)
	}
}

// query sends one DNS-SD query for the service on ifi from a fresh
// unicast socket (responders answer to its address: the node joins no
// multicast group to ask) and collects the addresses answered within
// mdnsQueryWait into found.
func (m *mdnsDiscovery) query(ifi *net.Interface, found map[peer.ID][]ma.Multiaddr) error {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return fmt.Errorf("open query socket: %w", err)
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn)
	if ifi != nil {
		if err := pc.SetMulticastInterface(ifi); err != nil {
			return fmt.Errorf("use interface %s: %w", ifi.Name, err)
		}
	}
	_ = pc.SetMulticastLoopback(true) // nodes on this host answer too
	q := new(dns.Msg)
	q.SetQuestion(m.service+".local.", dns.TypePTR)
	q.RecursionDesired = false
	q.Question[0].Qclass |= 1 << 15 // QU: answer by unicast
	buf, err := q.Pack()
	if err != nil {
		return fmt.Errorf("pack query: %w", err)
	}
	if _, err := conn.WriteToUDP(buf, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}); err != nil {
		return fmt.Errorf("send query: %w", err)
	}
	deadline := time.Now().Add(mdnsQueryWait)
	_ = conn.SetReadDeadline(deadline)
	stop := context.AfterFunc(m.d.ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	pkt := make([]byte, 9000)
	for {
		n, _, err := conn.ReadFromUDP(pkt)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil
			}
			return fmt.Errorf("read answers: %w", err)
		}
		var resp dns.Msg
		if err := resp.Unpack(pkt[:n]); err != nil {
			continue // not DNS: ignore
		}
		m.collect(&resp, found)
	}
}

// collect takes the TXT records of resp that belong to the service and
// adds the /p2p/ multiaddrs they carry, up to mdnsMaxAddrs per peer.
func (m *mdnsDiscovery) collect(resp *dns.Msg, found map[peer.ID][]ma.Multiaddr) {
	suffix := "." + m.service + ".local."
	for _, rr := range append(resp.Answer, resp.Extra...) {
		txt, ok := rr.(*dns.TXT)
		if !ok || !strings.HasSuffix(txt.Hdr.Name, suffix) {
			continue
		}
		for _, s := range txt.Txt {
			v, ok := strings.CutPrefix(s, "dnsaddr=")
			if !ok {
				continue
			}
			a, err := ma.NewMultiaddr(v)
			if err != nil {
				continue
			}
			info, err := peer.AddrInfoFromP2pAddr(a)
			if err != nil || len(found[info.ID]) >= mdnsMaxAddrs {
				continue
			}
			if len(found) >= 4*mdnsMaxPeersPerRound && found[info.ID] == nil {
				continue
			}
			found[info.ID] = append(found[info.ID], info.Addrs...)
		}
	}
}

// listenInterfaces maps the host's listen addresses to the interfaces mDNS
// runs on: an unspecified address means the system's default multicast
// interface (nil); a specific address, the interface that holds it.
// Loopback interfaces count only when loopback is set.
func listenInterfaces(h host.Host, loopback bool) ([]*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("mdns: list interfaces: %w", err)
	}
	seen := map[int]bool{}
	var out []*net.Interface
	for _, a := range h.Network().ListenAddresses() {
		ip, err := manet.ToIP(a)
		if err != nil || ip.To4() == nil {
			continue // mDNS runs over IPv4 here
		}
		if ip.IsUnspecified() {
			return []*net.Interface{nil}, nil
		}
		for i := range ifs {
			if ifs[i].Flags&net.FlagLoopback != 0 && !loopback {
				continue // other programs of this host, not the LAN
			}
			addrs, _ := ifs[i].Addrs()
			for _, ia := range addrs {
				if n, ok := ia.(*net.IPNet); ok && n.IP.Equal(ip) && !seen[ifs[i].Index] {
					seen[ifs[i].Index] = true
					out = append(out, &ifs[i])
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, errNoLANInterface
	}
	return out, nil
}

func ifaceName(ifi *net.Interface) string {
	if ifi == nil {
		return "default"
	}
	return ifi.Name
}

// mdnsLogWriter routes the mDNS library's log lines to go-log at debug
// level: a LAN's stray packets are no news.
type mdnsLogWriter struct{}

func (mdnsLogWriter) Write(p []byte) (int, error) {
	log.Debugw("mdns", "message", strings.TrimSpace(string(p)))
	return len(p), nil
}
