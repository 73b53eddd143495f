package replica

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestByzantineInteractions runs the scripted interaction tests of
// testdata/byzantine (datadriven, in the style of etcd raft's rafttest):
// one script per case of issue 9, driving engines message by message.
// Regenerate expectations with -rewrite after checking the change.
//
// Commands (nodes are n1, n2, ...; "huge" is 2^40):
//
//	net n=3 [origins-per-peer=64]    a lossless network of 3 engines
//	put node=n2 key=k value=v        a local write (also: delete node= key=)
//	forge from=n1 to=n2 seq=1 key=k value=v [ctx=(n2:huge,n3:1)]
//	                                 n1 signs an event and pushes it to n2
//	tamper from=n1 msg=aestates [vector=(...)] [states=none] [events=none]
//	       [compacted=(...)] [last=true]
//	                                 rewrite what n1 sends (repeatable;
//	                                 "tamper off" stops; msg also snapshot,
//	                                 syncevents, aeresponse, syncdigest)
//	drop from=n1 | drop off          lose everything n1 sends
//	ae from=n2 to=n1 [catchup]       start an anti-entropy session
//	snapshot from=n2 to=n1           start a snapshot pull
//	sync from=n2 to=n1               start a digest sync
//	deliver                          deliver until quiet
//	tick d=1s [n=10]                 advance every engine n times by d
//	restart node=n1 [wipe] [resume]  reboot (wipe: empty store; resume:
//	                                 Config.ResumeIdentity)
//	flood from=n1 to=n2 origins=100  events of fresh origins from n1
//	senders to=n2 n=200              one message each from fresh sender IDs
//	get node=n2 key=k                the key's versions and context
//	vv node=n2 | floor node=n2       the vector / the GC floor
//	peers node=n2                    the number of peers in the table
//	changes node=n2 [kind=removed]   changes delivered since the last call
func TestByzantineInteractions(t *testing.T) {
	datadriven.Walk(t, "testdata/byzantine", func(t *testing.T, path string) {
		var d *driver
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			if td.Cmd == "net" {
				d = newDriver(t, td)
				return ""
			}
			if d == nil {
				t.Fatalf("%s: run net first", td.Pos)
			}
			return d.run(td)
		})
	})
}

// driver runs one script.
type driver struct {
	t       *testing.T
	tn      *testNet
	ids     []PeerID
	names   map[PeerID]string
	tampers []func(*Message) bool
	seen    map[PeerID]int
	floods  int
}

func newDriver(t *testing.T, td *datadriven.TestData) *driver {
	n, perPeer := 3, 0
	for _, a := range td.CmdArgs {
		switch a.Key {
		case "n":
			n, _ = strconv.Atoi(a.Vals[0])
		case "origins-per-peer":
			perPeer, _ = strconv.Atoi(a.Vals[0])
		}
	}
	tn, ids := newTestNet(t, n, func(c *Config) { c.MaxOriginsPerPeer = perPeer })
	d := &driver{t: t, tn: tn, ids: ids, names: map[PeerID]string{}, seen: map[PeerID]int{}}
	for i, id := range ids {
		d.names[id] = fmt.Sprintf("n%d", i+1)
	}
	tn.drop = func(m Message) bool {
		for _, f := range d.tampers {
			if !f(&m) {
				return true
			}
		}
		return false
	}
	return d
}

// arg returns the first value of key ("" when absent).
func arg(td *datadriven.TestData, key string) string {
	for _, a := range td.CmdArgs {
		if a.Key == key {
			if len(a.Vals) == 0 {
				return "true"
			}
			return a.Vals[0]
		}
	}
	return ""
}

// vector parses key=(n1:3,n2:huge).
func (d *driver) vector(td *datadriven.TestData, key string) VersionVector {
	for _, a := range td.CmdArgs {
		if a.Key != key {
			continue
		}
		v := VersionVector{}
		for _, kv := range a.Vals {
			if kv == "" {
				continue
			}
			name, s, _ := strings.Cut(kv, ":")
			seq := uint64(1 << 40)
			if s != "huge" {
				seq, _ = strconv.ParseUint(s, 10, 64)
			}
			if name == "all" {
				for _, id := range d.ids {
					v[id] = seq
				}
				continue
			}
			v[d.node(name)] = seq
		}
		return v
	}
	return nil
}

func (d *driver) node(name string) PeerID {
	i, err := strconv.Atoi(strings.TrimPrefix(name, "n"))
	if err != nil || i < 1 || i > len(d.ids) {
		d.t.Fatalf("no node %q", name)
	}
	return d.ids[i-1]
}

func (d *driver) fmtVV(v VersionVector) string {
	var parts []string
	others := 0
	for _, o := range v.Origins() {
		name, ok := d.names[o]
		if !ok {
			others++
			continue
		}
		parts = append(parts, fmt.Sprintf("%s:%d", name, v[o]))
	}
	if others > 0 {
		parts = append(parts, fmt.Sprintf("+%d other origins", others))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func (d *driver) run(td *datadriven.TestData) string {
	tn := d.tn
	switch td.Cmd {
	case "put", "delete":
		e := tn.engines[d.node(arg(td, "node"))]
		var ev *Event
		var err error
		if td.Cmd == "put" {
			ev, err = e.Put(arg(td, "key"), []byte(arg(td, "value")))
		} else {
			ev, err = e.Delete(arg(td, "key"))
		}
		tn.flush()
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("ok %s/%d", d.names[ev.Origin], ev.Seq)
	case "forge":
		from, to := d.node(arg(td, "from")), d.node(arg(td, "to"))
		seq, _ := strconv.ParseUint(arg(td, "seq"), 10, 64)
		ev := signedEvent(tn.signers[from], seq, OpPut, arg(td, "key"), arg(td, "value"), d.vector(td, "ctx"))
		err := tn.engines[to].Step(Message{From: from, To: to, Body: &Push{Nonce: 1000 + seq, Hops: 1, Events: []*Event{ev}}})
		tn.flush()
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "tamper":
		if arg(td, "off") != "" {
			d.tampers = nil
			return ""
		}
		d.tampers = append(d.tampers, d.tamper(td))
		return ""
	case "drop":
		if arg(td, "off") != "" {
			d.tampers = nil
			return ""
		}
		from := d.node(arg(td, "from"))
		d.tampers = append(d.tampers, func(m *Message) bool { return m.From != from })
		return ""
	case "ae":
		tn.engines[d.node(arg(td, "from"))].startAE(d.node(arg(td, "to")), arg(td, "catchup") != "")
		tn.flush()
		return ""
	case "snapshot":
		tn.engines[d.node(arg(td, "from"))].startSnapshot(d.node(arg(td, "to")))
		tn.flush()
		return ""
	case "sync":
		tn.engines[d.node(arg(td, "from"))].SyncNow(d.node(arg(td, "to")))
		tn.flush()
		return ""
	case "deliver":
		msgs := tn.deliverAll()
		return fmt.Sprintf("%d messages", len(msgs))
	case "tick":
		step, err := time.ParseDuration(arg(td, "d"))
		if err != nil {
			d.t.Fatalf("%s: %v", td.Pos, err)
		}
		n := 1
		if s := arg(td, "n"); s != "" {
			n, _ = strconv.Atoi(s)
		}
		for i := 0; i < n; i++ {
			tn.now = tn.now.Add(step)
			for _, id := range d.ids {
				tn.engines[id].Tick(tn.now)
			}
			tn.flush()
			tn.deliverAll()
		}
		return ""
	case "restart":
		id := d.node(arg(td, "node"))
		if arg(td, "wipe") != "" {
			tn.stores[id] = NewMemStore()
		}
		resume := arg(td, "resume") != ""
		tn.boot(id, 99, func(c *Config) { c.ResumeIdentity = resume })
		for _, p := range d.ids {
			tn.engines[id].PeerUp(p)
		}
		tn.flush()
		return ""
	case "flood":
		from, to := d.node(arg(td, "from")), d.node(arg(td, "to"))
		n, _ := strconv.Atoi(arg(td, "origins"))
		var batch []*Event
		refused := 0
		send := func() {
			if err := tn.engines[to].Step(Message{From: from, To: to, Body: &SyncEvents{Events: batch}}); err != nil {
				refused++
			}
			batch = nil
		}
		for i := 0; i < n; i++ {
			d.floods++
			batch = append(batch, signedEvent(newTestSignerN(d.floods), 1, OpPut, fmt.Sprintf("junk-%d", d.floods), "x", nil))
			if len(batch) == 100 {
				send()
			}
		}
		if len(batch) > 0 {
			send()
		}
		tn.flush()
		tn.queue = nil
		return fmt.Sprintf("%d messages refused", refused)
	case "senders":
		to := d.node(arg(td, "to"))
		n, _ := strconv.Atoi(arg(td, "n"))
		for i := 0; i < n; i++ {
			from := PeerID(fmt.Sprintf("throwaway-sender-%04d..........", i))
			_ = tn.engines[to].Step(Message{From: from, To: to, Body: &SyncRoot{Nonce: 1}})
		}
		tn.flush()
		tn.queue = nil
		return ""
	case "get":
		ks, err := tn.engines[d.node(arg(td, "node"))].Versions(arg(td, "key"))
		if err != nil {
			return "absent"
		}
		var vs []string
		for _, v := range ks.Versions {
			vs = append(vs, fmt.Sprintf("%s/%d %s %q", d.names[v.Origin], v.Seq, v.Op, v.Value))
		}
		return fmt.Sprintf("versions: %s\ncontext: %s", strings.Join(vs, ", "), d.fmtVV(ks.Context))
	case "vv":
		v := tn.engines[d.node(arg(td, "node"))].VersionVector()
		return fmt.Sprintf("%s (%d origins)", d.fmtVV(v), len(v))
	case "floor":
		return d.fmtVV(tn.engines[d.node(arg(td, "node"))].Floor())
	case "peers":
		return fmt.Sprintf("%d peers", len(tn.engines[d.node(arg(td, "node"))].Peers()))
	case "changes":
		id := d.node(arg(td, "node"))
		all := tn.changes[id][d.seen[id]:]
		d.seen[id] = len(tn.changes[id])
		var out []string
		for _, c := range all {
			if k := arg(td, "kind"); k != "" && c.Kind.String() != k {
				continue
			}
			switch c.Kind {
			case ChangeReceived, ChangeCreated:
				out = append(out, fmt.Sprintf("%s %s %s/%d", c.Kind, c.Key, d.names[c.Event.Origin], c.Event.Seq))
			case ChangeRemoved, ChangeConflict:
				out = append(out, fmt.Sprintf("%s %s (%d left)", c.Kind, c.Key, len(c.State.Versions)))
			}
		}
		slices.Sort(out)
		if len(out) == 0 {
			return "none"
		}
		return strings.Join(out, "\n")
	}
	d.t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return ""
}

// tamper builds a rewrite of the messages a node sends.
func (d *driver) tamper(td *datadriven.TestData) func(*Message) bool {
	from := d.node(arg(td, "from"))
	kind := arg(td, "msg")
	vec, compacted := d.vector(td, "vector"), d.vector(td, "compacted")
	noStates, noEvents, last := arg(td, "states") == "none", arg(td, "events") == "none", arg(td, "last") == "true"
	return func(m *Message) bool {
		if m.From != from {
			return true
		}
		switch b := m.Body.(type) {
		case *AEStates:
			if kind == "aestates" {
				if vec != nil {
					b.VersionVector = vec.Clone()
				}
				if noStates {
					b.States = nil
				}
			}
		case *SnapshotChunk:
			if kind == "snapshot" {
				if vec != nil {
					b.VersionVector = vec.Clone()
				}
				if noStates {
					b.States = nil
				}
				if last {
					b.Last = true
				}
			}
		case *AEResponse:
			if kind == "aeresponse" && b.VersionVector != nil && vec != nil {
				b.VersionVector = vec.Clone()
			}
		case *SyncEvents:
			if kind == "syncevents" {
				if compacted != nil {
					b.Compacted = compacted.Clone()
				}
				if noEvents {
					b.Events = nil
				}
			}
		case *SyncDigest:
			if kind == "syncdigest" && vec != nil {
				b.Match, b.VersionVector = false, vec.Clone()
			}
		}
		return true
	}
}
