package controlapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/sync/replica"
)

var log = logging.Logger("murmur/api")

// Node is what the server needs from a node. *p2pnode.Node implements it.
type Node interface {
	ID() peer.ID
	Config() p2pnode.Config
	Addrs() []ma.Multiaddr
	Peers() []peer.ID
	Put(key string, value []byte) (*replica.Event, error)
	PutMany(kvs []replica.KV) ([]*replica.Event, error)
	Delete(key string) (*replica.Event, error)
	Publish(topic string, payload []byte) (*replica.Event, error)
	Get(key string) ([]byte, error)
	Versions(key string) (*replica.KeyState, error)
	List(prefix string) ([]*replica.KeyState, error)
	Subscribe(buffer int) (<-chan replica.Change, error)
	SyncWith(p peer.ID) error
	EnginePeers() ([]replica.PeerStatus, error)
	Stats() (p2pnode.Stats, error)
	// VersionVector and ScanEvents read the durable event log: the watch
	// stream replays from it the events a resuming client has not seen,
	// and fills from it any gap a lagging subscription left.
	VersionVector() (replica.VersionVector, error)
	ScanEvents(origin replica.PeerID, from, to uint64, fn func(*replica.Event) bool) error
}

// DefaultAddr is the address the daemon's API listens on unless configured:
// loopback only.
const DefaultAddr = "127.0.0.1:4180"

// Config configures a Server.
type Config struct {
	// Addr is the host:port to listen on (default DefaultAddr); port 0 picks
	// a free port (Addr reports it once started).
	Addr string
	// Token, when set, is required on every request except /healthz and
	// /readyz as "Authorization: Bearer TOKEN". It must be set when Addr is
	// not a loopback address. (The daemon always sets one, from
	// DATA/api.token, unless api_no_token opts out on loopback.)
	Token string
	// AllowedHosts are extra names the Host header may carry (besides
	// loopback names and Addr's host), for an API reached through a name.
	// None by default: see auth.go for the checks every request passes.
	AllowedHosts []string
	// Metrics, if not nil, is served at /metrics.
	Metrics prometheus.Gatherer
	// SyncWait bounds how long POST /v1/sync waits for the sync's result
	// (default 10s).
	SyncWait time.Duration
	// Heartbeat is how often a watch stream checks the store for changes its
	// subscription lost (default 1s); an idle stream also gets a comment
	// line every 15 heartbeats so proxies keep it open.
	Heartbeat time.Duration
}

// DefaultConfig returns the defaults: loopback port 4180, no token, a 10 s
// sync wait, a 1 s watch heartbeat.
func DefaultConfig() Config {
	return Config{Addr: DefaultAddr, SyncWait: 10 * time.Second, Heartbeat: time.Second}
}

// Validate checks the config: the address must parse, and a non-loopback
// address needs a token.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("api_addr: invalid value %q: want host:port: %w", c.Addr, err)
	}
	if !IsLoopback(host) && c.Token == "" {
		return fmt.Errorf("api_token: required when api_addr (%q) is not a loopback address", c.Addr)
	}
	if c.SyncWait <= 0 || c.Heartbeat <= 0 {
		return errors.New("controlapi: SyncWait and Heartbeat must be positive")
	}
	return nil
}

// IsLoopback reports whether host (an IP or name from a host:port) is a
// loopback address: 127.0.0.0/8, ::1 or localhost.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is the control API of one node.
type Server struct {
	node    Node
	cfg     Config
	started time.Time
	mux     *http.ServeMux
	hub     *hub
	refused atomic.Uint64 // requests refused by guard (Host, Origin, Content-Type)
	// deliveryLog records how recent writes reached the node (GET /v1/deliveries).
	deliveryLog *deliveryLog

	mu   sync.Mutex
	ln   net.Listener
	http *http.Server
	done chan struct{}
	stop context.CancelFunc
	ctx  context.Context
}

// NewServer validates cfg (zero fields take DefaultConfig's values) and
// builds the server for node. Nothing listens until Start; Handler serves
// without listening (tests).
func NewServer(node Node, cfg Config) (*Server, error) {
	def := DefaultConfig()
	if cfg.Addr == "" {
		cfg.Addr = def.Addr
	}
	if cfg.SyncWait == 0 {
		cfg.SyncWait = def.SyncWait
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = def.Heartbeat
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{node: node, cfg: cfg, started: time.Now(), ctx: ctx, stop: stop, hub: &hub{node: node}}
	s.deliveryLog = newDeliveryLog(s.hub, ctx.Done())
	s.mux = s.routes()
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("GET /v1/kv/{key...}", s.getKey)
	m.HandleFunc("PUT /v1/kv/{key...}", s.putKey)
	m.HandleFunc("DELETE /v1/kv/{key...}", s.deleteKey)
	m.HandleFunc("GET /v1/kv", s.listKeys)
	m.HandleFunc("POST /v1/kv", s.putMany)
	m.HandleFunc("POST /v1/publish", s.publish)
	m.HandleFunc("GET /v1/watch", s.watch)
	m.HandleFunc("GET /v1/peers", s.peers)
	m.HandleFunc("GET /v1/status", s.status)
	m.HandleFunc("POST /v1/sync", s.sync)
	m.HandleFunc("GET /v1/order", s.order)
	m.HandleFunc("GET /v1/deliveries", s.deliveries)
	s.uiRoutes(m)
	if s.cfg.Metrics != nil {
		m.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{ErrorLog: promLogger{}}))
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allowed := allowedMethods(m, r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (see docs/api.md)", r.Method, r.URL.Path))
	})
	return m
}

// allowedMethods lists the methods m has a route for at r's path.
func allowedMethods(m *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		r2 := r.Clone(r.Context())
		r2.Method = method
		if _, pattern := m.Handler(r2); pattern != "/" && pattern != "" {
			out = append(out, method)
		}
	}
	return out
}

// Handler returns the server's HTTP handler: every route behind guard (the
// Host, Origin, Content-Type and token checks of auth.go).
func (s *Server) Handler() http.Handler { return s.guard(s.mux) }

// Handle adds a route (a ServeMux pattern such as "GET /ui/") to the
// server, behind the same checks as every other route. Call it before
// Start.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Start listens on the configured address and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api_addr: listen on %s: %w (is another daemon using it? choose another address with --api-addr or api_addr; port 0 picks a free one)", s.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	s.mu.Lock()
	s.ln, s.http, s.done = ln, srv, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Errorw("control API stopped", "error", err)
		}
	}()
	if err := s.deliveryLog.ensure(); err != nil {
		log.Debugw("delivery log not started yet (node not running)", "error", err)
	}
	log.Infow("control API listening", "addr", ln.Addr().String(), "token", s.cfg.Token != "")
	return nil
}

// Addr returns the address the server listens on (with the real port), or
// the configured one before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.cfg.Addr
}

// Close ends open watch streams and stops the server, waiting up to 5 s for
// requests in flight.
func (s *Server) Close() error {
	s.stop()
	s.mu.Lock()
	srv, done := s.http, s.done
	s.http = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	<-done
	if err != nil {
		return fmt.Errorf("close control API: %w", err)
	}
	return nil
}

// promLogger routes promhttp's error log to go-log.
type promLogger struct{}

func (promLogger) Println(v ...any) { log.Errorw("serve metrics", "error", fmt.Sprint(v...)) }
