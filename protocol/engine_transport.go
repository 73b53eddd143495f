package protocol

import (
	"github.com/murmur-p2p/murmur/sync/replica"
)

// EngineTransport returns t as a sync.Transport for sync.Node, whose Send
// cannot fail: messages Send refuses (queue full, over the size limit,
// closed) are dropped and logged at debug level, which the engine
// tolerates like any other loss. The refusals are counted in Stats.
func (t *Transport) EngineTransport() replica.Transport { return engineTransport{t} }

// engineTransport adapts Transport.Send to sync.Transport.
type engineTransport struct{ t *Transport }

// Send implements sync.Transport.
func (e engineTransport) Send(m replica.Message) {
	if err := e.t.Send(m); err != nil {
		log.Debugw("message dropped", "to", m.To, "error", err)
	}
}
