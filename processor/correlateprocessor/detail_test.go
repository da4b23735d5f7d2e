package correlateprocessor

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/storageclient"
	"github.com/cairnsec/cairn/internal/taint"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// details is a cairn.signal_details array.
func details(ds ...event.SignalDetail) string {
	type dj struct {
		Signal     string   `json:"signal"`
		Key        string   `json:"key,omitempty"`
		Label      string   `json:"label,omitempty"`
		Tactics    []string `json:"tactics,omitempty"`
		Techniques []string `json:"techniques,omitempty"`
	}
	var list []dj
	for _, d := range ds {
		list = append(list, dj{d.Signal, d.Key, d.Label, d.Tactics, d.Techniques})
	}
	b, _ := json.Marshal(list)
	return string(b)
}

const reverseShellLabel = `Sigma rule "Python Reverse Shell Execution Via PTY And Socket Modules" by @d4ns4n_, Nasreddine Bencherchali (Nextron Systems)`

// TestSigmaDetailInTheAlert: a Sigma raise's detail gives the alert its
// words (the rule's title and author, in the message and the
// contribution), its tactics and techniques (one this release does not
// name still goes through, under its id), and a high rule with a new
// destination of its process reaches the composite rule.
func TestSigmaDetailInTheAlert(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	shell := doc(0, "worker-05", `"event":{"kind":"event","category":["process"],"type":["start"]},"process":{"executable":"/usr/bin/python3"},"user":{"name":"app","id":"1005"},`+
		`"cairn":{"signals":["sigma_high"],"signal_details":`+details(event.SignalDetail{Signal: "sigma_high", Key: "sigma:c4042d54",
		Label: reverseShellLabel, Tactics: []string{"TA0002"}, Techniques: []string{"T1059.006", "attack.t1686", "not-an-id"}})+`}`)
	callout := conn(time.Second, "worker-05", "/usr/bin/python3", "app", "1005", "194.87.31.6", 443, "new_external_ip", "new_ip_for_binary")
	out := h.send(shell, callout)
	alerts := highAlerts(out)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.EqualValues(t, 100, testkit.Nested(a, "cairn.alert.score"), "70 + 20 + 10")
	msg := testkit.Nested(a, "message").(string)
	assert.Contains(t, msg, "/usr/bin/python3 ran as app ["+reverseShellLabel+"]")
	contribs := testkit.Nested(a, "cairn.alert.contributions").([]any)
	assert.Equal(t, "/usr/bin/python3 ran as app: "+reverseShellLabel, contribs[0].(map[string]any)["summary"],
		"the author stays with the match in the contribution")
	assert.Equal(t, []string{"TA0002", "TA0011"}, strList(testkit.Nested(a, "threat.tactic.id")))
	assert.Equal(t, []string{"T1059", "T1686"}, strList(testkit.Nested(a, "threat.technique.id")))
	assert.Equal(t, []string{"Command and Scripting Interpreter", "T1686"}, strList(testkit.Nested(a, "threat.technique.name")))
	assert.Equal(t, []string{"T1059.006"}, strList(testkit.Nested(a, "threat.technique.subtechnique.id")))
	assert.Equal(t, []string{"Python"}, strList(testkit.Nested(a, "threat.technique.subtechnique.name")))
}

// TestDistinctRaisesOfOneSignal: two Sigma rules of one level on one event
// are two raises (the second adds half); the same rule again, or a detail
// for a signal the event does not raise, adds nothing; a detail's tactic
// in Sigma's words counts.
func TestDistinctRaisesOfOneSignal(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Rules = []RuleConfig{{ID: "mediums", Name: "Mediums", Severity: "low", RiskScore: f64(1),
		Signals: map[string]SignalConfig{"sigma_medium": {}}, Condition: &ConditionConfig{MinScore: 1}}}
	h := newHarness(t, cfg)
	out := h.send(doc(0, "h", `"process":{"executable":"/tmp/x"},"user":{"name":"app","id":"1000"},"cairn":{"signals":["sigma_medium"],"signal_details":`+details(
		event.SignalDetail{Signal: "sigma_medium", Key: "sigma:a", Label: `Sigma rule "A" by X`, Tactics: []string{"attack.defense-impairment"}},
		event.SignalDetail{Signal: "sigma_medium", Key: "sigma:b", Label: `Sigma rule "B" by Y`},
		event.SignalDetail{Signal: "sigma_medium", Key: "sigma:a", Label: `Sigma rule "A" by X`},
		event.SignalDetail{Signal: "sigma_high", Key: "sigma:c", Label: `Sigma rule "C" by Z`},
	)+`}`))
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.EqualValues(t, 37.5, testkit.Nested(a, "cairn.alert.score"), "25 + 25/2")
	assert.Len(t, testkit.Nested(a, "cairn.alert.contributions"), 2)
	assert.Equal(t, []string{"TA0002", "TA0112"}, strList(testkit.Nested(a, "threat.tactic.id")),
		"rule B has no tactic of its own: the catalog's Execution")
	assert.Contains(t, testkit.Nested(a, "message"), `[Sigma rule "A" by X, Sigma rule "B" by Y]`)

	// Another event of the same host, rule A again and a third rule.
	out = h.send(doc(time.Second, "h", `"process":{"executable":"/tmp/x"},"cairn":{"signals":["sigma_medium"],"signal_details":`+details(
		event.SignalDetail{Signal: "sigma_medium", Key: "sigma:a"}, event.SignalDetail{Signal: "sigma_medium", Key: "sigma:d"})+`}`))
	alerts = alertsIn(out)
	require.Len(t, alerts, 1)
	assert.EqualValues(t, 43.75, testkit.Nested(alerts[0], "cairn.alert.score"), "rule D adds a quarter, A nothing")
}

// TestKeysFromEvidence: without a detail key, raises are told apart by the
// part of the event their signal's name points at, or by configured key
// fields.
func TestKeysFromEvidence(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Signals = map[string]SignalConfig{"falco_alert": {Weight: f64(40), Tactic: "TA0002", Key: []string{"rule.name"}}}
	cfg.Rules = []RuleConfig{{ID: "sum", Name: "Sum", Severity: "low", RiskScore: f64(1), SuppressFor: dur(24 * time.Hour),
		Signals:   map[string]SignalConfig{"new_binary_on_host": {}, "new_ip_for_binary": {}, "falco_alert": {}},
		Condition: &ConditionConfig{MinScore: 1}}}
	h := newHarness(t, cfg)
	score := func(out []map[string]any) any {
		alerts := alertsIn(out)
		require.Len(t, alerts, 1)
		return testkit.Nested(alerts[0], "cairn.alert.score")
	}
	user := `"user":{"name":"app","id":"1000"}`
	assert.EqualValues(t, 10, score(h.send(proc(0, "h", "/opt/a", "app", "1000", "new_binary_on_host"))))
	assert.EqualValues(t, 10, score(h.send(proc(time.Second, "h", "/opt/a", "app", "1000", "new_binary_on_host"))), "the same binary")
	assert.EqualValues(t, 15, score(h.send(proc(2*time.Second, "h", "/opt/b", "app", "1000", "new_binary_on_host"))))
	// Two binaries reaching one address: one destination.
	assert.EqualValues(t, 25, score(h.send(conn(3*time.Second, "h", "/opt/a", "app", "1000", "45.33.32.156", 443, "new_ip_for_binary"))))
	assert.EqualValues(t, 25, score(h.send(conn(4*time.Second, "h", "/opt/b", "app", "1000", "45.33.32.156", 443, "new_ip_for_binary"))))
	// Configured key fields.
	falco := func(at time.Duration, rule string) string {
		return doc(at, "h", `"rule":{"name":"`+rule+`"},`+user+`,"cairn":{"signals":["falco_alert"]}`)
	}
	assert.EqualValues(t, 65, score(h.send(falco(5*time.Second, "Terminal shell in container"))))
	assert.EqualValues(t, 65, score(h.send(falco(6*time.Second, "Terminal shell in container"))))
	assert.EqualValues(t, 85, score(h.send(falco(7*time.Second, "Write below etc"))))
}

// TestSkewedEventIsMarkedAndPlacedAtReceipt: an event dated beyond
// max_future is marked cairn.time.skewed (once) and counts at its receipt
// time: with the host's events of that moment, not in 2099.
func TestSkewedEventIsMarkedAndPlacedAtReceipt(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	now := t0.Add(24 * time.Hour)
	h.p.now = func() time.Time { return now }
	out := h.send(at2099("web-01", `"event":{"kind":"event"},"process":{"executable":"/tmp/.x/agent"},"user":{"id":"0"},"cairn":{"signals":["new_binary_on_host","new_binary_in_environment"]}`))
	require.Len(t, out, 1)
	assert.Equal(t, true, testkit.Nested(out[0], "cairn.time.skewed"))

	// Marked upstream (firstseen, flat as OTLP senders write): left as it
	// is, not written a second time.
	ld := plog.NewLogs()
	rec := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2099, 3, 4, 4, 31, 0, 0, time.UTC)))
	require.NoError(t, rec.Attributes().FromRaw(map[string]any{"host.name": "web-02", "cairn.time.skewed": true, "cairn.signals": []any{"new_domain"}}))
	h.sendLogs(ld)
	got := h.sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	_, nested := got.Get("cairn")
	assert.False(t, nested)
	assert.Equal(t, 4, got.Len(), "host.name, the flag, the signals and event.id")
	assert.Equal(t, int64(2), testkit.Sum(t, h.tel, "otelcol_processor_correlate_time_adjusted", map[string]string{"reason": "skewed"}))

	out = h.send(conn(24*time.Hour+time.Minute, "web-01", "/tmp/.x/agent", "root", "0", "45.134.26.117", 443, "new_external_ip", "new_ip_for_binary"),
		doc(24*time.Hour+2*time.Minute, "web-01", `"process":{"executable":"/tmp/.x/agent"},"user":{"id":"0"},"dns":{"question":{"name":"c2.example.net"}},"cairn":{"signals":["new_domain"]}`))
	alerts := highAlerts(out)
	require.Len(t, alerts, 1, "the skewed event's evidence counts at its receipt time")
	assert.Equal(t, now.Format("2006-01-02T15:04:05.000Z"), testkit.Nested(alerts[0], "event.start"))
}

// TestPoisonedStateOfAnOlderRelease: state an older release wrote after a
// 2099 event (the host's clock and an alert "open" until then) loads
// without them.
func TestPoisonedStateOfAnOlderRelease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	self := component.NewID(metadata.Type)

	ext := testkit.StartFileStorage(t, dir)
	host := storagetest.NewStorageHost().WithExtension(storageID, ext)
	client, err := storageclient.Open(ctx, host, storageID, component.KindProcessor, self)
	require.NoError(t, err)
	y2099 := time.Date(2099, 3, 4, 4, 31, 0, 0, time.UTC).UnixNano()
	poisoned := fmt.Sprintf(`{"key":"web-01","latest":%d,"evidence":[{"id":"cron","t":%d,"k":1,"exe":"/usr/sbin/cron"}],`+
		`"obs":[{"t":%d,"s":"new_binary_on_host","m":1,"skip":["cairn-compromised-host"],"e":0}],`+
		`"alerts":[{"rule":"cairn-compromised-host","id":"old","start":%d,"end":%d,"fired":%d,"until":%d,"sums":{"new_binary_on_host":10},"contributions":[{"s":"new_binary_on_host","w":10,"e":0}]}]}`,
		y2099, y2099, y2099, y2099, y2099, y2099, y2099+int64(time.Hour))
	require.NoError(t, client.Set(ctx, indexKey, []byte(`["web-01"]`)))
	require.NoError(t, client.Set(ctx, entityKey("web-01"), []byte(poisoned)))
	require.NoError(t, client.Close(ctx))

	h := &harness{t: t, tel: componenttest.NewTelemetry(), sink: &consumertest.LogsSink{}}
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	pl, p, err := newLogsProcessor(ctx, set, cfg, h.sink)
	require.NoError(t, err)
	require.NoError(t, pl.Start(ctx, host))
	h.p, h.proc = p, pl
	out := h.send(gsNetcatChain(0, "web-01")...)
	alerts := highAlerts(out)
	require.Len(t, alerts, 1)
	assert.NotEqual(t, "old", testkit.Nested(alerts[0], "event.id"), "a new alert, not an update of the 2099 one")
	require.NoError(t, pl.Shutdown(ctx))
	require.NoError(t, ext.Shutdown(ctx))
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_time_adjusted", map[string]string{"reason": "future_state"}))
}

// TestHighAlertsTaintTheBaseline: the events of a high alert reach the
// baseline group's registry with the alert's end plus its suppression;
// a low alert's do not.
func TestHighAlertsTaintTheBaseline(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.BaselineGroup = t.Name()
	reg := taint.Get(t.Name())
	defer reg.Subscribe()()
	h := newHarness(t, cfg)

	// A new binary and a new external IP: the early warning (low).
	out := h.send(proc(0, "web-09", "/opt/new", "app", "1001", "new_binary_on_host"),
		conn(time.Minute, "web-09", "/opt/new", "app", "1001", "45.33.32.156", 22, "new_external_ip"))
	require.Len(t, alertsIn(out), 1)
	marks, _ := reg.Drain()
	assert.Empty(t, marks, "a low alert leaves the baseline alone")

	out = h.send(gsNetcatChain(2*time.Minute, "web-03")...)
	alerts := highAlerts(out)
	require.Len(t, alerts, 1)
	marks, _ = reg.Drain()
	until := t0.Add(2*time.Minute + time.Second + time.Hour)
	var ids []string
	for _, m := range marks {
		ids = append(ids, m.EventID)
		assert.Equal(t, until, m.Until, "the alert's end plus its suppression")
	}
	var want []string
	for _, d := range out {
		if testkit.Nested(d, "host.name") == "web-03" && testkit.Nested(d, "event.kind") != "alert" {
			want = append(want, testkit.Nested(d, "event.id").(string))
		}
	}
	assert.ElementsMatch(t, want, ids, "each contributing event once")

	// An update reports the alert again, with its new end.
	out = h.send(doc(3*time.Minute, "web-03", `"dns":{"question":{"name":"l.gs.thc.org"}},"cairn":{"signals":["new_domain"]}`))
	require.Len(t, highAlerts(out), 1)
	marks, _ = reg.Drain()
	require.Len(t, marks, 3)
	for _, m := range marks {
		assert.Equal(t, t0.Add(3*time.Minute+time.Hour), m.Until)
	}
}

// TestDeployRulesAreTheDefaults: the rules spelled out in deploy/cairn.yaml
// compile to the default rules (the deploy tests keep the other manifests
// equal to it).
func TestDeployRulesAreTheDefaults(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub("processors::correlate")
	require.NoError(t, err)
	deployed := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(deployed))
	require.NotEmpty(t, deployed.Rules)
	got, err := deployed.compile()
	require.NoError(t, err)
	want, err := createDefaultConfig().(*Config).compile()
	require.NoError(t, err)
	assert.Equal(t, want.engine.Rules, got.engine.Rules)
	assert.Equal(t, want.rules, got.rules)
}
