package procfs

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxFDReads bounds the file descriptor links one SocketOwners call reads.
// Any user can hold a million descriptors open (RLIMIT_NOFILE's hard limit
// is often that high), and each one costs a readlink: without a bound, such
// a process would make every attribution scan take seconds.
const MaxFDReads = 1 << 18

// fdReadBudget is MaxFDReads (tests lower it).
var fdReadBudget = MaxFDReads

// fdBatch is how many descriptor names are listed at a time: a directory of
// a million entries is never held in memory at once.
const fdBatch = 512

// SocketOwners finds, for each socket inode in want, a process that holds it
// open, by reading the /proc/<pid>/fd links ("socket:[inode]"). It stops as
// soon as every inode is found, or after MaxFDReads links (what is not found
// by then stays 0). hints are scanned first (likely owners: repeat scans are
// cheap), then the processes running as one of uids (the sockets' owners, as
// sock_diag gives them), then every other process. Scanning the sockets'
// owners first means that a process of another user, however many
// descriptors it holds, is read only when a socket was not found among its
// own user's processes.
func (fs *FS) SocketOwners(want map[uint64]int, hints []int, uids map[uint32]bool) {
	remaining := 0
	for _, pid := range want {
		if pid == 0 {
			remaining++
		}
	}
	if remaining == 0 {
		return
	}
	budget := fdReadBudget
	names := make([]string, 0, fdBatch)
	scan := func(pid int) bool {
		dfd, err := openRetry(unix.AT_FDCWD, fs.PIDPath(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
		if err != nil {
			return false
		}
		defer unix.Close(dfd)
		var lbuf [64]byte
		var dbuf [8192]byte
		for budget > 0 {
			names = names[:0]
			n, err := unix.Getdents(dfd, dbuf[:])
			if err != nil || n <= 0 {
				return false
			}
			_, _, names = unix.ParseDirent(dbuf[:n], -1, names)
			for _, name := range names {
				if budget <= 0 {
					return false
				}
				budget--
				k, err := unix.Readlinkat(dfd, name, lbuf[:])
				if err != nil {
					continue
				}
				l := string(lbuf[:k])
				if !strings.HasPrefix(l, "socket:[") || !strings.HasSuffix(l, "]") {
					continue
				}
				ino, err := strconv.ParseUint(l[8:len(l)-1], 10, 64)
				if err != nil {
					continue
				}
				if owner, ok := want[ino]; ok && owner == 0 {
					want[ino] = pid
					remaining--
					if remaining == 0 {
						return true
					}
				}
			}
		}
		return false
	}
	seen := make(map[int]bool, len(hints))
	for _, pid := range hints {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if scan(pid) || budget <= 0 {
			return
		}
	}
	pids, err := fs.PIDs()
	if err != nil {
		return
	}
	var others []int
	for _, pid := range pids {
		if seen[pid] {
			continue
		}
		// The owner of /proc/<pid> is the process's effective uid (root
		// for processes that are not dumpable).
		var st unix.Stat_t
		if len(uids) > 0 && (unix.Stat(fs.PIDPath(pid), &st) != nil || !uids[st.Uid]) {
			others = append(others, pid)
			continue
		}
		if scan(pid) || budget <= 0 {
			return
		}
	}
	for _, pid := range others {
		if scan(pid) || budget <= 0 {
			return
		}
	}
}
