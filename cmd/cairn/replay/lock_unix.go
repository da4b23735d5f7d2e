//go:build unix

package replay

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// lockedFile returns the first regular file of dir that another open file
// holds an exclusive flock(2) on, as bbolt does for a database it has open
// for writing; "" when there is none. The probe takes a shared lock without
// waiting and releases it at once.
func lockedFile(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.Type().IsRegular() { // no FIFO (an open would block), no link
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return p
		}
	}
	return ""
}
