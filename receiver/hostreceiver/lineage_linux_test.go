package hostreceiver

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/procfs"
)

// TestProcessLineage runs, for real, the tree an SSH login makes:
//
//	test ─ sshd (a copy of the test binary named sshd)
//	        └ sh: new session, controlling terminal a fresh pty, job control
//	           └ child: a job, so the leader of a new process group
//	              └ grandchild: exits 7
//
// and checks that every start links to its parent's start by entity id,
// that session, group and entry leaders are the right processes, that the
// terminal is the pty, and that each end repeats its start's entity id with
// the exit code.
func TestProcessLineage(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	r, sink := startReceiver(t, cfg)

	dir := t.TempDir()
	sshd := copyBinary(t, dir, "sshd", nil)
	child := copyBinary(t, dir, "cairn-child", []byte("child"))
	cmd := helperCmd(sshd, "spawn", `set -m; "$0" 7; exit 5`, child)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	var ttyMajor, ttyMinor int64
	_, err = fmt.Sscan(line, &ttyMajor, &ttyMinor)
	require.NoError(t, err)
	require.GreaterOrEqual(t, ttyMajor, int64(136), "a Unix98 pty (devices.txt: 136-143)")
	err = cmd.Wait()
	var ee interface{ ExitCode() int }
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 5, ee.ExitCode(), "the shell's status, through the spawner")
	dPID := int64(cmd.Process.Pid)

	start := func(what string, pred func(event) bool) event {
		return waitEvent(t, sink, 10*time.Second, what, func(e event) bool {
			return e.str("event.action") == "exec" && pred(e)
		})
	}
	end := func(what string, pid int64) event {
		return waitEvent(t, sink, 10*time.Second, what, func(e event) bool {
			return e.str("event.action") == "end" && e.int("process.pid") == pid
		})
	}
	d := start("sshd start", func(e event) bool { return e.int("process.pid") == dPID })
	s := start("shell start", func(e event) bool { return e.int("process.parent.pid") == dPID })
	sPID := s.int("process.pid")
	c := start("child start", func(e event) bool { return e.int("process.parent.pid") == sPID })
	cPID := c.int("process.pid")
	g := start("grandchild start", func(e event) bool { return e.int("process.parent.pid") == cPID })

	for _, e := range []event{d, s, c, g} {
		require.Len(t, e.str("process.entity_id"), 32, "entity id of pid %d", e.int("process.pid"))
		assert.Empty(t, e.str(attrPartial), "pid %d read in full", e.int("process.pid"))
	}
	// The spawner's parent is this test process.
	self, err := r.fs.ReadStat(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, r.ids.of(os.Getpid(), self.StartTicks), d.str("process.parent.entity_id"))
	// Each start names its parent's entity id, start and executable.
	for _, pc := range [][2]event{{s, d}, {c, s}, {g, c}} {
		kid, parent := pc[0], pc[1]
		assert.Equal(t, parent.str("process.entity_id"), kid.str("process.parent.entity_id"))
		assert.Equal(t, parent.str("process.start"), kid.str("process.parent.start"))
		assert.Equal(t, parent.str("process.executable"), kid.str("process.parent.executable"))
		assert.Equal(t, parent.str("process.name"), kid.str("process.parent.name"))
		assert.NotEqual(t, parent.str("process.entity_id"), kid.str("process.entity_id"))
	}
	assert.Equal(t, sshd, s.str("process.parent.executable"))
	assert.Equal(t, "sshd", s.str("process.parent.name"))

	// The shell leads its session and its group, and is the entry leader
	// (a session started by sshd); the child leads its own group.
	leader := func(e event, role string, want event) {
		t.Helper()
		assert.Equal(t, want.int("process.pid"), e.int("process."+role+".pid"), role)
		assert.Equal(t, want.str("process.entity_id"), e.str("process."+role+".entity_id"), role)
		assert.Equal(t, want.str("process.start"), e.str("process."+role+".start"), role)
		assert.Equal(t, want.str("process.executable"), e.str("process."+role+".executable"), role)
		assert.Equal(t, strconv.FormatBool(e.int("process.pid") == want.int("process.pid")),
			e.str("process."+role+".same_as_process"), role)
	}
	for _, e := range []event{s, c, g} {
		leader(e, "session_leader", s)
		leader(e, "entry_leader", s)
		assert.Equal(t, "sshd", e.str("process.entry_leader.entry_meta.type"))
		// The controlling terminal is the pty.
		assert.Equal(t, ttyMajor, e.int("process.tty.char_device.major"))
		assert.Equal(t, ttyMinor, e.int("process.tty.char_device.minor"))
	}
	leader(s, "group_leader", s)
	leader(c, "group_leader", c)
	leader(g, "group_leader", c)
	assert.Equal(t, "true", s.str("process.session_leader.same_as_process"))
	assert.Equal(t, "false", g.str("process.group_leader.same_as_process"))
	// The spawner is in this test's session, without the pty.
	assert.Equal(t, int64(-1), d.int("process.tty.char_device.major"))

	assert.Equal(t, []string{child, "7"}, g.strs("process.args"))
	assert.Equal(t, child+" 7", g.str("process.command_line"))
	assert.Equal(t, `/bin/sh -c set -m; "$0" 7; exit 5 `+child, s.str("process.command_line"))

	// Ends: same entity id and start as the start, exit code, end time.
	for _, want := range []struct {
		start event
		code  int64
	}{{g, 7}, {c, 7}, {s, 5}, {d, 5}} {
		pid := want.start.int("process.pid")
		e := end("end of pid "+strconv.FormatInt(pid, 10), pid)
		assert.Equal(t, []string{"end"}, e.strs("event.type"))
		assert.Equal(t, []string{"process"}, e.strs("event.category"))
		assert.Equal(t, want.start.str("process.entity_id"), e.str("process.entity_id"))
		assert.Equal(t, want.start.str("process.start"), e.str("process.start"))
		assert.Equal(t, want.start.str("process.parent.entity_id"), e.str("process.parent.entity_id"))
		assert.Equal(t, want.start.str("process.command_line"), e.str("process.command_line"))
		assert.Equal(t, want.code, e.int("process.exit_code"), "exit code of pid %d", pid)
		assert.Equal(t, int64(-1), e.int(attrExitSignal))
		assert.Empty(t, e.str("process.hash.sha256"), "the hash is on the start only")
		endTS, err := time.Parse(time.RFC3339Nano, e.str("process.end"))
		require.NoError(t, err)
		startTS, err := time.Parse(time.RFC3339Nano, want.start.str("process.start"))
		require.NoError(t, err)
		// Start times have a 10 ms resolution.
		assert.False(t, endTS.Before(startTS.Truncate(10*time.Millisecond)), "pid %d ended before it started", pid)
	}
	assert.GreaterOrEqual(t, r.Stats().ProcessEndEvents, uint64(4))
}

// TestProcessEndSignal: a process killed by a signal ends with 128+signal,
// as a shell reports it, and the signal.
func TestProcessEndSignal(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	_, sink := startReceiver(t, cfg)
	cmd := helperCmd(copyBinary(t, t.TempDir(), "cairn-victim", nil), "sleep", "10s")
	require.NoError(t, cmd.Start())
	pid := int64(cmd.Process.Pid)
	st := waitEvent(t, sink, 10*time.Second, "start", func(e event) bool {
		return e.int("process.pid") == pid && e.str("event.action") == "exec"
	})
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	e := waitEvent(t, sink, 10*time.Second, "end", func(e event) bool {
		return e.int("process.pid") == pid && e.str("event.action") == "end"
	})
	assert.Equal(t, int64(137), e.int("process.exit_code"))
	assert.Equal(t, int64(9), e.int(attrExitSignal))
	assert.Empty(t, e.str(attrCoreDumped))
	assert.Equal(t, st.str("process.entity_id"), e.str("process.entity_id"))
}

// TestExitEventsOff: with exit_events false, processes start but never end.
func TestExitEventsOff(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	cfg.Processes.ExitEvents = false
	r, sink := startReceiver(t, cfg)
	cmd := helperCmd(copyBinary(t, t.TempDir(), "cairn-quiet", nil), "sleep", "200ms")
	require.NoError(t, cmd.Run())
	pid := int64(cmd.Process.Pid)
	waitEvent(t, sink, 10*time.Second, "start", func(e event) bool { return e.int("process.pid") == pid })
	// An end would follow within milliseconds; give it far longer.
	time.Sleep(time.Second)
	for _, e := range events(sink) {
		assert.NotEqual(t, "end", e.str("event.action"))
	}
	assert.Zero(t, r.Stats().ProcessEndEvents)
	assert.Nil(t, r.live)
}

// TestInventoryLineage: a process running before the receiver starts gets,
// in its inventory event, the same entity id as a start event would give,
// and its end is reported.
func TestInventoryLineage(t *testing.T) {
	requireRoot(t)
	cmd := helperCmd(copyBinary(t, t.TempDir(), "cairn-old", nil), "sleep", "1500ms")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Start returns before the kernel has sent the exec's proc connector
	// event; a receiver started in between would see this process start.
	// Wait until it runs.
	ready, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", ready)
	pid := int64(cmd.Process.Pid)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	cfg.Inventory = true
	r, sink := startReceiver(t, cfg)
	inv := waitEvent(t, sink, 10*time.Second, "inventory", func(e event) bool { return e.int("process.pid") == pid })
	assert.Equal(t, "existing_process", inv.str("event.action"))
	st, err := procfs.ParseStat(mustRead(t, "/proc/"+strconv.FormatInt(pid, 10)+"/stat"))
	require.NoError(t, err)
	assert.Equal(t, r.ids.of(int(pid), st.StartTicks), inv.str("process.entity_id"))
	require.NoError(t, cmd.Wait())
	e := waitEvent(t, sink, 10*time.Second, "end", func(e event) bool {
		return e.int("process.pid") == pid && e.str("event.action") == "end"
	})
	assert.Equal(t, inv.str("process.entity_id"), e.str("process.entity_id"))
	assert.Equal(t, int64(0), e.int("process.exit_code"))
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// BenchmarkLineage measures what lineage costs a process event, on this
// test process: "warm" is the usual case (parents and leaders are
// long-lived, their executables and entry leader cached), "cold" reads
// every ancestor's stat and executable. cpu-ns/op is the process's CPU
// time per call, which a busy machine does not inflate as it does ns/op.
func BenchmarkLineage(b *testing.B) {
	fs, err := procfs.New("")
	require.NoError(b, err)
	boot, err := fs.BootID()
	require.NoError(b, err)
	p := fs.Read(os.Getpid(), procfs.Options{})
	require.True(b, p.HasStat)
	newR := func() *hostReceiver {
		r := &hostReceiver{fs: fs, ids: newEntityIDs("host", boot, 1)}
		r.procCache, _ = lru.New[procKey, *procInfo](procCacheSize)
		return r
	}
	b.Run("warm", func(b *testing.B) {
		r := newR()
		r.lineageOf(p)
		cpu0 := cpuTime()
		for b.Loop() {
			r.lineageOf(p)
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	})
	b.Run("cold", func(b *testing.B) {
		cpu0 := cpuTime()
		for b.Loop() {
			newR().lineageOf(p)
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	})
}
