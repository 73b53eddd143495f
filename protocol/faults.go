package protocol

import (
	"errors"
	"fmt"
	"net"
	stdsync "sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/libp2p/go-libp2p/core/peer"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
)

// FaultKind classifies what a peer did wrong on a stream. Every fault
// resets only the stream it happened on.
type FaultKind int

const (
	// FaultMalformed: bytes that are not a frame holding a protobuf
	// Envelope (bad length prefix, frame cut short, unparsable protobuf).
	FaultMalformed FaultKind = iota + 1
	// FaultOversize: a length prefix over the size limit, or a message over
	// a count limit.
	FaultOversize
	// FaultUnknownMessage: an envelope without a known body, or a message
	// type on a protocol that does not carry it.
	FaultUnknownMessage
	// FaultInvalid: a well-formed message whose fields break the rules
	// (ErrInvalidMessage).
	FaultInvalid
	// FaultStalled: a frame that did not complete within FrameTimeout.
	FaultStalled
	// FaultStreamLimit: an inbound stream over MaxInboundStreamsPerPeer.
	FaultStreamLimit
)

// String names the fault kind.
func (k FaultKind) String() string {
	switch k {
	case FaultMalformed:
		return "malformed"
	case FaultOversize:
		return "oversize"
	case FaultUnknownMessage:
		return "unknown-message"
	case FaultInvalid:
		return "invalid"
	case FaultStalled:
		return "stalled"
	case FaultStreamLimit:
		return "stream-limit"
	}
	return fmt.Sprintf("fault(%d)", int(k))
}

// Fault is one fault committed by a peer, as passed to Config.OnFault.
type Fault struct {
	Peer     peer.ID
	Protocol p2pprotocol.ID
	Kind     FaultKind
	// Err says what exactly was wrong.
	Err error
}

// FaultCounts are the faults counted for one peer, by kind.
type FaultCounts struct {
	Malformed, Oversize, UnknownMessage, Invalid, Stalled, StreamLimit uint64
}

// Total is the sum over all kinds.
func (c FaultCounts) Total() uint64 {
	return c.Malformed + c.Oversize + c.UnknownMessage + c.Invalid + c.Stalled + c.StreamLimit
}

// add counts one fault of kind k.
func (c *FaultCounts) add(k FaultKind) {
	switch k {
	case FaultMalformed:
		c.Malformed++
	case FaultOversize:
		c.Oversize++
	case FaultUnknownMessage:
		c.UnknownMessage++
	case FaultInvalid:
		c.Invalid++
	case FaultStalled:
		c.Stalled++
	case FaultStreamLimit:
		c.StreamLimit++
	}
}

// faultTable keeps per-peer fault counts for a bounded number of peers, so
// that a flood of peer IDs cannot grow it without bound.
type faultTable struct {
	mu  stdsync.Mutex
	lru *simplelru.LRU[peer.ID, *FaultCounts]
}

func newFaultTable(size int) (*faultTable, error) {
	l, err := simplelru.NewLRU[peer.ID, *FaultCounts](size, nil)
	if err != nil {
		return nil, fmt.Errorf("fault table: %w", err)
	}
	return &faultTable{lru: l}, nil
}

func (t *faultTable) add(p peer.ID, k FaultKind) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.lru.Get(p)
	if !ok {
		c = &FaultCounts{}
		t.lru.Add(p, c)
	}
	c.add(k)
}

func (t *faultTable) get(p peer.ID) FaultCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.lru.Peek(p); ok {
		return *c
	}
	return FaultCounts{}
}

// classify maps a frame or decode error to the fault it is; 0 means the
// error is not the peer's fault (a reset, a clean close, our own shutdown).
func classify(err error, midFrame bool) FaultKind {
	var ne net.Error
	switch {
	case errors.Is(err, ErrMessageTooLarge):
		return FaultOversize
	case errors.Is(err, ErrMalformedFrame):
		return FaultMalformed
	case errors.Is(err, ErrUnknownMessage):
		return FaultUnknownMessage
	case errors.Is(err, ErrInvalidMessage):
		return FaultInvalid
	case midFrame && errors.As(err, &ne) && ne.Timeout():
		return FaultStalled
	}
	return 0
}
