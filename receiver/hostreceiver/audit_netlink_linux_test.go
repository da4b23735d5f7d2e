package hostreceiver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
// Both cases run against the real kernel: without an auditd, and beside an
// auditd (started here) that must keep getting its stream.
func TestAuditNetlink(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("auditctl"); err == nil {
		t.Log("auditctl is installed")
	} else {
		t.Log("auditctl is not installed")
	}
	t.Run("without auditd", func(t *testing.T) {
		if auditdRunning() {
			t.Skip("skipped: an auditd runs on the host")
		}
		runAuditNetlinkProbe(t, t.TempDir())
	})
	t.Run("with auditd running", func(t *testing.T) {
		if auditdRunning() {
			t.Skip("skipped: an auditd already runs on the host (the test starts its own)")
		}
		auditd, err := exec.LookPath("auditd")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("auditd is not installed under CI: .ci/run must install it (apt-get install -y auditd)")
			}
			t.Skip("skipped: auditd is not installed (apt-get install -y auditd)")
		}
		dir := t.TempDir()
		logFile := startAuditd(t, auditd, dir)
		bin := runAuditNetlinkProbe(t, dir)
		// Coexistence: auditd's own log got the same exec.
		want := `a0="` + bin + `"`
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(logFile)
			found := false
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "type=EXECVE ") && strings.Contains(l, want) {
					found = true
					break
				}
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("auditd's log %s has no EXECVE record with %s within 10s:\n%s", logFile, want, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// startAuditd runs auditd in the foreground (-n) with a configuration in
// dir that logs to dir/audit.log and loads no plugins, leaves the kernel's
// enabled flag alone (-s nochange), waits until the kernel knows it as the
// audit daemon, and stops it in Cleanup. It returns the log's path.
func startAuditd(t *testing.T, auditd, dir string) string {
	t.Helper()
	logFile := filepath.Join(dir, "audit.log")
	plugins := filepath.Join(dir, "plugins.d")
	require.NoError(t, os.Mkdir(plugins, 0o750))
	conf := strings.Join([]string{
		"local_events = yes",
		"write_logs = yes",
		"log_file = " + logFile,
		"log_group = root",
		"log_format = RAW",
		"flush = INCREMENTAL_ASYNC",
		"freq = 1",
		"max_log_file = 8",
		"num_logs = 1",
		"max_log_file_action = IGNORE",
		"space_left = 2",
		"space_left_action = IGNORE",
		"admin_space_left = 1",
		"admin_space_left_action = IGNORE",
		"disk_full_action = IGNORE",
		"disk_error_action = IGNORE",
		"name_format = NONE",
		"plugin_dir = " + plugins,
		"",
	}, "\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o640))
	var out strings.Builder
	cmd := exec.Command(auditd, "-n", "-s", "nochange", "-c", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("auditd did not stop on SIGTERM within 10s; killed")
		}
	})
	c, err := libaudit.NewAuditClient(nil)
	require.NoError(t, err)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("auditd exited before registering: %v\n%s", err, out.String())
		default:
		}
		st, err := c.GetStatus()
		require.NoError(t, err)
		if int(st.PID) == cmd.Process.Pid {
			t.Logf("auditd (pid %d) is the kernel's audit daemon", st.PID)
			return logFile
		}
		if time.Now().After(deadline) {
			t.Fatalf("auditd (pid %d) not registered with the kernel within 10s (audit pid %d):\n%s", cmd.Process.Pid, st.PID, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runAuditNetlinkProbe adds a temporary execve rule for a copy of the test
// binary, starts a netlink receiver, runs the copy and asserts the process
// start the receiver emits. It returns the copy's path.
func runAuditNetlinkProbe(t *testing.T, dir string) string {
	t.Helper()
	bin := copyBinary(t, dir, "cairn-audit-probe", nil)
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
	return bin
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
