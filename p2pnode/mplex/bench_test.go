package mplex

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
)

// BenchmarkStreamThroughput sends 64 KiB writes over one stream of a TCP
// loopback connection, for mplex and, to compare, go-libp2p's yamux.
//
//	go test ./p2pnode/mplex -run '^$' -bench StreamThroughput -benchtime 2000x
func BenchmarkStreamThroughput(b *testing.B) {
	tr, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct {
		name string
		mux  network.Multiplexer
	}{{"mplex", tr}, {"yamux", yamux.DefaultTransport}} {
		b.Run(m.name, func(b *testing.B) { benchThroughput(b, m.mux) })
	}
}

func benchThroughput(b *testing.B, mux network.Multiplexer) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	ca, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	cb := <-accepted
	if cb == nil {
		b.Fatal("accept failed")
	}
	ma, err := mux.NewConn(ca, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	mb, err := mux.NewConn(cb, true, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ma.Close()
	defer mb.Close()
	done := make(chan int64, 1)
	go func() {
		s, err := mb.AcceptStream()
		if err != nil {
			done <- -1
			return
		}
		n, _ := io.Copy(io.Discard, s)
		done <- n
	}()
	s, err := ma.OpenStream(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		if _, err := s.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = s.CloseWrite()
	if n := <-done; n != int64(b.N*len(buf)) {
		b.Fatalf("received %d bytes, want %d", n, b.N*len(buf))
	}
}
