package hostreceiver

import (
	"path"
	"strings"
	"sync"
	"time"

	"github.com/cairnsec/cairn/internal/hashcache"
	"github.com/cairnsec/cairn/internal/procfs"
)

// procKey names a process instance: pid and start time in clock ticks.
type procKey struct {
	pid   int32
	ticks uint64
}

// procRef is what an event says about a process related to the one it
// describes (parent, session, group or entry leader).
type procRef struct {
	pid int
	// known: the process's stat was read, so ticks, start and entityID are
	// set (entityID stays empty when ids cannot be derived).
	known    bool
	ticks    uint64
	entityID string
	start    time.Time
	name     string
	exe      string
}

// entryRef is an entry leader and how its session was entered
// (process.entry_leader.entry_meta.type).
type entryRef struct {
	procRef
	typ string
}

// lineage is how a process relates to others, as ECS puts it under
// process.parent, process.session_leader, process.group_leader and
// process.entry_leader, with its own entity id and controlling terminal.
type lineage struct {
	entityID       string
	parent         procRef
	session, group procRef
	entry          *entryRef
	tty            uint32
}

// procInfo is remembered per process instance (procCache): its executable,
// read once, and its entry leader once resolved. Values are never changed
// once cached, only replaced, so readers need no lock.
type procInfo struct {
	exe        string
	exeKnown   bool
	entry      *entryRef
	entryKnown bool
}

// entryType says how a session leader's session was entered, from its
// parent's executable, its parent pid and its controlling terminal; "" when
// it is not an entry (a shell in tmux, a terminal emulator's shell, su...),
// in which case the entry leader is further up. The values are those ECS
// lists for process.entry_meta.type.
func entryType(ppid int, parentExe string, tty uint32) string {
	base := ""
	if parentExe != "" {
		base = path.Base(parentExe)
	}
	switch {
	case base == "sshd" || base == "sshd-session":
		// OpenSSH 9.8 runs sessions in a separate sshd-session binary.
		return "sshd"
	case base == "ssm-session-worker":
		return "ssm"
	case strings.HasPrefix(base, "containerd-shim") || base == "runc" || base == "crun" || base == "conmon":
		return "container"
	case ppid == 1:
		return "init"
	}
	switch major, minor := procfs.TTYDevice(tty); {
	case major == 4:
		// /dev/ttyN virtual consoles and /dev/ttySN serial lines.
		return "terminal"
	case major == 5 && minor == 1:
		return "console"
	}
	return ""
}

// liveProc is what an end event repeats of its process's start event.
type liveProc struct {
	p   *procfs.Proc
	lin lineage
	// hash is the start's pending hash: the end waits for it, so as not to
	// overtake the start.
	hash *hashcache.Future
	// suspect: the last sweep found the process gone (guarded by the
	// table's lock).
	suspect bool
}

// liveTable holds the processes whose start was reported and whose end is
// awaited, by pid, up to max (beyond, ends are not reported, and counted).
type liveTable struct {
	mu   sync.Mutex
	m    map[int32]*liveProc
	max  int
	full uint64
}

func newLiveTable(max int) *liveTable {
	return &liveTable{m: make(map[int32]*liveProc), max: max}
}

// put remembers lp, replacing what was there for its pid (an exec chain
// replaces its own entry; anything else there is stale).
func (t *liveTable) put(lp *liveProc) {
	pid := int32(lp.p.PID)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[pid]; !ok && len(t.m) >= t.max {
		t.full++
		return
	}
	t.m[pid] = lp
}

func (t *liveTable) take(pid int32) *liveProc {
	t.mu.Lock()
	defer t.mu.Unlock()
	lp := t.m[pid]
	delete(t.m, pid)
	return lp
}

func (t *liveTable) has(pid int32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.m[pid]
	return ok
}

func (t *liveTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (t *liveTable) untracked() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.full
}

// sweep drops the entries whose process is gone although no exit
// notification removed them (it was lost to a kernel buffer overrun or a
// full queue, or the process exited while the inventory read it), or whose
// pid now belongs to another process. An entry goes only when two sweeps in
// a row found it gone, so that an exit notification still queued when the
// first sweep looked is not robbed of its entry. gone is asked outside the
// lock. It returns the entries dropped.
func (t *liveTable) sweep(gone func(*liveProc) bool) int {
	t.mu.Lock()
	all := make([]*liveProc, 0, len(t.m))
	for _, lp := range t.m {
		all = append(all, lp)
	}
	t.mu.Unlock()
	n := 0
	for _, lp := range all {
		g := gone(lp)
		pid := int32(lp.p.PID)
		t.mu.Lock()
		if t.m[pid] == lp {
			switch {
			case !g:
				lp.suspect = false
			case lp.suspect:
				delete(t.m, pid)
				n++
			default:
				lp.suspect = true
			}
		}
		t.mu.Unlock()
	}
	return n
}
