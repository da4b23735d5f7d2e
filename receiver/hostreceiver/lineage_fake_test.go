package hostreceiver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/procfs"
)

// fakeProc is a proc file system in a directory: stat files and exe links
// (dangling: only their targets matter), so that the walks over the
// process tree can be checked on trees this machine does not have.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "stat"), []byte("cpu 1 2 3\nbtime 1700000000\n"), 0o644))
	return &fakeProc{t: t, root: root}
}

// proc writes pid's stat (comm, parent, group, session, terminal, start
// ticks) and its exe link.
func (f *fakeProc) proc(pid, ppid, pgid, sid int, tty uint32, ticks uint64, exe string) {
	dir := filepath.Join(f.root, fmt.Sprint(pid))
	require.NoError(f.t, os.MkdirAll(dir, 0o755))
	stat := fmt.Sprintf("%d (%s) S %d %d %d %d -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100\n",
		pid, filepath.Base(exe), ppid, pgid, sid, tty, ticks)
	require.NoError(f.t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	_ = os.Remove(filepath.Join(dir, "exe"))
	require.NoError(f.t, os.Symlink(exe, filepath.Join(dir, "exe")))
}

func (f *fakeProc) gone(pid int) {
	require.NoError(f.t, os.RemoveAll(filepath.Join(f.root, fmt.Sprint(pid))))
}

func (f *fakeProc) receiver() *hostReceiver {
	fs, err := procfs.New(f.root)
	require.NoError(f.t, err)
	r := &hostReceiver{fs: fs, ids: newEntityIDs("host", "boot", 1)}
	r.procCache, _ = lru.New[procKey, *procInfo](procCacheSize)
	return r
}

func (f *fakeProc) read(r *hostReceiver, pid int) *procfs.Proc {
	p := r.fs.Read(pid, procfs.Options{})
	require.True(f.t, p.HasStat, "pid %d", pid)
	return p
}

// TestEntryLeaderWalk checks the entry leader rules and the walk on a fake
// tree:
//
//	1 init
//	├ 500 sshd (a service: entry "init")
//	│  └ 600 sshd-session
//	│     └ 700 bash, session leader on pts/0 (entry "sshd")
//	│        └ 1000 ls, its own group
//	├ 800 tmux server, session leader (entry "init")
//	│  └ 900 bash, session leader on pts/1: under tmux, not an entry
//	└ 1100 nohup'd job of the ssh session, reparented to init
//
// The cache holds ancestors only: the processes an event is about are
// judged afresh each time.
func TestEntryLeaderWalk(t *testing.T) {
	const pts0, pts1 = 136 << 8, 136<<8 | 1
	f := newFakeProc(t)
	f.proc(1, 0, 1, 1, 0, 5, "/usr/lib/systemd/systemd")
	f.proc(500, 1, 500, 500, 0, 100, "/usr/sbin/sshd")
	f.proc(600, 500, 600, 600, 0, 200, "/usr/lib/openssh/sshd-session")
	f.proc(700, 600, 700, 700, pts0, 210, "/usr/bin/bash")
	f.proc(1000, 700, 1000, 700, pts0, 300, "/usr/bin/ls")
	f.proc(800, 1, 800, 800, 0, 150, "/usr/bin/tmux")
	f.proc(900, 800, 900, 900, pts1, 160, "/usr/bin/bash")
	f.proc(1100, 1, 1100, 700, pts0, 400, "/usr/bin/sleep")
	r := f.receiver()

	entry := func(pid int) *entryRef {
		t.Helper()
		return r.lineageOf(f.read(r, pid)).entry
	}
	e := entry(1000)
	require.NotNil(t, e)
	assert.Equal(t, 700, e.pid)
	assert.Equal(t, "sshd", e.typ)
	assert.Equal(t, r.ids.of(700, 210), e.entityID)
	assert.Equal(t, "/usr/bin/bash", e.exe)
	assert.Equal(t, r.fs.StartTime(210), e.start)

	e = entry(900)
	require.NotNil(t, e)
	assert.Equal(t, 800, e.pid, "a shell in tmux belongs to the tmux server's entry")
	assert.Equal(t, "init", e.typ)

	e = entry(500)
	require.NotNil(t, e)
	assert.Equal(t, 500, e.pid)
	assert.Equal(t, "init", e.typ)

	assert.Nil(t, entry(1100), "reparented to init and not a session leader: unknown")
	assert.Nil(t, entry(1), "init has none")

	// ls's children: the first caches ls's entry leader (as an ancestor);
	// the next, after the ssh shell has exited, inherits it from there.
	f.proc(1150, 1000, 1000, 700, pts0, 450, "/usr/bin/cat")
	e = entry(1150)
	require.NotNil(t, e)
	assert.Equal(t, 700, e.pid)
	f.gone(700)
	f.proc(1200, 1000, 1000, 700, pts0, 500, "/usr/bin/grep")
	e = entry(1200)
	require.NotNil(t, e)
	assert.Equal(t, 700, e.pid)
	assert.Equal(t, procRef{pid: 700}, r.lineageOf(f.read(r, 1200)).session, "the gone leader: pid only")

	// ls becomes a session leader under init (setsid after its parent
	// exited) and execs again: it is judged afresh.
	f.proc(1000, 1, 1000, 1000, 0, 300, "/usr/bin/daemon")
	e = entry(1000)
	require.NotNil(t, e)
	assert.Equal(t, 1000, e.pid)
	assert.Equal(t, "init", e.typ)
}

// TestLineageChecks: a parent that started after the child (its pid was
// reused) and leaders that are gone are given by pid alone.
func TestLineageChecks(t *testing.T) {
	f := newFakeProc(t)
	f.proc(50, 1, 50, 50, 0, 900, "/usr/bin/newcomer") // took the pid of the child's parent
	f.proc(60, 50, 40, 30, 0, 800, "/usr/bin/child")   // group 40 and session 30: gone
	r := f.receiver()
	l := r.lineageOf(f.read(r, 60))
	assert.Equal(t, r.ids.of(60, 800), l.entityID)
	assert.Equal(t, procRef{pid: 50}, l.parent)
	assert.Equal(t, procRef{pid: 40}, l.group)
	assert.Equal(t, procRef{pid: 30}, l.session)
	assert.Nil(t, l.entry)

	// The fork notification's parent of a process gone before its stat was
	// read has no start to check against: taken as it is.
	l = r.lineageOf(&procfs.Proc{PID: 61, PPID: 50, Partial: true})
	assert.Empty(t, l.entityID)
	assert.True(t, l.parent.known)
	assert.Equal(t, r.ids.of(50, 900), l.parent.entityID)
	assert.Equal(t, "newcomer", l.parent.name)
}
