package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	logging "github.com/ipfs/go-log/v2"

	"github.com/murmur-p2p/murmur/sync/internal/record"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/riblt"
)

var log = logging.Logger("murmur/pebblestore")

// Options configures Open. The zero value is valid.
type Options struct {
	// MerkleDepth is merkle_tree_depth for the tree the store maintains.
	// Default 16 (see merkle.Config.Depth). Reopening with another depth
	// rebuilds the tree from the key-hash index once.
	MerkleDepth int
	// CacheSize is Pebble's block cache in bytes. Default 64 MiB.
	CacheSize int64
	// FS is the file system. Default the operating system's; tests use
	// vfs.NewCrashableMem to simulate power loss.
	FS vfs.FS
	// MinFreeBytes: writes are refused with ErrDiskFull while the file
	// system has fewer bytes available, and Open fails below it. Default
	// DefaultMinFreeBytes (see there why).
	MinFreeBytes int64
	// SketchSymbols is the length of the coded anti-entropy sketch kept
	// beside the Merkle tree (merkle.Tree.EnableSketch), persisted symbol by
	// symbol as writes change it. Default merkle.DefaultSketchSymbols;
	// negative keeps none. Reopening with another length rebuilds it from
	// the key-hash index once.
	SketchSymbols int
}

// Store is a replica.Store on Pebble. It is safe for concurrent use: Apply
// excludes other Applies and the tree; reads run concurrently with each
// other and see every Apply that returned.
type Store struct {
	dir  string
	db   *pebble.DB
	lock *pebble.Lock

	// treeMu orders tree readers (WithTree, Verify) against Apply, which
	// holds it for writing. Lock order: treeMu before mu.
	treeMu sync.RWMutex
	mu     sync.RWMutex // guards closed, vv, clock and tree
	iters  sync.WaitGroup
	closed bool
	vv     replica.VersionVector
	clock  replica.Timestamp
	tree   *merkle.Tree
	// sketchN is the length of the tree's coded sketch (0: none).
	sketchN int
	// applied numbers the batches: the last one applied.
	applied uint64
	wm      *watermark
	// health refuses writes on a full disk or after a fatal Pebble error.
	health *health
}

var (
	_ replica.Store           = (*Store)(nil)
	_ replica.KeyRangeScanner = (*Store)(nil)
)

// Open opens (creating if needed) the store in dir. It fails with
// ErrLocked if another process has dir open, with ErrCorrupt if Pebble or
// the store's own records fail their checksums while opening, and with
// ErrIncompatible for another format version.
func Open(dir string, opts Options) (*Store, error) {
	if opts.MerkleDepth == 0 {
		opts.MerkleDepth = merkle.DefaultConfig().Depth
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 64 << 20
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	tree, err := merkle.NewTree(opts.MerkleDepth)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	if opts.MinFreeBytes <= 0 {
		opts.MinFreeBytes = DefaultMinFreeBytes
	}
	h := &health{dir: dir, fs: opts.FS, minFree: uint64(opts.MinFreeBytes)}
	if err := opts.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebblestore: create %s: %w", dir, writeError(dir, err))
	}
	// The real cause of a store that cannot be written goes first, before
	// the lock file or Pebble meet it.
	// (These errors name the directory themselves.)
	if err := h.probe(); err != nil {
		return nil, err
	}
	if err := h.space(); err != nil {
		return nil, err
	}
	lock, err := pebble.LockDirectory(dir, opts.FS)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is in use by another process or store (%v)", ErrLocked, dir, err)
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	popts := &pebble.Options{
		FS:    opts.FS,
		Lock:  lock,
		Cache: cache,
		// Pebble's logger ends the process on a fatal error; this one
		// refuses writes from then on (health.go).
		Logger: pebbleLogger{h},
		EventListener: &pebble.EventListener{
			// Pebble's default ends the process; the read that hit the
			// damage returns an error wrapping ErrCorrupt instead.
			DataCorruption: func(info pebble.DataCorruptionInfo) { log.Errorf("%s", info) },
			// Pebble retries a failed flush or compaction at once; this
			// logs the run and backs off.
			BackgroundError: h.backgroundError,
		},
		FormatMajorVersion: pebble.FormatNewest,
	}
	// Bloom filters: Apply looks up every written key's previous digest,
	// and most lookups of new keys miss.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		_ = lock.Close()
		if pebble.IsCorruptionError(err) {
			return nil, fmt.Errorf("%w: open %s: %v", ErrCorrupt, dir, err)
		}
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	s := &Store{dir: dir, db: db, lock: lock, vv: replica.VersionVector{}, tree: tree, sketchN: max(opts.SketchSymbols, 0), health: h}
	if opts.SketchSymbols == 0 {
		s.sketchN = merkle.DefaultSketchSymbols
	}
	err = s.load()
	if err == nil {
		err = s.checkWatermark(opts.FS)
	}
	if err != nil {
		_ = db.Close()
		_ = lock.Close()
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// load reads the store metadata, version vector, clock and Merkle leaves,
// initialising a new store.
func (s *Store) load() error {
	fv, err := s.getRecord(storeKey(storeFormat))
	switch {
	case errors.Is(err, replica.ErrNotFound):
		// A new store: any other table holding data means lost metadata.
		if first, err := s.firstKey(); err != nil {
			return err
		} else if first != nil {
			return fmt.Errorf("%w: store format record missing but %s exists", ErrCorrupt, describeKey(first))
		}
		b := s.db.NewBatch()
		_ = b.Set(storeKey(storeFormat), seal(storeKey(storeFormat), binary.AppendUvarint(nil, formatVersion)), nil)
		_ = b.Set(storeKey(storeDepth), seal(storeKey(storeDepth), binary.AppendUvarint(nil, uint64(s.tree.Depth()))), nil)
		if err := b.Commit(pebble.Sync); err != nil {
			return err
		}
		return s.loadSketch()
	case err != nil:
		return err
	}
	if v, n := binary.Uvarint(fv); n <= 0 || v != formatVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d", ErrIncompatible, v, formatVersion)
	}
	if err := s.scan([]byte{tabVV}, []byte{tabVV + 1}, func(k, p []byte) error {
		seq, n := binary.Uvarint(p)
		if n != len(p) {
			return fmt.Errorf("%w: %s: bad sequence number", ErrCorrupt, describeKey(k))
		}
		s.vv[replica.PeerID(k[1:])] = seq
		return nil
	}); err != nil {
		return err
	}
	if p, err := s.getRecord(storeKey(storeApplied)); err == nil {
		v, n := binary.Uvarint(p)
		if n != len(p) {
			return fmt.Errorf("%w: %s: bad batch number", ErrCorrupt, describeKey(storeKey(storeApplied)))
		}
		s.applied = v
	} else if !errors.Is(err, replica.ErrNotFound) {
		return err
	}
	if p, err := s.getRecord(storeKey(storeClock)); err == nil {
		r := &record.Reader{B: p}
		s.clock = r.Time()
		if err := done(r, "%s", "clock"); err != nil {
			return err
		}
	} else if !errors.Is(err, replica.ErrNotFound) {
		return err
	}
	if err := s.loadTree(); err != nil {
		return err
	}
	return s.loadSketch()
}

// loadSketch loads the persisted sketch symbols, or builds the sketch from
// the key-hash index when the store has none of this length (a store
// written before sketches, or with another SketchSymbols).
func (s *Store) loadSketch() error {
	if s.sketchN == 0 {
		return nil
	}
	if err := s.tree.EnableSketch(s.sketchN); err != nil {
		return err
	}
	sk := s.tree.Sketch()
	p, err := s.getRecord(storeKey(storeSketch))
	if err == nil {
		n, k := binary.Uvarint(p)
		if k != len(p) {
			return fmt.Errorf("%w: %s: bad sketch length", ErrCorrupt, describeKey(storeKey(storeSketch)))
		}
		if int(n) == s.sketchN {
			syms := make([]riblt.Symbol, s.sketchN)
			if err := s.scan([]byte{tabSym}, []byte{tabSym + 1}, func(k, p []byte) error {
				if len(k) != 5 {
					return fmt.Errorf("%w: %s: bad key length", ErrCorrupt, describeKey(k))
				}
				i := int(binary.BigEndian.Uint32(k[1:]))
				if i >= len(syms) {
					return fmt.Errorf("%w: %s beyond %d symbols", ErrCorrupt, describeKey(k), len(syms))
				}
				sym, err := riblt.DecodeSymbol(p)
				if err != nil {
					return fmt.Errorf("%w: %s: %w", ErrCorrupt, describeKey(k), err)
				}
				syms[i] = sym
				return nil
			}); err != nil {
				return err
			}
			if syms[0].Count != int64(s.tree.Root().Count) {
				return fmt.Errorf("%w: sketch counts %d entries, the merkle tree %d", ErrCorrupt, syms[0].Count, s.tree.Root().Count)
			}
			return sk.Load(syms)
		}
	} else if !errors.Is(err, replica.ErrNotFound) {
		return err
	}
	if s.tree.Root().Count > 0 {
		log.Infof("building the coded sketch of %s (%d symbols)", s.dir, s.sketchN)
	}
	if err := s.MerkleSource().Scan(merkle.KeyHash{}, func(e merkle.Entry) bool {
		sk.Add(merkle.ItemOf(e.KeyHash, e.Digest))
		return true
	}); err != nil {
		return err
	}
	b := s.db.NewBatch()
	_ = b.DeleteRange([]byte{tabSym}, []byte{tabSym + 1}, nil)
	for i := range sk.Len() {
		if sym := sk.Symbol(i); !sym.IsZero() {
			_ = b.Set(symKey(i), seal(symKey(i), riblt.AppendBinary(nil, sym)), nil)
		}
	}
	_ = b.Set(storeKey(storeSketch), seal(storeKey(storeSketch), binary.AppendUvarint(nil, uint64(s.sketchN))), nil)
	return b.Commit(pebble.Sync)
}

// loadTree loads the persisted Merkle leaves, or rebuilds them from the
// key-hash index if the store was written with another depth.
func (s *Store) loadTree() error {
	dp, err := s.getRecord(storeKey(storeDepth))
	if err != nil {
		return err
	}
	depth, n := binary.Uvarint(dp)
	if n != len(dp) {
		return fmt.Errorf("%w: merkle depth record", ErrCorrupt)
	}
	if int(depth) != s.tree.Depth() {
		log.Infof("rebuilding merkle tree of %s from depth %d to %d", s.dir, depth, s.tree.Depth())
		t, err := merkle.Rebuild(s.tree.Depth(), s.MerkleSource())
		if err != nil {
			return err
		}
		s.tree = t
		b := s.db.NewBatch()
		_ = b.DeleteRange([]byte{tabLeaf}, []byte{tabLeaf + 1}, nil)
		for i := uint64(0); i < t.NumLeaves(); i++ {
			if l := t.Leaf(i); l.Count > 0 {
				_ = b.Set(leafKey(i), seal(leafKey(i), l.AppendBinary(nil)), nil)
			}
		}
		_ = b.Set(storeKey(storeDepth), seal(storeKey(storeDepth), binary.AppendUvarint(nil, uint64(t.Depth()))), nil)
		return b.Commit(pebble.Sync)
	}
	leaves := make([]merkle.Node, s.tree.NumLeaves())
	if err := s.scan([]byte{tabLeaf}, []byte{tabLeaf + 1}, func(k, p []byte) error {
		if len(k) != 5 {
			return fmt.Errorf("%w: %s: bad key length", ErrCorrupt, describeKey(k))
		}
		i := uint64(binary.BigEndian.Uint32(k[1:]))
		if i >= uint64(len(leaves)) {
			return fmt.Errorf("%w: %s beyond %d leaves", ErrCorrupt, describeKey(k), len(leaves))
		}
		nd, err := merkle.DecodeNode(p)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, describeKey(k), err)
		}
		leaves[i] = nd
		return nil
	}); err != nil {
		return err
	}
	return s.tree.LoadLeaves(leaves)
}

// checkWatermark opens the watermark and fails if it names a batch the
// database does not hold: acknowledged batches were lost.
func (s *Store) checkWatermark(fs vfs.FS) error {
	wm, acked, err := openWatermark(fs, s.dir)
	if err != nil {
		return err
	}
	if acked > s.applied {
		_ = wm.close()
		return fmt.Errorf("%w: the database ends at batch %d but batch %d was acknowledged (%s): "+
			"its write-ahead log is damaged and lost %d acknowledged batches "+
			"(if the store was restored from an older copy on purpose, delete %s)",
			ErrCorrupt, s.applied, acked, watermarkFile, acked-s.applied, fs.PathJoin(s.dir, watermarkFile))
	}
	s.wm = wm
	return nil
}

// firstKey returns the first key of the database, or nil if it is empty.
func (s *Store) firstKey() ([]byte, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, s.wrapErr("iterate", err)
	}
	defer it.Close()
	if it.First() {
		return append([]byte(nil), it.Key()...), nil
	}
	return nil, s.wrapErr("iterate", it.Error())
}

// wrapErr adds the store directory and classifies Pebble corruption.
func (s *Store) wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if pebble.IsCorruptionError(err) {
		return fmt.Errorf("%w: %s in %s: %v", ErrCorrupt, what, s.dir, err)
	}
	return fmt.Errorf("pebblestore %s: %s: %w", s.dir, what, err)
}

// getRecord reads and checks the record under key. A missing key gives an
// error wrapping replica.ErrNotFound.
func (s *Store) getRecord(key []byte) ([]byte, error) {
	p, ok, err := s.lookup(key)
	if err == nil && !ok {
		err = fmt.Errorf("%s: %w", describeKey(key), replica.ErrNotFound)
	}
	return p, err
}

// lookup is getRecord without an error for a missing key, for the hot
// paths where most keys are missing.
func (s *Store) lookup(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrapErr("read "+describeKey(key), err)
	}
	defer closer.Close()
	p, err := unseal(key, v)
	if err != nil {
		return nil, false, fmt.Errorf("%w (in %s)", err, s.dir)
	}
	return append([]byte(nil), p...), true, nil
}

// scan calls fn with each checked record in [lo, hi) until fn fails (or
// returns errStop, which ends the scan without error). The payload is only
// valid during the call.
func (s *Store) scan(lo, hi []byte, fn func(k, p []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return s.wrapErr("iterate", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return s.wrapErr("read "+describeKey(it.Key()), err)
		}
		p, err := unseal(it.Key(), v)
		if err != nil {
			return fmt.Errorf("%w (in %s)", err, s.dir)
		}
		if err := fn(it.Key(), p); err == errStop {
			return nil
		} else if err != nil {
			return err
		}
	}
	return s.wrapErr("iterate", it.Error())
}

// begin starts a read: it fails once the store is closed, and makes Close
// wait for the read to end. Call the returned function when done.
func (s *Store) begin() (func(), error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("pebblestore %s: %w", s.dir, replica.ErrClosed)
	}
	s.iters.Add(1)
	return s.iters.Done, nil
}

// Close implements replica.Store. It waits for running reads and scans (so it
// must not be called from a scan callback; Apply may be) and releases the
// directory lock. Every applied batch is already synced, so Close has
// nothing to flush for durability.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.iters.Wait()
	err := s.wm.close()
	if derr := s.db.Close(); err == nil {
		err = derr
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("pebblestore: close %s: %w", s.dir, err)
	}
	return nil
}

// MerkleTree returns the anti-entropy tree over the store's key/value
// state. Apply updates it; the caller must not read it while an Apply runs
// (an engine that applies its batches and runs sessions on one goroutine).
// Otherwise use WithTree.
func (s *Store) MerkleTree() *merkle.Tree { return s.tree }

// WithTree calls fn with the tree and its source while no Apply runs: a
// merkle session step (Initiator.Start/Step, Responder.Handle) run inside
// fn sees one consistent state even when other goroutines apply batches.
// fn must not call Apply or Close.
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

// MerkleSource returns the store's entries in KeyHash order, for the
// nodes below the tree's leaves and for Result.Entries.
func (s *Store) MerkleSource() merkle.Source { return hashSource{s} }

// hashSource is a merkle.Source over the key-hash index.
type hashSource struct{ s *Store }

// Scan implements merkle.Source.
func (h hashSource) Scan(from merkle.KeyHash, fn func(merkle.Entry) bool) error {
	done, err := h.s.begin()
	if err != nil {
		return err
	}
	defer done()
	err = h.s.scan(hashKey(from), []byte{tabHash + 1}, func(k, p []byte) error {
		if len(k) != 33 {
			return fmt.Errorf("%w: %s: bad key length", ErrCorrupt, describeKey(k))
		}
		d, _, err := decodeHashRecord(k[1:], p)
		if err != nil {
			return err
		}
		var e merkle.Entry
		copy(e.KeyHash[:], k[1:])
		e.Digest = d
		if !fn(e) {
			return errStop
		}
		return nil
	})
	return err
}
