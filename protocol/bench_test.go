package protocol

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// BenchmarkStreams measures delivery between two real hosts on loopback
// TCP (Noise, yamux) with one reused stream per (peer, protocol) against a
// new stream per message, for a small control message (a PushAck with one
// ID) and a push of one 1 KiB event, with one message in flight at a time
// (latency) or up to 64 (throughput). ns/op is per delivered message.
func BenchmarkStreams(b *testing.B) {
	ev := &replica.Event{Origin: "origin-of-the-benchmark-event-38-bytes", Seq: 1, Op: replica.OpPut, Key: "bench/key", Value: make([]byte, 1024), Signature: make([]byte, 64)}
	bodies := []struct {
		name string
		body replica.Body
	}{
		{"ack", &replica.PushAck{Nonce: 1, New: []replica.EventID{{1}}}},
		{"push-1KiB", &replica.Push{Nonce: 1, Hops: 1, Events: []*replica.Event{ev}}},
	}
	for _, mode := range []struct {
		name   string
		perMsg bool
	}{{"reuse", false}, {"per-message", true}} {
		for _, bd := range bodies {
			for _, window := range []int{1, 64} {
				b.Run(fmt.Sprintf("%s/%s/inflight=%d", mode.name, bd.name, window), func(b *testing.B) {
					benchStreams(b, mode.perMsg, bd.body, window)
				})
			}
		}
	}
}

func benchStreams(b *testing.B, perMsg bool, body replica.Body, window int) {
	tokens := make(chan struct{}, window)
	delivered := make(chan struct{}, 1)
	count := 0
	recv := newHost(b)
	// Per-message streams overlap while the receiver finishes reading the
	// previous ones, so the receiver admits more of them.
	rt, err := New(recv, Config{MaxInboundStreamsPerPeer: 1024}, func(peer.ID, replica.Message) {
		<-tokens
		count++
		if count == b.N+1 {
			delivered <- struct{}{}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	send := newHost(b)
	st, err := New(send, Config{StreamPerMessage: perMsg}, func(peer.ID, replica.Message) {})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	connect(b, send, recv)
	m := replica.Message{To: replica.PeerID(recv.ID()), Body: body}
	sendOne := func() {
		tokens <- struct{}{}
		if err := st.Send(m); err != nil {
			b.Fatal(err)
		}
	}
	sendOne() // warm up: the reused stream is open before timing
	waitFor(b, "the warm-up message", func() bool { return len(tokens) == 0 })
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sendOne()
	}
	select {
	case <-delivered:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d messages delivered", count, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	s := st.Stats()[mustProtocol(b, body)]
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(s.StreamsOpened)/float64(b.N+1), "streams/msg")
	if f := rt.PeerFaults(send.ID()); f.Total() != 0 {
		b.Fatalf("faults during the benchmark: %+v", f)
	}
}

func mustProtocol(b *testing.B, body replica.Body) p2pprotocol.ID {
	p, err := ProtocolFor(body.Type())
	if err != nil {
		b.Fatal(err)
	}
	return p
}
