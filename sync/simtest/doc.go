// Package simtest runs many sync engines in one process on a virtual clock,
// over a simulated network with latency, loss, partitions and crash/restart,
// reproducible from a seed. The property tests of the engine and the
// bench-sim command (testnet/sim) are built on it.
//
// A Sim is single-threaded: it delivers messages in virtual-time order, gives
// every live engine a Tick every TickInterval, and acts on each engine's
// Ready exactly as a real node must: apply the batch to the store, then send
// the messages, then deliver the changes. A crashed node keeps its MemStore
// and restarts from it.
package simtest
