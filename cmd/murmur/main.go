// Command murmur runs and manages murmur nodes.
//
//	murmur init   --data DIR   create an identity and a commented config.yaml
//	murmur daemon --data DIR   run a node (and its control API) until SIGINT or SIGTERM
//	murmur id     --data DIR   print the node's peer ID
//	murmur keygen              write a private network key (swarm.key)
//	murmur network create | admit PEER_ID | revoke PEER_ID   closed networks
//	murmur version             print the version (the libp2p agent is murmur/<version>)
//
// and, talking to a running daemon through its control API (found by
// --data DIR, --api ADDR or MURMUR_API):
//
//	murmur put KEY VALUE | get KEY | del KEY | ls [PREFIX]
//	murmur publish TOPIC [PAYLOAD] | watch [PREFIX]
//	murmur peers | status | sync PEER_ID
//
// Exit codes: 0 success, 1 failure, 2 usage error or input the daemon
// rejects, 3 not found, 4 no daemon reachable, 5 missing or wrong API token.
// Run "murmur COMMAND -h" for a command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

// command is one murmur subcommand.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"init", "create a node's identity and a commented default config.yaml", runInit},
		{"daemon", "run a node until SIGINT or SIGTERM", runDaemon},
		{"id", "print a node's peer ID", runID},
		{"put", "write a key: put KEY VALUE", runPut},
		{"put-batch", "write many keys, hundreds per request: put-batch [FILE of KEY<TAB>VALUE lines]", runPutBatch},
		{"get", "read a key: get KEY", runGet},
		{"del", "delete a key: del KEY", runDel},
		{"ls", "list keys: ls [PREFIX]", runLs},
		{"publish", "replicate an application event: publish TOPIC [PAYLOAD]", runPublish},
		{"watch", "stream changes as they happen, resumable: watch [PREFIX]", runWatch},
		{"peers", "list peers with their state", runPeers},
		{"status", "show peer ID, addresses, version vector and store statistics", runStatus},
		{"sync", "run a digest sync with a peer now: sync PEER_ID", runSync},
		{"keygen", "write a private network key (swarm.key), random or from a passphrase", runKeygen},
		{"network", "closed networks: network create | admit PEER_ID | revoke PEER_ID", runNetwork},
		{"version", "print murmur's version (its libp2p agent is murmur/<version>)", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code: 0 for
// success, 1 for a failure, 2 for a usage error, and for client commands
// the codes of exitError (3 not found, 4 no daemon, 5 unauthorized).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(stderr, "murmur %s: %v\n", c.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	fmt.Fprintf(stderr, "murmur: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "murmur keeps application state in sync between machines by gossip over libp2p.")
	fmt.Fprintln(w, "\nUsage: murmur COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nClient commands find their daemon by --data DIR, --api ADDR or MURMUR_API.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 failure, 2 usage or rejected input, 3 not found, 4 no daemon, 5 bad token.")
	fmt.Fprintln(w, "Run 'murmur COMMAND -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("murmur "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning flag errors into errUsage (the flag
// package has already printed them) and rejecting stray arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return fmt.Sprint(*l) }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}
