package hostreceiver

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/internal/netnstest"
	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"

	"github.com/cairnsec/cairn/internal/testkit"
)

// The test binary doubles as the programs the tests run: with
// CAIRN_HOST_HELPER set it plays one role and exits.
const helperEnv = "CAIRN_HOST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runHelper(mode string, args []string) int {
	switch mode {
	case "exit":
		return 0
	case "sleep":
		d, _ := time.ParseDuration(args[0])
		// Running Go code means the exec is over, the proc connector's
		// exec event included (it is sent after the close-on-exec pipe
		// that lets the parent's Start return is closed).
		fmt.Println("ready")
		time.Sleep(d)
		return 0
	case "connect":
		// args: dns-server name port hold
		ip, err := resolveVia(args[0], args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		c, err := net.Dial("tcp", net.JoinHostPort(ip.String(), args[2]))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		hold, _ := time.ParseDuration(args[3])
		fmt.Println(c.LocalAddr().String())
		time.Sleep(hold)
		c.Close()
		return 0
	case "dial":
		// args: address hold
		return testkit.DialAndHold(args[0], args[1])
	case "exitcode":
		// args: code; lives long enough for its start to be read from /proc.
		time.Sleep(300 * time.Millisecond)
		code, _ := strconv.Atoi(args[0])
		return code
	case "parent":
		// args: code; runs itself in mode exitcode and exits with its code.
		return runWait(helperCmd(os.Args[0], "exitcode", args[0]))
	case "spawn":
		return runSpawn(args)
	case "reexec":
		// args: program args...; prints ready, waits for a line on stdin,
		// then executes program (in mode sleep) in its place.
		fmt.Println("ready")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		env := append(os.Environ(), helperEnv+"=sleep")
		err := syscall.Exec(args[0], args, env)
		fmt.Fprintln(os.Stderr, err)
		return 95
	case "load":
		return runLoad(args)
	case "server":
		return runServer(args)
	}
	return 99
}

// runWait runs cmd and returns its exit status.
func runWait(cmd *exec.Cmd) int {
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, err)
		return 97
	}
	return 0
}

// runSpawn (helper mode "spawn"): args: script child. Opens a pseudo
// terminal, prints its device's major and minor numbers, and runs /bin/sh -c script child as the
// leader of a new session with the terminal as its controlling terminal (as
// sshd starts a login shell), children of the shell in mode newgroup; exits
// with the shell's status.
func runSpawn(args []string) int {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 96
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 96
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 96
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 96
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(pts.Fd()), &st); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 96
	}
	fmt.Println(unix.Major(st.Rdev), unix.Minor(st.Rdev))
	cmd := helperCmd("/bin/sh", "parent", "-c", args[0], args[1])
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	code := runWait(cmd)
	pts.Close()
	return code
}

// resolveVia asks server (ip:port) for name's A record over UDP.
func resolveVia(server, name string) (netip.Addr, error) {
	c, err := net.Dial("udp", server)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(buildDNSQuery(0x4242, name, 1)); err != nil {
		return netip.Addr{}, err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return netip.Addr{}, err
	}
	r, err := parseDNSResponse(buf[:n])
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range r.answers {
		if a.ip.IsValid() {
			return a.ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no address for %s", name)
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: the cairn_host receiver tests need root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH) and ip netns; run them as root")
	}
}

// testConfig enables nothing; tests turn on what they exercise.
func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Processes.Enabled = false
	cfg.Connections.Enabled = false
	cfg.DNS.Enabled = false
	cfg.Inventory = false
	cfg.FlushInterval = 20 * time.Millisecond
	cfg.Connections.Interval = 100 * time.Millisecond
	cfg.Hashing.BytesPerSecond = 0
	return cfg
}

func startReceiver(t *testing.T, cfg *Config) (*hostReceiver, *consumertest.LogsSink) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.LogsSink)
	r := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r, sink
}

// event is one received record, flattened for assertions.
type event struct {
	attrs    pcommon.Map
	resource pcommon.Map
}

func (e event) str(k string) string {
	v, ok := e.attrs.Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}

func (e event) int(k string) int64 {
	v, ok := e.attrs.Get(k)
	if !ok {
		return -1
	}
	return v.Int()
}

func (e event) strs(k string) []string {
	v, ok := e.attrs.Get(k)
	if !ok || v.Type() != pcommon.ValueTypeSlice {
		return nil
	}
	var out []string
	for i := 0; i < v.Slice().Len(); i++ {
		out = append(out, v.Slice().At(i).AsString())
	}
	return out
}

func events(sink *consumertest.LogsSink) []event {
	var out []event
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, event{attrs: lrs.At(k).Attributes(), resource: rl.Resource().Attributes()})
				}
			}
		}
	}
	return out
}

// waitEvent waits for an event matching pred.
func waitEvent(t *testing.T, sink *consumertest.LogsSink, timeout time.Duration, what string, pred func(event) bool) event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, e := range events(sink) {
			if pred(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			var dump []string
			for _, e := range events(sink) {
				if len(dump) < 10 {
					dump = append(dump, fmt.Sprintf("%s pid=%d exe=%s dst=%s:%d dns=%s", e.str("event.action"),
						e.int("process.pid"), e.str("process.executable"), e.str("destination.ip"),
						e.int("destination.port"), e.str("dns.question.name")))
				}
			}
			t.Fatalf("no %s within %s; %d events, first ones:\n%s", what, timeout, len(events(sink)), strings.Join(dump, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// copyBinary copies the test binary to dir/name, adding extra bytes at the
// end (the ELF loader ignores them) to give a different hash.
func copyBinary(t testing.TB, dir, name string, extra []byte) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	tmp := filepath.Join(dir, "."+name+".tmp")
	require.NoError(t, os.WriteFile(tmp, append(b, extra...), 0o755))
	dst := filepath.Join(dir, name)
	require.NoError(t, os.Rename(tmp, dst))
	return dst
}

func helperCmd(path, mode string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// netns is netnstest.NS with the receiver tests' DNS server; the
// receiver's namespaces use 10.213.0.0/16.
type netns struct{ *netnstest.NS }

func newNetns(t testing.TB) *netns { return &netns{netnstest.New(t, 213)} }

// serve starts, in the namespace, a TCP listener that holds connections
// open and a DNS server answering every A query with answer.
func (ns *netns) serve(t testing.TB, answer netip.Addr) (tcpPort int) {
	t.Helper()
	port := ns.ListenTCP(t)
	pc := ns.listenDNS(t)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buildDNSAnswer(buf[:n], 60, answer), from)
		}
	}()
	return port
}

func itoa(i int) string { return strconv.Itoa(i) }

// startReady starts cmd and waits for its "ready" line (the helper runs:
// its exec is over).
func startReady(t testing.TB, cmd *exec.Cmd) *bufio.Reader {
	t.Helper()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rd := bufio.NewReader(out)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	return rd
}

// listenDNS listens on UDP port 53 of the namespace's address, for a DNS
// server the test plays.
func (ns *netns) listenDNS(t testing.TB) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	ns.Inside(t, func() {
		var err error
		pc, err = net.ListenPacket("udp", net.JoinHostPort(ns.NSIP.String(), "53"))
		require.NoError(t, err)
	})
	t.Cleanup(func() { pc.Close() })
	return pc
}
