//go:build unix

package cairnsearchexporter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// offlineLockName is the lock file a writer holds in its offline
// directory (the offline files are cairn-bulk-*.ndjson: it is not one).
const offlineLockName = ".cairn-bulk.lock"

// lockOfflineDir takes the directory's lock without waiting: one writer per
// directory, since a writer prunes old files and, at start, reads back and
// may cut the end of the newest one.
func lockOfflineDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, offlineLockName)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is in use by another exporter or collector (its lock file %s is held): give each cairn_search exporter its own offline::directory", dir, name)
		}
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return f, nil
}
