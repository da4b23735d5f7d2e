//go:build !linux

package hashcache

import "os"

// keyOf without inode numbers: size and modification time only.
func keyOf(fi os.FileInfo) (Key, bool) {
	return Key{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}, true
}
