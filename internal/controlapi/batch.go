package controlapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// MaxBatchPuts bounds the puts of one POST /v1/kv: enough to amortise the
// request (1,000 small puts are one round trip and one fsync instead of
// 1,000), small enough that one batch holds the node's write path for a
// few milliseconds, not seconds. The body is bounded as any request's
// (about 1.4 MB), so large values fit fewer to a batch.
const MaxBatchPuts = 1000

// PutManyRequest is the body of POST /v1/kv: puts written in order, each
// its own signed event, acknowledged together once all are durable.
type PutManyRequest struct {
	Puts []PutItem `json:"puts"`
}

// PutItem is one put of a PutManyRequest.
type PutItem struct {
	Key string `json:"key"`
	// Value is the value, in Encoding (utf8 when empty).
	Value    string `json:"value"`
	Encoding string `json:"encoding,omitempty"`
}

// PutManyResult answers POST /v1/kv: one WriteResult per put, in order.
type PutManyResult struct {
	Results []WriteResult `json:"results"`
}

// putMany serves POST /v1/kv. Every put is checked before any is written;
// a put the node then refuses ends the batch, and the error names how many
// before it were written (they are durable).
func (s *Server) putMany(w http.ResponseWriter, r *http.Request) {
	var req PutManyRequest
	if !readJSON(w, r, &req) {
		return
	}
	switch {
	case len(req.Puts) == 0:
		writeError(w, http.StatusBadRequest, "puts: empty (send {\"puts\": [{\"key\": ..., \"value\": ...}, ...]})")
		return
	case len(req.Puts) > MaxBatchPuts:
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("puts: %d, over the limit of %d per request", len(req.Puts), MaxBatchPuts))
		return
	}
	kvs := make([]replica.KV, len(req.Puts))
	for i, p := range req.Puts {
		if !checkKey(w, fmt.Sprintf("puts[%d].key", i), p.Key) {
			return
		}
		field := fmt.Sprintf("puts[%d].value", i)
		value, err := decode(p.Value, p.Encoding, field)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if len(value) == 0 {
			writeError(w, http.StatusBadRequest, field+": empty (to remove a key, DELETE it)")
			return
		}
		if !checkValue(w, field, value) {
			return
		}
		kvs[i] = replica.KV{Key: p.Key, Value: value}
	}
	evs, err := s.node.PutMany(kvs)
	if err != nil {
		writeNodeError(w, fmt.Sprintf("batch of %d puts (%d written and durable before the error)", len(kvs), len(evs)), err)
		return
	}
	res := PutManyResult{Results: make([]WriteResult, len(evs))}
	for i, ev := range evs {
		res.Results[i] = writeResult(ev)
	}
	writeJSON(w, http.StatusOK, res)
}

// PutMany writes every item in order, each as its own event, in one
// request (POST /v1/kv) that returns once all are durable on the node.
// Values are sent as UTF-8 when valid, base64 otherwise.
func (c *Client) PutMany(ctx context.Context, items []replica.KV) ([]WriteResult, error) {
	req := PutManyRequest{Puts: make([]PutItem, len(items))}
	for i, it := range items {
		v, enc := encode(it.Value)
		req.Puts[i] = PutItem{Key: it.Key, Value: v, Encoding: enc}
	}
	var res PutManyResult
	if err := c.do(ctx, http.MethodPost, "/v1/kv", nil, req, &res); err != nil {
		return nil, err
	}
	return res.Results, nil
}
