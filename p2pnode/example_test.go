package p2pnode_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// exampleNode starts a node on loopback with a temporary data dir.
func exampleNode(network string, bootstrap ...string) (*p2pnode.Node, func()) {
	dir, err := os.MkdirTemp("", "murmur-example-")
	if err != nil {
		panic(err)
	}
	cfg := p2pnode.DefaultConfig()
	cfg.DataDir = dir
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Discovery.Network = network
	cfg.Discovery.Bootstrap = bootstrap
	n, err := p2pnode.New(cfg)
	if err != nil {
		panic(err)
	}
	if err := n.Start(context.Background()); err != nil {
		panic(err)
	}
	return n, func() { n.Close(); os.RemoveAll(dir) }
}

// Two nodes on one machine: a write on one is replicated to the other, whose
// subscribers see it arrive.
func ExampleNode_Put() {
	alice, stopAlice := exampleNode("example")
	defer stopAlice()
	bob, stopBob := exampleNode("example", alice.Addrs()[0].String())
	defer stopBob()

	changes, err := bob.Subscribe(16)
	if err != nil {
		panic(err)
	}
	if _, err := alice.Put("greeting", []byte("hello, bob")); err != nil {
		panic(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Kind == replica.ChangeReceived && c.Event.Key == "greeting" {
				v, _ := bob.Get("greeting")
				fmt.Printf("bob reads %s\n", v)
				return
			}
		case <-timeout:
			fmt.Println("not replicated")
			return
		}
	}
	// Output: bob reads hello, bob
}
