package replica

// Delivery is how a received event reached this node (Change.Via), for
// applications and benchmarks that want to see which path of the
// dissemination delivered it.
type Delivery int

const (
	// DeliveryNone: not a received event (local writes, other changes), or
	// an event that arrived as key state through anti-entropy or a snapshot.
	DeliveryNone Delivery = iota
	// DeliveryPush: pushed (Push) along the origin's push tree, or to start it.
	DeliveryPush
	// DeliveryPull: announced by ID (PullSync) and pulled (PullResponse).
	DeliveryPull
	// DeliverySync: brought by digest sync or a gap request (SyncExchange,
	// SyncEvents): the epidemic missed this node or the event was lost.
	DeliverySync
	// DeliveryExternal: delivered by the external dissemination router
	// (Receive; GossipSub in p2pnode).
	DeliveryExternal
)

// String names the delivery path.
func (d Delivery) String() string {
	switch d {
	case DeliveryNone:
		return "none"
	case DeliveryPush:
		return "push"
	case DeliveryPull:
		return "pull"
	case DeliverySync:
		return "sync"
	case DeliveryExternal:
		return "external"
	}
	return "unknown"
}

// delivery maps the engine's internal source to the reported path.
func (s source) delivery() Delivery {
	switch s {
	case viaPush:
		return DeliveryPush
	case viaPull:
		return DeliveryPull
	case viaSync:
		return DeliverySync
	case viaExternal:
		return DeliveryExternal
	}
	return DeliveryNone
}

// PayloadCount returns the number of events a message carries (as events
// or as the versions of key states), for flow control: each costs the
// receiver a signature check and a store write besides its bytes.
func PayloadCount(b Body) int { return len(payloadEvents(b)) }
