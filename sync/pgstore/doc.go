// Package pgstore is a replica.Store on PostgreSQL, through
// github.com/jackc/pgx/v5: the event log, the key/value state, the version
// vector, the HLC high-water mark, metadata and the leaves of the
// anti-entropy Merkle tree live in tables of one schema (docs/postgres.md
// describes them for operators who query them with SQL).
//
// Apply sends every write of a replica.Batch, the Merkle leaves it changes
// included, as one pipelined pgx batch, which PostgreSQL runs as one
// implicit transaction: when Apply returns nil the transaction committed
// (durable under the server's synchronous_commit, on by default), and on
// error none of it is visible. The Merkle tree lives in memory and is
// loaded from the leaf table by Open; its coded sketch is saved by Close
// and rebuilt from the keys table after a crash.
//
// One store owns its schema: Open takes a session-level advisory lock named
// after the schema on a connection of its own and holds it until Close, so
// a second node (or process) configured with the same schema fails with
// ErrLocked instead of interleaving writes. Several nodes share one
// database by using a schema each.
package pgstore
