package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/murmur-p2p/murmur/p2pnode"
)

func startNode(t *testing.T, dir string, opts []p2pnode.Option, bootstrap ...string) *p2pnode.Node {
	t.Helper()
	cfg := p2pnode.DefaultConfig()
	cfg.DataDir = dir
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Discovery.Network = "metricstest"
	cfg.Discovery.Bootstrap = bootstrap
	cfg.Sync.SyncInterval = 200 * time.Millisecond
	cfg.TickInterval = 20 * time.Millisecond
	n, err := p2pnode.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// scrape fetches url and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct == "" || resp.StatusCode != 200 {
		t.Fatalf("scrape: status %d, content type %q", resp.StatusCode, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// value returns the value of the family's sample whose labels include
// labels (name, value pairs); ok is false if there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := value(fams, name, labels...)
	if !ok {
		t.Fatalf("metric %s%v missing from the scrape", name, labels)
	}
	return v
}

func TestMetricsCountKnownTraffic(t *testing.T) {
	regA, regB := NewRegistry(), NewRegistry()
	a := startNode(t, t.TempDir(), []p2pnode.Option{p2pnode.WithPrometheusRegisterer(regA)})
	regA.MustRegister(NewNodeCollector(a))
	b := startNode(t, t.TempDir(), []p2pnode.Option{p2pnode.WithPrometheusRegisterer(regB)}, a.Addrs()[0].String())
	regB.MustRegister(NewNodeCollector(b))
	srvA := httptest.NewServer(promhttp.HandlerFor(regA, promhttp.HandlerOpts{}))
	defer srvA.Close()
	srvB := httptest.NewServer(promhttp.HandlerFor(regB, promhttp.HandlerOpts{}))
	defer srvB.Close()

	deadline := time.Now().Add(15 * time.Second)
	for len(a.Peers()) == 0 || len(b.Peers()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nodes did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	beforeA, beforeB := scrape(t, srvA.URL), scrape(t, srvB.URL)

	const writes = 7
	for i := range writes {
		if _, err := a.Put("k"+string(rune('a'+i)), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Publish("topic", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	var afterB map[string]*dto.MetricFamily
	for {
		afterB = scrape(t, srvB.URL)
		if mustValue(t, afterB, "murmur_events_accepted_total")-mustValue(t, beforeB, "murmur_events_accepted_total") >= writes+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B accepted %v events, want %d", mustValue(t, afterB, "murmur_events_accepted_total"), writes+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	afterA := scrape(t, srvA.URL)

	delta := func(before, after map[string]*dto.MetricFamily, name string, labels ...string) float64 {
		return mustValue(t, after, name, labels...) - mustValue(t, before, name, labels...)
	}
	if d := delta(beforeA, afterA, "murmur_events_created_total"); d != writes+1 {
		t.Errorf("A created %v events, want %d", d, writes+1)
	}
	if d := delta(beforeB, afterB, "murmur_events_accepted_total"); d != writes+1 {
		t.Errorf("B accepted %v events, want %d", d, writes+1)
	}
	if d := delta(beforeB, afterB, "murmur_events_created_total"); d != 0 {
		t.Errorf("B created %v events, want 0", d)
	}
	// Every payload copy B received was either new (accepted) or a
	// duplicate.
	recv := delta(beforeB, afterB, "gossip_deltas_received_total")
	dups := delta(beforeB, afterB, "murmur_events_duplicate_total")
	if recv < writes+1 || recv != writes+1+dups {
		t.Errorf("B received %v deltas with %v duplicates, want %d + duplicates", recv, dups, writes+1)
	}
	if d := delta(beforeA, afterA, "gossip_deltas_sent_total"); d < writes+1 {
		t.Errorf("A sent %v deltas, want at least %d (one copy of each event to B)", d, writes+1)
	}
	if v := mustValue(t, afterA, "murmur_conflicts_total"); v != 0 {
		t.Errorf("%v conflicts from writes on one node", v)
	}
	// Anti-entropy, snapshot and GC series exist from the start (mustValue
	// fails on a missing one); two nodes that saw every write never need a
	// snapshot.
	for _, name := range []string{"murmur_ae_rounds_total", "murmur_ae_bytes_sent_total", "murmur_snapshot_active",
		"murmur_gc_events_total"} {
		mustValue(t, afterA, name)
	}
	if v := mustValue(t, afterA, "murmur_snapshots_received_total"); v != 0 {
		t.Errorf("murmur_snapshots_received_total = %v, want 0", v)
	}
	// Digest syncs run every 200 ms: wait for one to finish and show up in
	// the histogram, never counting more syncs than were started.
	for {
		fams := scrape(t, srvA.URL)
		h := fams["gossip_sync_duration_seconds"].GetMetric()[0].GetHistogram()
		rounds := mustValue(t, fams, "murmur_sync_rounds_total")
		if float64(h.GetSampleCount()) > rounds {
			t.Fatalf("%d sync durations observed, only %v syncs started", h.GetSampleCount(), rounds)
		}
		if h.GetSampleCount() > 0 {
			// The text format adds the +Inf bucket to the engine's ten.
			if b := h.GetBucket(); len(b) != 11 || b[0].GetUpperBound() != 0.005 || b[9].GetUpperBound() != 5 {
				t.Fatalf("sync duration buckets %v, want 5ms .. 5s and +Inf", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no digest sync duration observed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := mustValue(t, afterB, "murmur_store_events"); v != writes+1 {
		t.Errorf("B's store holds %v events, want %d", v, writes+1)
	}
	if v := mustValue(t, afterA, "murmur_store_origins"); v != 1 {
		t.Errorf("A's store has %v origins, want 1", v)
	}
	if v := mustValue(t, afterA, "gossip_peers_connected"); v != 1 {
		t.Errorf("A has %v peers connected, want 1", v)
	}
	if v := mustValue(t, afterA, "murmur_peers", "state", "alive"); v != 1 {
		t.Errorf("A sees %v alive peers, want 1", v)
	}
	if d := delta(beforeA, afterA, "murmur_messages_sent_total", "type", "push"); d < 1 {
		t.Errorf("A sent %v push messages, want at least 1", d)
	}
	if d := delta(beforeA, afterA, "murmur_protocol_bytes_sent_total", "protocol", "/murmur/push/1.0.0"); d <= 0 {
		t.Errorf("A's push protocol bytes grew by %v", d)
	}
	if v := mustValue(t, afterA, "murmur_store_size_bytes"); v <= 0 {
		t.Errorf("pebble store size %v, want > 0", v)
	}
	// go-libp2p's own metrics are on the same registry.
	libp2p := 0
	for name := range afterA {
		if len(name) > 7 && name[:7] == "libp2p_" {
			libp2p++
		}
	}
	if libp2p == 0 {
		t.Error("no libp2p_* metrics in the scrape")
	}
}
