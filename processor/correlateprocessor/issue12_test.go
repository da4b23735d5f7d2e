package correlateprocessor

// The cases of issue 12 that concern correlation, as the issue tells them.
// Each failed on the release before: it is written against what that
// release offered too (documents in, alerts out, default configuration), so
// it can run on both.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// at2099 is a document of host dated 2099: a real-time clock that read
// 2099 at boot, corrected by NTP a moment later.
func at2099(host, fields string) string {
	return `{"@timestamp":"2099-03-04T04:31:00Z","host":{"name":"` + host + `"},` + fields + `}`
}

// proc and conn are events of one process as firstseen and intel flag them.
func proc(at time.Duration, host, exe, user, uid string, signals ...string) string {
	return doc(at, host, fmt.Sprintf(`"event":{"kind":"event","category":["process"],"type":["start"]},"process":{"executable":%q},"user":{"name":%q,"id":%q},"cairn":{"signals":[%s]}`,
		exe, user, uid, quoted(signals)))
}

func conn(at time.Duration, host, exe, user, uid, ip string, port int, signals ...string) string {
	return doc(at, host, fmt.Sprintf(`"event":{"kind":"event","category":["network"],"type":["connection","start"]},"process":{"executable":%q},"user":{"name":%q,"id":%q},"destination":{"ip":%q,"port":%d},"cairn":{"signals":[%s]}`,
		exe, user, uid, ip, port, quoted(signals)))
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = `"` + s + `"`
	}
	return strings.Join(q, ",")
}

// gsNetcatChain is the seed's attack on host at offset: a known-malicious
// binary, new on the host, then its beacon.
func gsNetcatChain(at time.Duration, host string) []string {
	return []string{
		proc(at, host, "/tmp/.x/gs-netcat", "root", "0", "new_binary_on_host", "new_binary_in_environment", "intel_malicious_hash"),
		conn(at+time.Second, host, "/tmp/.x/gs-netcat", "root", "0", "45.134.26.117", 80, "new_external_ip", "new_ip_for_binary"),
	}
}

func highAlerts(docs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, a := range alertsIn(docs) {
		if testkit.Nested(a, "rule.id") == RuleCompromisedHost {
			out = append(out, a)
		}
	}
	return out
}

// TestIssue12C2AgentWithoutIntel (item 1): a C2 agent started as root from
// a temp build path, its first connection to a never-seen public IP, then
// an archiver and scp/ssh to that same IP within the hour. Three further
// new root binaries and the new ssh destination used to add 0 (score 90,
// the early warning only); distinct binaries now add with diminishing
// weight, and the high rule fires.
func TestIssue12C2AgentWithoutIntel(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	const host, c2 = "worker-03", "34.116.205.187"
	agent := "/tmp/go-build3518135900/b001/exe/main"
	var out []map[string]any
	for _, d := range []string{
		proc(0, host, agent, "root", "0", "new_binary_on_host", "new_binary_in_environment"),
		conn(74*time.Second, host, agent, "root", "0", c2, 443, "new_external_ip", "new_ip_for_binary"),
		proc(50*time.Minute, host, "/usr/bin/7z", "root", "0", "new_binary_on_host"),
		proc(51*time.Minute, host, "/usr/bin/scp", "root", "0", "new_binary_on_host"),
		proc(51*time.Minute+time.Second, host, "/usr/bin/ssh", "root", "0", "new_binary_on_host"),
		conn(51*time.Minute+2*time.Second, host, "/usr/bin/ssh", "root", "0", c2, 22, "new_ip_for_binary"),
	} {
		out = append(out, h.send(d)...)
	}
	alerts := highAlerts(out)
	require.NotEmpty(t, alerts, "the high rule fires")
	ids := map[any]bool{}
	for _, a := range alerts {
		ids[testkit.Nested(a, "event.id")] = true
	}
	assert.Len(t, ids, 1, "one alert, updated")
	last := alerts[len(alerts)-1]
	assert.GreaterOrEqual(t, testkit.Nested(last, "cairn.alert.score"), 100.0)
	assert.Contains(t, testkit.Nested(last, "message"), "/usr/bin/scp ran as root")
}

// TestIssue12SecondInfectedHost (item 2): the same known-malicious tool on
// another host, where the environment already knows it: only intel and
// "new on this host". It used to score 90 with one tactic and raise
// nothing, not even the early warning.
func TestIssue12SecondInfectedHost(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	out := h.send(proc(0, "worker-04", "/tmp/.x/gs-netcat", "root", "0", "new_binary_on_host", "intel_malicious_hash"))
	alerts := highAlerts(out)
	require.Len(t, alerts, 1, "a known-malicious binary with a corroborating signal reaches the high rule")
	assert.EqualValues(t, 90, testkit.Nested(alerts[0], "cairn.alert.score"))
	assert.Len(t, alertsIn(out), 1, "and only it")

	// The binary alone (known on the host, on a feed) is not enough.
	assert.Empty(t, alertsIn(h.send(proc(0, "db-02", "/usr/bin/nc", "root", "0", "intel_malicious_hash"))))
}

// TestIssue12ClockJumpThenAttack (item 3): a host whose clock read 2099
// once (a bad RTC at boot, fixed by NTP) is compromised a day later. Its
// 2099 event used to become the host's clock, making every later event
// late: the attack raised nothing.
func TestIssue12ClockJumpThenAttack(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	h.send(at2099("web-01", `"process":{"executable":"/usr/sbin/cron"},"cairn":{"signals":["new_binary_on_host"]}`))
	out := h.send(gsNetcatChain(24*time.Hour, "web-01")...)
	require.Len(t, highAlerts(out), 1, "the attack a day later is detected")
	assert.Zero(t, testkit.Sum(t, h.tel, "otelcol_processor_correlate_dropped", map[string]string{"reason": "late"}))
}

// TestIssue12FutureEventDoesNotSweepOthers (item 3): one event dated 2099
// from any host used to move the sweep's watermark to 2099, which deleted
// every host's partly built evidence.
func TestIssue12FutureEventDoesNotSweepOthers(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	// web-03's first step: two new binaries as root (45, one tactic).
	h.send(proc(0, "web-03", "/tmp/.x/agent", "root", "0", "new_binary_on_host", "new_binary_in_environment"))
	h.send(at2099("rogue-01", `"process":{"executable":"/usr/bin/x"},"cairn":{"signals":["new_binary_on_host"]}`))
	// Its next steps (75 more): the alert needs the first one.
	out := h.send(
		conn(10*time.Minute, "web-03", "/tmp/.x/agent", "root", "0", "45.134.26.117", 443, "new_external_ip", "new_ip_for_binary"),
		doc(10*time.Minute+time.Second, "web-03", `"process":{"executable":"/tmp/.x/agent"},"user":{"id":"0"},"dns":{"question":{"name":"c2.example.net"}},"cairn":{"signals":["new_domain"]}`))
	alerts := highAlerts(out)
	require.Len(t, alerts, 1, "the evidence from before the 2099 event still counts")
	assert.Equal(t, t0.Format("2006-01-02T15:04:05.000Z"), testkit.Nested(alerts[0], "event.start"))
}

// TestIssue12PoisonedClockDoesNotSurviveRestart (item 3): the state that
// says a host's clock is at 2099 used to be written to storage and read
// back, blinding the host restart after restart.
func TestIssue12PoisonedClockDoesNotSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	run := func(docs ...string) []map[string]any {
		ext := testkit.StartFileStorage(t, dir)
		h := &harness{t: t, tel: componenttest.NewTelemetry(), sink: &consumertest.LogsSink{}}
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = h.tel.NewTelemetrySettings()
		pl, p, err := newLogsProcessor(ctx, set, cfg, h.sink)
		require.NoError(t, err)
		require.NoError(t, pl.Start(ctx, storagetest.NewStorageHost().WithExtension(storageID, ext)))
		h.p, h.proc = p, pl
		out := h.send(docs...)
		require.NoError(t, pl.Shutdown(ctx))
		require.NoError(t, ext.Shutdown(ctx))
		return out
	}
	run(at2099("web-01", `"process":{"executable":"/usr/sbin/cron"},"cairn":{"signals":["new_binary_on_host"]}`))
	run() // a restart in between
	out := run(gsNetcatChain(24*time.Hour, "web-01")...)
	assert.Len(t, highAlerts(out), 1, "after restarts, the attack a day later is still detected")
}

// TestIssue12FloodOfMadeUpHosts (item 4): 100,001 events with made-up host
// names used to push every real host out of the entity table, and its
// partly built evidence with it. The flood evicts only its own kind, and
// the evictions are counted.
func TestIssue12FloodOfMadeUpHosts(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxEntities = 1000
	h := newHarness(t, cfg)
	// web-03's first steps: zsh new on the host, then an agent new to the
	// environment (two events, one tactic).
	h.send(proc(0, "web-03", "/usr/bin/zsh", "ext-contractor", "1002", "new_binary_on_host"),
		proc(time.Minute, "web-03", "/tmp/.x/agent", "root", "0", "new_binary_on_host", "new_binary_in_environment"))
	const flood = 100_001
	batch := make([]string, 0, 1000)
	for i := 0; i < flood; i++ {
		batch = append(batch, doc(2*time.Minute, fmt.Sprintf("fake-%06d", i), `"cairn":{"signals":["new_domain"]}`))
		if len(batch) == cap(batch) || i == flood-1 {
			h.send(batch...)
			batch = batch[:0]
		}
	}
	assert.LessOrEqual(t, h.p.eng.Len(), 1000)
	assert.Equal(t, int64(flood+1-1000), testkit.Sum(t, h.tel, "otelcol_processor_correlate_evictions", map[string]string{"table": "entities"}))
	out := h.send(conn(3*time.Minute, "web-03", "/tmp/.x/agent", "root", "0", "45.134.26.117", 443, "new_external_ip", "new_ip_for_binary"),
		doc(3*time.Minute+time.Second, "web-03", `"process":{"executable":"/tmp/.x/agent"},"user":{"id":"0"},"dns":{"question":{"name":"c2.example.net"}},"cairn":{"signals":["new_domain"]}`))
	alerts := highAlerts(out)
	require.Len(t, alerts, 1, "web-03's evidence survived the flood")
	assert.Equal(t, t0.Format("2006-01-02T15:04:05.000Z"), testkit.Nested(alerts[0], "event.start"))
}

// TestIssue12QuietBuildMachine: a CI runner that builds and runs fresh
// binaries from /tmp all day (each new on the host and to the
// environment, flagged by a Sigma rule on temp paths), whose tests call a
// known service from their fresh binaries (an address new for each
// binary). No alert: the early warning used to fire on a new binary and
// the address of a new binary, which is all a build does.
func TestIssue12QuietBuildMachine(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	var out []map[string]any
	for job := 0; job < 24; job++ {
		at := time.Duration(job) * 10 * time.Minute
		dir := fmt.Sprintf("/tmp/go-build%d", 1000+job)
		var docs []string
		for i, bin := range []string{"b001/client.test", "b002/store.test", "b003/api.test", "b001/exe/gen"} {
			docs = append(docs, proc(at+time.Duration(i)*time.Second, "ci-01", dir+"/"+bin, "runner", "1001",
				"new_binary_on_host", "new_binary_in_environment", "sigma_medium"))
		}
		docs = append(docs, conn(at+5*time.Second, "ci-01", dir+"/b001/client.test", "runner", "1001", "140.82.112.6", 443, "new_ip_for_binary"))
		out = append(out, h.send(docs...)...)
	}
	assert.Empty(t, alertsIn(out))
}

// TestIssue12QuietPackageUpgrade: a package upgrade on one host (many new
// binaries as root, new to the environment on the first host; one tactic)
// and a backup burst (an archiver, then ssh to the known backup server)
// alert nobody.
func TestIssue12QuietPackageUpgrade(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	var docs []string
	for i, bin := range []string{"/usr/bin/dpkg", "/sbin/ldconfig", "/usr/bin/curl", "/usr/bin/ssh", "/usr/sbin/sshd",
		"/usr/bin/openssl", "/usr/bin/scp", "/usr/bin/sftp", "/usr/bin/ssh-keygen", "/usr/lib/openssh/sftp-server"} {
		docs = append(docs, proc(time.Duration(i)*time.Second, "web-01", bin, "root", "0", "new_binary_on_host", "new_binary_in_environment"))
	}
	for i, bin := range []string{"/usr/bin/tar", "/usr/bin/gzip", "/usr/bin/rsync", "/usr/bin/ssh"} {
		docs = append(docs, proc(time.Hour+time.Duration(i)*time.Second, "db-01", bin, "root", "0", "new_binary_on_host"))
	}
	assert.Empty(t, alertsIn(h.send(docs...)))
}
