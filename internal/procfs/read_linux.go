package procfs

import "golang.org/x/sys/unix"

// readInto reads a /proc file into buf, up to len(buf) bytes, with the
// system calls alone: the bookkeeping of os.Open (a File with a finalizer,
// a file-type check, then a Close) more than doubled the cost of reading a
// small /proc file, and the receiver reads several per process event.
func readInto(path string, buf []byte) (int, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
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
