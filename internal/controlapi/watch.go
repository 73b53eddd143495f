package controlapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// replayChunk is how many events a watch reads from the store at a time, so
// a slow client never holds a store read open.
const replayChunk = 256

// keepaliveBeats is how many idle heartbeats pass before a comment line.
const keepaliveBeats = 15

// watch streams changes as server-sent events. See docs/api.md: the cursor
// is the version vector of events the client has seen; the stream replays
// from the store every event past it, then streams live changes, filling
// from the store any gap a lagging subscription left.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	cursor := q.Get("cursor")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		cursor = id // a reconnecting EventSource resumes from its last id
	}
	var sent replica.VersionVector
	if cursor != "" || q.Has("cursor") {
		vv, err := DecodeCursor(cursor)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		sent = vv
	}
	l, err := s.hub.listen()
	if err != nil {
		writeNodeError(w, "watch", err)
		return
	}
	defer s.hub.unlisten(l)
	if sent == nil {
		// From now: everything the store already holds counts as seen.
		if sent, err = s.node.VersionVector(); err != nil {
			writeNodeError(w, "watch", err)
			return
		}
	}
	ws := &watchStream{w: w, rc: http.NewResponseController(w), log: s.node, prefix: prefix, sent: sent}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := ws.ready(); err != nil {
		return
	}
	if err := ws.catchUp(); err != nil {
		log.Debugw("watch ended", "error", err)
		return
	}
	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	idle := 0
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case c, ok := <-l.C:
			if !ok {
				return // the node stopped
			}
			if c.Kind == replica.ChangeCreated || c.Kind == replica.ChangeReceived {
				err = ws.live(c.Event)
				idle = 0
			}
		case <-tick.C:
			// Catch up with the store every beat: a change the
			// subscription lost shows as the store's vector ahead of the
			// cursor.
			err = ws.catchUp()
			if idle++; idle >= keepaliveBeats && err == nil {
				idle = 0
				err = ws.comment("keepalive")
			}
		}
		if err != nil {
			log.Debugw("watch ended", "error", err)
			return
		}
	}
}

// watchStream is the state of one watch: what the client has been sent.
type watchStream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	log    Node
	prefix string
	sent   replica.VersionVector
}

// ready sends the opening event carrying the starting cursor.
func (ws *watchStream) ready() error {
	c := EncodeCursor(ws.sent)
	data, _ := json.Marshal(map[string]string{"cursor": c})
	return ws.write("ready", c, data)
}

// live handles an event from the subscription: it skips what was already
// sent and fills a gap before it from the store.
func (ws *watchStream) live(ev *replica.Event) error {
	if ev == nil || ev.Seq <= ws.sent[ev.Origin] {
		return nil
	}
	if ev.Seq > ws.sent[ev.Origin]+1 {
		if err := ws.replay(ev.Origin, ev.Seq-1); err != nil {
			return err
		}
	}
	return ws.emit(ev, false)
}

// catchUp sends from the store every event past the cursor.
func (ws *watchStream) catchUp() error {
	vv, err := ws.log.VersionVector()
	if err != nil {
		return err
	}
	for _, o := range vv.Origins() {
		if vv[o] > ws.sent[o] {
			if err := ws.replay(o, vv[o]); err != nil {
				return err
			}
		}
	}
	return nil
}

// replay sends origin's events from the store up to seq to, in chunks.
func (ws *watchStream) replay(origin replica.PeerID, to uint64) error {
	for ws.sent[origin] < to {
		from := ws.sent[origin] + 1
		var chunk []*replica.Event
		err := ws.log.ScanEvents(origin, from, to, func(e *replica.Event) bool {
			chunk = append(chunk, e)
			return len(chunk) < replayChunk
		})
		if err != nil {
			return fmt.Errorf("replay %s from %d: %w", peer.ID(origin), from, err)
		}
		if len(chunk) == 0 {
			// Superseded events may have been collected; nothing is left
			// to send below to.
			ws.sent[origin] = to
			return nil
		}
		for _, e := range chunk {
			if err := ws.emit(e, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// emit sends one event if it matches the prefix, and advances the cursor
// either way.
func (ws *watchStream) emit(ev *replica.Event, replayed bool) error {
	ws.sent.Raise(ev.Origin, ev.Seq)
	if !strings.HasPrefix(ev.Key, ws.prefix) {
		return nil
	}
	c := changeOf(ev, replayed)
	c.Cursor = EncodeCursor(ws.sent)
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return ws.write("change", c.Cursor, data)
}

func (ws *watchStream) write(event, id string, data []byte) error {
	if _, err := fmt.Fprintf(ws.w, "id: %s\nevent: %s\ndata: %s\n\n", id, event, data); err != nil {
		return err
	}
	return ws.rc.Flush()
}

func (ws *watchStream) comment(text string) error {
	if _, err := fmt.Fprintf(ws.w, ": %s\n\n", text); err != nil {
		return err
	}
	return ws.rc.Flush()
}

// changeOf converts an event for the stream.
func changeOf(ev *replica.Event, replayed bool) Change {
	op := ev.Op.String()
	if ev.Op == replica.OpApp {
		op = "publish"
	}
	val, enc := encode(ev.Value)
	return Change{Op: op, Key: ev.Key, Value: val, Encoding: enc, Origin: peer.ID(ev.Origin).String(),
		Seq: ev.Seq, Time: tsTime(ev.Time), Replayed: replayed}
}
