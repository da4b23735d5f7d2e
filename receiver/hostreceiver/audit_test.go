package hostreceiver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	yaml "go.yaml.in/yaml/v3"
)

const auditData = "../../testdata/audit"

// auditEventsOf reassembles the records of one raw event (as in the
// go-libaudit YAML fixtures) and maps it.
func auditEventsOf(t *testing.T, raw string) (event, string, bool) {
	t.Helper()
	var msgs []*auparse.AuditMessage
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		m, err := auparse.ParseLogLine(line)
		require.NoError(t, err, line)
		msgs = append(msgs, m)
	}
	ar, ok := auditEvent(msgs, nameFunc(func(id uint32) string {
		return map[uint32]string{0: "root", 1001: "andrew"}[id]
	}), 64, 4096)
	if !ok {
		return event{}, "", false
	}
	return event{attrs: ar.rec.Attributes(), resource: pcommon.NewMap()}, ar.kind, true
}

func loadFixtures(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(auditData, name))
	require.NoError(t, err)
	var doc struct {
		Tests map[string]string `yaml:"tests"`
	}
	require.NoError(t, yaml.Unmarshal(b, &doc))
	return doc.Tests
}

func TestAuditFixturesUbuntu(t *testing.T) {
	tests := loadFixtures(t, "ubuntu-16.10-linux-4.8.0.yaml")
	e, kind, ok := auditEventsOf(t, tests["EXECVE"])
	require.True(t, ok)
	assert.Equal(t, "process", kind)
	assert.Equal(t, []string{"uname", "-a"}, e.strs("process.args"))
	assert.Equal(t, "/bin/uname", e.str("process.executable"))
	assert.Equal(t, "uname", e.str("process.name"))
	assert.Equal(t, int64(10043), e.int("process.pid"))
	assert.Equal(t, int64(10027), e.int("process.parent.pid"))
	assert.Equal(t, "/home/andrew_kroh", e.str("process.working_directory"))
	assert.Equal(t, "1001", e.str("user.id"))
	assert.Equal(t, "andrew", e.str("user.name"))
	assert.Equal(t, "1001", e.str("user.audit.id"))
	assert.Equal(t, []string{"start"}, e.strs("event.type"))
	assert.Equal(t, "success", e.str("event.outcome"))

	e, kind, ok = auditEventsOf(t, tests["connect syscall"])
	require.True(t, ok)
	assert.Equal(t, "connection", kind)
	assert.Equal(t, "169.254.169.254", e.str("destination.ip"))
	assert.Equal(t, int64(80), e.int("destination.port"))
	assert.Equal(t, "egress", e.str("network.direction"))
	assert.Equal(t, int64(1648), e.int("process.pid"))
	assert.Equal(t, "failure", e.str("event.outcome")) // EINPROGRESS
	assert.Equal(t, []string{"connection", "start"}, e.strs("event.type"))

	// Inbound accept and non-syscall records are not Cairn events.
	_, _, ok = auditEventsOf(t, tests["accept syscall"])
	assert.False(t, ok)
	_, _, ok = auditEventsOf(t, tests["USER_START"])
	assert.False(t, ok)
}

func TestAuditFixtureSetuidShell(t *testing.T) {
	tests := loadFixtures(t, "ubuntu-20.04.6-linux-5.15.0-1034-gcp.yaml")
	e, _, ok := auditEventsOf(t, tests["file_mode_preservation"])
	require.True(t, ok)
	assert.Equal(t, "/usr/bin/dash", e.str("process.executable"))
	assert.Equal(t, []string{"dash", "-p"}, e.strs("process.args"))
	assert.Equal(t, "1005", e.str("user.id"))
	assert.Equal(t, "0", e.str("user.effective.id"))
	assert.Equal(t, "root", e.str("user.effective.name"))
	assert.Equal(t, "dash -p", e.str("process.title"))
}

func TestBoundArgs(t *testing.T) {
	args, tr := boundArgs([]string{"a", "bb", "ccc"}, 2, 100)
	assert.Equal(t, []string{"a", "bb"}, args)
	assert.True(t, tr)
	// Bytes count a separator after each argument, as in cmdline.
	args, tr = boundArgs([]string{"abc", "defgh"}, 10, 6)
	assert.Equal(t, []string{"abc", "de"}, args)
	assert.True(t, tr)
	args, tr = boundArgs([]string{"abc", "de"}, 10, 6)
	assert.Equal(t, []string{"abc", "de"}, args)
	assert.False(t, tr)
}

// TestAuditCapturesAllDecode: every event of every audit capture in
// testdata/audit parses, and every one Cairn has a mapping for (an execve,
// a connect to an inet address) comes out as its process start or
// connection; the others (logins, renames, accepts) give no event and no
// error.
func TestAuditCapturesAllDecode(t *testing.T) {
	mapped := 0
	for _, name := range []string{"ubuntu-16.10-linux-4.8.0.yaml", "ubuntu-17.04-linux-4.10.0.yaml", "ubuntu-20.04.6-linux-5.15.0-1034-gcp.yaml"} {
		for test, raw := range loadFixtures(t, name) {
			e, kind, ok := auditEventsOf(t, raw)
			execve := strings.Contains(raw, "type=EXECVE")
			connect := strings.Contains(raw, " syscall=42 ") && strings.Contains(raw, "type=SOCKADDR")
			switch {
			case execve:
				require.True(t, ok, "%s %q: an execve maps", name, test)
				assert.Equal(t, "process", kind, "%s %q", name, test)
				assert.NotEmpty(t, e.str("process.executable"), "%s %q", name, test)
				assert.NotEmpty(t, e.strs("process.args"), "%s %q", name, test)
				mapped++
			case connect:
				require.True(t, ok, "%s %q: a connect maps", name, test)
				assert.Equal(t, "connection", kind, "%s %q", name, test)
				assert.NotEmpty(t, e.str("destination.ip"), "%s %q", name, test)
				mapped++
			default:
				assert.False(t, ok, "%s %q: no Cairn event", name, test)
			}
		}
	}
	assert.Equal(t, 4, mapped, "uname, docker inspect and dash -p; the connect to 169.254.169.254")

	// audit-rhel7.log holds one line per record type, not whole events:
	// every line but one parses, and none alone is mistaken for an event.
	// The exception, "type=UNKNOWN[1329] msg=?", has no audit header; the
	// log reader skips such a line (audit_linux.go).
	b, err := os.ReadFile(filepath.Join(auditData, "audit-rhel7.log"))
	require.NoError(t, err)
	lines, unparsed := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		lines++
		m, err := auparse.ParseLogLine(line)
		if err != nil {
			assert.True(t, strings.HasPrefix(line, "type=UNKNOWN[1329] msg=?"), "%s: %v", line, err)
			unparsed++
			continue
		}
		_, ok := auditEvent([]*auparse.AuditMessage{m}, nameFunc(func(uint32) string { return "" }), 64, 4096)
		assert.False(t, ok, "a lone %s record is not an event", m.RecordType)
	}
	assert.Equal(t, 50, lines)
	assert.Equal(t, 1, unparsed)
}
