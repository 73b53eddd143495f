// Package storetest is the conformance suite every replica.Store
// implementation must pass: replica.MemStore, pebblestore.Store and
// pgstore.Store run the same Run against their own Harness, so a behaviour
// the engine relies on is checked once for all of them.
//
// It also holds the helpers those stores' own tests share: Writer makes
// events and key states the way the engine puts them in batches, BatchSeq
// makes a reproducible sequence of batches, CheckPrefix checks what a
// crashed store kept, and KillTest runs a writer in a child process, kills
// it with SIGKILL and checks that no acknowledged batch was lost.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			Open:   func(t *testing.T) replica.Store { ... a new, empty store ... },
//			Reopen: func(t *testing.T, s replica.Store) replica.Store { ... close s, open its data again ... },
//		})
//	}
package storetest
