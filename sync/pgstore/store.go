package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	logging "github.com/ipfs/go-log/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/riblt"
)

var log = logging.Logger("murmur/pgstore")

// Options configures Open. Only DSN is required.
type Options struct {
	// DSN is the PostgreSQL connection string (postgres_dsn), in libpq's
	// keyword/value or URL form: "host=/run/postgresql dbname=murmur" or
	// "postgres://murmur@db.example:5432/murmur".
	DSN string
	// Schema holds the store's tables (postgres_schema). Default "murmur".
	// Nodes sharing a database need one schema each: a schema is locked
	// by the store that has it open.
	Schema string
	// MerkleDepth is merkle_tree_depth for the tree the store maintains.
	// Default 16 (see merkle.Config.Depth). Reopening with another depth
	// rebuilds the tree from the keys table once.
	MerkleDepth int
	// SketchSymbols is the length of the coded anti-entropy sketch kept
	// beside the Merkle tree (merkle.Tree.EnableSketch). Default
	// merkle.DefaultSketchSymbols; negative keeps none. The sketch is kept
	// in memory and saved to merkle_sketch by Close, not by every Apply
	// (a write changes some 25 symbols per key, which as rows would cost
	// more than the write itself); Open loads it when it was saved at the
	// store's last batch and otherwise, after a crash, rebuilds it from the
	// keys table.
	SketchSymbols int
	// MaxConns bounds the connection pool. Default 8: Apply uses one
	// connection at a time and reads a few more; PostgreSQL's default
	// max_connections of 100 leaves room for a dozen nodes.
	MaxConns int
	// LockTimeout is how long Open waits for another store to release the
	// schema before failing with ErrLocked. Default 15 s: long enough for
	// the server to notice that a killed daemon's connection closed (a
	// restart after kill -9 must succeed), short enough to report a
	// second node misconfigured with the same schema.
	LockTimeout time.Duration
	// QueryTimeout bounds every query and Apply. Default 30 s: a server
	// that does not answer by then is down, and the node should say so
	// rather than hang.
	QueryTimeout time.Duration
}

func (o *Options) fill() error {
	if o.DSN == "" {
		return errors.New("pgstore: postgres_dsn is empty")
	}
	if o.Schema == "" {
		o.Schema = "murmur"
	}
	if !schemaName.MatchString(o.Schema) {
		return fmt.Errorf("pgstore: postgres_schema %q: want a lower-case identifier (letters, digits, _; at most 63)", o.Schema)
	}
	if o.MerkleDepth == 0 {
		o.MerkleDepth = merkle.DefaultConfig().Depth
	}
	if o.SketchSymbols == 0 {
		o.SketchSymbols = merkle.DefaultSketchSymbols
	}
	if o.MaxConns == 0 {
		o.MaxConns = 8
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 15 * time.Second
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = 30 * time.Second
	}
	return nil
}

// Store is a replica.Store on PostgreSQL. It is safe for concurrent use:
// Apply excludes other Applies and the tree; reads run concurrently with
// each other and with Apply and see every Apply that returned.
type Store struct {
	opts Options
	q    queries
	pool *pgxpool.Pool
	// lock is the connection holding the schema's advisory lock.
	lock *pgx.Conn

	// treeMu orders tree readers (WithTree) against Apply, which holds it
	// for writing. Lock order: treeMu before mu.
	treeMu sync.RWMutex
	mu     sync.RWMutex // guards closed, vv, clock and tree
	reads  sync.WaitGroup
	closed bool
	vv     replica.VersionVector
	clock  replica.Timestamp
	tree   *merkle.Tree
	// batches counts the batches applied, as the store row does.
	batches int64
}

var (
	_ replica.MerkleStore     = (*Store)(nil)
	_ replica.KeyRangeScanner = (*Store)(nil)
)

// Open connects to the server, locks the schema (ErrLocked if another
// store holds it beyond LockTimeout), creates the tables if needed and
// loads the version vector, clock and Merkle leaves. It fails with
// ErrIncompatible for a schema of another format version.
func Open(opts Options) (*Store, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	tree, err := merkle.NewTree(opts.MerkleDepth)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	pcfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("pgstore: postgres_dsn: %w", err)
	}
	pcfg.MaxConns = int32(opts.MaxConns)
	s := &Store{opts: opts, q: newQueries(opts.Schema), vv: replica.VersionVector{}, tree: tree}
	ctx, cancel := context.WithTimeout(context.Background(), opts.LockTimeout+opts.QueryTimeout)
	defer cancel()
	if s.lock, err = pgx.ConnectConfig(ctx, pcfg.ConnConfig.Copy()); err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := s.takeLock(ctx); err != nil {
		_ = s.lock.Close(context.Background())
		return nil, err
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		_ = s.lock.Close(context.Background())
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := s.load(ctx); err != nil {
		s.pool.Close()
		_ = s.lock.Close(context.Background())
		return nil, fmt.Errorf("pgstore: open schema %s: %w", opts.Schema, err)
	}
	return s, nil
}

// takeLock takes the schema's session-level advisory lock, waiting up to
// LockTimeout (lock_timeout applies to advisory locks).
func (s *Store) takeLock(ctx context.Context) error {
	if _, err := s.lock.Exec(ctx, fmt.Sprintf("SET lock_timeout = %d", s.opts.LockTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("pgstore: set lock_timeout: %w", err)
	}
	_, err := s.lock.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, "murmur/pgstore/"+s.opts.Schema)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available
		return fmt.Errorf("%w: schema %s is held by another murmur store (waited %s)", ErrLocked, s.opts.Schema, s.opts.LockTimeout)
	}
	if err != nil {
		return fmt.Errorf("pgstore: lock schema %s: %w", s.opts.Schema, err)
	}
	return nil
}

// load creates the schema if needed, checks its format and reads the
// version vector, clock and tree.
func (s *Store) load(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, fmt.Sprintf(schemaDDL, s.opts.Schema)); err != nil {
		return fmt.Errorf("create tables: %w", err)
	}
	if _, err := s.pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.store (format, merkle_depth) VALUES ($1, $2) ON CONFLICT DO NOTHING`, s.opts.Schema),
		formatVersion, s.tree.Depth()); err != nil {
		return fmt.Errorf("create store row: %w", err)
	}
	var format, depth, sketchN int
	var sketchAt int64
	if err := s.pool.QueryRow(ctx, s.q.loadStore).Scan(&format, &depth, &s.clock.Wall, &s.clock.Logical, &s.batches, &sketchN, &sketchAt); err != nil {
		return fmt.Errorf("read store row: %w", err)
	}
	if format != formatVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d", ErrIncompatible, format, formatVersion)
	}
	rows, err := s.pool.Query(ctx, s.q.loadVV)
	if err != nil {
		return fmt.Errorf("read version vector: %w", err)
	}
	var origin []byte
	var seq pgtype.Numeric
	_, err = pgx.ForEachRow(rows, []any{&origin, &seq}, func() error {
		v, err := seqOf(seq, fmt.Sprintf("version_vector row %x", origin))
		s.vv[replica.PeerID(origin)] = v
		return err
	})
	if err != nil {
		return fmt.Errorf("read version vector: %w", err)
	}
	if depth != s.tree.Depth() {
		if err := s.rebuildTree(ctx, depth); err != nil {
			return err
		}
		return s.loadSketch(ctx, sketchN, sketchAt)
	}
	leaves := make([]merkle.Node, s.tree.NumLeaves())
	rows, err = s.pool.Query(ctx, s.q.loadLeaves)
	if err != nil {
		return fmt.Errorf("read merkle leaves: %w", err)
	}
	var idx int64
	var node []byte
	_, err = pgx.ForEachRow(rows, []any{&idx, &node}, func() error {
		if idx < 0 || idx >= int64(len(leaves)) {
			return fmt.Errorf("%w: merkle_leaves row %d beyond %d leaves", ErrCorrupt, idx, len(leaves))
		}
		nd, err := merkle.DecodeNode(node)
		if err != nil {
			return fmt.Errorf("%w: merkle_leaves row %d: %w", ErrCorrupt, idx, err)
		}
		leaves[idx] = nd
		return nil
	})
	if err != nil {
		return fmt.Errorf("read merkle leaves: %w", err)
	}
	if err := s.tree.LoadLeaves(leaves); err != nil {
		return err
	}
	return s.loadSketch(ctx, sketchN, sketchAt)
}

// loadSketch enables the tree's coded sketch and loads the symbols Close
// saved if they are of this length and were saved at the store's last
// batch (stored, at); otherwise it builds the sketch from the keys table.
func (s *Store) loadSketch(ctx context.Context, stored int, at int64) error {
	n := s.opts.SketchSymbols
	if n <= 0 {
		return nil
	}
	if err := s.tree.EnableSketch(n); err != nil {
		return err
	}
	sk := s.tree.Sketch()
	if stored == n && at == s.batches {
		syms := make([]riblt.Symbol, n)
		rows, err := s.pool.Query(ctx, s.q.loadSketch)
		if err != nil {
			return fmt.Errorf("read merkle sketch: %w", err)
		}
		var idx int64
		var p []byte
		_, err = pgx.ForEachRow(rows, []any{&idx, &p}, func() error {
			if idx < 0 || idx >= int64(n) {
				return fmt.Errorf("%w: merkle_sketch row %d beyond %d symbols", ErrCorrupt, idx, n)
			}
			sym, err := riblt.DecodeSymbol(p)
			if err != nil {
				return fmt.Errorf("%w: merkle_sketch row %d: %w", ErrCorrupt, idx, err)
			}
			syms[idx] = sym
			return nil
		})
		if err != nil {
			return fmt.Errorf("read merkle sketch: %w", err)
		}
		if syms[0].Count != int64(s.tree.Root().Count) {
			return fmt.Errorf("%w: sketch counts %d entries, the merkle tree %d", ErrCorrupt, syms[0].Count, s.tree.Root().Count)
		}
		return sk.Load(syms)
	}
	if s.tree.Root().Count > 0 {
		log.Infof("building the coded sketch of schema %s (%d symbols; saved one: %d symbols at batch %d, store at batch %d)",
			s.opts.Schema, n, stored, at, s.batches)
	}
	return s.MerkleSource().Scan(merkle.KeyHash{}, func(e merkle.Entry) bool {
		sk.Add(merkle.ItemOf(e.KeyHash, e.Digest))
		return true
	})
}

// saveSketch writes the sketch to merkle_sketch, marked as current at the
// store's last batch.
func (s *Store) saveSketch(ctx context.Context) error {
	sk := s.tree.Sketch()
	if sk == nil {
		return nil
	}
	var idx []int32
	var syms [][]byte
	for i := range sk.Len() {
		if sym := sk.Symbol(i); !sym.IsZero() {
			idx, syms = append(idx, int32(i)), append(syms, riblt.AppendBinary(nil, sym))
		}
	}
	b := &pgx.Batch{}
	b.Queue(s.q.delSketch)
	b.Queue(s.q.putSketch, idx, syms)
	b.Queue(s.q.setSketchLen, sk.Len(), s.batches)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("pgstore: save merkle sketch of schema %s: %w", s.opts.Schema, err)
	}
	return nil
}

// rebuildTree rebuilds the tree at the configured depth from the keys
// table and rewrites the leaves.
func (s *Store) rebuildTree(ctx context.Context, was int) error {
	log.Infof("rebuilding merkle tree of schema %s from depth %d to %d", s.opts.Schema, was, s.tree.Depth())
	t, err := merkle.Rebuild(s.tree.Depth(), s.MerkleSource())
	if err != nil {
		return err
	}
	s.tree = t
	var idx []int32
	var nodes [][]byte
	for i := uint64(0); i < t.NumLeaves(); i++ {
		if l := t.Leaf(i); l.Count > 0 {
			idx = append(idx, int32(i))
			nodes = append(nodes, l.AppendBinary(nil))
		}
	}
	b := &pgx.Batch{}
	b.Queue(s.q.delLeaves)
	b.Queue(s.q.putLeaves, idx, nodes)
	b.Queue(fmt.Sprintf(`UPDATE %s.store SET merkle_depth = $1`, s.opts.Schema), t.Depth())
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write rebuilt merkle leaves: %w", err)
	}
	return nil
}

// Schema returns the schema the store's tables are in.
func (s *Store) Schema() string { return s.opts.Schema }

// ctx returns a context bounded by QueryTimeout.
func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.QueryTimeout)
}

// begin starts a read: it fails once the store is closed and makes Close
// wait for the read to end. Call the returned function when done.
func (s *Store) begin() (func(), error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("pgstore %s: %w", s.opts.Schema, replica.ErrClosed)
	}
	s.reads.Add(1)
	return s.reads.Done, nil
}

// Close implements replica.Store: it waits for running reads (so it must
// not be called from a scan callback), saves the coded sketch, closes the
// connections and so releases the schema lock. Every applied batch is
// already committed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.reads.Wait()
	ctx, cancel := s.ctx()
	defer cancel()
	err := s.saveSketch(ctx)
	s.pool.Close()
	if lerr := s.lock.Close(ctx); lerr != nil && err == nil {
		err = fmt.Errorf("pgstore: close schema %s: %w", s.opts.Schema, lerr)
	}
	return err
}

// MerkleTree implements replica.MerkleStore. Apply updates the tree; read
// it only while no Apply runs, or use WithTree.
func (s *Store) MerkleTree() *merkle.Tree { return s.tree }

// MerkleSource implements replica.MerkleStore: the keys table's
// (key_hash, digest) in key_hash order.
func (s *Store) MerkleSource() merkle.Source { return hashSource{s} }

// WithTree calls fn with the tree and its source while no Apply runs. fn
// must not call Apply or Close.
func (s *Store) WithTree(fn func(*merkle.Tree, merkle.Source) error) error {
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	return fn(s.tree, hashSource{s})
}

// hashSource is a merkle.Source over the keys table.
type hashSource struct{ s *Store }

// Scan implements merkle.Source.
func (h hashSource) Scan(from merkle.KeyHash, fn func(merkle.Entry) bool) error {
	done, err := h.s.begin()
	if err != nil {
		return err
	}
	defer done()
	cur, pg := from, newPager(sourcePage)
	for {
		var page []merkle.Entry
		limit := pg.next()
		err := h.s.query(h.s.q.scanSource, []any{cur[:], limit}, func(rows pgx.Rows) error {
			var kh, d []byte
			if err := rows.Scan(&kh, &d); err != nil {
				return err
			}
			var e merkle.Entry
			if len(kh) != len(e.KeyHash) || len(d) != len(e.Digest) {
				return fmt.Errorf("%w: keys row with a %d-byte key_hash and %d-byte digest", ErrCorrupt, len(kh), len(d))
			}
			copy(e.KeyHash[:], kh)
			copy(e.Digest[:], d)
			page = append(page, e)
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if !fn(e) {
				return nil
			}
		}
		if len(page) < limit {
			return nil
		}
		var ok bool
		if cur, ok = nextHash(page[len(page)-1].KeyHash); !ok {
			return nil
		}
	}
}

// nextHash returns the hash after h, false if h is the last.
func nextHash(h [32]byte) ([32]byte, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		h[i]++
		if h[i] != 0 {
			return h, true
		}
	}
	return h, false
}

// query runs sql and calls fn for each row.
func (s *Store) query(sql string, args []any, fn func(pgx.Rows) error) error {
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("pgstore %s: query: %w", s.opts.Schema, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgstore %s: query: %w", s.opts.Schema, err)
	}
	return nil
}
