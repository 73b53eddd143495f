package p2pnode

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkDiscoveryFill starts 20 loopback hosts bootstrapped from host 0
// and reports the time until every one has min(target_peers, 19) peers in
// its table, and the heap and goroutines held per running host.
//
//	go test ./p2pnode -run '^$' -bench DiscoveryFill -benchtime 3x
func BenchmarkDiscoveryFill(b *testing.B) {
	const n = 20
	var fillTotal time.Duration
	var heapPerHost, goroutinesPerHost float64
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		nodes := make([]*Node, n)
		nodes[0] = startNode(b, testConfig(b, "bench"))
		boot := firstAddr(b, nodes[0])
		start := time.Now()
		for i := 1; i < n; i++ {
			nodes[i] = startNode(b, testConfig(b, "bench", boot))
		}
		want := min(nodes[0].Config().Discovery.TargetPeers, n-1)
		waitFor(b, 60*time.Second, func() bool {
			for _, nd := range nodes {
				if len(nd.Peers()) < want {
					return false
				}
			}
			return true
		}, func() string { return peerCounts(nodes) })
		fillTotal += time.Since(start)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heapPerHost += (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		goroutinesPerHost += float64(runtime.NumGoroutine()-g0) / n
		for _, nd := range nodes {
			nd.Close()
		}
	}
	b.ReportMetric(float64(fillTotal.Milliseconds())/float64(b.N), "ms-to-fill")
	b.ReportMetric(heapPerHost/float64(b.N)/(1<<20), "MiB-heap/host")
	b.ReportMetric(goroutinesPerHost/float64(b.N), "goroutines/host")
}
