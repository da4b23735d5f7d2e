package hostreceiver

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/internal/procfs"
)

// execCapture is what is taken of a process as soon as its exec
// notification is read, before it waits in a queue: the open /proc/<pid>
// directory (which stands for this process instance: a process that takes
// the pid over later is not read through it), the process's stat (its
// start time, which names the instance, and its parent and leaders as of
// the exec) and its executable, opened through the process. The
// enrichment worker reads the rest through the same directory and checks
// the start time, so neither pid reuse nor the wait in the queue can
// attribute another process's image or details to this start.
type execCapture struct {
	dir     *procfs.Dir
	exe     *os.File
	stat    procfs.Stat
	hasStat bool
	// exeOpened is when the executable's open returned (CLOCK_MONOTONIC
	// ns, the proc connector's clock).
	exeOpened int64
	// mntNS is the process's mount namespace at exec time, read only when
	// exclude_executables is set.
	mntNS string
	// nextExec is the kernel's timestamp of a later exec of the same
	// process instance, set by the reader when it sees one while this
	// capture waits (0: none seen).
	nextExec atomic.Int64
	done     atomic.Bool
	fds      bool
	r        *hostReceiver
}

// maxCapturesOpen bounds the captures holding open files (two each) while
// they wait for a worker; beyond it, only the identity (the stat) is taken,
// and the worker opens the process and checks its start time.
const maxCapturesOpen = 2048

// captureExec takes what can be taken of pid right away. nil: the process
// was already gone.
func (r *hostReceiver) captureExec(pid int) *execCapture {
	c := &execCapture{r: r}
	withFiles := r.capturesOpen.Add(1) <= maxCapturesOpen
	if !withFiles {
		r.capturesOpen.Add(-1)
	}
	if withFiles {
		d, err := r.fs.OpenDir(pid)
		if err != nil {
			r.capturesOpen.Add(-1)
			return nil
		}
		c.dir, c.fds = d, true
		if exe, err := d.OpenExe(); err == nil {
			c.exe = exe
		}
		c.exeOpened = monotonicNow()
		if st, err := d.ReadStat(); err == nil {
			c.stat, c.hasStat = st, true
		}
		if len(r.cfg.ExcludeExecutables) > 0 {
			c.mntNS, _ = d.Readlink("ns/mnt")
		}
		return c
	}
	st, err := r.fs.ReadStat(pid)
	if err != nil {
		return nil
	}
	c.stat, c.hasStat = st, true
	c.exeOpened = monotonicNow()
	return c
}

// noteSuperseded tells the capture still waiting for the same process
// instance that it exec'd again at ts (kernel time), and makes c the
// latest. The map is the reader's alone; it keeps captures still waiting.
func (r *hostReceiver) noteSuperseded(last map[int32]*execCapture, pid int32, c *execCapture, ts int64) {
	if prev := last[pid]; prev != nil && !prev.done.Load() && prev.hasStat && c != nil && c.hasStat &&
		prev.stat.StartTicks == c.stat.StartTicks {
		prev.nextExec.Store(ts)
	}
	if c == nil {
		delete(last, pid)
		return
	}
	last[pid] = c
	if len(last) > 2*maxCapturesOpen+enrichQueue {
		for k, v := range last {
			if v.done.Load() {
				delete(last, k)
			}
		}
	}
}

// release closes what the capture still holds; safe on nil and twice.
func (c *execCapture) release() {
	if c == nil || c.done.Swap(true) {
		return
	}
	if c.exe != nil {
		c.exe.Close()
		c.exe = nil
	}
	c.dir.Close()
	if c.fds {
		c.r.capturesOpen.Add(-1)
	}
}

func monotonicNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
