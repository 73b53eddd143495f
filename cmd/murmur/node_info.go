package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// printJSONLine writes v as one line of JSON.
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

func runPeers(args []string, stdout, stderr io.Writer) error {
	cf, _, err := parseClient("peers", args, stderr, 0, 0, "", nil)
	if err != nil {
		return err
	}
	return callAPI(cf, stdout, (*controlapi.Client).Peers, func(peers []controlapi.Peer) error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PEER\tCONNECTED\tSTATE\tRELIABILITY\tLAST CONTACT")
		for _, p := range peers {
			state, contact := p.State, "never"
			if state == "" {
				state = "-"
			}
			if !p.LastContact.IsZero() && p.LastContact.Unix() > 0 {
				contact = time.Since(p.LastContact).Round(time.Millisecond).String() + " ago"
			}
			fmt.Fprintf(tw, "%s\t%v\t%s\t%.2f\t%s\n", p.ID, yesNo(p.Connected), state, p.Reliability, contact)
		}
		return tw.Flush()
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runStatus(args []string, stdout, stderr io.Writer) error {
	cf, _, err := parseClient("status", args, stderr, 0, 0, "", nil)
	if err != nil {
		return err
	}
	return callAPI(cf, stdout, (*controlapi.Client).Status, func(st controlapi.Status) error { return printStatus(stdout, st) })
}

// printStatus is the table form of a status.
func printStatus(stdout io.Writer, st controlapi.Status) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "peer_id:\t%s\n", st.PeerID)
	fmt.Fprintf(tw, "network:\t%s\n", st.Network)
	for _, a := range st.Addrs {
		fmt.Fprintf(tw, "addr:\t%s\n", a)
	}
	fmt.Fprintf(tw, "uptime:\t%s\n", st.Uptime)
	fmt.Fprintf(tw, "peers connected:\t%d\n", st.PeersConnected)
	store := fmt.Sprintf("%s, %d events from %d origins", st.Store.Kind, st.Store.Events, st.Store.Origins)
	if st.Store.Dir != "" {
		store += fmt.Sprintf(", %s on disk in %s", humanBytes(st.Store.SizeBytes), st.Store.Dir)
	}
	if st.Store.Schema != "" {
		store += ", schema " + st.Store.Schema
	}
	fmt.Fprintf(tw, "store:\t%s\n", store)
	wr := st.Wire
	fmt.Fprintf(tw, "wire:\tcompression %s; %s sent as %s, %s received as %s\n", wr.Compression,
		humanBytes(int64(wr.BytesSent)), humanBytes(int64(wr.WireBytesSent)), humanBytes(int64(wr.BytesReceived)), humanBytes(int64(wr.WireBytesReceived)))
	e := st.Engine
	fmt.Fprintf(tw, "events:\t%d created, %d accepted, %d duplicates, %d rejected, %d conflicts\n", e.Created, e.Accepted, e.Duplicates, e.Rejected, e.Conflicts)
	fmt.Fprintf(tw, "messages:\t%d sent (%s), %d received (%s)\n", e.MessagesSent, humanBytes(int64(e.BytesSent)), e.MessagesReceived, humanBytes(int64(e.BytesReceived)))
	fmt.Fprintf(tw, "digest syncs:\t%d started, %d matched, %d timed out\n", e.SyncRounds, e.SyncMatches, e.SyncTimeouts)
	fmt.Fprintf(tw, "anti-entropy:\t%d rounds, %d matched, %d coded, %d full syncs, %d keys repaired, %d B sent, %d B received\n",
		e.AERounds, e.AEMatches, e.AECoded, e.AEFullSyncs, e.StatesMerged, e.AEBytesSent, e.AEBytesReceived)
	fmt.Fprintf(tw, "garbage collected:\t%d events, %d keys\n", e.GCEvents, e.GCKeys)
	if sn := e.Snapshot; sn.Active || sn.KeysDone > 0 {
		state := "running"
		if !sn.Active {
			state = "finished"
		}
		pct := ""
		if sn.KeysTotal > 0 {
			pct = fmt.Sprintf(" (%.0f%%)", 100*float64(sn.KeysDone)/float64(sn.KeysTotal))
		}
		fmt.Fprintf(tw, "snapshot:\t%s from %s: %d of %d keys%s, %d B\n", state, sn.Peer, sn.KeysDone, sn.KeysTotal, pct, sn.BytesDone)
	}
	origins := make([]string, 0, len(st.VersionVector))
	for o := range st.VersionVector {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	fmt.Fprintf(tw, "version vector:\t%d origins\n", len(origins))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range origins {
		fmt.Fprintf(stdout, "  %s  %d\n", o, st.VersionVector[o])
	}
	if st.Cursor != "" {
		fmt.Fprintf(stdout, "watch cursor: %s\n", st.Cursor)
	}
	return nil
}

func runSync(args []string, stdout, stderr io.Writer) error {
	cf, pos, err := parseClient("sync", args, stderr, 1, 1, "PEER_ID   (see murmur peers)", nil)
	if err != nil {
		return err
	}
	return callAPI(cf, stdout, func(c *controlapi.Client, ctx context.Context) (controlapi.SyncResult, error) {
		return c.Sync(ctx, strings.TrimSpace(pos[0]))
	}, func(res controlapi.SyncResult) error {
		var err error
		switch {
		case res.Pending:
			_, err = fmt.Fprintf(stdout, "sync with %s started; no result yet (see murmur status)\n", res.Peer)
		case res.Match:
			_, err = fmt.Fprintf(stdout, "sync with %s: already in sync\n", res.Peer)
		default:
			_, err = fmt.Fprintf(stdout, "sync with %s: sent %d events, received %d\n", res.Peer, res.Sent, res.Received)
		}
		return err
	})
}

// humanBytes formats a byte count with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
