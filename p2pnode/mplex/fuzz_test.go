package mplex

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes to a session as if a peer sent them,
// with one stream of each direction open and every accepted stream read to
// its end. The session must not panic or hang, must end when the peer
// hangs up, and must give back every byte of memory it reserved.
func FuzzSession(f *testing.F) {
	seed := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	f.Add(seed(appendFrame(nil, 0, flagNewStream, []byte("0")), appendFrame(nil, 0, flagMessageInitiator, []byte("hi")), appendFrame(nil, 0, flagCloseInitiator, nil)))
	f.Add(seed(appendFrame(nil, 0, flagMessageReceiver, []byte("to our stream")), appendFrame(nil, 0, flagResetReceiver, nil)))
	f.Add(seed(appendFrame(nil, 1, flagNewStream, nil), appendFrame(nil, 1, flagNewStream, nil)))
	f.Add(seed(appendFrame(nil, 2, flagNewStream, nil), appendFrame(nil, 2, flagMessageInitiator, bytes.Repeat([]byte{1}, 300)), appendFrame(nil, 2, flagResetInitiator, nil)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x07, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		scope := &countingScope{}
		tr, err := New(Config{
			MaxMessageSize: 256, MaxStreamBuffer: 512, SlowReaderTimeout: 10 * time.Millisecond,
			MaxInboundStreams: 8, MaxOutboundStreams: 8, AcceptBacklog: 4, WriteQueue: 4,
		})
		if err != nil {
			t.Fatal(err)
		}
		a, b := net.Pipe()
		mc, err := tr.NewConn(a, false, scope)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, b) }()
		local, err := mc.OpenStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(io.Discard, local)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, err := mc.AcceptStream()
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = io.Copy(io.Discard, s)
					_ = s.Close()
				}()
			}
		}()
		_, _ = b.Write(data)
		_ = b.Close()
		select {
		case <-mc.(*conn).readDone:
		case <-time.After(30 * time.Second):
			t.Fatal("session did not end after the peer hung up")
		}
		_ = mc.Close()
		wg.Wait()
		if got := scope.reserved(); got != 0 {
			t.Fatalf("%d bytes still reserved after the session ended", got)
		}
	})
}
