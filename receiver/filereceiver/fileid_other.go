//go:build !unix

package filereceiver

import (
	"os"

	"github.com/zeebo/xxh3"
)

// fileKey identifies a file. Without inodes (not a Unix system) the path
// stands in for it: a renamed file is then only recognised by its first
// bytes, once its old name is given up.
type fileKey struct{ dev, ino uint64 }

func keyOf(path string, _ os.FileInfo) fileKey {
	return fileKey{ino: xxh3.HashString(path)}
}
