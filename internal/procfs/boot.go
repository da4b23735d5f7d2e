package procfs

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// BootID returns the kernel's boot id (/proc/sys/kernel/random/boot_id), a
// random UUID drawn at every boot. Start times in clock ticks count from
// boot, so the boot id is what keeps (pid, start ticks) unique across
// reboots.
func (fs *FS) BootID() (string, error) {
	b, err := os.ReadFile(fs.Root + "/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", errors.New("procfs: empty boot_id")
	}
	return id, nil
}

// PIDNamespace returns the inode number of the pid namespace the pids under
// this proc file system belong to (read through /proc/self/ns/pid: the
// reader's namespace, which is the mount's when /proc is its own).
func (fs *FS) PIDNamespace() (uint64, error) {
	l, err := os.Readlink(fs.Root + "/self/ns/pid")
	if err != nil {
		return 0, err
	}
	return ParseNSLink(l)
}

// ParseNSLink parses a namespace link target such as "pid:[4026531836]".
func ParseNSLink(l string) (uint64, error) {
	i := strings.IndexByte(l, '[')
	if i < 0 || !strings.HasSuffix(l, "]") {
		return 0, errors.New("procfs: malformed namespace link " + strconv.Quote(l))
	}
	return strconv.ParseUint(l[i+1:len(l)-1], 10, 64)
}
