package metrics

import (
	"io/fs"
	"path/filepath"
)

// DirSize sums the sizes of the regular files under dir (0 if it cannot be
// read): the on-disk size of a Pebble store.
func DirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // files come and go under compaction; count what is there
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
