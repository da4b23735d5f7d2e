package hostreceiver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/internal/hashcache"
	"github.com/cairnsec/cairn/internal/procfs"
)

// Proc connector wire format (include/uapi/linux/connector.h, cn_proc.h).
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1

	procEventFork = 0x00000001
	procEventExec = 0x00000002
	procEventExit = 0x80000000

	sizeofCnMsg = 20 // cb_id{idx,val u32}, seq, ack u32, len, flags u16
	// proc_event header: what u32, cpu u32, timestamp_ns u64.
	sizeofProcEventHdr = 16
)

// procEvent is a notification handed to an enrichment worker. Events are
// sharded by pid, so the exec and the exit of a process are handled in the
// order the kernel sent them.
type procEvent struct {
	kind procEventKind
	tgid int32
	ts   time.Time
	// code is the kernel's exit code of an exit: a wait(2) status.
	code uint32
	// exec is what was taken of an exec'd process as soon as its
	// notification was read (nil: nothing could be).
	exec *execCapture
}

type procEventKind uint8

const (
	evExec procEventKind = iota
	evExit
	// evFork: a new process took a pid that a process awaiting its end
	// still holds in the live table (its exit notification was lost).
	evFork
)

// enrichWorkers is the number of goroutines reading /proc for process
// events (and shards of the notification queue).
const enrichWorkers = 2

// enrichQueue is the room in the enrichment workers' queues (all of them).
const enrichQueue = 8192

// maxLive bounds the processes whose end is awaited.
const maxLive = 1 << 17

// liveSweepInterval is how often the live table is checked for processes
// whose exit notification was lost.
const liveSweepInterval = time.Minute

// openProcConnector subscribes to process events. Binding to the
// connector's process group needs CAP_NET_ADMIN.
func openProcConnector() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return -1, fmt.Errorf("cairn_host: proc connector socket: %w (kernel built without CONFIG_CONNECTOR?)", err)
	}
	// A large receive buffer absorbs bursts of fork/exec/exit notifications.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc, Pid: 0}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("cairn_host: proc connector: %w (needs CAP_NET_ADMIN)", err)
		}
		return -1, fmt.Errorf("cairn_host: proc connector bind: %w", err)
	}
	msg := make([]byte, unix.NLMSG_HDRLEN+sizeofCnMsg+4)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.NLMSG_DONE)
	ne.PutUint32(msg[12:], uint32(os.Getpid()))
	cn := msg[unix.NLMSG_HDRLEN:]
	ne.PutUint32(cn[0:], cnIdxProc)
	ne.PutUint32(cn[4:], cnValProc)
	ne.PutUint16(cn[16:], 4)
	ne.PutUint32(cn[sizeofCnMsg:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("cairn_host: proc connector listen: %w (kernel built without CONFIG_PROC_EVENTS?)", err)
	}
	return fd, nil
}

// readProcConnector reads notifications and hands exec and exit events to
// the enrichment workers; it never blocks on them.
func (r *hostReceiver) readProcConnector(ctx context.Context, fd int) {
	buf := make([]byte, 64<<10)
	ne := binary.NativeEndian
	// lastExec: the latest capture of each process that exec'd, while it
	// waits for enrichment, to tell it when the process exec'd again.
	lastExec := map[int32]*execCapture{}
	for ctx.Err() == nil {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			switch {
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			case errors.Is(err, unix.ENOBUFS):
				r.cnt.overruns.Add(1)
			default:
				r.logger.Warn("cairn_host: proc connector read failed")
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel speaks here
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			d := m.Data
			if len(d) < sizeofCnMsg+sizeofProcEventHdr+8 {
				continue
			}
			if ne.Uint32(d[0:]) != cnIdxProc || ne.Uint32(d[4:]) != cnValProc {
				continue
			}
			ev := d[sizeofCnMsg:]
			what := ne.Uint32(ev[0:])
			ts := ne.Uint64(ev[8:])
			data := ev[sizeofProcEventHdr:]
			switch what {
			case procEventExec:
				tgid := int32(ne.Uint32(data[4:]))
				if int(tgid) == r.self {
					continue
				}
				c := r.captureExec(int(tgid))
				r.noteSuperseded(lastExec, tgid, c, int64(ts))
				ev := procEvent{kind: evExec, tgid: tgid, ts: r.timeOf(ts), exec: c}
				if !r.dispatch(ev) {
					c.release()
				}
			case procEventExit:
				if len(data) < 12 {
					continue
				}
				pid, tgid := int32(ne.Uint32(data[0:])), int32(ne.Uint32(data[4:]))
				if pid != tgid {
					continue // a thread, not the thread group leader
				}
				delete(lastExec, tgid)
				if r.live == nil {
					continue
				}
				r.dispatch(procEvent{kind: evExit, tgid: tgid, ts: r.timeOf(ts), code: ne.Uint32(data[8:])})
			case procEventFork:
				if len(data) < 16 {
					continue
				}
				parentTgid := int32(ne.Uint32(data[4:]))
				childPid := int32(ne.Uint32(data[8:]))
				childTgid := int32(ne.Uint32(data[12:]))
				if childPid == childTgid { // a process, not a thread
					r.forks.put(childTgid, parentTgid)
					if r.live != nil && r.live.has(childTgid) {
						r.dispatch(procEvent{kind: evFork, tgid: childTgid})
					}
				}
			}
		}
	}
}

// dispatch hands an event to the worker of its pid, without blocking.
func (r *hostReceiver) dispatch(ev procEvent) bool {
	select {
	case r.procq[int(uint32(ev.tgid))%len(r.procq)] <- ev:
		return true
	default:
		r.cnt.enrichDropped.Add(1)
		return false
	}
}

func (r *hostReceiver) enrichLoop(ctx context.Context, q <-chan procEvent) {
	for {
		select {
		case <-ctx.Done():
			// What is still queued holds open files.
			for {
				select {
				case ev := <-q:
					ev.exec.release()
				default:
					return
				}
			}
		case ev := <-q:
			switch ev.kind {
			case evExec:
				r.reportProcess(int(ev.tgid), ev.ts, "start", ev.exec)
			case evExit:
				if lp := r.live.take(ev.tgid); lp != nil {
					r.reportEnd(lp, ev.ts, ev.code)
				}
			case evFork:
				r.live.take(ev.tgid)
			}
		}
	}
}

// sweepLive periodically drops processes whose end will never be reported.
func (r *hostReceiver) sweepLive(ctx context.Context) {
	t := time.NewTicker(liveSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.live.sweep(func(lp *liveProc) bool {
				if !lp.p.HasStat {
					return true // gone when its start was read already
				}
				st, err := r.fs.ReadStat(lp.p.PID)
				return err != nil || st.StartTicks != lp.p.StartTicks
			})
		}
	}
}

func (r *hostReceiver) procOptions() procfs.Options {
	return procfs.Options{MaxArgs: r.cfg.Processes.MaxArgs, MaxArgBytes: r.cfg.Processes.MaxArgBytes}
}

// reportProcess reads /proc/<pid> and emits a process event. A start comes
// with what was taken at exec time (c): the open /proc/<pid> directory,
// which pins the process instance, its stat and its executable, opened
// through the process so its hash is that of what runs even when the file
// is gone or replaced by the time it is read. Without c (the inventory, or
// a capture refused), the same is taken now.
func (r *hostReceiver) reportProcess(pid int, ts time.Time, typ string, c *execCapture) bool {
	defer c.release()
	if pid == r.self {
		return false
	}
	opt := r.procOptions()
	var p *procfs.Proc
	var exe *os.File
	defer func() {
		if exe != nil {
			exe.Close()
		}
	}()
	var noHash hashcache.Status
	var dir *procfs.Dir
	exeLost := false
	if c != nil {
		exe, c.exe = c.exe, nil
		if c.hasStat {
			opt.Stat = &c.stat
		}
		if next := c.nextExec.Load(); next != 0 {
			// The process has exec'd again since: cmdline, cwd and ids
			// would be the next program's.
			opt.Only = true
			if next <= c.exeOpened {
				// ... and the kernel said so before the executable was
				// open: the file opened may be the next program's too.
				if exe != nil {
					exe.Close()
					exe = nil
				}
				exeLost = true
				noHash = statusSuperseded
			}
		}
		dir = c.dir
		if dir == nil && c.hasStat {
			// Only the identity was taken (too many captures waiting):
			// the process read now must be the one that exec'd.
			if d, err := r.fs.OpenDir(pid); err == nil {
				if st, err := d.ReadStat(); err == nil && st.StartTicks == c.stat.StartTicks {
					dir = d
					c.dir = d // closed with c
				} else {
					d.Close()
				}
			}
			if dir != nil && exe == nil && !exeLost {
				exe, _ = dir.OpenExe()
			}
		}
	} else if d, err := r.fs.OpenDir(pid); err == nil {
		dir = d
		defer d.Close()
		exe, _ = d.OpenExe()
	}
	opt.SkipExe = exe != nil || exeLost
	switch {
	case dir != nil:
		p = dir.Read(opt)
	default:
		// Gone (or its pid taken by another process) before anything
		// (but, with a capture, its stat) could be read.
		p = r.fs.Unread(pid, opt)
	}
	if exe != nil {
		r.exeFromFile(p, exe)
	} else if exeLost {
		p.Partial = true
		p.Missing = append([]string{"exe"}, p.Missing...)
	}
	if typ == "info" && p.Exe == "" {
		return false // kernel threads have no executable
	}
	if p.Exe != "" && r.excludedProc(p.Exe, dir, c) {
		return false
	}
	if p.PPID == 0 && r.forks != nil {
		p.PPID = int(r.forks.get(int32(pid)))
	}
	if typ == "start" {
		r.noteExec(p)
	}
	lin := r.lineageOf(p)
	var fut *hashcache.Future
	if r.hashes != nil {
		switch {
		case exe != nil:
			fut = r.hashes.Submit(exe) // the cache closes it
			exe = nil
		case noHash != "":
			fut = hashcache.Completed(noHash)
		case p.Exe == "":
			fut = hashcache.Completed(statusProcessGone)
		default:
			fut = hashcache.Completed(hashcache.Failed)
		}
	}
	if p.Partial {
		r.cnt.partial.Add(1)
	}
	rec := newRecord(ts, datasetProcess, processAction(typ), []string{"process"}, typ)
	putProcess(rec.Attributes(), p, &lin, r.users, r.groups)
	r.cnt.proc.Add(1)
	if r.live != nil {
		r.live.put(&liveProc{p: p, lin: lin, hash: fut})
	}
	r.enqueue(rec, fut)
	return true
}

// Receiver-side hash statuses, beside the cache's.
const (
	// statusSuperseded: the process exec'd another program before its
	// executable could be opened (it would have been the other one).
	statusSuperseded hashcache.Status = "superseded"
	// statusProcessGone: the process was gone before its executable could
	// be opened.
	statusProcessGone hashcache.Status = "process_gone"
	// statusUnverified: an audit record whose process could not be shown
	// to still run the executable the record names (exited, exec'd again,
	// pid reused, record too old or from another host): no file is opened
	// by the record's path.
	statusUnverified hashcache.Status = "unverified"
)

// exeFromFile describes the executable from the open file of it: the path
// is the kernel's name for that very file; it is deleted when no name is
// left (a name that merely ends in " (deleted)" is not taken for it).
func (r *hostReceiver) exeFromFile(p *procfs.Proc, exe *os.File) {
	link, err := r.fs.FileLink(exe)
	if err != nil {
		p.Partial = true
		p.Missing = append([]string{"exe"}, p.Missing...)
		return
	}
	path, suffixed, memfd := procfs.CleanExe(link)
	nlink, err := procfs.FileNlink(exe)
	deleted := err == nil && nlink == 0
	if suffixed && !deleted {
		path = link
	}
	p.Exe, p.ExeDeleted, p.ExeMemfd = path, deleted, memfd && deleted
}

// excludedPID is excludedProc for a process known by its pid alone.
func (r *hostReceiver) excludedPID(exe string, pid int) bool {
	if !r.excluded(exe) {
		return false
	}
	ns, err := os.Readlink(r.fs.PIDPath(pid) + "/ns/mnt")
	return err == nil && ns == r.mntNS
}

// excludedProc says whether exe matches exclude_executables and the process
// runs in the receiver's mount namespace: a path is only what it names in
// the namespace it was resolved in, and any user can make a mount
// namespace (with a user namespace) in which an excluded path names its own
// program. What cannot be checked is not excluded.
func (r *hostReceiver) excludedProc(exe string, dir *procfs.Dir, c *execCapture) bool {
	if !r.excluded(exe) {
		return false
	}
	if c != nil && c.mntNS != "" {
		return c.mntNS == r.mntNS
	}
	if dir == nil {
		return false
	}
	ns, err := dir.Readlink("ns/mnt")
	return err == nil && ns == r.mntNS
}

// reportEnd emits the end of a process whose start was reported: the same
// process fields and entity id, with process.end and process.exit_code.
// It carries no executable hash (the start has it; a second copy would
// make every hash-matching rule fire twice).
func (r *hostReceiver) reportEnd(lp *liveProc, ts time.Time, code uint32) {
	rec := newRecord(ts, datasetProcess, actionEnd, []string{"process"}, "end")
	a := rec.Attributes()
	putProcess(a, lp.p, &lp.lin, r.users, r.groups)
	putExit(a, ts, code)
	r.cnt.procEnd.Add(1)
	var after *hashcache.Future
	if lp.hash != nil && !lp.hash.Ready() {
		after = lp.hash
	}
	r.enqueueAfter(rec, after)
}

func processAction(typ string) string {
	if typ == "info" {
		return actionExisting
	}
	return actionExec
}

// processInventory reports every running process once, as event.type info.
func (r *hostReceiver) processInventory(ctx context.Context) {
	pids, err := r.fs.PIDs()
	if err != nil {
		r.logger.Warn("cairn_host: process inventory: " + err.Error())
		return
	}
	now := time.Now()
	for _, pid := range pids {
		if ctx.Err() != nil {
			return
		}
		r.reportProcess(pid, now, "info", nil)
	}
	r.logger.Debug("cairn_host: process inventory done: " + strconv.Itoa(len(pids)) + " pids")
}
