// Package metrics exports a murmur node's counters to Prometheus. A
// NodeCollector reads the node's Stats at scrape time, so nothing in the
// engine or the transport calls into Prometheus; go-libp2p's own metrics are
// registered on the same registry through p2pnode.WithPrometheusRegisterer.
//
//	reg := metrics.NewRegistry()
//	node, err := p2pnode.New(cfg, p2pnode.WithPrometheusRegisterer(reg))
//	...
//	reg.MustRegister(metrics.NewNodeCollector(node))
//
// The seeds' four metrics keep their names (gossip_deltas_sent_total,
// gossip_deltas_received_total, gossip_sync_duration_seconds,
// gossip_peers_connected); every other metric starts with murmur_.
// docs/api.md lists them all.
package metrics
