package hostreceiver

import (
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
				"process-started /usr/bin/cat ",
				"process-started /usr/bin/grep ",
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
