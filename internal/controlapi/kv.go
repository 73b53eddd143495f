package controlapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// defaultListLimit and maxListLimit bound GET /v1/kv.
const (
	defaultListLimit = 1000
	maxListLimit     = 100000
)

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !checkKey(w, "key", key) {
		return
	}
	ks, err := s.node.Versions(key)
	if err != nil {
		writeNodeError(w, fmt.Sprintf("key %q", key), err)
		return
	}
	if ks.Deleted() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("key %q: not found (deleted)", key))
		return
	}
	writeJSON(w, http.StatusOK, entryOf(ks))
}

func (s *Server) putKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !checkKey(w, "key", key) {
		return
	}
	var req PutRequest
	if !readJSON(w, r, &req) {
		return
	}
	value, err := decode(req.Value, req.Encoding, "value")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(value) == 0 {
		writeError(w, http.StatusBadRequest, "value: empty (to remove a key, DELETE it)")
		return
	}
	if !checkValue(w, "value", value) {
		return
	}
	ev, err := s.node.Put(key, value)
	if err != nil {
		writeNodeError(w, fmt.Sprintf("put %q", key), err)
		return
	}
	writeJSON(w, http.StatusOK, writeResult(ev))
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !checkKey(w, "key", key) {
		return
	}
	// Deleting what is not there would only add a tombstone everywhere.
	if _, err := s.node.Get(key); err != nil {
		writeNodeError(w, fmt.Sprintf("key %q", key), err)
		return
	}
	ev, err := s.node.Delete(key)
	if err != nil {
		writeNodeError(w, fmt.Sprintf("delete %q", key), err)
		return
	}
	writeJSON(w, http.StatusOK, writeResult(ev))
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if len(prefix) > replica.MaxKeySize {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("prefix: %d bytes, over the key limit of %d", len(prefix), replica.MaxKeySize))
		return
	}
	if !utf8.ValidString(prefix) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("prefix: %q is not valid UTF-8", prefix))
		return
	}
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: invalid value %q: want 1..%d", v, maxListLimit))
			return
		}
		limit = n
	}
	states, err := s.node.List(prefix)
	if err != nil {
		writeNodeError(w, "list", err)
		return
	}
	res := ListResult{Prefix: prefix, Keys: []Entry{}}
	for _, ks := range states {
		if ks.Deleted() {
			continue
		}
		if len(res.Keys) == limit {
			res.Truncated = true
			break
		}
		res.Keys = append(res.Keys, entryOf(ks))
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request) {
	var req PublishRequest
	if !readJSON(w, r, &req) {
		return
	}
	if !checkKey(w, "topic", req.Topic) {
		return
	}
	payload, err := decode(req.Payload, req.Encoding, "payload")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !checkValue(w, "payload", payload) {
		return
	}
	ev, err := s.node.Publish(req.Topic, payload)
	if err != nil {
		writeNodeError(w, fmt.Sprintf("publish %q", req.Topic), err)
		return
	}
	writeJSON(w, http.StatusOK, writeResult(ev))
}

// entryOf converts a key state with a live winner.
func entryOf(ks *replica.KeyState) Entry {
	win, _ := ks.Winner()
	val, enc := encode(win.Value)
	e := Entry{Key: ks.Key, Value: val, Encoding: enc, Origin: peer.ID(win.Origin).String(), Seq: win.Seq,
		Time: tsTime(win.Time), Conflict: ks.Conflict()}
	for _, v := range ks.Versions {
		val, enc := encode(v.Value)
		e.Versions = append(e.Versions, Version{Origin: peer.ID(v.Origin).String(), Seq: v.Seq, Time: tsTime(v.Time),
			Deleted: v.Op == replica.OpDelete, Value: val, Encoding: enc})
	}
	return e
}

func writeResult(ev *replica.Event) WriteResult {
	op := ev.Op.String()
	if ev.Op == replica.OpApp {
		op = "publish"
	}
	return WriteResult{Op: op, Key: ev.Key, Origin: peer.ID(ev.Origin).String(), Seq: ev.Seq,
		Time: tsTime(ev.Time), Event: ev.ID().String()}
}

// tsTime is the wall-clock part of an HLC timestamp, in UTC.
func tsTime(t replica.Timestamp) time.Time { return time.Unix(0, t.Wall).UTC() }
