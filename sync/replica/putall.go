package replica

// putAll writes each pair as Put would, in order, and returns each pair's
// event or error. With stop, the first refused pair ends it: the pairs
// after it are neither written nor given an error.
//
// It gives the same events a loop of Puts would (signatures are
// deterministic), but signs them in parallel: a run of pairs with distinct
// keys is prepared first (sequence numbers, causal contexts and clock
// readings in order), signed over up to GOMAXPROCS goroutines, then
// applied in order. Signing is the largest cost of a local write, and it
// runs while the Node's lock is held, so a commit group of many writes
// holds the lock for a fraction of the time. A key written twice in the
// batch starts a new run, since the second write's context depends on the
// first.
func (e *Engine) putAll(kvs []KV, stop bool) ([]*Event, []error) {
	evs, errs := make([]*Event, len(kvs)), make([]error, len(kvs))
	for start := 0; start < len(kvs); {
		end := distinctRun(kvs, start)
		if failed := e.putRun(kvs[start:end], evs[start:end], errs[start:end], stop); failed && stop {
			break
		}
		start = end
	}
	return evs, errs
}

// distinctRun returns the end of the run of pairs from start whose keys
// are all different.
func distinctRun(kvs []KV, start int) int {
	seen := make(map[string]struct{}, len(kvs)-start)
	for i := start; i < len(kvs); i++ {
		if _, dup := seen[kvs[i].Key]; dup {
			return i
		}
		seen[kvs[i].Key] = struct{}{}
	}
	return len(kvs)
}

// putRun writes a run of pairs with distinct keys into evs and errs and
// reports whether any was refused. With stop it ends at the first refusal.
func (e *Engine) putRun(kvs []KV, evs []*Event, errs []error, stop bool) bool {
	if len(kvs) == 1 {
		evs[0], errs[0] = e.write(OpPut, kvs[0].Key, kvs[0].Value)
		return errs[0] != nil
	}
	failed := false
	var idx []int // pairs prepared, in order
	for i, kv := range kvs {
		ev, err := e.newLocal(OpPut, kv.Key, kv.Value, uint64(len(idx)))
		if err != nil {
			errs[i], failed = err, true
			if stop {
				break
			}
			continue
		}
		evs[i] = ev
		idx = append(idx, i)
	}
	signErrs := signAll(e.cfg.Signer, evs, idx)
	for n, i := range idx {
		err := signErrs[n]
		if err == nil {
			err = e.applyLocal(evs[i])
		}
		if err == nil {
			continue
		}
		// The events prepared after this one counted on its sequence
		// number: write them afresh, one at a time.
		evs[i], errs[i], failed = nil, err, true
		for _, j := range idx[n+1:] {
			if stop {
				evs[j] = nil
				continue
			}
			evs[j], errs[j] = e.write(OpPut, kvs[j].Key, kvs[j].Value)
		}
		break
	}
	return failed
}

// signAll signs evs[i] for each i in idx, spread over up to GOMAXPROCS
// goroutines, and returns each one's error (by position in idx).
func signAll(s Signer, evs []*Event, idx []int) []error {
	errs := make([]error, len(idx))
	forEach(len(idx), func(n int) { errs[n] = evs[idx[n]].Sign(s) })
	return errs
}
