package pebblestore

import "runtime"

// runtimeYield lets other goroutines run while a test polls for progress.
func runtimeYield() { runtime.Gosched() }
