package procfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

var errNotRegular = errors.New("not a regular file")

// readInto reads a /proc file into buf, up to len(buf) bytes, with the
// system calls alone: the bookkeeping of os.Open (a File with a finalizer,
// a file-type check, then a Close) more than doubled the cost of reading a
// small /proc file, and the receiver reads several per process event.
func readInto(path string, buf []byte) (int, error) {
	return readIntoAt(unix.AT_FDCWD, path, buf)
}

// readIntoAt is readInto relative to an open directory.
func readIntoAt(dirfd int, name string, buf []byte) (int, error) {
	fd, err := openRetry(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		k, err := unix.Read(fd, buf[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return n, err
		case k == 0:
			return n, nil
		}
		n += k
	}
	return n, nil
}

func openRetry(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// ReadRegularFile reads at most max bytes of a regular file, without ever
// blocking on what the path names: the open is non-blocking (a FIFO or a
// device put at the path returns at once, then is refused because it is
// not a regular file) and takes no controlling terminal. Meant for
// configuration files read as root (/etc/passwd, os-release): a file
// larger than max is cut, which the parsers tolerate.
func ReadRegularFile(path string, max int) ([]byte, error) {
	fd, err := openRetry(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &os.PathError{Op: "open", Path: path, Err: errNotRegular}
	}
	size := int(min(st.Size, int64(max)))
	buf := make([]byte, size+1)
	n := 0
	for n < len(buf) {
		k, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if k == 0 {
			break
		}
		n += k
	}
	return buf[:min(n, max)], nil
}
