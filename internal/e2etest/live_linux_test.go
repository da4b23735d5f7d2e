//go:build linux

package e2etest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnsec/cairn/internal/netnstest"

	"github.com/cairnsec/cairn/internal/testkit"
)

// TestCollectorWatchesThisHost is `make run` for real: the collector binary
// on deploy/cairn.yaml + deploy/cairn-live.yaml watches this machine with
// the cairn_host receiver. After its short learning period, a new "network
// tool" (a copy of this test binary with a hash of its own, listed as
// malicious in a test feed) runs as root and connects to a listener in a
// network namespace whose private range the test declares external. The
// collector must report the start with the right sha256, flag it, and
// fire a "Potentially Compromised Host" alert that explains it.
func TestCollectorWatchesThisHost(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("skipped: watching the host needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH); CI runs it as root")
	}
	bin := testkit.CollectorBinary(t)
	root := testkit.RepoRoot()
	ns := netnstest.New(t, 216)
	port := ns.ListenTCP(t)

	dir := t.TempDir()
	tool := filepath.Join(dir, "gs-netcat")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	image, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	image = append(image, salt...) // the ELF loader ignores trailing bytes
	if err := os.WriteFile(tool, image, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(image)
	hash := hex.EncodeToString(sum[:])
	feeds := t.TempDir()
	if err := os.WriteFile(filepath.Join(feeds, "e2e.csv"), []byte("indicator,verdict,source\n"+hash+",malicious,e2e feed\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := newSinkServer(t)
	overlay := filepath.Join(t.TempDir(), "live-e2e.yaml")
	cfg := fmt.Sprintf(`# Test overlay, merged over deploy/cairn.yaml and deploy/cairn-live.yaml.
receivers:
  cairn_host:
    connections:
      interval: 100ms
    dns:
      interfaces: [%s]
processors:
  firstseen:
    # The namespace's private range stands in for the internet.
    external_networks: [%s]
  intel:
    feeds_dir: %s
exporters:
  otlp_http/e2e:
    endpoint: %s
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [cairn_host]
      exporters: [otlp_http/e2e]
`, ns.HostIf, ns.HostIP.String()[:strings.LastIndexByte(ns.HostIP.String(), '.')]+".0/24", feeds, s.url)
	if err := os.WriteFile(overlay, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := launch(t, "collector (live)", bin, []string{
		filepath.Join(root, "deploy", "cairn.yaml"), filepath.Join(root, "deploy", "cairn-live.yaml"), overlay,
	}, t.TempDir(), os.DevNull, s.sink, "CAIRN_LEARNING=3s")

	// The start-up inventory arrives first; then the learning period passes.
	waitFor(t, c, 30*time.Second, "the start-up inventory", func(r record) bool {
		typ, _ := lookup(r.attrs, "event.type")
		return fmt.Sprint(typ) == "[info]"
	})
	time.Sleep(4 * time.Second)

	cmd := exec.Command(tool, fmt.Sprintf("%s:%d", ns.NSIP, port), "2s")
	cmd.Env = append(os.Environ(), helperEnv+"=connect")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running the tool: %v: %s", err, out)
	}

	start := waitFor(t, c, 30*time.Second, "the tool's start with its sha256", func(r record) bool {
		h, _ := lookup(r.attrs, "process.hash.sha256")
		return h == hash
	})
	if sig := start.signals(); !strings.Contains(fmt.Sprint(sig), "new_binary_on_host") || !strings.Contains(fmt.Sprint(sig), "intel_malicious_hash") {
		t.Errorf("the tool's start has signals %v, want new_binary_on_host and intel_malicious_hash", sig)
	}
	defer func() {
		if t.Failed() {
			for _, r := range c.sink.snapshot() {
				if exe, _ := lookup(r.attrs, "process.executable"); exe == tool {
					t.Logf("tool record: %v", r.attrs)
				}
			}
		}
	}()
	// The tool's connection can go out before its start, which waits for
	// its hash, and other activity on a build machine (Go test binaries
	// run from /tmp) can already count: the alert may fire on the
	// connection and gain the start in an update (the same alert, re-sent
	// with its evidence). Wait for the alert that holds the start.
	alert := waitFor(t, c, 30*time.Second, "the alert with the tool's start", func(r record) bool {
		kind, _ := lookup(r.attrs, "event.kind")
		name, _ := lookup(r.attrs, "rule.name")
		msg, _ := lookup(r.attrs, "message")
		return kind == "alert" && name == "Potentially Compromised Host" && strings.Contains(fmt.Sprint(msg), tool+" ran as root")
	})
	msg, _ := lookup(alert.attrs, "message")
	t.Logf("alert: %v", msg)
	for _, want := range []string{tool + " ran as root", "flagged malicious by e2e feed", fmt.Sprintf("connected to %s:%d", ns.NSIP, port)} {
		if !strings.Contains(fmt.Sprint(msg), want) {
			t.Errorf("alert message lacks %q: %v", want, msg)
		}
	}
	c.terminate(t)
	if !strings.Contains(c.Out.String(), "ALERT Potentially Compromised Host") {
		t.Errorf("no ALERT line in the collector's log")
	}
}
