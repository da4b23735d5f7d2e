package hashcache

import (
	"os"

	"golang.org/x/sys/unix"
)

func statFile(f *os.File) (fileInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileInfo{}, err
	}
	// Field widths differ between architectures.
	return fileInfo{
		key: Key{
			Dev:     uint64(st.Dev),
			Ino:     uint64(st.Ino),
			Size:    int64(st.Size),
			MtimeNs: int64(st.Mtim.Sec)*1e9 + int64(st.Mtim.Nsec),
			CtimeNs: int64(st.Ctim.Sec)*1e9 + int64(st.Ctim.Nsec),
		},
		owner:     st.Uid,
		regular:   st.Mode&unix.S_IFMT == unix.S_IFREG,
		allocated: int64(st.Blocks) * 512,
	}, nil
}

// holeBytes counts the bytes of f's first size bytes that are in holes,
// walking its data ranges with SEEK_DATA/SEEK_HOLE (no data is read). ok
// is false when f has more than maxExtents data ranges. A file system
// without hole support reports all data, hence no holes.
func holeBytes(f *os.File, size int64, maxExtents int) (holes int64, ok bool) {
	fd := int(f.Fd())
	var off int64
	for i := 0; off < size; i++ {
		if i >= maxExtents {
			return holes, false
		}
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO { // no data at or after off: a hole to the end
			return holes + size - off, true
		}
		if err != nil {
			return holes, true // no hole support: read it all
		}
		if data >= size {
			return holes + size - off, true
		}
		holes += data - off
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil || hole <= data {
			return holes, true
		}
		off = hole
	}
	return holes, true
}
