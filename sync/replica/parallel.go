package replica

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// minPerWorker is the least work (signatures or checks, ~20-50 µs each)
// worth another goroutine: below it, waking an idle processor (and its
// spinning for work afterwards) costs more CPU than it saves time.
const minPerWorker = 4

// parallelism is how many goroutines share n signatures or checks: one per
// minPerWorker of them, at most GOMAXPROCS.
func parallelism(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/minPerWorker))
}

// forEach calls fn(i) for every i in [0, n), on the calling goroutine and
// up to parallelism(n)-1 helpers, each taking the next i as it goes. It
// returns once every call returned; it does not wait for a helper that
// never got to run (on a busy machine its thread may not be scheduled for
// milliseconds): the caller takes its share instead.
func forEach(n int, fn func(i int)) {
	var next atomic.Int64
	var done sync.WaitGroup
	done.Add(n)
	work := func() {
		for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
			fn(i)
			done.Done()
		}
	}
	for range parallelism(n) - 1 {
		go work()
	}
	work()
	done.Wait()
}
