package controlapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

func (s *Server) peers(w http.ResponseWriter, r *http.Request) {
	list, err := s.peerList()
	if err != nil {
		writeNodeError(w, "peers", err)
		return
	}
	s.fillRTT(r, list)
	writeJSON(w, http.StatusOK, PeersResult{Peers: list})
}

// peerList merges the connected members with the engine's view, sorted by
// peer ID.
func (s *Server) peerList() ([]Peer, error) {
	eng, err := s.node.EnginePeers()
	if err != nil {
		return nil, err
	}
	byID := map[peer.ID]*Peer{}
	for _, ps := range eng {
		id := peer.ID(ps.ID)
		byID[id] = &Peer{ID: id.String(), State: ps.State.String(), LastContact: ps.LastContact.UTC(), Reliability: ps.Reliability}
	}
	for _, id := range s.node.Peers() {
		if p, ok := byID[id]; ok {
			p.Connected = true
		} else {
			byID[id] = &Peer{ID: id.String(), Connected: true}
		}
	}
	out := make([]Peer, 0, len(byID))
	for _, p := range byID {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// sync starts a digest sync with a known peer and waits (up to SyncWait, or
// the request's ?wait=DURATION) for its result.
func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	var req SyncRequest
	if !readJSON(w, r, &req) {
		return
	}
	wait := s.cfg.SyncWait
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("wait: invalid value %q: want a duration from 0s to 1m", v))
			return
		}
		wait = d
	}
	if req.Peer == "" {
		writeError(w, http.StatusBadRequest, `peer: required (a peer ID such as 12D3KooW...; list them with GET /v1/peers)`)
		return
	}
	p, err := peer.Decode(req.Peer)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("peer: invalid peer ID %q: %v", req.Peer, err))
		return
	}
	known, err := s.knownPeer(p)
	if err != nil {
		writeNodeError(w, "sync", err)
		return
	}
	if !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("peer %s: unknown to this node (not connected, not in the replication view; see GET /v1/peers)", p))
		return
	}
	l, err := s.hub.listen()
	if err != nil {
		writeNodeError(w, "sync", err)
		return
	}
	defer s.hub.unlisten(l)
	if err := s.node.SyncWith(p); err != nil {
		writeNodeError(w, "sync", err)
		return
	}
	res := SyncResult{Peer: p.String(), Pending: true}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for res.Pending {
		select {
		case c, ok := <-l.C:
			if !ok {
				writeError(w, http.StatusServiceUnavailable, "sync: node stopped")
				return
			}
			if c.Kind == replica.ChangeExchange && peer.ID(c.Peer) == p && c.Exchange != nil {
				res = SyncResult{Peer: p.String(), Match: c.Exchange.Match, Sent: c.Exchange.Sent, Received: c.Exchange.Received}
			}
		case <-timer.C:
			writeJSON(w, http.StatusAccepted, res)
			return
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// knownPeer reports whether p is connected or in the engine's view.
func (s *Server) knownPeer(p peer.ID) (bool, error) {
	if slices.Contains(s.node.Peers(), p) {
		return true, nil
	}
	eng, err := s.node.EnginePeers()
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(eng, func(ps replica.PeerStatus) bool { return peer.ID(ps.ID) == p }), nil
}
