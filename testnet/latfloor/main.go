// Command latfloor measures what one lone write's latency is made of on
// this machine and disk, one piece at a time, each measured alone and in
// sequence (no concurrency):
//
//   - fdatasync of a file after a small append (the disk's floor),
//   - a Pebble batch committed with pebble.Sync (the floor plus Pebble's WAL),
//   - an Ed25519 signature and a verification,
//   - replica.Node.Put over the Pebble store (sign, engine, store, fsync:
//     everything a write costs inside the daemon but HTTP),
//   - an HTTP round trip on loopback to a handler that does nothing.
//
// It prints p50, p90 and p99 per piece. Run it in the directory (or with
// -dir on the file system) the daemon's data lives on. docs/benchmarks.md
// "Under load" records its output.
package main

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/libp2p/go-libp2p/core/crypto"
	"golang.org/x/sys/unix"

	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/pebblestore"
	"github.com/murmur-p2p/murmur/sync/replica"
)

func main() {
	dir := flag.String("dir", "", "directory on the disk to measure (default: a temporary one under $TMPDIR, removed afterwards)")
	n := flag.Int("n", 1000, "operations per piece")
	flag.Parse()
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "latfloor-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		work = d
	} else {
		d, err := os.MkdirTemp(work, "latfloor-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	fmt.Printf("latfloor: %d operations per piece in %s\n", *n, work)
	fmt.Println("| piece | p50 µs | p90 µs | p99 µs |")
	fmt.Println("|---|---:|---:|---:|")
	var applies []time.Duration // the store Applies of the Node.Put piece
	pieces := []struct {
		name string
		run  func(dir string, n int) ([]time.Duration, error)
	}{
		{"f.Sync (fsync) after a 200-byte append", func(d string, n int) ([]time.Duration, error) { return syncs(d, n, (*os.File).Sync) }},
		{"fdatasync after a 200-byte append", func(d string, n int) ([]time.Duration, error) {
			return syncs(d, n, func(f *os.File) error { return unix.Fdatasync(int(f.Fd())) })
		}},
		{"Pebble batch (200 bytes), pebble.Sync", pebbleSyncs},
		{"Ed25519 sign", signs},
		{"Ed25519 verify", verifies},
		{"replica.Node.Put over the Pebble store", func(d string, n int) ([]time.Duration, error) { return nodePuts(d, n, &applies) }},
		{"  of which pebblestore.Apply (one batch, pebble.Sync)", func(string, int) ([]time.Duration, error) { return applies, nil }},
		{"HTTP PUT round trip on loopback (empty handler)", httpTrips},
	}
	for _, p := range pieces {
		ds, err := p.run(work, *n)
		if err != nil {
			fail(fmt.Errorf("%s: %w", p.name, err))
		}
		slices.Sort(ds)
		q := func(f float64) float64 { return float64(ds[int(f*float64(len(ds)-1))].Nanoseconds()) / 1e3 }
		fmt.Printf("| %s | %.0f | %.0f | %.0f |\n", p.name, q(0.5), q(0.9), q(0.99))
	}
}

// timed runs op n times and returns each run's duration.
func timed(n int, op func(i int) error) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := op(i); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// syncs appends 200 bytes to a file and syncs it with sync, n times.
func syncs(dir string, n int, sync func(*os.File) error) ([]time.Duration, error) {
	f, err := os.Create(filepath.Join(dir, "fsync.dat"))
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	defer f.Close()
	rec := bytes.Repeat([]byte{'x'}, 200)
	return timed(n, func(int) error {
		if _, err := f.Write(rec); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return sync(f)
	})
}

func pebbleSyncs(dir string, n int) ([]time.Duration, error) {
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{})
	if err != nil {
		return nil, fmt.Errorf("open pebble: %w", err)
	}
	defer db.Close()
	val := bytes.Repeat([]byte{'v'}, 200)
	return timed(n, func(i int) error {
		b := db.NewBatch()
		_ = b.Set(fmt.Appendf(nil, "k%08d", i), val, nil)
		return b.Commit(pebble.Sync)
	})
}

func signs(_ string, n int) ([]time.Duration, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	msg := bytes.Repeat([]byte{'m'}, 200)
	return timed(n, func(int) error { ed25519.Sign(priv, msg); return nil })
}

func verifies(_ string, n int) ([]time.Duration, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	msg := bytes.Repeat([]byte{'m'}, 200)
	sig := ed25519.Sign(priv, msg)
	return timed(n, func(int) error {
		if !ed25519.Verify(pub, msg, sig) {
			return fmt.Errorf("signature does not verify")
		}
		return nil
	})
}

// dropTransport loses every message (a node without peers).
type dropTransport struct{}

func (dropTransport) Send(replica.Message) {}

// timedStore records how long each Apply takes.
type timedStore struct {
	*pebblestore.Store
	applies *[]time.Duration
}

func (s timedStore) Apply(b *replica.Batch) error {
	t0 := time.Now()
	err := s.Store.Apply(b)
	*s.applies = append(*s.applies, time.Since(t0))
	return err
}

// nodePuts times n Node.Puts over a new Pebble store; with applies set, it
// also records each store Apply's duration there.
func nodePuts(dir string, n int, applies *[]time.Duration) ([]time.Duration, error) {
	sub, err := os.MkdirTemp(dir, "store-")
	if err != nil {
		return nil, err
	}
	st, err := pebblestore.Open(sub, pebblestore.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var store replica.Store = st
	if applies != nil {
		store = timedStore{st, applies}
	}
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	signer, err := security.NewSigner(key)
	if err != nil {
		return nil, err
	}
	cfg := replica.DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = signer, security.Verifier{}, store
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	node, err := replica.NewNode(cfg, dropTransport{})
	if err != nil {
		return nil, err
	}
	defer node.Close()
	val := bytes.Repeat([]byte{'v'}, 100)
	return timed(n, func(i int) error {
		_, err := node.Put(fmt.Sprintf("load/%08d", i), val)
		return err
	})
}

func httpTrips(_ string, n int) ([]time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"seq":1}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/kv/k"
	body := bytes.Repeat([]byte{'v'}, 140)
	client := &http.Client{}
	return timed(n, func(int) error {
		req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "latfloor: %v\n", err)
	os.Exit(1)
}
