package hashcache

import (
	"os"
	"syscall"
)

func keyOf(fi os.FileInfo) (Key, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Key{}, false
	}
	return Key{
		Dev:     uint64(st.Dev), // field widths differ between architectures
		Ino:     uint64(st.Ino),
		Size:    int64(st.Size),
		MtimeNs: int64(st.Mtim.Sec)*1e9 + int64(st.Mtim.Nsec),
	}, true
}
