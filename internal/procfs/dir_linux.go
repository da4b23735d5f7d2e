package procfs

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Dir is an open /proc/<pid> directory. The directory stands for the
// process instance that held the pid when it was opened: once that process
// has been reaped, every file under it fails (ENOENT, ESRCH), even if the
// pid has been handed to another process since. So everything read through
// one Dir is about one process, whatever happens to the pid meanwhile.
type Dir struct {
	fs  *FS
	pid int
	fd  int
}

// OpenDir opens /proc/<pid>.
func (fs *FS) OpenDir(pid int) (*Dir, error) {
	fd, err := openRetry(unix.AT_FDCWD, fs.PIDPath(pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &Dir{fs: fs, pid: pid, fd: fd}, nil
}

// PID is the process id the directory was opened for.
func (d *Dir) PID() int { return d.pid }

// Close releases the directory.
func (d *Dir) Close() {
	if d != nil && d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// ReadStat reads the process's stat.
func (d *Dir) ReadStat() (Stat, error) {
	var buf [statSize]byte
	n, err := readIntoAt(d.fd, "stat", buf[:])
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(buf[:n])
}

// OpenExe opens the process's executable through the kernel's link to the
// image it runs (/proc/<pid>/exe): the file that was executed, even if its
// path has been deleted, renamed over or is a memfd. The open cannot block
// (O_NONBLOCK: a lease on the file makes it fail instead of waiting) and
// takes no controlling terminal. O_NOFOLLOW does not apply: exe is the
// kernel's own link, not a path anyone else can write.
func (d *Dir) OpenExe() (*os.File, error) {
	fd, err := openRetry(d.fd, "exe", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), d.fs.PIDPath(d.pid)+"/exe"), nil
}

// Readlink reads a link under the directory (exe, cwd, ns/mnt).
func (d *Dir) Readlink(name string) (string, error) {
	return readlinkAt(d.fd, name)
}

func (d *Dir) readLimited(name string, n int) ([]byte, error) {
	buf := make([]byte, n)
	m, err := readIntoAt(d.fd, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:m], nil
}

// FileLink returns the path of an open file as the kernel shows it
// (/proc/self/fd/<n>): the path it was opened by, as of now.
func (fs *FS) FileLink(f *os.File) (string, error) {
	return os.Readlink(fs.Root + "/self/fd/" + strconv.Itoa(int(f.Fd())))
}

// FileNlink returns the link count of an open file: 0 once every name of
// it is gone (deleted or renamed over) and for memfds.
func FileNlink(f *os.File) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return uint64(st.Nlink), nil // field widths differ between architectures
}

func readlinkAt(dirfd int, name string) (string, error) {
	// The kernel renders /proc links into at most a page.
	var buf [4096]byte
	for {
		n, err := unix.Readlinkat(dirfd, name, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "readlinkat", Path: name, Err: err}
		}
		return string(buf[:n]), nil
	}
}
