// Command kvshell embeds a murmur node in a small interactive program: a
// replicated key/value shell. Start one, then others bootstrapped from the
// address it prints; what any of them sets, every one of them sees.
//
//	go run ./examples/kvshell -data /tmp/kv1 -listen /ip4/127.0.0.1/tcp/4501
//	go run ./examples/kvshell -data /tmp/kv2 -listen /ip4/127.0.0.1/tcp/4502 \
//	    -bootstrap /ip4/127.0.0.1/tcp/4501/p2p/12D3KooW...
//
// Commands: set KEY VALUE, get KEY, del KEY, ls [PREFIX], peers, quit.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/sync/replica"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kvshell:", err)
		os.Exit(1)
	}
}

func run() error {
	var listen, bootstrap listFlag
	dataDir := flag.String("data", "", "data directory (required)")
	network := flag.String("network", "kvshell", "murmur network name")
	flag.Var(&listen, "listen", "multiaddr to listen on (repeatable)")
	flag.Var(&bootstrap, "bootstrap", "multiaddr of a node to join through (repeatable)")
	flag.Parse()
	if *dataDir == "" {
		return errors.New("-data DIR is required")
	}

	cfg := p2pnode.DefaultConfig()
	cfg.DataDir = *dataDir
	cfg.Discovery.Network = *network
	cfg.Discovery.Bootstrap = bootstrap
	if len(listen) > 0 {
		cfg.Listen = listen
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	node, err := p2pnode.New(cfg)
	if err != nil {
		return err
	}
	defer node.Close()
	if err := node.Start(ctx); err != nil {
		return err
	}
	fmt.Println("peer", node.ID())
	for _, a := range node.Addrs() {
		fmt.Println("  ", a)
	}

	// Print what other nodes write, as it arrives.
	changes, err := node.Subscribe(256)
	if err != nil {
		return err
	}
	go func() {
		for c := range changes {
			switch c.Kind {
			case replica.ChangeReceived:
				fmt.Printf("\n<- %s %s %q from %s\n> ", c.Event.Op, c.Event.Key, c.Event.Value, peer.ID(c.Event.Origin))
			case replica.ChangeConflict:
				fmt.Printf("\n!! conflict on %s: %d concurrent values\n> ", c.Key, len(c.State.Versions))
			}
		}
	}()

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	fmt.Print("> ")
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if quit := execute(node, strings.Fields(line)); quit {
				return nil
			}
			fmt.Print("> ")
		}
	}
}

// execute runs one shell command and reports whether to quit.
func execute(node *p2pnode.Node, f []string) bool {
	if len(f) == 0 {
		return false
	}
	var err error
	switch {
	case f[0] == "set" && len(f) >= 3:
		_, err = node.Put(f[1], []byte(strings.Join(f[2:], " ")))
	case f[0] == "get" && len(f) == 2:
		var v []byte
		if v, err = node.Get(f[1]); err == nil {
			fmt.Printf("%s\n", v)
		}
	case f[0] == "del" && len(f) == 2:
		_, err = node.Delete(f[1])
	case f[0] == "ls" && len(f) <= 2:
		prefix := ""
		if len(f) == 2 {
			prefix = f[1]
		}
		var kss []*replica.KeyState
		if kss, err = node.List(prefix); err == nil {
			for _, ks := range kss {
				fmt.Printf("%s = %s\n", ks.Key, ks.Versions[0].Value)
			}
		}
	case f[0] == "peers":
		for _, p := range node.Peers() {
			fmt.Println(p)
		}
	case f[0] == "quit" || f[0] == "exit":
		return true
	default:
		fmt.Println("commands: set KEY VALUE, get KEY, del KEY, ls [PREFIX], peers, quit")
	}
	if errors.Is(err, p2pnode.ErrNotFound) {
		fmt.Println("(not found)")
	} else if err != nil {
		fmt.Println("error:", err)
	}
	return false
}
