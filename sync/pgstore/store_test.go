package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// TestKillDuringWrites runs this test binary as a child that applies
// batches to a schema, kills it with SIGKILL at a random point, reopens the
// schema (the server must first notice the dead connection and release the
// schema lock) and finds every batch the child acknowledged, none torn.
func TestKillDuringWrites(t *testing.T) {
	for seed := uint64(1); seed <= 2; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			schema := server.Schema()
			storetest.KillTest(t, seed, []string{childDSNEnv + "=" + server.DSN(), childSchemaEnv + "=" + schema},
				func(t *testing.T) replica.Store {
					s, err := Open(Options{DSN: server.DSN(), Schema: schema, MerkleDepth: 8})
					must(t, err)
					return s
				})
		})
	}
}

// TestSchemaLocked opens a schema twice: the second Open waits for the
// lock and fails with ErrLocked; after Close it succeeds.
func TestSchemaLocked(t *testing.T) {
	schema := server.Schema()
	a, err := Open(Options{DSN: server.DSN(), Schema: schema})
	must(t, err)
	_, err = Open(Options{DSN: server.DSN(), Schema: schema, LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of schema %s: %v, want ErrLocked", schema, err)
	}
	must(t, a.Close())
	b, err := Open(Options{DSN: server.DSN(), Schema: schema})
	must(t, err)
	must(t, b.Close())
}

// TestBadOptions checks that bad options fail with errors naming the key.
func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{}, {DSN: server.DSN(), Schema: "Bad-Name"}, {DSN: server.DSN(), Schema: "x; drop table y"}, {DSN: "nonsense://"}} {
		if _, err := Open(o); err == nil {
			t.Fatalf("Open(%+v) succeeded", o)
		}
	}
}

// TestPaging scans more rows than one query page holds.
func TestPaging(t *testing.T) {
	s := openNew(t, 8)
	w := storetest.NewWriter("o")
	var parts []*replica.Batch
	var want []string
	for i := 0; i < 2*pageSize+10; i++ {
		k := fmt.Sprintf("k%04d", i)
		parts = append(parts, w.Put(k, []byte{1}))
		want = append(want, k)
	}
	must(t, s.Apply(storetest.Merge(parts...)))
	var got []string
	must(t, s.ScanKeys("k", func(ks *replica.KeyState) bool { got = append(got, ks.Key); return true }))
	if !slices.Equal(got, want) {
		t.Fatalf("ScanKeys over pages: %d keys, want %d", len(got), len(want))
	}
	n := 0
	var last replica.KeyHash
	must(t, s.ScanKeyHashes(replica.KeyHash{}, func(h replica.KeyHash, _ *replica.KeyState) bool {
		if n > 0 && string(h[:]) <= string(last[:]) {
			t.Fatalf("ScanKeyHashes out of order at %d", n)
		}
		last = h
		n++
		return true
	}))
	if n != len(want) {
		t.Fatalf("ScanKeyHashes over pages: %d keys, want %d", n, len(want))
	}
	var seqs []uint64
	must(t, s.ScanEvents("o", 3, 0, func(e *replica.Event) bool { seqs = append(seqs, e.Seq); return true }))
	if len(seqs) != len(want)-2 || seqs[0] != 3 || seqs[len(seqs)-1] != uint64(len(want)) {
		t.Fatalf("ScanEvents over pages: %d events", len(seqs))
	}
	storetest.CheckTree(t, s)
}

// TestDepthChangeRebuildsTree reopens a schema with another Merkle depth.
func TestDepthChangeRebuildsTree(t *testing.T) {
	schema := server.Schema()
	s, err := Open(Options{DSN: server.DSN(), Schema: schema, MerkleDepth: 6})
	must(t, err)
	w := storetest.NewWriter("o")
	for i := 0; i < 50; i++ {
		must(t, s.Apply(w.Put(fmt.Sprint(i), []byte{1})))
	}
	must(t, s.Close())
	s, err = Open(Options{DSN: server.DSN(), Schema: schema, MerkleDepth: 9})
	must(t, err)
	if s.MerkleTree().Depth() != 9 {
		t.Fatalf("depth %d after reopening at 9", s.MerkleTree().Depth())
	}
	storetest.CheckTree(t, s)
	must(t, s.Close())
	s, err = Open(Options{DSN: server.DSN(), Schema: schema, MerkleDepth: 9})
	must(t, err)
	defer s.Close()
	storetest.CheckTree(t, s)
}

// TestCorruptRowsAreReported changes rows behind the store's back: reads
// fail with ErrCorrupt naming the row instead of returning wrong data.
func TestCorruptRowsAreReported(t *testing.T) {
	s := openNew(t, 8)
	b := storetest.NewWriter("o").Put("k", []byte("v"))
	must(t, s.Apply(b))
	ctx := context.Background()
	c, err := pgx.Connect(ctx, server.DSN())
	must(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, fmt.Sprintf(`UPDATE %s.events SET value = 'forged'`, s.Schema()))
	must(t, err)
	if _, err := s.Event(b.Events[0].ID()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("forged event read: %v", err)
	}
	_, err = c.Exec(ctx, fmt.Sprintf(`UPDATE %s.keys SET state = '\x01'`, s.Schema()))
	must(t, err)
	if _, err := s.KeyState("k"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated key state read: %v", err)
	}
}

// TestSQLView checks the columns docs/postgres.md tells operators to
// query.
func TestSQLView(t *testing.T) {
	s := openNew(t, 8)
	w := storetest.NewWriter("o")
	must(t, s.Apply(storetest.Merge(w.Put("user/1", []byte(`{"name":"ada"}`)), w.Put("user/2", []byte("x")))))
	must(t, s.Apply(w.Put("user/2", nil)))
	ctx := context.Background()
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT convert_from(key, 'UTF8'), convert_from(value, 'UTF8')
		FROM %s.keys WHERE NOT deleted ORDER BY key`, s.Schema()))
	must(t, err)
	type kv struct{ K, V string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[kv])
	must(t, err)
	if len(got) != 1 || got[0] != (kv{"user/1", `{"name":"ada"}`}) {
		t.Fatalf("live keys by SQL: %v", got)
	}
	var n int
	var maxSeq string
	must(t, s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), max(seq)::text FROM %s.events WHERE origin = 'o'`, s.Schema())).Scan(&n, &maxSeq))
	if n != 3 || maxSeq != "3" {
		t.Fatalf("events by SQL: %d, max seq %s", n, maxSeq)
	}
	var leaves int
	must(t, s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s.merkle_leaves`, s.Schema())).Scan(&leaves))
	if leaves == 0 || leaves > 2 {
		t.Fatalf("%d merkle leaf rows for 2 keys", leaves)
	}
}

// TestDocQueries runs every query of docs/postgres.md ("Queries") against
// stores holding data, so the documented schema stays true.
func TestDocQueries(t *testing.T) {
	doc, err := os.ReadFile("../../docs/postgres.md")
	must(t, err)
	_, rest, ok := strings.Cut(string(doc), "```sql\n")
	if !ok {
		t.Fatal("docs/postgres.md has no sql block")
	}
	block, _, _ := strings.Cut(rest, "```")
	a, b := openNew(t, 8), openNew(t, 8)
	w := storetest.NewWriter("o")
	both := storetest.Merge(w.Put("user/1", []byte(`{"name":"ada"}`)), w.Put("user/2", []byte(`{"name":"bob"}`)))
	must(t, a.Apply(both))
	must(t, b.Apply(both))
	must(t, a.Apply(w.Put("user/3", []byte(`{"name":"cy"}`))))
	r := strings.NewReplacer("murmur.", a.Schema()+".", "node_a.", a.Schema()+".", "node_b.", b.Schema()+".")
	n := 0
	for _, stmt := range strings.Split(block, ";") {
		var sql []string
		for _, line := range strings.Split(stmt, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
				sql = append(sql, line)
			}
		}
		if len(sql) == 0 {
			continue
		}
		q := r.Replace(strings.Join(sql, "\n"))
		rows, err := a.pool.Query(context.Background(), q)
		must(t, err)
		count := 0
		for rows.Next() {
			count++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n++
		if strings.Contains(q, "FULL JOIN") && count != 1 {
			t.Fatalf("keys that differ between the two stores: %d rows, want 1", count)
		}
	}
	if n < 5 {
		t.Fatalf("ran %d documented queries, want at least 5", n)
	}
}

// TestSketchAfterCrash checks that a coded sketch Close saved is not
// trusted after later batches were applied by a store that never closed
// (a crash): Open rebuilds it, and it matches the state.
func TestSketchAfterCrash(t *testing.T) {
	schema := server.Schema()
	opts := Options{DSN: server.DSN(), Schema: schema, MerkleDepth: 8, SketchSymbols: 256}
	batches := storetest.BatchSeq(rand.New(rand.NewPCG(9, 9)), 20, 5)
	s, err := Open(opts)
	must(t, err)
	for _, b := range batches[:10] {
		must(t, s.Apply(b))
	}
	must(t, s.Close()) // saves the sketch at batch 10
	s, err = Open(opts)
	must(t, err)
	storetest.CheckTree(t, s)
	for _, b := range batches[10:] {
		must(t, s.Apply(b))
	}
	// Crash: the connections go away without Close.
	s.pool.Close()
	must(t, s.lock.Close(context.Background()))
	s, err = Open(opts)
	must(t, err)
	defer s.Close()
	storetest.CheckPrefix(t, s, batches, len(batches))
}
