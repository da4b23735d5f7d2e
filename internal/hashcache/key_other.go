//go:build !linux

package hashcache

import "os"

// statFile without inode numbers, status change times nor block counts:
// size and modification time only.
func statFile(f *os.File) (fileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileInfo{}, err
	}
	return fileInfo{
		key:       Key{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()},
		regular:   fi.Mode().IsRegular(),
		allocated: fi.Size(),
	}, nil
}

func holeBytes(*os.File, int64, int) (int64, bool) { return 0, true }
