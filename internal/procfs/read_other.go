//go:build !linux

package procfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// readInto reads a file into buf, up to len(buf) bytes (there is no /proc
// to read quickly outside Linux; this keeps the package building).
func readInto(path string, buf []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// Dir outside Linux reads by path: there is no /proc whose directories
// pin a process (this keeps the package building).
type Dir struct {
	fs  *FS
	pid int
	dir string
}

// OpenDir opens /proc/<pid>.
func (fs *FS) OpenDir(pid int) (*Dir, error) {
	dir := fs.PIDPath(pid)
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	return &Dir{fs: fs, pid: pid, dir: dir}, nil
}

// PID is the process id the directory was opened for.
func (d *Dir) PID() int { return d.pid }

// Close releases the directory.
func (d *Dir) Close() {}

// ReadStat reads the process's stat.
func (d *Dir) ReadStat() (Stat, error) {
	var buf [statSize]byte
	n, err := readInto(filepath.Join(d.dir, "stat"), buf[:])
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(buf[:n])
}

// OpenExe opens the process's executable.
func (d *Dir) OpenExe() (*os.File, error) { return os.Open(filepath.Join(d.dir, "exe")) }

// Readlink reads a link under the directory.
func (d *Dir) Readlink(name string) (string, error) { return os.Readlink(filepath.Join(d.dir, name)) }

func (d *Dir) readLimited(name string, n int) ([]byte, error) {
	buf := make([]byte, n)
	m, err := readInto(filepath.Join(d.dir, name), buf)
	if err != nil {
		return nil, err
	}
	return buf[:m], nil
}

// FileLink returns the path of an open file.
func (fs *FS) FileLink(f *os.File) (string, error) { return f.Name(), nil }

// FileNlink is unknown outside Linux: 1.
func FileNlink(*os.File) (uint64, error) { return 1, nil }

// ReadRegularFile reads at most max bytes of a regular file.
func ReadRegularFile(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	return io.ReadAll(io.LimitReader(f, int64(max)))
}
