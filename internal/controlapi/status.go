package controlapi

import (
	"net/http"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/internal/metrics"
	"github.com/murmur-p2p/murmur/p2pnode"
)

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.node.Stats()
	if err != nil {
		writeNodeError(w, "status", err)
		return
	}
	cfg := s.node.Config()
	res := Status{
		PeerID:         s.node.ID().String(),
		Network:        cfg.Discovery.Network,
		Addrs:          []string{},
		VersionVector:  map[string]uint64{},
		PeersConnected: len(s.node.Peers()),
		Uptime:         time.Since(s.started).Round(time.Second).String(),
		Store:          StoreStatus{Kind: cfg.Store, Events: st.Engine.Events, Origins: st.Engine.Origins},
		Engine: EngineStatus{
			Created: st.Engine.Created, Accepted: st.Engine.Accepted, Duplicates: st.Engine.Duplicates,
			Rejected: st.Engine.Rejected, PayloadsReceived: st.Engine.PayloadsReceived,
			PayloadsSent: st.Engine.PayloadsSent, Conflicts: st.Engine.Conflicts, SyncTimeouts: st.Engine.SyncTimeouts,
			MessagesSent: st.Engine.MessagesSent, MessagesReceived: st.Engine.MessagesReceived,
			BytesSent: st.Engine.BytesSent, BytesReceived: st.Engine.BytesReceived,
			Pulls: st.Engine.Pulls, SyncRounds: st.Engine.SyncRounds, SyncMatches: st.Engine.SyncMatches,
			InboxDropped: st.InboxDropped,
			AERounds:     st.Engine.AERounds, AEMatches: st.Engine.AEMatches, AEFullSyncs: st.Engine.AEFullSyncs, AECoded: st.Engine.AECoded,
			AEBytesSent: st.Engine.AEBytesSent, AEBytesReceived: st.Engine.AEBytesReceived,
			StatesMerged: st.Engine.StatesMerged, GCEvents: st.Engine.GCEvents, GCKeys: st.Engine.GCKeys,
			Snapshot: SnapshotStatus{
				Active: st.Engine.Snapshot.Active, KeysDone: st.Engine.Snapshot.KeysDone,
				KeysTotal: st.Engine.Snapshot.KeysTotal, BytesDone: st.Engine.Snapshot.BytesDone,
				Started: st.Engine.Snapshot.Started, Done: st.Engine.Snapshot.Done,
			},
		},
	}
	if p := st.Engine.Snapshot.Peer; p != "" {
		res.Engine.Snapshot.Peer = peer.ID(p).String()
	}
	for _, a := range s.node.Addrs() {
		res.Addrs = append(res.Addrs, a.String())
	}
	if cfg.Store == "pebble" {
		res.Store.Dir = filepath.Join(cfg.DataDir, p2pnode.StoreDirName)
		res.Store.SizeBytes = metrics.DirSize(res.Store.Dir)
	}
	if cfg.Store == "postgres" {
		res.Store.Schema = cfg.PostgresSchema
	}
	res.Wire.Compression = cfg.Compression
	for _, ps := range st.Protocols {
		res.Wire.BytesSent += ps.BytesSent
		res.Wire.WireBytesSent += ps.Compression.WireBytesSent
		res.Wire.BytesReceived += ps.BytesReceived
		res.Wire.WireBytesReceived += ps.Compression.WireBytesReceived
	}
	vv, err := s.node.VersionVector()
	if err != nil {
		writeNodeError(w, "status", err)
		return
	}
	for o, seq := range vv {
		res.VersionVector[peer.ID(o).String()] = seq
	}
	res.Cursor = EncodeCursor(vv)
	writeJSON(w, http.StatusOK, res)
}

// healthz answers 200 while the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 while the node is started and not closed, 503
// otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.node.Stats(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "peers": len(s.node.Peers())})
}
