package mplex

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// flag is the low three bits of a frame header. Which side of a stream sent
// a frame is part of its flag: Initiator flags come from the side that
// opened the stream, Receiver flags from the other side.
type flag uint8

const (
	flagNewStream        flag = 0
	flagMessageReceiver  flag = 1
	flagMessageInitiator flag = 2
	flagCloseReceiver    flag = 3
	flagCloseInitiator   flag = 4
	flagResetReceiver    flag = 5
	flagResetInitiator   flag = 6
)

func (f flag) String() string {
	switch f {
	case flagNewStream:
		return "NewStream"
	case flagMessageReceiver:
		return "MessageReceiver"
	case flagMessageInitiator:
		return "MessageInitiator"
	case flagCloseReceiver:
		return "CloseReceiver"
	case flagCloseInitiator:
		return "CloseInitiator"
	case flagResetReceiver:
		return "ResetReceiver"
	case flagResetInitiator:
		return "ResetInitiator"
	}
	return fmt.Sprintf("flag(%d)", uint8(f))
}

// maxStreamID is the largest stream ID: the header is a uvarint of at most
// 64 bits, three of which hold the flag.
const maxStreamID = 1<<61 - 1

// errProtocol marks a frame that breaks the mplex protocol.
var errProtocol = errors.New("mplex protocol violation")

// header is a decoded frame header.
type header struct {
	id     uint64
	flag   flag
	length int
}

// readHeader reads a frame's header and length. A length above maxBody is a
// protocol violation (the body is not read).
func readHeader(r *bufio.Reader, maxBody int) (header, error) {
	h, err := binary.ReadUvarint(r)
	if err != nil {
		return header{}, fmt.Errorf("read frame header: %w", err)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return header{}, fmt.Errorf("read frame length: %w", err)
	}
	f := flag(h & 7)
	if f > flagResetInitiator {
		return header{}, fmt.Errorf("%w: unknown flag %d", errProtocol, uint8(f))
	}
	if n > uint64(maxBody) {
		return header{}, fmt.Errorf("%w: %s frame of %d bytes exceeds the %d-byte limit", errProtocol, f, n, maxBody)
	}
	return header{id: h >> 3, flag: f, length: int(n)}, nil
}

// appendFrame appends a frame to buf.
func appendFrame(buf []byte, id uint64, f flag, body []byte) []byte {
	buf = binary.AppendUvarint(buf, id<<3|uint64(f))
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	return append(buf, body...)
}

// frameOverhead bounds the header and length varints of one frame.
const frameOverhead = 2 * binary.MaxVarintLen64
