package hostreceiver

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// These tests play the proc connector reader's part by hand (captureExec
// and noteSuperseded, as readProcConnector calls them), so that the time
// between an exec's capture and its enrichment, which a queue makes
// arbitrary, can be made as long as an attack needs.

// captureReceiver starts a receiver whose own proc connector reader is off
// (it would report the same processes).
func captureReceiver(t *testing.T) (*hostReceiver, *consumertest.LogsSink) {
	t.Helper()
	requireRoot(t)
	cfg := testConfig()
	cfg.Connections.Enabled = true
	return startReceiver(t, cfg)
}

// waitExec waits until pid has executed path in full: the program says it
// runs (the proc connector notifies an exec when it is over; the file is
// switched earlier, before argv is in place).
func waitExec(t *testing.T, r *hostReceiver, out *bufio.Reader, pid int, path string) {
	t.Helper()
	line, err := out.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	require.Equal(t, path, r.fs.ReadExe(pid))
}

func eventsOf(sink *consumertest.LogsSink, pid int) []event {
	var out []event
	for _, e := range events(sink) {
		if e.int("process.pid") == int64(pid) {
			out = append(out, e)
		}
	}
	return out
}

// waitHashed waits for pid's event for exe with a hash or a hash status.
func waitHashed(t *testing.T, sink *consumertest.LogsSink, pid int, what string, pred func(event) bool) event {
	t.Helper()
	return waitEvent(t, sink, 10*time.Second, what, func(e event) bool {
		return e.int("process.pid") == int64(pid) && pred(e) &&
			(e.str("process.hash.sha256") != "" || e.str(attrHashStatus) != "")
	})
}

// TestExecTakenAtExecTime: a process execs program a, then program b
// before its first exec is enriched (a queue in between). The first start
// is a's, with a's hash, taken when the exec was read; what only /proc can
// tell now (argv, cwd, ids) is b's, so it is left out, not misattributed.
// The second start is b's.
func TestExecTakenAtExecTime(t *testing.T) {
	r, sink := captureReceiver(t)
	dir := t.TempDir()
	a := copyBinary(t, dir, "prog-a", []byte("a"))
	b := copyBinary(t, dir, "prog-b", []byte("b"))
	cmd := helperCmd(a, "reexec", b, "20s")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out := startReady(t, cmd)
	pid := cmd.Process.Pid

	last := map[int32]*execCapture{}
	c1 := r.captureExec(pid)
	require.NotNil(t, c1)
	r.noteSuperseded(last, int32(pid), c1, monotonicNow())
	_, err = io.WriteString(stdin, "go\n")
	require.NoError(t, err)
	waitExec(t, r, out, pid, b)
	// The kernel stamped the second exec before this.
	ts2 := monotonicNow()
	c2 := r.captureExec(pid)
	r.noteSuperseded(last, int32(pid), c2, ts2)

	require.True(t, r.reportProcess(pid, time.Now(), "start", c1))
	require.True(t, r.reportProcess(pid, time.Now(), "start", c2))
	first := waitHashed(t, sink, pid, "a's start", func(e event) bool { return e.str("process.executable") == a })
	assert.Equal(t, fileSHA256(t, a), first.str("process.hash.sha256"))
	assert.Empty(t, first.strs("process.args"), "b's argv on a's start")
	assert.Contains(t, first.strs(attrMissing), "cmdline")
	assert.NotEmpty(t, first.str("process.entity_id"), "the stat taken at exec time names the instance")
	second := waitHashed(t, sink, pid, "b's start", func(e event) bool { return e.str("process.executable") == b })
	assert.Equal(t, fileSHA256(t, b), second.str("process.hash.sha256"))
	assert.Equal(t, []string{b, "20s"}, second.strs("process.args"))
	assert.Equal(t, first.str("process.entity_id"), second.str("process.entity_id"), "one process instance")
	assert.Len(t, eventsOf(sink, pid), 2)
}

// TestExecSupersededBeforeOpen: the reader was late: the second exec was
// stamped by the kernel before the first one's executable was opened, so
// the file opened may be the second program. The first start then says so
// (hash_status superseded, exe missing) rather than carry b's image.
func TestExecSupersededBeforeOpen(t *testing.T) {
	r, sink := captureReceiver(t)
	dir := t.TempDir()
	a := copyBinary(t, dir, "late-a", []byte("a"))
	b := copyBinary(t, dir, "late-b", []byte("b"))
	cmd := helperCmd(a, "reexec", b, "20s")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out := startReady(t, cmd)
	pid := cmd.Process.Pid
	_, err = io.WriteString(stdin, "go\n")
	require.NoError(t, err)
	waitExec(t, r, out, pid, b)
	ts2 := monotonicNow() // the second exec's stamp is no later

	last := map[int32]*execCapture{}
	c1 := r.captureExec(pid) // the first exec's capture, opened after the second exec
	r.noteSuperseded(last, int32(pid), c1, ts2-int64(time.Millisecond))
	c2 := r.captureExec(pid)
	r.noteSuperseded(last, int32(pid), c2, ts2)
	require.True(t, r.reportProcess(pid, time.Now(), "start", c1))
	require.True(t, r.reportProcess(pid, time.Now(), "start", c2))

	first := waitHashed(t, sink, pid, "the superseded start", func(e event) bool { return e.str(attrHashStatus) == "superseded" })
	assert.Empty(t, first.str("process.executable"))
	assert.Empty(t, first.str("process.hash.sha256"))
	assert.Contains(t, first.strs(attrMissing), "exe")
	second := waitHashed(t, sink, pid, "b's start", func(e event) bool { return e.str("process.executable") == b })
	assert.Equal(t, fileSHA256(t, b), second.str("process.hash.sha256"))
	for _, e := range eventsOf(sink, pid) {
		if e.str(attrHashStatus) == "superseded" {
			assert.NotEqual(t, fileSHA256(t, b), e.str("process.hash.sha256"))
		}
	}
}

// startWithPID starts cmd (a helper that prints ready) as pid, by setting
// the pid namespace's last allocated pid just before (as checkpoint/restore
// tools do); other processes forking meanwhile can take it first, so it
// tries again. It skips the test when it never gets the pid.
func startWithPID(t *testing.T, pid int, make func() *exec.Cmd) *exec.Cmd {
	t.Helper()
	for range 200 {
		cmd := make()
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("skipped: cannot set ns_last_pid: %v", err)
		}
		startReady(t, cmd)
		if cmd.Process.Pid == pid {
			return cmd
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Skip("skipped: another process kept taking the pid")
	return nil
}

// TestExecCapturePIDReuse: the process that exec'd exits and its pid is
// handed to another process before the start is enriched. Nothing of the
// newcomer is attributed to the start: its image is the one opened at exec
// time, its start time the one read then, and what could only be read now
// is missing.
func TestExecCapturePIDReuse(t *testing.T) {
	r, sink := captureReceiver(t)
	dir := t.TempDir()
	a := copyBinary(t, dir, "reused-a", []byte("a"))
	b := copyBinary(t, dir, "reused-b", []byte("b"))
	first := helperCmd(a, "sleep", "20s", "first")
	startReady(t, first)
	pid := first.Process.Pid
	c := r.captureExec(pid)
	require.NotNil(t, c)
	st := c.stat
	require.NoError(t, first.Process.Kill())
	_ = first.Wait()
	second := startWithPID(t, pid, func() *exec.Cmd { return helperCmd(b, "sleep", "20s", "second") })
	require.Equal(t, b, r.fs.ReadExe(pid), "the pid now runs b")

	require.True(t, r.reportProcess(pid, time.Now(), "start", c))
	e := waitHashed(t, sink, pid, "the first process's start", func(event) bool { return true })
	assert.Equal(t, a, e.str("process.executable"))
	assert.Equal(t, fileSHA256(t, a), e.str("process.hash.sha256"))
	assert.Equal(t, r.fs.StartTime(st.StartTicks).UTC().Format(time.RFC3339Nano), e.str("process.start"))
	assert.Equal(t, r.ids.of(pid, st.StartTicks), e.str("process.entity_id"))
	assert.False(t, slices.Contains(e.strs("process.args"), "second"), "the newcomer's argv")
	assert.Equal(t, "true", e.str(attrPartial))
	_ = second
}

// TestCaptureRelease: a capture's files are closed once, whether its start
// is reported, dropped (a full queue) or left queued at shutdown.
func TestCaptureRelease(t *testing.T) {
	r, _ := captureReceiver(t)
	c := r.captureExec(os.Getppid())
	require.NotNil(t, c)
	require.Equal(t, int64(1), r.capturesOpen.Load())
	c.release()
	c.release() // twice is harmless
	assert.Equal(t, int64(0), r.capturesOpen.Load())
	assert.True(t, c.done.Load())

	cfg := testConfig()
	cfg.Processes.Enabled = true
	r2, sink := startReceiver(t, cfg)
	for range 20 {
		require.NoError(t, exec.Command("/bin/true").Run())
	}
	waitEvent(t, sink, 10*time.Second, "a start", func(e event) bool { return e.str("event.action") == "exec" })
	require.NoError(t, r2.Shutdown(t.Context()))
	assert.Equal(t, int64(0), r2.capturesOpen.Load(), "captures left open after shutdown")
}
