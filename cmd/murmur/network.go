package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/security"
)

// runKeygen writes a private network key (kubo's swarm.key format, 0600):
// random, or derived from a passphrase read from stdin with Argon2id.
func runKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keygen", stderr)
	out := fs.String("out", security.SwarmKeyFileName, "file to write (never replaced)")
	passphrase := fs.Bool("passphrase", false, "derive the key from a passphrase read from stdin (Argon2id; needs --network)")
	network := fs.String("network", "", "network name, the salt of --passphrase")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	psk, err := security.GeneratePSK()
	if *passphrase {
		if *network == "" {
			fmt.Fprintln(stderr, "murmur keygen: --passphrase needs --network NAME (the key is salted with it)")
			return errUsage
		}
		line, rerr := bufio.NewReader(os.Stdin).ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return fmt.Errorf("read passphrase: %w", rerr)
		}
		psk, err = security.PSKFromPassphrase(strings.TrimRight(line, "\r\n"), *network)
	}
	if err != nil {
		return err
	}
	if err := security.WriteSwarmKey(*out, psk); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote private network key %s (mode 0600)\n", *out)
	if *passphrase {
		fmt.Fprintf(stdout, "derived with %s: time %d, memory %d KiB, threads %d, salt %q\n", security.PassphraseKDF,
			security.PassphraseTime, security.PassphraseMemoryKiB, security.PassphraseThreads, security.PassphraseSaltPrefix+*network)
	}
	fmt.Fprintln(stdout, "use it with swarm_key_file in each node's config (TCP only: QUIC cannot carry a pre-shared key)")
	return nil
}

// runNetwork runs the network authority subcommands.
func runNetwork(args []string, stdout, stderr io.Writer) error {
	sub := map[string]func([]string, io.Writer, io.Writer) error{
		"create": runNetworkCreate,
		"admit":  runNetworkAdmit,
		"revoke": runNetworkRevoke,
	}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprintln(stderr, "Usage: murmur network create | admit PEER_ID | revoke PEER_ID [flags]")
		fmt.Fprintln(stderr, "  create   write a network authority key and print its ID (for network_authorities)")
		fmt.Fprintln(stderr, "  admit    sign a member certificate: admit PEER_ID --role writer --prefix app/ --expires 720h")
		fmt.Fprintln(stderr, "  revoke   sign a revocation and replicate it through a daemon: revoke PEER_ID --data DIR")
		return errUsage
	}
	return sub[args[0]](args[1:], stdout, stderr)
}

func runNetworkCreate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("network create", stderr)
	out := fs.String("out", "authority.key", "file to write the authority's private key to (0600; never replaced; keep it off the nodes)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists; an authority key is never replaced (choose another --out)", *out)
	}
	key, _, err := security.LoadOrCreateIdentity(*out)
	if err != nil {
		return err
	}
	id, err := security.AuthorityID(key)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote network authority key %s (mode 0600)\n", *out)
	fmt.Fprintf(stdout, "authority: %s\n", id)
	fmt.Fprintf(stdout, "put this in every node's config to close the network:\n  network_authorities: [%s]\n", id)
	return nil
}

// authorityFlags are the flags of the commands that sign with the
// authority key.
type authorityFlags struct {
	key     string
	network string
}

func (f *authorityFlags) register(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&f.key, "authority-key", "authority.key", "the network authority's private key (murmur network create)")
	fs.StringVar(&f.network, "network", "murmur", "network name the certificate is for")
}

func runNetworkAdmit(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("network admit", stderr)
	var af authorityFlags
	af.register(fs)
	role := fs.String("role", "writer", "reader, writer or admin")
	var prefixes listFlag
	fs.Var(&prefixes, "prefix", "key prefix a writer may write under (repeatable; none: every key)")
	expires := fs.Duration("expires", 720*time.Hour, "validity of the certificate")
	out := fs.String("out", "", "write the certificate to this file (default: print it)")
	pos, err := parseInterspersed(fs, args, 1, 1, "PEER_ID [flags]")
	if err != nil {
		return err
	}
	p, err := peer.Decode(pos[0])
	if err != nil {
		return fmt.Errorf("invalid peer ID %q: %w", pos[0], err)
	}
	r, err := security.ParseRole(*role)
	if err != nil {
		return err
	}
	key, err := security.LoadIdentity(af.key)
	if err != nil {
		return fmt.Errorf("authority key: %w", err)
	}
	cert, err := security.IssueCert(key, af.network, p, r, prefixes, time.Now(), *expires)
	if err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprint(stdout, cert.Text())
		return nil
	}
	if err := security.WritePrivateFile(*out, []byte(cert.Text())); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote member certificate %s: %s is a %s of %q until %s\n", *out, p, r, af.network,
		time.Unix(cert.Expires, 0).UTC().Format(time.RFC3339))
	fmt.Fprintln(stdout, "copy it to the member's data dir as member.cert")
	return nil
}

func runNetworkRevoke(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("network revoke", stderr)
	var af authorityFlags
	af.register(fs)
	reason := fs.String("reason", "", "why (recorded in the revocation)")
	print := fs.Bool("print", false, "print the revocation instead of replicating it through a daemon")
	cf := &clientFlags{}
	cf.register(fs)
	pos, err := parseInterspersed(fs, args, 1, 1, "PEER_ID [flags]")
	if err != nil {
		return err
	}
	p, err := peer.Decode(pos[0])
	if err != nil {
		return fmt.Errorf("invalid peer ID %q: %w", pos[0], err)
	}
	key, err := security.LoadIdentity(af.key)
	if err != nil {
		return fmt.Errorf("authority key: %w", err)
	}
	rev, err := security.IssueRevocation(key, af.network, p, time.Now(), *reason)
	if err != nil {
		return err
	}
	if *print {
		fmt.Fprintln(stdout, rev.Text())
		return nil
	}
	ctx, cancel := cf.context()
	defer cancel()
	res, err := cf.client().Put(ctx, security.RevocationKey(p), []byte(rev.Text()))
	if err != nil {
		return cf.explain(err)
	}
	fmt.Fprintf(stdout, "revoked %s: replicating as %s (event %s)\n", p, security.RevocationKey(p), res.Event)
	return nil
}
