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
// of a process that still runs the program it names gets that program's
// sha256, read through the process, like a proc connector start. An old
// record of the same process, and a record of a process gone, are not
// hashed (hash_status unverified): nothing is opened by a record's path.
func TestAuditExecHashed(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	bin := copyBinary(t, dir, "audit-probe", []byte("audit"))
	want, id := fileSHA256(t, bin), auditFileID(t, bin)
	cmd := helperCmd(bin, "sleep", "20s")
	startReady(t, cmd)
	gone := helperCmd(bin, "exit")
	require.NoError(t, gone.Run())
	now := time.Now()
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(
		auditExecRecord(now.Add(-time.Hour), 1, cmd.Process.Pid, os.Getpid(), bin, id, dir, "audit-probe")+
			auditExecRecord(now, 2, cmd.Process.Pid, os.Getpid(), bin, id, dir, "audit-probe")+
			auditExecRecord(now, 3, gone.Process.Pid, os.Getpid(), bin, id, dir, "audit-probe")), 0o600))

	_, sink := startReceiver(t, auditConfig(log))
	fresh := waitEvent(t, sink, 10*time.Second, "the fresh exec with its hash", func(e event) bool {
		return auditSeq(2)(e) && e.str("process.hash.sha256") != ""
	})
	assert.Equal(t, want, fresh.str("process.hash.sha256"))
	for _, seq := range []int64{1, 3} {
		e := waitEvent(t, sink, 10*time.Second, fmt.Sprintf("record %d", seq), auditSeq(seq))
		assert.Empty(t, e.str("process.hash.sha256"), "record %d", seq)
		assert.Equal(t, "unverified", e.str(attrHashStatus), "record %d", seq)
	}
}

// TestAuditExecLineage: a fresh audit exec record of a process that still
// runs gets the entity ids the proc connector gives the same process (so
// the two sources link), its parent's, and its leaders; a record naming a
// running pid with another executable (another file), or a pid that
// started after the record, gets none.
func TestAuditExecLineage(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	bin := copyBinary(t, dir, "audit-live", []byte("live"))
	cmd := helperCmd(bin, "sleep", "3s")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	id := auditFileID(t, bin)
	now := time.Now()
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(
		auditExecRecord(now, 1, pid, os.Getpid(), bin, id, dir, bin, "3s")+
			auditExecRecord(now, 2, pid, os.Getpid(), "/usr/bin/not-this-one", auditFileID(t, "/bin/sh"), dir, "not-this-one")+
			// The process started after this record: not the one meant.
			auditExecRecord(now.Add(-time.Minute/2), 3, pid, os.Getpid(), bin, id, dir, bin, "3s")), 0o600))

	cfg := auditConfig(log)
	cfg.Processes.Enabled = true
	cfg.Inventory = true
	_, sink := startReceiver(t, cfg)
	audit := func(seq int64) event {
		return waitEvent(t, sink, 10*time.Second, fmt.Sprintf("audit record %d", seq), auditSeq(seq))
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

// TestLocalAuditNode: which node= names are this host's.
func TestLocalAuditNode(t *testing.T) {
	r := &hostReceiver{cfg: testConfig(), auditHost: "web-03"}
	for node, local := range map[string]bool{
		"web-03": true, "WEB-03": true, "web-03.example.net": true,
		"web-030": false, "web-0": false, "db-1": false, "web-03x.example.net": false, "": false,
	} {
		assert.Equal(t, local, r.localAuditNode(node), node)
	}
	r.auditHost = "web-03.example.net"
	assert.True(t, r.localAuditNode("web-03"))
	assert.True(t, r.localAuditNode("web-03.example.net"))
	r.cfg.Audit.NodeNames = []string{"10.0.0.3"}
	assert.True(t, r.localAuditNode("10.0.0.3"))
	assert.False(t, r.localAuditNode("web-03"), "node_names replace the host name")
}
