package controlapi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/p2pnode"
)

// OrderNode is what GET /v1/order needs from a node, beyond Node.
// *p2pnode.Node implements it.
type OrderNode interface {
	Order(from uint64, limit int) ([]p2pnode.OrderedEvent, error)
	OrderStatus() (p2pnode.OrderStatus, error)
	SubscribeOrdered(ctx context.Context, from uint64) (<-chan p2pnode.OrderedEvent, error)
}

// Limits of GET /v1/order.
const (
	// orderDefaultLimit and orderMaxLimit bound the events per response.
	orderDefaultLimit = 100
	orderMaxLimit     = 1000
	// orderMaxWait bounds a long poll, below common proxy and client
	// timeouts.
	orderMaxWait = 60 * time.Second
)

// OrderedChange is one position of the global order with its event.
type OrderedChange struct {
	// Index is the position in the global order, the same on every node.
	Index uint64 `json:"index"`
	// Event is the event ID (hex sha256 of its canonical encoding).
	Event string `json:"event"`
	// Compacted is true when this node no longer holds the event's payload
	// (garbage-collected, or compacted before it was ordered); Op, Key and
	// Value are then empty.
	Compacted bool `json:"compacted,omitempty"`
	Change
}

// OrderGroup is a node's view of the ordering group.
type OrderGroup struct {
	Leader   string   `json:"leader"`
	Role     string   `json:"role"`
	Term     uint64   `json:"term"`
	Commit   uint64   `json:"commit"`
	Applied  uint64   `json:"applied"`
	Ordered  uint64   `json:"ordered"`
	Voters   []string `json:"voters"`
	Learners []string `json:"learners"`
}

// OrderResult answers GET /v1/order?from=N.
type OrderResult struct {
	// Events are consecutive positions from From; fewer than asked when the
	// order ends there or the next event's payload has not arrived yet.
	Events []OrderedChange `json:"events"`
	// Next is the index to ask for next (From + len(Events)).
	Next  uint64     `json:"next"`
	Group OrderGroup `json:"group"`
}

// order serves GET /v1/order?from=N&limit=L&wait=D: the global order from
// index N (default 1), at most L events (default 100, at most 1000); with
// wait, a request that would return no event waits up to D (at most 60s)
// for one.
func (s *Server) order(w http.ResponseWriter, r *http.Request) {
	on, ok := s.node.(OrderNode)
	if !ok {
		writeError(w, http.StatusNotImplemented, "order: this node has no ordering")
		return
	}
	q := r.URL.Query()
	from, limit, wait := uint64(1), orderDefaultLimit, time.Duration(0)
	var err error
	if v := q.Get("from"); v != "" {
		if from, err = strconv.ParseUint(v, 10, 64); err != nil || from == 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("from: invalid value %q: want an index of 1 or more", v))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > orderMaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: invalid value %q: want 1 to %d", v, orderMaxLimit))
			return
		}
	}
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > orderMaxWait {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("wait: invalid value %q: want a duration up to %s", v, orderMaxWait))
			return
		}
	}
	evs, err := on.Order(from, limit)
	if err == nil && len(evs) == 0 && wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		var ch <-chan p2pnode.OrderedEvent
		if ch, err = on.SubscribeOrdered(ctx, from); err == nil {
			if _, ok := <-ch; ok {
				evs, err = on.Order(from, limit)
			}
		}
		cancel()
	}
	if errors.Is(err, p2pnode.ErrOrderingOff) {
		writeError(w, http.StatusConflict, "order: "+err.Error())
		return
	}
	if err != nil {
		writeNodeError(w, "order", err)
		return
	}
	st, err := on.OrderStatus()
	if err != nil {
		writeNodeError(w, "order", err)
		return
	}
	res := OrderResult{Events: make([]OrderedChange, 0, len(evs)), Next: from + uint64(len(evs)), Group: groupOf(st)}
	for _, e := range evs {
		oc := OrderedChange{Index: e.Index, Event: hex.EncodeToString(e.ID[:])}
		if e.Event != nil {
			oc.Change = changeOf(e.Event, false)
		} else {
			oc.Compacted = true
			oc.Origin, oc.Seq = peer.ID(e.Origin).String(), e.Seq
		}
		res.Events = append(res.Events, oc)
	}
	writeJSON(w, http.StatusOK, res)
}

func groupOf(st p2pnode.OrderStatus) OrderGroup {
	g := OrderGroup{Role: st.Role, Term: st.Term, Commit: st.Commit, Applied: st.Applied, Ordered: st.Ordered,
		Voters: []string{}, Learners: []string{}}
	if st.Leader != "" {
		g.Leader = st.Leader.String()
	}
	for _, v := range st.Voters {
		g.Voters = append(g.Voters, v.String())
	}
	for _, v := range st.Learners {
		g.Learners = append(g.Learners, v.String())
	}
	return g
}

// Order reads the global order from index from (see GET /v1/order); with
// wait > 0 the server waits up to wait for at least one event.
func (c *Client) Order(ctx context.Context, from uint64, limit int, wait time.Duration) (OrderResult, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var res OrderResult
	err := c.do(ctx, http.MethodGet, "/v1/order", q, nil, &res)
	return res, err
}
