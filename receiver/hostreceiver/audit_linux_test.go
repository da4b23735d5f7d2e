package hostreceiver

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The audit source tails a real auditd log (needs no privilege: the file
// is ours). Records in order and interleaved out of order give the same
// events.
func TestAuditLogFile(t *testing.T) {
	for _, name := range []string{"normal.log", "out_of_order.log"} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Audit.Enabled = true
			cfg.Audit.LogFile = filepath.Join(auditData, name)
			cfg.Audit.StartAt = "beginning"
			cfg.Audit.PollInterval = 20 * time.Millisecond
			cfg.Audit.ReassemblyTimeout = 50 * time.Millisecond
			cfg.Hashing.Enabled = false
			r, sink := startReceiver(t, cfg)
			grep := waitEvent(t, sink, 5*time.Second, "grep exec", func(e event) bool {
				return e.str("process.executable") == "/usr/bin/grep"
			})
			assert.Equal(t, []string{"grep", "--color=auto", "mapping"}, grep.strs("process.args"))
			assert.Equal(t, int64(13393), grep.int("process.pid"))
			assert.Equal(t, int64(12041), grep.int("process.parent.pid"))
			assert.Equal(t, "/home/andrew_kroh", grep.str("process.working_directory"))
			assert.Equal(t, "1000", grep.str("user.id"))
			assert.Equal(t, "cairn_host.audit", grep.str("event.dataset"))
			assert.Equal(t, "grep --color=auto mapping", grep.str("process.command_line"))
			// A 2017 record: its process is long gone, nothing to link by.
			assert.Empty(t, grep.str("process.entity_id"))
			waitEvent(t, sink, 5*time.Second, "cat exec", func(e event) bool {
				return e.str("process.executable") == "/usr/bin/cat"
			})
			c := waitEvent(t, sink, 5*time.Second, "connect to the metadata service", func(e event) bool {
				return e.str("destination.ip") == "169.254.169.254"
			})
			assert.Equal(t, int64(80), c.int("destination.port"))
			assert.Equal(t, int64(1172), c.int("process.pid"))
			// The log shows python replaced under the running process.
			assert.Equal(t, "/usr/bin/python2.7;58d1ccfb", c.str("process.executable"))
			assert.Equal(t, "true", c.str(attrExeDeleted))
			time.Sleep(200 * time.Millisecond)
			var got []string
			for _, e := range events(sink) {
				got = append(got, e.str("event.action")+" "+e.str("process.executable")+" "+e.str("destination.ip"))
			}
			sort.Strings(got)
			// AF_UNIX connects (postfix) are not network events.
			assert.Equal(t, []string{
				"connection-attempted /usr/bin/python2.7;58d1ccfb 169.254.169.254",
				"exec /usr/bin/cat ",
				"exec /usr/bin/grep ",
			}, got)
			assert.Equal(t, uint64(3), r.Stats().AuditEvents)
		})
	}
}

// TestAuditTail: with start_at end, only records written after start are
// read, and a rotated file is followed.
func TestAuditTail(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(auditData, "normal.log"))
	require.NoError(t, err)
	lines := strings.SplitAfter(string(b), "\n")
	// Lines before the grep event; the grep and cat events follow.
	split := 0
	for i, l := range lines {
		if strings.Contains(l, "audit(1492037291.036:59)") {
			split = i
			break
		}
	}
	require.NotZero(t, split)
	path := filepath.Join(t.TempDir(), "audit.log")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines[:split], "")), 0o600))

	cfg := testConfig()
	cfg.Audit.Enabled = true
	cfg.Audit.LogFile = path
	cfg.Audit.PollInterval = 20 * time.Millisecond
	cfg.Audit.ReassemblyTimeout = 50 * time.Millisecond
	_, sink := startReceiver(t, cfg)
	time.Sleep(100 * time.Millisecond)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(strings.Join(lines[split:], ""))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	waitEvent(t, sink, 5*time.Second, "appended grep exec", func(e event) bool {
		return e.str("process.executable") == "/usr/bin/grep"
	})
	time.Sleep(200 * time.Millisecond)
	for _, e := range events(sink) {
		assert.NotEqual(t, "169.254.169.254", e.str("destination.ip"), "a record written before start was read")
	}

	// Rotate: a new file at the path is read from its beginning.
	require.NoError(t, os.Rename(path, path+".1"))
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines[:split], "")), 0o600))
	waitEvent(t, sink, 5*time.Second, "connect from the rotated file", func(e event) bool {
		return e.str("destination.ip") == "169.254.169.254"
	})
}

// TestAuditExecHashed: an audit exec record written just now (a live tail)
// gets the executable's sha256 like a proc connector start; an old record
// for the same path does not (the file may have changed since).
func TestAuditExecHashed(t *testing.T) {
	dir := t.TempDir()
	bin := copyBinary(t, dir, "audit-probe", []byte("audit"))
	want := fileSHA256(t, bin)
	lines := func(ts float64, seq, pid int) string {
		id := fmt.Sprintf("%.3f:%d", ts, seq)
		return fmt.Sprintf(`type=SYSCALL msg=audit(%[1]s): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=%[2]d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="audit-probe" exe="%[3]s" key=(null)
type=EXECVE msg=audit(%[1]s): argc=1 a0="audit-probe"
type=CWD msg=audit(%[1]s): cwd="%[4]s"
type=PATH msg=audit(%[1]s): item=0 name="%[3]s" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 objtype=NORMAL
type=EOE msg=audit(%[1]s):
`, id, pid, bin, dir)
	}
	now := float64(time.Now().UnixMilli()) / 1000
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(lines(now-3600, 1, 4001)+lines(now, 2, 4002)), 0o600))

	cfg := testConfig()
	cfg.Processes.Enabled = false
	cfg.Audit.Enabled = true
	cfg.Audit.LogFile = log
	cfg.Audit.StartAt = "beginning"
	cfg.Audit.PollInterval = 20 * time.Millisecond
	cfg.Audit.ReassemblyTimeout = 50 * time.Millisecond
	_, sink := startReceiver(t, cfg)
	fresh := waitEvent(t, sink, 10*time.Second, "the fresh exec with its hash", func(e event) bool {
		return e.int("process.pid") == 4002 && e.str("process.hash.sha256") != ""
	})
	assert.Equal(t, want, fresh.str("process.hash.sha256"))
	old := waitEvent(t, sink, 10*time.Second, "the old exec", func(e event) bool { return e.int("process.pid") == 4001 })
	assert.Empty(t, old.str("process.hash.sha256"), "an hour-old record is not hashed from today's file")
}

// TestAuditExecLineage: a fresh audit exec record of a process that still
// runs gets the entity ids the proc connector gives the same process (so
// the two sources link), its parent's, and its leaders; a record naming a
// running pid with another executable, or a pid that started after the
// record, gets none.
func TestAuditExecLineage(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	bin := copyBinary(t, dir, "audit-live", []byte("live"))
	cmd := helperCmd(bin, "sleep", "3s")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	record := func(ts time.Time, seq, pid int, exe string) string {
		id := fmt.Sprintf("%.3f:%d", float64(ts.UnixMilli())/1000, seq)
		return fmt.Sprintf(`type=SYSCALL msg=audit(%[1]s): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=%[5]d pid=%[2]d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="audit-live" exe="%[3]s" key=(null)
type=EXECVE msg=audit(%[1]s): argc=2 a0="%[3]s" a1="3s"
type=CWD msg=audit(%[1]s): cwd="%[4]s"
type=PATH msg=audit(%[1]s): item=0 name="%[3]s" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 objtype=NORMAL
type=EOE msg=audit(%[1]s):
`, id, pid, exe, dir, os.Getpid())
	}
	now := time.Now()
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(
		record(now, 1, pid, bin)+
			record(now, 2, pid, "/usr/bin/not-this-one")+
			// The process started after this record: not the one meant.
			record(now.Add(-time.Minute/2), 3, pid, bin)), 0o600))

	cfg := testConfig()
	cfg.Processes.Enabled = true
	cfg.Audit.Enabled = true
	cfg.Audit.LogFile = log
	cfg.Audit.StartAt = "beginning"
	cfg.Audit.PollInterval = 20 * time.Millisecond
	cfg.Audit.ReassemblyTimeout = 50 * time.Millisecond
	cfg.Inventory = true
	_, sink := startReceiver(t, cfg)
	audit := func(seq int64) event {
		return waitEvent(t, sink, 10*time.Second, fmt.Sprintf("audit record %d", seq), func(e event) bool {
			return e.str("event.dataset") == datasetAudit && e.int("cairn.audit.sequence") == seq
		})
	}
	inv := waitEvent(t, sink, 10*time.Second, "inventory of the live process", func(e event) bool {
		return e.str("event.dataset") == datasetProcess && e.int("process.pid") == int64(pid)
	})
	require.NotEmpty(t, inv.str("process.entity_id"))
	a := audit(1)
	assert.Equal(t, inv.str("process.entity_id"), a.str("process.entity_id"))
	assert.Equal(t, inv.str("process.parent.entity_id"), a.str("process.parent.entity_id"))
	assert.Equal(t, inv.str("process.start"), a.str("process.start"))
	assert.Equal(t, inv.str("process.session_leader.entity_id"), a.str("process.session_leader.entity_id"))
	assert.Equal(t, inv.str("process.group_leader.entity_id"), a.str("process.group_leader.entity_id"))
	assert.Equal(t, "exec", a.str("event.action"))
	for _, seq := range []int64{2, 3} {
		e := audit(seq)
		assert.Empty(t, e.str("process.entity_id"), "record %d", seq)
		assert.Empty(t, e.str("process.parent.entity_id"), "record %d", seq)
		assert.Equal(t, int64(os.Getpid()), e.int("process.parent.pid"), "the record's own ppid stays")
	}
}
