package hostreceiver

import (
	"math"
	"path"

	"github.com/cairnsec/cairn/internal/procfs"
)

// lineageOf works out p's lineage from /proc. The parent must have started
// no later than p (otherwise its pid was reused and it is another process);
// session and group ids need no such check: the kernel keeps a pid
// allocated while it is some living process's session or group id, so the
// process found under that pid is the leader, and no process is found when
// the leader has exited.
func (r *hostReceiver) lineageOf(p *procfs.Proc) lineage {
	var l lineage
	if !p.HasStat {
		// Gone before its stat was read: only the parent from the fork
		// notification, which has no start time to check against.
		if p.PPID > 0 {
			l.parent, _ = r.describe(p.PPID, math.MaxUint64)
		}
		return l
	}
	self := procRef{pid: p.PID, known: true, ticks: p.StartTicks, entityID: r.ids.of(p.PID, p.StartTicks),
		start: p.Start, exe: p.Exe, name: p.Comm}
	if p.Exe != "" {
		self.name = path.Base(p.Exe)
	}
	l.entityID = self.entityID
	l.tty = p.TTY
	var pst procfs.Stat
	if p.PPID > 0 {
		l.parent, pst = r.describe(p.PPID, p.StartTicks)
	}
	l.session = r.leader(p.SID, self, l.parent, procRef{})
	l.group = r.leader(p.PGID, self, l.parent, l.session)
	l.entry = r.entryOf(entryNode{ref: self, ppid: p.PPID, sid: p.SID, tty: p.TTY}, l.parent, pst)
	return l
}

// leader describes the leader pid, reusing a process already read when it
// is the same one.
func (r *hostReceiver) leader(pid int, self, parent, session procRef) procRef {
	switch {
	case pid <= 0:
		return procRef{}
	case pid == self.pid:
		return self
	case pid == parent.pid && parent.known:
		return parent
	case pid == session.pid:
		return session
	}
	ref, _ := r.describe(pid, math.MaxUint64)
	return ref
}

// describe reads what an event says about a related process: its stat
// (start time, entity id, command name) and, once per process instance, its
// executable. A process that is gone, or that started after notAfter (its
// pid was reused: it is not the process meant), is described by pid alone.
func (r *hostReceiver) describe(pid int, notAfter uint64) (procRef, procfs.Stat) {
	ref := procRef{pid: pid}
	st, err := r.fs.ReadStat(pid)
	if err != nil || st.StartTicks > notAfter {
		return ref, procfs.Stat{}
	}
	ref.known, ref.ticks = true, st.StartTicks
	ref.entityID = r.ids.of(pid, st.StartTicks)
	ref.start = r.fs.StartTime(st.StartTicks)
	ref.name = st.Comm
	if exe := r.exeOf(pid, st.StartTicks); exe != "" {
		ref.exe, ref.name = exe, path.Base(exe)
	}
	return ref, st
}

func (r *hostReceiver) exeOf(pid int, ticks uint64) string {
	k := procKey{int32(pid), ticks}
	if in, ok := r.procCache.Get(k); ok && in.exeKnown {
		return in.exe
	}
	exe := r.fs.ReadExe(pid)
	r.updateInfo(k, func(in *procInfo) { in.exe, in.exeKnown = exe, true })
	return exe
}

// noteExec records the executable a process now runs if the process is
// cached (as a parent or leader), so that its children describe it by its
// current image rather than one cached before it exec'd. Other processes
// are not added: most never have children, and would push out the
// long-lived parents and leaders the cache is for.
func (r *hostReceiver) noteExec(p *procfs.Proc) {
	if !p.HasStat || p.Exe == "" {
		return
	}
	k := procKey{int32(p.PID), p.StartTicks}
	if _, ok := r.procCache.Peek(k); ok {
		r.updateInfo(k, func(in *procInfo) { in.exe, in.exeKnown = p.Exe, true })
	}
}

// updateInfo replaces the cached info of k by a changed copy. Two updates
// racing may lose one; it is then worked out again.
func (r *hostReceiver) updateInfo(k procKey, f func(*procInfo)) {
	var in procInfo
	if old, ok := r.procCache.Peek(k); ok {
		in = *old
	}
	f(&in)
	r.procCache.Add(k, &in)
}

// entryNode is what deciding an entry leader needs of one process.
type entryNode struct {
	ref       procRef
	ppid, sid int
	tty       uint32
}

// maxEntryDepth bounds the walk up the process tree (a tree deeper than
// this is not credible).
const maxEntryDepth = 64

// entryOf finds the entry leader of n: ECS defines it as the first process
// from a terminal or remote access (SSH, SSM, ...) or a service directly
// started by init. It is the nearest session leader, going up from n
// through current parents, that entryType recognises. n itself is always
// judged afresh (it may have become a session leader since it was last
// seen: a daemon calls setsid, then execs), and not cached (most processes
// never have children); the answer is cached for every ancestor on the way,
// so a process inherits its parent's entry leader as it was when the parent
// was first seen, even if an ancestor has exited since, and a busy shell's
// children cost one cache lookup. parent and pst are n's parent, already
// read. nil: none found (the walk reached init, a kernel thread, or a
// process that is gone).
func (r *hostReceiver) entryOf(n entryNode, parent procRef, pst procfs.Stat) *entryRef {
	var chain []procKey
	var found *entryRef
	for depth := 0; depth < maxEntryDepth; depth++ {
		if n.ref.pid <= 1 || n.ref.pid == 2 || n.ppid == 2 {
			break // init and kernel threads (children of kthreadd) have none
		}
		if depth > 0 {
			k := procKey{int32(n.ref.pid), n.ref.ticks}
			if in, ok := r.procCache.Get(k); ok && in.entryKnown {
				found = in.entry
				break
			}
			chain = append(chain, k)
		}
		if depth > 0 && n.ppid > 1 {
			parent, pst = r.describe(n.ppid, n.ref.ticks)
		}
		if n.ref.pid == n.sid {
			if typ := entryType(n.ppid, parent.exe, n.tty); typ != "" {
				found = &entryRef{procRef: n.ref, typ: typ}
				break
			}
		}
		if n.ppid <= 1 || !parent.known {
			break
		}
		n = entryNode{ref: parent, ppid: pst.PPID, sid: pst.SID, tty: pst.TTY}
		parent = procRef{}
	}
	for _, k := range chain {
		r.updateInfo(k, func(in *procInfo) { in.entry, in.entryKnown = found, true })
	}
	return found
}
