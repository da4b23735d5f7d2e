package hostreceiver

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// TestProcessExecHashed runs a copy of the test binary, then replaces the
// binary and runs it again: each start is reported from the proc connector
// with the sha256 of what ran, and the details read from /proc.
func TestProcessExecHashed(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	_, sink := startReceiver(t, cfg)

	dir := t.TempDir()
	bin := copyBinary(t, dir, "cairn-probe", nil)
	want := fileSHA256(t, bin)
	self, _ := os.Executable()

	cmd := helperCmd(bin, "sleep", "300ms", "--marker", "first")
	cmd.Dir = dir
	require.NoError(t, cmd.Run())
	pid := int64(cmd.Process.Pid)
	e := waitEvent(t, sink, 10*time.Second, "exec event with hash", func(e event) bool {
		return e.int("process.pid") == pid && e.str("process.hash.sha256") != ""
	})
	assert.Equal(t, want, e.str("process.hash.sha256"))
	assert.Equal(t, bin, e.str("process.executable"))
	assert.Equal(t, "cairn-probe", e.str("process.name"))
	assert.Equal(t, []string{bin, "300ms", "--marker", "first"}, e.strs("process.args"))
	assert.Equal(t, dir, e.str("process.working_directory"))
	assert.Equal(t, int64(os.Getpid()), e.int("process.parent.pid"))
	assert.Equal(t, self, e.str("process.parent.executable"))
	assert.Equal(t, "0", e.str("user.id"))
	assert.Equal(t, "root", e.str("user.name"))
	assert.Equal(t, "0", e.str("process.user.id"))
	assert.Equal(t, []string{"process"}, e.strs("event.category"))
	assert.Equal(t, []string{"start"}, e.strs("event.type"))
	assert.Equal(t, "event", e.str("event.kind"))
	assert.NotEmpty(t, e.str("process.start"))
	assert.Empty(t, e.str(attrPartial))
	host, _ := os.Hostname()
	hn, _ := e.resource.Get("host.name")
	assert.Equal(t, host, hn.Str())
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		hid, _ := e.resource.Get("host.id")
		assert.Equal(t, strings.TrimSpace(string(b)), hid.Str())
	}

	// Replace the binary (rename over it: new inode): rehashed.
	copyBinary(t, dir, "cairn-probe", []byte("cairn-replaced-binary"))
	want2 := fileSHA256(t, bin)
	require.NotEqual(t, want, want2)
	cmd = helperCmd(bin, "sleep", "300ms")
	require.NoError(t, cmd.Run())
	pid2 := int64(cmd.Process.Pid)
	e = waitEvent(t, sink, 10*time.Second, "exec event of the replaced binary", func(e event) bool {
		return e.int("process.pid") == pid2 && e.str("process.hash.sha256") != ""
	})
	assert.Equal(t, want2, e.str("process.hash.sha256"))
}

// TestShortLivedProcess: processes that exit at once are still reported,
// and one already gone when /proc is read is marked partial, with its
// parent from the fork notification.
func TestShortLivedProcess(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	r, sink := startReceiver(t, cfg)

	var pids []int64
	for i := 0; i < 5; i++ {
		cmd := helperCmd("/bin/true", "exit")
		require.NoError(t, cmd.Run())
		pids = append(pids, int64(cmd.Process.Pid))
	}
	for _, pid := range pids {
		e := waitEvent(t, sink, 5*time.Second, "event of a short-lived /bin/true", func(e event) bool {
			return e.int("process.pid") == pid
		})
		if e.str(attrPartial) == "true" {
			assert.Equal(t, int64(os.Getpid()), e.int("process.parent.pid"))
		} else {
			exe, _ := filepath.EvalSymlinks("/bin/true")
			assert.Equal(t, exe, e.str("process.executable"))
		}
	}

	// Deterministic partial: report a process after it is reaped.
	cmd := helperCmd("/bin/true", "exit")
	require.NoError(t, cmd.Run())
	gone := cmd.Process.Pid
	r.forks.put(int32(gone), int32(os.Getpid()))
	require.True(t, r.reportProcess(gone, time.Now(), "start", nil))
	e := waitEvent(t, sink, 5*time.Second, "partial event", func(e event) bool {
		return e.int("process.pid") == int64(gone) && e.str(attrPartial) == "true"
	})
	assert.Equal(t, int64(os.Getpid()), e.int("process.parent.pid"))
	assert.Contains(t, e.strs(attrMissing), "exe")
	assert.Equal(t, uint64(1), min(r.Stats().PartialProcesses, 1))
}

// TestDeletedAndMemfdExecutables: a program run from a memfd, and one whose
// file is deleted while it runs, are flagged and still hashed from the
// running image.
func TestDeletedAndMemfdExecutables(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	r, sink := startReceiver(t, cfg)
	self, _ := os.Executable()
	want := fileSHA256(t, self)

	// memfd: fd 3 in the child is the memfd; exec it through /proc.
	mfd, err := unix.MemfdCreate("cairn-test", 0)
	require.NoError(t, err)
	mf := os.NewFile(uintptr(mfd), "memfd")
	defer mf.Close()
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	_, err = mf.Write(b)
	require.NoError(t, err)
	cmd := helperCmd("/proc/self/fd/3", "sleep", "300ms")
	cmd.ExtraFiles = []*os.File{mf}
	require.NoError(t, cmd.Run())
	pid := int64(cmd.Process.Pid)
	e := waitEvent(t, sink, 10*time.Second, "memfd exec", func(e event) bool {
		return e.int("process.pid") == pid && e.str("process.hash.sha256") != ""
	})
	assert.True(t, strings.HasPrefix(e.str("process.executable"), "/memfd:cairn-test"), e.str("process.executable"))
	assert.Equal(t, "true", e.str(attrExeMemfd))
	assert.Equal(t, "true", e.str(attrExeDeleted))
	assert.Equal(t, want, e.str("process.hash.sha256"))

	// Deleted while running.
	dir := t.TempDir()
	bin := copyBinary(t, dir, "doomed", []byte("doomed"))
	want2 := fileSHA256(t, bin)
	cmd = helperCmd(bin, "sleep", "3s")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, os.Remove(bin))
	require.True(t, r.reportProcess(cmd.Process.Pid, time.Now(), "info", nil))
	e = waitEvent(t, sink, 10*time.Second, "deleted executable", func(e event) bool {
		return e.int("process.pid") == int64(cmd.Process.Pid) && e.str(attrExeDeleted) == "true"
	})
	assert.Equal(t, bin, e.str("process.executable"))
	assert.Equal(t, want2, e.str("process.hash.sha256"))
}

// TestConnectionAndDNS: a program resolves a name through a DNS server in a
// network namespace, then connects to the answer. The sniffer reports the
// answer; the connection is attributed to the program's pid and executable
// and carries the domain.
func TestConnectionAndDNS(t *testing.T) {
	requireRoot(t)
	ns := newNetns(t)
	port := ns.serve(t, ns.NSIP)
	cfg := testConfig()
	cfg.Connections.Enabled = true
	cfg.DNS.Enabled = true
	cfg.DNS.Interfaces = []string{ns.HostIf}
	_, sink := startReceiver(t, cfg)

	dir := t.TempDir()
	bin := copyBinary(t, dir, "cairn-netprobe", nil)
	const name = "c2.cairn-test.example"
	cmd := helperCmd(bin, "connect", ns.NSIP.String()+":53", name, itoa(port), "1s")
	out, err := cmd.Output()
	require.NoError(t, err)
	local := strings.TrimSpace(string(out))
	pid := int64(cmd.Process.Pid)

	d := waitEvent(t, sink, 5*time.Second, "dns answer", func(e event) bool {
		return e.str("dns.question.name") == name
	})
	assert.Equal(t, []string{ns.NSIP.String()}, d.strs("dns.resolved_ip"))
	assert.Equal(t, "A", d.str("dns.question.type"))
	assert.Equal(t, "NOERROR", d.str("dns.response_code"))
	assert.Equal(t, ns.HostIP.String(), d.str("source.ip"))
	assert.Equal(t, ns.NSIP.String(), d.str("destination.ip"))
	assert.Equal(t, int64(53), d.int("destination.port"))
	assert.Equal(t, []string{"network"}, d.strs("event.category"))

	c := waitEvent(t, sink, 5*time.Second, "connection", func(e event) bool {
		return e.str("destination.ip") == ns.NSIP.String() && e.int("destination.port") == int64(port)
	})
	assert.Equal(t, pid, c.int("process.pid"))
	assert.Equal(t, bin, c.str("process.executable"))
	assert.Equal(t, name, c.str("destination.domain"))
	assert.Equal(t, "egress", c.str("network.direction"))
	assert.Equal(t, "tcp", c.str("network.transport"))
	assert.Equal(t, local, c.str("source.ip")+":"+itoa(int(c.int("source.port"))))
	assert.Equal(t, []string{"connection", "start"}, c.strs("event.type"))
	assert.Equal(t, "0", c.str("user.id"))
	// The accepted end lives in the namespace: sock_diag of this namespace
	// never shows it, and nothing is reported twice.
	n := 0
	for _, e := range events(sink) {
		if e.int("destination.port") == int64(port) {
			n++
		}
	}
	assert.Equal(t, 1, n)
}

// TestInventory: at start, running processes and open connections are
// reported once as event.type info; the receiver's own process and
// excluded executables are not.
func TestInventory(t *testing.T) {
	requireRoot(t)
	ns := newNetns(t)
	port := ns.serve(t, ns.NSIP)
	dir := t.TempDir()
	keep := copyBinary(t, dir, "cairn-running", nil)
	skipDir := filepath.Join(dir, "excluded")
	require.NoError(t, os.Mkdir(skipDir, 0o755))
	skip := copyBinary(t, skipDir, "cairn-running", nil)

	conn := helperCmd(keep, "connect", ns.NSIP.String()+":53", "inv.cairn-test.example", itoa(port), "5s")
	require.NoError(t, conn.Start())
	other := helperCmd(skip, "sleep", "5s")
	require.NoError(t, other.Start())
	t.Cleanup(func() {
		_ = conn.Process.Kill()
		_ = other.Process.Kill()
		_, _ = conn.Process.Wait()
		_, _ = other.Process.Wait()
	})
	// Wait until the connection is up.
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile("/proc/net/tcp")
		return strings.Contains(string(b), strings.ToUpper(hexPort(port)))
	}, 5*time.Second, 20*time.Millisecond)

	cfg := testConfig()
	cfg.Processes.Enabled = true
	cfg.Connections.Enabled = true
	cfg.Inventory = true
	cfg.ExcludeExecutables = []string{skipDir + "/*"}
	_, sink := startReceiver(t, cfg)

	p := waitEvent(t, sink, 10*time.Second, "inventory process", func(e event) bool {
		return e.int("process.pid") == int64(conn.Process.Pid) && slices.Contains(e.strs("event.category"), "process")
	})
	assert.Equal(t, []string{"info"}, p.strs("event.type"))
	assert.Equal(t, keep, p.str("process.executable"))
	c := waitEvent(t, sink, 10*time.Second, "inventory connection", func(e event) bool {
		return e.int("destination.port") == int64(port)
	})
	assert.Equal(t, []string{"connection", "info"}, c.strs("event.type"))
	assert.Equal(t, int64(conn.Process.Pid), c.int("process.pid"))
	// Give the inventory time to finish, then check what it left out.
	time.Sleep(500 * time.Millisecond)
	for _, e := range events(sink) {
		assert.NotEqual(t, int64(os.Getpid()), e.int("process.pid"), "own process reported")
		assert.NotEqual(t, int64(other.Process.Pid), e.int("process.pid"), "excluded executable reported")
	}
}

func hexPort(p int) string {
	const digits = "0123456789ABCDEF"
	return ":" + string([]byte{digits[p>>12&15], digits[p>>8&15], digits[p>>4&15], digits[p&15]})
}

// TestMissingCapabilities: the start-up error names the capability.
func TestMissingCapabilities(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	err := missingCapabilities(0, requiredCapabilities(cfg))
	require.Error(t, err)
	for _, c := range []string{"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"} {
		assert.Contains(t, err.Error(), c)
	}
	all := uint64(1)<<unix.CAP_NET_ADMIN | 1<<unix.CAP_NET_RAW | 1<<unix.CAP_SYS_PTRACE | 1<<unix.CAP_DAC_READ_SEARCH
	assert.NoError(t, missingCapabilities(all, requiredCapabilities(cfg)))
	cfg.DNS.Enabled = false
	assert.NoError(t, missingCapabilities(all&^(1<<unix.CAP_NET_RAW), requiredCapabilities(cfg)))
}

// TestDefaultConfigLifecycle starts every live source with the defaults
// (DNS on every interface, inventory on), sees the inventory, and stops
// without leaving a goroutine behind.
func TestDefaultConfigLifecycle(t *testing.T) {
	requireRoot(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := createDefaultConfig().(*Config)
	sink := new(consumertest.LogsSink)
	r := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink)
	sleeper := exec.Command("sleep", "5")
	require.NoError(t, sleeper.Start())
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	e := waitEvent(t, sink, 10*time.Second, "inventory of a running sleep", func(e event) bool {
		return e.int("process.pid") == int64(sleeper.Process.Pid)
	})
	assert.Equal(t, []string{"info"}, e.strs("event.type"))
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()), "a second shutdown is harmless")
}

// TestIPv6Connection: an outbound TCP connection over IPv6 (unique-local
// addresses on the namespace's veth pair) is reported and attributed.
func TestIPv6Connection(t *testing.T) {
	requireRoot(t)
	ns := newNetns(t)
	_, nsIP := ns.AddIPv6(t)
	port := ns.ListenTCPOn(t, nsIP)
	cfg := testConfig()
	cfg.Connections.Enabled = true
	_, sink := startReceiver(t, cfg)

	bin := copyBinary(t, t.TempDir(), "cairn-v6probe", nil)
	cmd := helperCmd(bin, "dial", net.JoinHostPort(nsIP.String(), itoa(port)), "1s")
	out, err := cmd.Output()
	require.NoError(t, err)
	c := waitEvent(t, sink, 5*time.Second, "IPv6 connection", func(e event) bool {
		return e.str("destination.ip") == nsIP.String() && e.int("destination.port") == int64(port)
	})
	assert.Equal(t, "ipv6", c.str("network.type"))
	assert.Equal(t, int64(cmd.Process.Pid), c.int("process.pid"))
	assert.Equal(t, bin, c.str("process.executable"))
	assert.Equal(t, strings.TrimSpace(string(out)), net.JoinHostPort(c.str("source.ip"), itoa(int(c.int("source.port")))))
}

// TestHostAndAgentResource: every batch's resource describes the host
// (uname, the os-release file) and the agent; agent.id is the same for a
// restarted receiver, agent.ephemeral_id is not.
func TestHostAndAgentResource(t *testing.T) {
	requireRoot(t)
	var uts unix.Utsname
	require.NoError(t, unix.Uname(&uts))
	rel := parseOSRelease(mustRead(t, "/etc/os-release"))
	run := func() pcommon.Map {
		cfg := testConfig()
		cfg.Processes.Enabled = true
		set := receivertest.NewNopSettings(metadata.Type)
		set.BuildInfo.Version = "9.9.9-test"
		// As configured: the nop settings' id has a random name.
		set.ID = component.NewIDWithName(metadata.Type, "edge")
		sink := new(consumertest.LogsSink)
		r := newReceiver(set, cfg, sink)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		defer func() { require.NoError(t, r.Shutdown(context.Background())) }()
		cmd := exec.Command("/bin/true")
		require.NoError(t, cmd.Run())
		e := waitEvent(t, sink, 10*time.Second, "an event", func(e event) bool {
			return e.int("process.pid") == int64(cmd.Process.Pid)
		})
		return e.resource
	}
	res := run()
	get := func(m pcommon.Map, k string) string {
		v, _ := m.Get(k)
		return v.AsString()
	}
	host, _ := os.Hostname()
	for k, want := range map[string]string{
		"host.name":         host,
		"host.architecture": cString(uts.Machine[:]),
		"host.os.type":      "linux",
		"host.os.kernel":    cString(uts.Release[:]),
		"host.os.platform":  rel["ID"],
		"host.os.name":      rel["NAME"],
		"agent.type":        "cairn",
		"agent.name":        host,
		"agent.version":     "9.9.9-test",
	} {
		assert.Equal(t, want, get(res, k), k)
	}
	assert.NotEmpty(t, get(res, "host.os.family"))
	assert.Regexp(t, uuidRe, get(res, "agent.id"))
	assert.Regexp(t, uuidRe, get(res, "agent.ephemeral_id"))
	again := run()
	assert.Equal(t, get(res, "agent.id"), get(again, "agent.id"))
	assert.NotEqual(t, get(res, "agent.ephemeral_id"), get(again, "agent.ephemeral_id"))
}
