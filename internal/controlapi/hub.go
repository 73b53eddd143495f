package controlapi

import (
	"sync"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// hubBuffer is the node subscription's buffer and each listener's.
const hubBuffer = 4096

// hub holds the server's one subscription to the node and fans its changes
// out to listeners (watch streams, sync requests) that come and go: the
// node's subscriptions cannot be cancelled, so each request must not take
// its own. A listener that falls behind loses changes (a watch recovers
// them from the store).
type hub struct {
	node Node

	mu        sync.Mutex
	started   bool
	closed    bool
	listeners map[*listener]struct{}
}

// listener receives changes from the hub.
type listener struct {
	C chan replica.Change
}

// listen registers a listener, subscribing to the node on first use. The
// listener's channel is closed when the node stops.
func (h *hub) listen() (*listener, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		ch, err := h.node.Subscribe(hubBuffer)
		if err != nil {
			return nil, err
		}
		h.started = true
		h.listeners = map[*listener]struct{}{}
		go h.run(ch)
	}
	l := &listener{C: make(chan replica.Change, hubBuffer)}
	if h.closed {
		close(l.C)
		return l, nil
	}
	h.listeners[l] = struct{}{}
	return l, nil
}

// unlisten removes l.
func (h *hub) unlisten(l *listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.listeners, l)
}

func (h *hub) run(ch <-chan replica.Change) {
	for c := range ch {
		h.mu.Lock()
		for l := range h.listeners {
			select {
			case l.C <- c:
			default: // the listener is behind; it loses c
			}
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for l := range h.listeners {
		close(l.C)
	}
	h.listeners = nil
}
