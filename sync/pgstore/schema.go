package pgstore

import (
	"regexp"
	"strings"
)

// formatVersion is written into the store row at creation; Open refuses
// other versions.
const formatVersion = 1

// schemaName is what Options.Schema may be: a lower-case SQL identifier
// that needs no quoting.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// schemaDDL creates the tables; %[1]s is the schema. docs/postgres.md
// documents every column. Sequence numbers are numeric(20,0) because an
// origin may use all of uint64; keys, origins and names are bytea because
// they are arbitrary bytes, compared bytewise like the other stores.
const schemaDDL = `
CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[1]s.store (
	id            boolean PRIMARY KEY DEFAULT true CHECK (id),
	format        integer NOT NULL,
	merkle_depth  integer NOT NULL,
	clock_wall    bigint  NOT NULL DEFAULT 0,
	clock_logical bigint  NOT NULL DEFAULT 0,
	batches       bigint  NOT NULL DEFAULT 0,
	sketch_symbols integer NOT NULL DEFAULT 0,
	sketch_batches bigint  NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS %[1]s.events (
	id        bytea PRIMARY KEY,
	origin    bytea NOT NULL,
	seq       numeric(20,0) NOT NULL,
	wall      bigint NOT NULL,
	logical   bigint NOT NULL,
	op        smallint NOT NULL,
	key       bytea NOT NULL,
	value     bytea NOT NULL,
	context   bytea NOT NULL,
	signature bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS %[1]s.event_seqs (
	origin bytea NOT NULL,
	seq    numeric(20,0) NOT NULL,
	id     bytea NOT NULL,
	PRIMARY KEY (origin, seq)
);
CREATE TABLE IF NOT EXISTS %[1]s.keys (
	key      bytea PRIMARY KEY,
	key_hash bytea NOT NULL UNIQUE,
	digest   bytea NOT NULL,
	state    bytea NOT NULL,
	value    bytea,
	deleted  boolean NOT NULL,
	siblings integer NOT NULL,
	wall     bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS %[1]s.merkle_leaves (
	idx  integer PRIMARY KEY,
	node bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS %[1]s.merkle_sketch (
	idx    integer PRIMARY KEY,
	symbol bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS %[1]s.version_vector (
	origin bytea PRIMARY KEY,
	seq    numeric(20,0) NOT NULL
);
CREATE TABLE IF NOT EXISTS %[1]s.meta (
	name  bytea PRIMARY KEY,
	value bytea NOT NULL
);
`

// queries holds the store's SQL with the schema filled in.
type queries struct {
	event, hasEvent, eventAt, scanEvents                      string
	keyState, scanKeys, scanKeysTo, scanKeyHashes, scanSource string
	digests                                                   string
	loadStore, loadVV, loadLeaves, meta                       string
	delEventSeqs, delEvents, putEvents, putEventSeqs          string
	delKeys, putKeys, putLeaves, putVV, putStore, putMeta     string
	delLeaves, delMeta                                        string
	loadSketch, putSketch, delSketch, setSketchLen            string
}

// eventCols are the events columns in the order scanEvent reads them.
const eventCols = `e.id, e.origin, e.seq, e.wall, e.logical, e.op, e.key, e.value, e.context, e.signature`

// Scans read a page of rows per query and hold no connection while their
// callback runs, so a callback may use the store. The first page is small
// (most scans stop early: a Merkle leaf, one snapshot chunk), and each
// next one twice as large, up to pageSize rows of key states or events or
// sourcePage rows of (key_hash, digest).
const (
	firstPage  = 16
	pageSize   = 512
	sourcePage = 4096
)

// pager sizes the pages of one scan.
type pager struct{ n, max int }

func newPager(max int) *pager { return &pager{n: firstPage, max: max} }

// next returns the size of the next page.
func (p *pager) next() int {
	n := p.n
	p.n = min(2*p.n, p.max)
	return n
}

func newQueries(schema string) queries {
	r := strings.NewReplacer("S.", schema+".", "COLS", eventCols)
	q := func(s string) string { return r.Replace(s) }
	return queries{
		event:    q(`SELECT COLS FROM S.events e WHERE e.id = $1`),
		hasEvent: q(`SELECT EXISTS (SELECT 1 FROM S.events WHERE id = $1)`),
		eventAt:  q(`SELECT COLS FROM S.event_seqs s JOIN S.events e ON e.id = s.id WHERE s.origin = $1 AND s.seq = $2`),
		scanEvents: q(`SELECT COLS FROM S.event_seqs s JOIN S.events e ON e.id = s.id
			WHERE s.origin = $1 AND s.seq >= $2 AND s.seq <= $3 ORDER BY s.seq LIMIT $4`),
		keyState:      q(`SELECT key, state FROM S.keys WHERE key = $1`),
		scanKeys:      q(`SELECT key, state FROM S.keys WHERE key >= $1 ORDER BY key LIMIT $2`),
		scanKeysTo:    q(`SELECT key, state FROM S.keys WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3`),
		scanKeyHashes: q(`SELECT key, state FROM S.keys WHERE key_hash >= $1 ORDER BY key_hash LIMIT $2`),
		scanSource:    q(`SELECT key_hash, digest FROM S.keys WHERE key_hash >= $1 ORDER BY key_hash LIMIT $2`),
		digests:       q(`SELECT key_hash, digest FROM S.keys WHERE key_hash = ANY($1)`),
		loadStore:     q(`SELECT format, merkle_depth, clock_wall, clock_logical, batches, sketch_symbols, sketch_batches FROM S.store`),
		loadSketch:    q(`SELECT idx, symbol FROM S.merkle_sketch`),
		putSketch: q(`INSERT INTO S.merkle_sketch (idx, symbol) SELECT * FROM unnest($1::integer[], $2::bytea[])
			ON CONFLICT (idx) DO UPDATE SET symbol = excluded.symbol`),
		delSketch:    q(`DELETE FROM S.merkle_sketch`),
		setSketchLen: q(`UPDATE S.store SET sketch_symbols = $1, sketch_batches = $2`),
		loadVV:       q(`SELECT origin, seq FROM S.version_vector`),
		loadLeaves:   q(`SELECT idx, node FROM S.merkle_leaves`),
		meta:         q(`SELECT value FROM S.meta WHERE name = $1`),
		delEventSeqs: q(`DELETE FROM S.event_seqs s USING S.events e
			WHERE e.id = ANY($1) AND s.origin = e.origin AND s.seq = e.seq`),
		delEvents: q(`DELETE FROM S.events WHERE id = ANY($1)`),
		putEvents: q(`INSERT INTO S.events (id, origin, seq, wall, logical, op, key, value, context, signature)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::numeric[], $4::bigint[], $5::bigint[], $6::smallint[],
				$7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[])
			ON CONFLICT (id) DO NOTHING`),
		putEventSeqs: q(`INSERT INTO S.event_seqs (origin, seq, id)
			SELECT * FROM unnest($1::bytea[], $2::numeric[], $3::bytea[])
			ON CONFLICT (origin, seq) DO UPDATE SET id = excluded.id`),
		delKeys: q(`DELETE FROM S.keys WHERE key = ANY($1)`),
		putKeys: q(`INSERT INTO S.keys (key, key_hash, digest, state, value, deleted, siblings, wall)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::boolean[],
				$7::integer[], $8::bigint[])
			ON CONFLICT (key) DO UPDATE SET key_hash = excluded.key_hash, digest = excluded.digest,
				state = excluded.state, value = excluded.value, deleted = excluded.deleted,
				siblings = excluded.siblings, wall = excluded.wall`),
		putLeaves: q(`INSERT INTO S.merkle_leaves (idx, node) SELECT * FROM unnest($1::integer[], $2::bytea[])
			ON CONFLICT (idx) DO UPDATE SET node = excluded.node`),
		delLeaves: q(`DELETE FROM S.merkle_leaves`),
		putVV: q(`INSERT INTO S.version_vector (origin, seq) SELECT * FROM unnest($1::bytea[], $2::numeric[])
			ON CONFLICT (origin) DO UPDATE SET seq = GREATEST(S.version_vector.seq, excluded.seq)`),
		putStore: q(`UPDATE S.store SET clock_wall = $1, clock_logical = $2, batches = batches + 1`),
		putMeta: q(`INSERT INTO S.meta (name, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
		delMeta: q(`DELETE FROM S.meta WHERE name = ANY($1)`),
	}
}
