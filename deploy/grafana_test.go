package deploy

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/internal/metrics"
	"github.com/murmur-p2p/murmur/p2pnode"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// metricName matches the metric names in a PromQL expression: the words
// of the families murmur's daemon exports.
var metricName = regexp.MustCompile(`\b(murmur_|gossip_|libp2p_|process_|go_)[a-z0-9_]+\b`)

func TestGrafanaDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("grafana/murmur-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("grafana/murmur-dashboard.json is not valid JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without uid, title or panels: %q %q %d", d.UID, d.Title, len(d.Panels))
	}

	// A node as the daemon runs it: its registry, libp2p's metrics and
	// murmur's collector.
	cfg := p2pnode.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Discovery.Network = "deploytest"
	cfg.Store = "memory"
	reg := metrics.NewRegistry()
	n, err := p2pnode.New(cfg, p2pnode.WithPrometheusRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	reg.MustRegister(metrics.NewNodeCollector(n))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range fams {
		exported[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[f.GetName()+s] = true
			}
		}
	}

	queried := map[string][]string{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q does not use the dashboard's Prometheus data source", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				queried[m] = append(queried[m], p.Title)
			}
		}
	}
	var missing []string
	for m, panels := range queried {
		if !exported[m] {
			missing = append(missing, m+" (panel "+strings.Join(panels, ", ")+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("the dashboard queries metrics a murmur daemon does not export:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(queried) < 20 {
		t.Fatalf("the dashboard queries only %d metrics; the test's pattern may be broken", len(queried))
	}
}
