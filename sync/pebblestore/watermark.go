package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// watermarkFile is a small file beside the database holding the number of
// the last batch Apply acknowledged. It exists because Pebble replays its
// write-ahead log only up to the first damaged record it cannot tell from a
// torn tail, silently dropping what follows; comparing the replayed batch
// number with the watermark turns that loss into ErrCorrupt.
//
// The watermark is written after the batch is synced and is not synced
// itself (that would double the cost of Apply): a power loss may leave it
// behind the log, which only weakens the check, but never ahead of it. A
// killed process leaves it exact.
const watermarkFile = "MURMUR-APPLIED"

// watermark is the open watermark file.
type watermark struct {
	f   vfs.File
	buf [12]byte
}

// openWatermark opens (creating) the watermark in dir and returns the
// batch number it holds, 0 if none.
func openWatermark(fs vfs.FS, dir string) (*watermark, uint64, error) {
	path := fs.PathJoin(dir, watermarkFile)
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", path, err)
	}
	w := &watermark{f: f}
	n, err := f.ReadAt(w.buf[:], 0)
	switch {
	case n == 0 && (err == nil || errors.Is(err, io.EOF)):
		return w, 0, nil // new
	case n < len(w.buf) && err != nil && !errors.Is(err, io.EOF):
		_ = f.Close()
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	case n < len(w.buf) || crc32.Checksum(w.buf[:8], crcTable) != binary.BigEndian.Uint32(w.buf[8:]):
		// A damaged watermark says nothing about the data; the check is
		// skipped this once, loudly.
		log.Warnf("watermark %s is damaged; not checking the log against it", path)
		return w, 0, nil
	}
	return w, binary.BigEndian.Uint64(w.buf[:8]), nil
}

// set records that batch seq was acknowledged.
func (w *watermark) set(seq uint64) error {
	binary.BigEndian.PutUint64(w.buf[:8], seq)
	binary.BigEndian.PutUint32(w.buf[8:], crc32.Checksum(w.buf[:8], crcTable))
	_, err := w.f.WriteAt(w.buf[:], 0)
	return err
}

// close syncs and closes the file.
func (w *watermark) close() error {
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
