package hostreceiver

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// auditdRunning says whether a process named auditd runs on the host.
func auditdRunning() bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && strings.TrimSpace(string(b)) == "auditd" {
			return true
		}
	}
	return false
}

// addAuditRule adds one rule to the kernel for the test and deletes it in
// Cleanup. The rule change is made on a unicast audit socket that is never
// registered as the audit daemon (no AUDIT_SET pid): a running auditd
// keeps its socket.
func addAuditRule(t *testing.T, r *rule.SyscallRule) {
	t.Helper()
	c, err := libaudit.NewAuditClient(nil)
	require.NoError(t, err)
	defer c.Close()
	st, err := c.GetStatus()
	require.NoError(t, err)
	switch st.Enabled {
	case 0:
		// Disabled (no auditd ever enabled it): enabled for the test,
		// disabled again after.
		t.Log("the kernel's audit is disabled: enabling it for the test")
		require.NoError(t, c.SetEnabled(true, libaudit.WaitForReply))
		t.Cleanup(func() {
			c, err := libaudit.NewAuditClient(nil)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.SetEnabled(false, libaudit.WaitForReply))
		})
	case 2:
		t.Skip("skipped: the kernel's audit rules are immutable (auditctl -e 2)")
	}
	text := fmt.Sprint(*r)
	wire, err := rule.Build(r)
	require.NoError(t, err)
	require.NoError(t, c.AddRule(wire), "adding audit rule %q", text)
	t.Cleanup(func() {
		c, err := libaudit.NewAuditClient(nil)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.DeleteRule(wire), "deleting audit rule %q", text)
	})
}

// TestAuditNetlink: with audit.source netlink the receiver reads the
// kernel's audit multicast group; an exec audited by a temporary rule
// becomes a process start through the same mapping as the log file's.
func TestAuditNetlink(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("auditctl"); err == nil {
		t.Log("auditctl is installed")
	} else {
		t.Log("auditctl is not installed")
	}
	if auditdRunning() {
		t.Log("case: with auditd running")
	} else {
		t.Log("case: without auditd")
	}
	bin := copyBinary(t, t.TempDir(), "cairn-audit-probe", nil)
	// -a always,exit -F arch=b64 -S execve -F exe=BIN -k cairn_test
	addAuditRule(t, &rule.SyscallRule{
		Type: rule.AppendSyscallRuleType, List: "exit", Action: "always",
		Filters: []rule.FilterSpec{
			{Type: rule.ValueFilterType, LHS: "arch", Comparator: "=", RHS: "b64"},
			{Type: rule.ValueFilterType, LHS: "exe", Comparator: "=", RHS: bin},
		},
		Syscalls: []string{"execve"},
		Keys:     []string{"cairn_test"},
	})

	cfg := testConfig()
	cfg.Audit.Enabled = true
	cfg.Audit.Source = auditSourceNetlink
	cfg.Audit.ReassemblyTimeout = 500 * time.Millisecond
	cfg.Hashing.Enabled = false
	r, sink := startReceiver(t, cfg)

	cmd := helperCmd(bin, "exit", "first-arg", "second arg")
	require.NoError(t, cmd.Run())
	pid := cmd.Process.Pid
	e := waitEvent(t, sink, 10*time.Second, "audited exec of the probe", func(e event) bool {
		return e.str("process.executable") == bin
	})
	assert.Equal(t, "cairn_host.audit", e.str("event.dataset"))
	assert.Equal(t, "exec", e.str("event.action"))
	assert.Equal(t, []string{bin, "first-arg", "second arg"}, e.strs("process.args"))
	assert.Equal(t, int64(pid), e.int("process.pid"))
	assert.Equal(t, int64(os.Getpid()), e.int("process.parent.pid"))
	assert.Equal(t, strconv.Itoa(os.Geteuid()), e.str("user.id"))
	assert.Positive(t, e.int("cairn.audit.sequence"))
	assert.Positive(t, r.Stats().AuditEvents)
}

// TestAuditNetlinkShutdown: a receiver on the multicast group stops
// promptly, and a second one can start after (the socket is released).
func TestAuditNetlinkShutdown(t *testing.T) {
	requireRoot(t)
	for range 2 {
		cfg := testConfig()
		cfg.Audit.Enabled = true
		cfg.Audit.Source = auditSourceNetlink
		require.NoError(t, cfg.Validate())
		r := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
		require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
		time.Sleep(300 * time.Millisecond) // the reader blocks in recvfrom
		start := time.Now()
		require.NoError(t, r.Shutdown(t.Context()))
		assert.Less(t, time.Since(start), time.Second)
	}
}
