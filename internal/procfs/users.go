package procfs

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Names maps numeric ids to names from a passwd- or group-format file
// (name:x:id:...), without cgo or NSS: only local accounts are known. The
// file is read again when its modification time changes, checked at most
// once per second.
type Names struct {
	path string

	mu      sync.Mutex
	checked time.Time
	mtime   time.Time
	size    int64
	names   map[uint32]string
}

// maxIDFile bounds what is read of a passwd or group file.
const maxIDFile = 64 << 20

// NewNames reads ids from path (/etc/passwd or /etc/group).
func NewNames(path string) *Names { return &Names{path: path} }

// Name returns the name of id, or "" when unknown.
func (n *Names) Name(id uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if n.names == nil || now.Sub(n.checked) > time.Second {
		n.checked = now
		if fi, err := os.Stat(n.path); err == nil {
			if n.names == nil || !fi.ModTime().Equal(n.mtime) || fi.Size() != n.size {
				if b, err := ReadRegularFile(n.path, maxIDFile); err == nil {
					n.names = ParseIDFile(b)
					n.mtime, n.size = fi.ModTime(), fi.Size()
				}
			}
		}
		if n.names == nil {
			n.names = map[uint32]string{}
		}
	}
	return n.names[id]
}

// ParseIDFile parses passwd/group lines: the first name wins for an id.
func ParseIDFile(b []byte) map[uint32]string {
	out := make(map[uint32]string)
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, ":", 4)
		if len(f) < 3 || f[0] == "" {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := out[uint32(id)]; !dup {
			out[uint32(id)] = f[0]
		}
	}
	return out
}
