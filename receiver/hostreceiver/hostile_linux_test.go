package hostreceiver

// Hostile input at the receiver's edges (issue 13): each test plays what a
// local user, or another host on the network, can do, against the real
// receiver. They use only what the receiver had before these cases were
// fixed, so that they also run (and fail) against that code.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// auditFileID renders path's device and inode as an audit PATH record does.
func auditFileID(t testing.TB, path string) string {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return fmt.Sprintf("inode=%d dev=%02x:%02x", st.Ino, unix.Major(st.Dev), unix.Minor(st.Dev))
}

func auditStamp(ts time.Time, seq int) string {
	return fmt.Sprintf("%.3f:%d", float64(ts.UnixMilli())/1000, seq)
}

// auditExecRecord is an execve event as auditd logs it: SYSCALL, EXECVE,
// CWD, PATH (the program, with fileID as auditFileID renders it), EOE.
func auditExecRecord(ts time.Time, seq, pid, ppid int, exe, fileID, cwd string, args ...string) string {
	id := auditStamp(ts, seq)
	var b strings.Builder
	fmt.Fprintf(&b, `type=SYSCALL msg=audit(%s): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=%d pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="%s" exe="%s" key=(null)`+"\n",
		id, ppid, pid, filepath.Base(exe), exe)
	fmt.Fprintf(&b, "type=EXECVE msg=audit(%s): argc=%d", id, len(args))
	for i, a := range args {
		fmt.Fprintf(&b, " a%d=%q", i, a)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "type=CWD msg=audit(%s): cwd=%q\n", id, cwd)
	fmt.Fprintf(&b, "type=PATH msg=audit(%s): item=0 name=%q %s mode=0100755 ouid=0 ogid=0 rdev=00:00 objtype=NORMAL\n", id, exe, fileID)
	fmt.Fprintf(&b, "type=EOE msg=audit(%s):\n", id)
	return b.String()
}

// auditConnectRecord is a connect(2) to an IPv4 address.
func auditConnectRecord(ts time.Time, seq, pid int, exe string, ip netip.Addr, port uint16) string {
	id := auditStamp(ts, seq)
	a := ip.As4()
	return fmt.Sprintf(`type=SYSCALL msg=audit(%[1]s): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd0 a2=10 a3=0 items=0 ppid=1 pid=%[2]d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="%[3]s" exe="%[4]s" key=(null)
type=SOCKADDR msg=audit(%[1]s): saddr=0200%04X%02X%02X%02X%02X0000000000000000
type=EOE msg=audit(%[1]s):
`, id, pid, filepath.Base(exe), exe, port, a[0], a[1], a[2], a[3])
}

func auditConfig(log string) *Config {
	cfg := testConfig()
	cfg.Audit.Enabled = true
	cfg.Audit.LogFile = log
	cfg.Audit.StartAt = "beginning"
	cfg.Audit.PollInterval = 20 * time.Millisecond
	cfg.Audit.ReassemblyTimeout = 50 * time.Millisecond
	return cfg
}

func auditSeq(seq int64) func(event) bool {
	return func(e event) bool {
		return e.str("event.dataset") == datasetAudit && e.int("cairn.audit.sequence") == seq
	}
}

// TestAuditFIFOSwapDoesNotBlock: a user runs a program, then puts a FIFO
// at its path before the audit record is read. Opening the record's path
// would block the audit goroutine until someone writes the FIFO: every
// later record lost, shutdown hung. The executable is opened through the
// process instead, without blocking, and is the image that ran.
func TestAuditFIFOSwapDoesNotBlock(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	bin := copyBinary(t, dir, "x", []byte("fifo-swap"))
	want := fileSHA256(t, bin)
	id := auditFileID(t, bin)
	cmd := helperCmd(bin, "sleep", "20s")
	startReady(t, cmd)
	pid := cmd.Process.Pid
	require.NoError(t, os.Remove(bin))
	require.NoError(t, syscall.Mkfifo(bin, 0o666))

	now := time.Now()
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(
		auditExecRecord(now, 1, pid, os.Getpid(), bin, id, dir, "x", "20s")+
			auditConnectRecord(now, 2, pid, bin, netip.MustParseAddr("10.9.9.9"), 80)), 0o600))

	cfg := auditConfig(log)
	sink := new(consumertest.LogsSink)
	r := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	stopped := make(chan struct{})
	t.Cleanup(func() {
		go func() { _ = r.Shutdown(context.Background()); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Error("shutdown hung on the FIFO")
			// Give the blocked open its writer, so the test can end.
			if f, err := os.OpenFile(bin, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			<-stopped
		}
	})
	waitEvent(t, sink, 5*time.Second, "the record after the FIFO's", auditSeq(2))
	e := waitEvent(t, sink, 10*time.Second, "the exec, hashed", func(e event) bool {
		return auditSeq(1)(e) && (e.str("process.hash.sha256") != "" || e.str(attrHashStatus) != "")
	})
	assert.Equal(t, want, e.str("process.hash.sha256"), "the image that ran")
}

// TestAuditRecordPathNotOpened: what is at a record's path by the time the
// record is read says nothing of what ran. A symlink put there made the
// receiver read (as root) a file the user cannot, and publish its hash;
// another file renamed there gave that file's hash; a record of a process
// already gone was hashed from whatever the path held. Now the image is
// read through the process, and a record whose process is gone is not
// hashed at all.
func TestAuditRecordPathNotOpened(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root-only content"), 0o600))

	// A symlink to the secret replaces the program.
	a := copyBinary(t, dir, "a", []byte("program a"))
	wantA, idA := fileSHA256(t, a), auditFileID(t, a)
	ca := helperCmd(a, "sleep", "20s")
	startReady(t, ca)
	require.NoError(t, os.Remove(a))
	require.NoError(t, os.Symlink(secret, a))

	// Another file is renamed over the program.
	b := copyBinary(t, dir, "b", []byte("program b"))
	wantB, idB := fileSHA256(t, b), auditFileID(t, b)
	cb := helperCmd(b, "sleep", "20s")
	startReady(t, cb)
	copyBinary(t, dir, "b", []byte("some other program"))
	other := fileSHA256(t, b)

	// The process is gone: the path still names the program.
	c := copyBinary(t, dir, "c", []byte("program c"))
	idC := auditFileID(t, c)
	cc := helperCmd(c, "exit")
	require.NoError(t, cc.Run())

	now := time.Now()
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(
		auditExecRecord(now, 1, ca.Process.Pid, os.Getpid(), a, idA, dir, "a")+
			auditExecRecord(now, 2, cb.Process.Pid, os.Getpid(), b, idB, dir, "b")+
			auditExecRecord(now, 3, cc.Process.Pid, os.Getpid(), c, idC, dir, "c")), 0o600))
	_, sink := startReceiver(t, auditConfig(log))
	done := func(seq int64) event {
		return waitEvent(t, sink, 10*time.Second, fmt.Sprintf("record %d with its hash or hash status", seq), func(e event) bool {
			return auditSeq(seq)(e) && (e.str("process.hash.sha256") != "" || e.str(attrHashStatus) != "")
		})
	}
	e := done(1)
	assert.NotEqual(t, fileSHA256(t, secret), e.str("process.hash.sha256"), "a root-only file was read through a symlink")
	assert.Equal(t, wantA, e.str("process.hash.sha256"))
	e = done(2)
	assert.NotEqual(t, other, e.str("process.hash.sha256"), "the file renamed over the program was hashed")
	assert.Equal(t, wantB, e.str("process.hash.sha256"))
	e = done(3)
	assert.Empty(t, e.str("process.hash.sha256"), "a gone process's record was hashed by its path")
	assert.Equal(t, "unverified", e.str(attrHashStatus))
}

// TestAuditOtherHostsLines: an audit log that aggregates other hosts'
// records (node=NAME prefixes) is this host's only where the node is this
// host: another host's pids mean nothing here, and its events are not this
// host's.
func TestAuditOtherHostsLines(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	dir := t.TempDir()
	now := time.Now()
	prefix := func(node, rec string) string {
		var b strings.Builder
		for _, l := range strings.SplitAfter(rec, "\n") {
			if l != "" {
				b.WriteString("node=" + node + " " + l)
			}
		}
		return b.String()
	}
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(
		prefix("db-7.elsewhere.example", auditExecRecord(now, 1, 4242, 1, "/usr/bin/remote-thing", "inode=1 dev=08:01", "/", "remote-thing"))+
			prefix(host, auditExecRecord(now, 2, 4243, 1, "/usr/bin/local-thing", "inode=2 dev=08:01", "/", "local-thing"))), 0o600))
	cfg := auditConfig(log)
	cfg.Hashing.Enabled = false
	_, sink := startReceiver(t, cfg)
	waitEvent(t, sink, 5*time.Second, "this host's record", auditSeq(2))
	time.Sleep(200 * time.Millisecond)
	for _, e := range events(sink) {
		assert.NotEqual(t, "/usr/bin/remote-thing", e.str("process.executable"), "another host's record reported as this host's")
	}
}

// TestAuditOverlongLine: a line without end is not accumulated without
// bound; it is dropped (counted) and the records after it are read.
func TestAuditOverlongLine(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	now := time.Now()
	require.NoError(t, os.WriteFile(log, []byte(strings.Repeat("x", 3<<20)+"\n"+
		auditExecRecord(now, 7, 4244, 1, "/usr/bin/after", "inode=3 dev=08:01", "/", "after")), 0o600))
	cfg := auditConfig(log)
	cfg.Hashing.Enabled = false
	r, sink := startReceiver(t, cfg)
	waitEvent(t, sink, 5*time.Second, "the record after the long line", auditSeq(7))
	assert.GreaterOrEqual(t, r.Stats().AuditLost, uint64(1), "the long line is counted as lost")
}

// TestAuditArgsBounded: an execve's arguments are bounded like the proc
// connector's (max_args, max_arg_bytes), however many the record holds.
func TestAuditArgsBounded(t *testing.T) {
	dir := t.TempDir()
	args := []string{"many"}
	for i := range 199 {
		args = append(args, fmt.Sprintf("arg-%03d", i))
	}
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(auditExecRecord(time.Now(), 9, 4245, 1, "/usr/bin/many", "inode=4 dev=08:01", "/", args...)), 0o600))
	cfg := auditConfig(log)
	cfg.Hashing.Enabled = false
	_, sink := startReceiver(t, cfg)
	e := waitEvent(t, sink, 5*time.Second, "the exec", auditSeq(9))
	assert.Len(t, e.strs("process.args"), cfg.Processes.MaxArgs)
	assert.Equal(t, "true", e.str(attrArgsTrunc))
}

// TestOSReleaseFIFO: the os-release file is read through pid 1's root, which
// in a container is the container's: a FIFO there must not hang the start.
func TestOSReleaseFIFO(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "1", "root", "etc")
	require.NoError(t, os.MkdirAll(etc, 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(etc, "os-release"), 0o644))
	done := make(chan struct{})
	go func() {
		readOSRelease(root)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Error("reading os-release blocked on a FIFO")
		if f, err := os.OpenFile(filepath.Join(etc, "os-release"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	}
}

// sparseExecutable copies src grown to size with a hole: it runs like src
// and occupies what src does on disk.
func sparseExecutable(t testing.TB, src, path string, size int64) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o755))
	require.NoError(t, os.Truncate(path, size))
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(path, &st))
	require.Less(t, st.Blocks*512, size/4, "the file system made the copy sparse")
}

// TestSparseExecutablesDoNotStarve: three 127 MiB sparse copies of
// /bin/sleep (a few KB on disk each) run just before a real program cost
// nothing to make; at the default budget they took four seconds each to
// hash, and the program's start went out after hashing.wait (10s) without
// its hash. They are now refused before any read (hash_status sparse), and
// a small file never waits behind large ones.
func TestSparseExecutablesDoNotStarve(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	def := createDefaultConfig().(*Config)
	cfg.Hashing = def.Hashing
	_, sink := startReceiver(t, cfg)
	dir := t.TempDir()
	var sparse []int64
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("sleep-%d", i))
		sparseExecutable(t, "/bin/sleep", p, 127<<20)
		cmd := exec.Command(p, "3")
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		sparse = append(sparse, int64(cmd.Process.Pid))
	}
	real := copyBinary(t, dir, "real", []byte("real"))
	cmd := helperCmd(real, "exit")
	require.NoError(t, cmd.Run())
	e := waitEvent(t, sink, 20*time.Second, "the real program's start, hashed or not", func(e event) bool {
		return e.int("process.pid") == int64(cmd.Process.Pid) && e.str("event.action") == "exec" &&
			(e.str("process.hash.sha256") != "" || e.str(attrHashStatus) != "")
	})
	assert.Empty(t, e.str(attrHashStatus))
	assert.Equal(t, fileSHA256(t, real), e.str("process.hash.sha256"))
	for _, pid := range sparse {
		s := waitEvent(t, sink, 20*time.Second, "a sparse copy's start", func(e event) bool {
			return e.int("process.pid") == pid && e.str("event.action") == "exec" &&
				(e.str("process.hash.sha256") != "" || e.str(attrHashStatus) != "")
		})
		assert.Equal(t, "sparse", s.str(attrHashStatus))
	}
}

// TestDNSSpoofedAnswers: answers nobody on this host asked for are not DNS
// events and never name an address for destination.domain (which they
// rewrote for 24 hours): one sent to the host unsolicited, and one with
// the wrong transaction id racing the server's real answer.
func TestDNSSpoofedAnswers(t *testing.T) {
	requireRoot(t)
	ns := newNetns(t)
	wrong, right, spoofed := netip.MustParseAddr("10.66.0.1"), netip.MustParseAddr("10.66.0.2"), netip.MustParseAddr("10.66.0.3")
	pc := ns.listenDNS(t)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			// An off-path attacker's guess first: the same question, the
			// wrong id.
			bad := buildDNSAnswer(buf[:n], 86400, wrong)
			bad[0] ^= 0x5a
			_, _ = pc.WriteTo(bad, from)
			time.Sleep(20 * time.Millisecond)
			_, _ = pc.WriteTo(buildDNSAnswer(buf[:n], 60, right), from)
		}
	}()
	cfg := testConfig()
	cfg.DNS.Enabled = true
	cfg.DNS.Interfaces = []string{ns.HostIf}
	r, sink := startReceiver(t, cfg)

	// Unsolicited: an answer to a query never sent, to a port nobody uses.
	const spoofName = "bank.cairn-test.example"
	_, err := pc.WriteTo(buildDNSAnswer(buildDNSQuery(0x1111, spoofName, 1), 86400, spoofed),
		&net.UDPAddr{IP: ns.HostIP.AsSlice(), Port: 40123})
	require.NoError(t, err)

	const name = "real.cairn-test.example"
	c, err := net.Dial("udp", net.JoinHostPort(ns.NSIP.String(), "53"))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(buildDNSQuery(0x2222, name, 1))
	require.NoError(t, err)

	d := waitEvent(t, sink, 5*time.Second, "the real answer", func(e event) bool {
		return e.str("dns.question.name") == name && e.int("dns.id") == 0x2222
	})
	assert.Equal(t, []string{right.String()}, d.strs("dns.resolved_ip"))
	time.Sleep(300 * time.Millisecond)
	for _, e := range events(sink) {
		assert.NotEqual(t, spoofName, e.str("dns.question.name"), "an unsolicited answer was reported")
		assert.NotContains(t, e.strs("dns.resolved_ip"), wrong.String(), "an answer with the wrong id was reported")
	}
	assert.Empty(t, r.domainOf(spoofed), "an unsolicited answer named an address")
	assert.Empty(t, r.domainOf(wrong), "an answer with the wrong id named an address")
	assert.Equal(t, name, r.domainOf(right))
}

// TestExcludedPathInOwnMountNamespace: exclude_executables matches paths,
// and a path means what a mount namespace makes of it. A program bind-
// mounted over an excluded path in a namespace of its own (any user can
// make one, with a user namespace; here root does it) runs under the
// excluded name: it was left out. Exclusions now hold only in the
// receiver's mount namespace.
func TestExcludedPathInOwnMountNamespace(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("skipped: needs unshare (util-linux)")
	}
	dir := t.TempDir()
	daemon := copyBinary(t, dir, "noisy-daemon", []byte("daemon"))
	evil := copyBinary(t, dir, "evil", []byte("evil"))
	cfg := testConfig()
	cfg.Processes.Enabled = true
	cfg.ExcludeExecutables = []string{daemon}
	_, sink := startReceiver(t, cfg)

	// The excluded daemon itself, in the receiver's namespace: left out.
	legit := helperCmd(daemon, "sleep", "300ms")
	require.NoError(t, legit.Run())
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$2" && exec "$2" 300ms`, "sh", evil, daemon)
	cmd.Env = append(os.Environ(), helperEnv+"=sleep")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	e := waitEvent(t, sink, 10*time.Second, "the program run under the excluded path", func(e event) bool {
		return e.int("process.pid") == int64(cmd.Process.Pid) && e.str("process.executable") == daemon
	})
	assert.Equal(t, fileSHA256(t, evil), e.str("process.hash.sha256"))
	for _, e := range events(sink) {
		assert.NotEqual(t, int64(legit.Process.Pid), e.int("process.pid"), "the excluded daemon was reported")
	}
}
