//go:build unix

package filereceiver

import (
	"os"
	"syscall"
)

// fileKey is a file's device and inode: what stays the same when a file is
// renamed, and what tells two files with the same first bytes apart.
type fileKey struct{ dev, ino uint64 }

func keyOf(_ string, fi os.FileInfo) fileKey {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)} //nolint:unconvert // int32 on some platforms
	}
	return fileKey{}
}
