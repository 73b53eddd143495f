package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// pathsHeader heads the table of delivery paths (pathStats.row).
const pathsHeader = "| setting | mode | deliveries push/pull/sync/router | p99 ms by path push/pull/sync/router | slowest writes: last delivery path@ms | ack timeouts/write | pull retries/write | pulls abandoned/write | msgs dropped by nodes/write | link lateness p50/p99 ms |\n" +
	"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"

// shownPaths are the delivery paths the table reports, in column order.
var shownPaths = []replica.Delivery{replica.DeliveryPush, replica.DeliveryPull, replica.DeliverySync, replica.DeliveryExternal}

// pathStats says where a run's deliveries came from: every ChangeReceived
// with its path (Change.Via) and its delay after the write, the path of the
// delivery that completed each of the slowest writes, and the engines'
// timeout counters.
type pathStats struct {
	byPath map[replica.Delivery][]time.Duration
	// slowest are the last deliveries of the slowest writes, slowest first.
	slowest []delivery
	// Per write, summed over nodes.
	ackTimeouts, pullRetries, pullsAbandoned, lost float64
	// late is the lateness of every delayed write (links.late); empty
	// on loopback, where nothing is delayed.
	late []time.Duration
}

// delivery is one node receiving one write.
type delivery struct {
	via   replica.Delivery
	after time.Duration
}

// tally fills the path statistics from each write's deliveries (one per
// node; the writer's own entry has the zero path and delay and is skipped).
func tally(writes [][]delivery, writers []int, slowest int) pathStats {
	ps := pathStats{byPath: map[replica.Delivery][]time.Duration{}}
	var lasts []delivery
	for w, ds := range writes {
		var last delivery
		for i, d := range ds {
			if i == writers[w] {
				continue
			}
			ps.byPath[d.via] = append(ps.byPath[d.via], d.after)
			if d.after >= last.after {
				last = d
			}
		}
		lasts = append(lasts, last)
	}
	slices.SortFunc(lasts, func(a, b delivery) int { return -int(a.after - b.after) })
	ps.slowest = lasts[:min(slowest, len(lasts))]
	return ps
}

// row formats the statistics as a row of the paths table.
func (ps pathStats) row(setting, mode string) string {
	total := 0
	for _, ds := range ps.byPath {
		total += len(ds)
	}
	var shares, p99s, slow []string
	for _, p := range shownPaths {
		ds := ps.byPath[p]
		shares = append(shares, fmt.Sprintf("%.1f%%", 100*float64(len(ds))/float64(max(total, 1))))
		if len(ds) == 0 {
			p99s = append(p99s, "-")
			continue
		}
		slices.Sort(ds)
		p99s = append(p99s, fmt.Sprintf("%.0f", ms(ds[min(len(ds)-1, len(ds)*99/100)])))
	}
	for _, d := range ps.slowest {
		slow = append(slow, fmt.Sprintf("%s@%.0f", d.via, ms(d.after)))
	}
	late := "-"
	if len(ps.late) > 0 {
		p50, p99 := percentiles(ps.late)
		late = fmt.Sprintf("%.1f/%.1f", ms(p50), ms(p99))
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %s |", setting, mode,
		strings.Join(shares, "/"), strings.Join(p99s, "/"), strings.Join(slow, " "),
		ps.ackTimeouts, ps.pullRetries, ps.pullsAbandoned, ps.lost, late)
}
