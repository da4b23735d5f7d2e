//go:build linux

package dirwatch

import (
	"os"
	"syscall"
)

// statID fills the parts of a file's identity only the system's stat
// gives: device, inode and change time. The change time moves on every
// write, even one that puts the modification time back.
func statID(id *Identity, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = st.Dev, st.Ino
		id.ctimeNS = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
}
