package correlateprocessor

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

var t0 = time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)

type harness struct {
	t    *testing.T
	tel  *componenttest.Telemetry
	sink *consumertest.LogsSink
	p    *correlate
	proc interface {
		ConsumeLogs(context.Context, plog.Logs) error
		Shutdown(context.Context) error
	}
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	h := &harness{t: t, tel: componenttest.NewTelemetry(), sink: &consumertest.LogsSink{}}
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	pl, p, err := newLogsProcessor(context.Background(), set, cfg, h.sink)
	require.NoError(t, err)
	require.NoError(t, pl.Start(context.Background(), componenttest.NewNopHost()))
	h.p, h.proc = p, pl
	t.Cleanup(func() {
		require.NoError(t, pl.Shutdown(context.Background()))
		require.NoError(t, h.tel.Shutdown(context.Background()))
	})
	return h
}

// send decodes ECS JSON documents into one batch and processes it; it
// returns the records that came out, as documents.
func (h *harness) send(docs ...string) []map[string]any {
	h.t.Helper()
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var dec ecs.Decoder
	for _, d := range docs {
		require.NoError(h.t, dec.Decode([]byte(d), recs.AppendEmpty()))
	}
	return h.sendLogs(ld)
}

func (h *harness) sendLogs(ld plog.Logs) []map[string]any {
	h.t.Helper()
	h.sink.Reset()
	require.NoError(h.t, h.proc.ConsumeLogs(context.Background(), ld))
	var out []map[string]any
	var enc ecs.Encoder
	for _, l := range h.sink.AllLogs() {
		rls := l.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				recs := sls.At(j).LogRecords()
				for k := 0; k < recs.Len(); k++ {
					var m map[string]any
					require.NoError(h.t, json.Unmarshal(enc.Append(nil, rls.At(i).Resource(), recs.At(k)), &m))
					out = append(out, m)
				}
			}
		}
	}
	return out
}

func alertsIn(docs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, d := range docs {
		if testkit.Nested(d, "event.kind") == "alert" {
			out = append(out, d)
		}
	}
	return out
}

func doc(at time.Duration, host string, fields string) string {
	return `{"@timestamp":"` + t0.Add(at).Format(time.RFC3339Nano) + `","host":{"name":"` + host + `"},` + fields + `}`
}

func TestEventsWithoutSignalsPassUnchanged(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	in := doc(0, "web-01", `"event":{"kind":"event"},"process":{"executable":"/usr/bin/curl"}`)
	out := h.send(in, in)
	require.Len(t, out, 2)
	assert.Nil(t, testkit.Nested(out[0], "event.id"), "nothing written to events without signals")
	assert.Nil(t, testkit.Nested(out[0], "cairn"))
	assert.Equal(t, int64(2), testkit.Sum(t, h.tel, "otelcol_processor_correlate_events", nil))
	assert.Zero(t, h.p.eng.Len(), "no state for entities without signals")
}

func TestMappingsModifiersAndCustomRule(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Signals = map[string]SignalConfig{"falco_shell": {Weight: f64(40), Tactic: "TA0002", Label: "shell in a container"}}
	cfg.SignalMappings = []MappingConfig{{Signal: "falco_shell", When: map[string][]string{
		"event.kind": {"alert"}, "rule.name": {"Terminal shell in container"}}}}
	cfg.Modifiers = []ModifierConfig{{Name: "root", When: map[string][]string{"user.id": {"0"}}, Multiplier: 2}}
	cfg.Rules = []RuleConfig{{ID: "shell-callout", Name: "Shell then callout", Severity: "critical", RiskScore: f64(99),
		Signals:    map[string]SignalConfig{"falco_shell": {}, "new_external_ip": {}},
		Condition:  &ConditionConfig{AllOf: []string{"falco_shell", "new_external_ip"}, MinScore: 100},
		Exceptions: []map[string][]string{{"container.image.name": {"scanner/*"}}}}}
	require.NoError(t, cfg.Validate())
	h := newHarness(t, cfg)

	falco := doc(0, "node-1", `"event":{"kind":"alert"},"rule":{"name":"Terminal shell in container"},"user":{"id":"0"},"process":{"executable":"/bin/bash"}`)
	out := h.send(falco)
	require.Len(t, out, 1)
	assert.Equal(t, []any{"falco_shell"}, testkit.Nested(out[0], "cairn.signals"), "the mapping names the signal on the event")

	// 40×2 (root) + 20 = 100.
	callout := doc(time.Minute, "node-1", `"event":{"kind":"event"},"destination":{"ip":"45.33.32.156","port":443},"process":{"executable":"/usr/bin/curl"},"user":{"name":"app","id":"1001"},"cairn":{"signals":["new_external_ip"]}`)
	out = h.send(callout)
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.EqualValues(t, 100, testkit.Nested(a, "cairn.alert.score"))
	assert.EqualValues(t, 99, testkit.Nested(a, "event.severity"))
	assert.Equal(t, "critical", testkit.Nested(a, "cairn.alert.severity"))
	assert.Contains(t, testkit.Nested(a, "message"), "/bin/bash ran as uid 0")
	assert.Contains(t, testkit.Nested(a, "message"), "shell in a container")
	assert.Equal(t, []any{"0", "app"}, testkit.Nested(a, "related.user"))
	assert.Equal(t, []any{testkit.Nested(a, "event.id")}, testkit.Nested(out[0], "cairn.alert.ids"))

	// The same story from a scanner image never contributes.
	scan := `,"container":{"image":{"name":"scanner/nmap"}}`
	h.send(doc(0, "node-2", `"event":{"kind":"alert"},"rule":{"name":"Terminal shell in container"},"user":{"id":"0"}`+scan))
	out = h.send(doc(time.Minute, "node-2", `"destination":{"ip":"45.33.32.156"},"cairn":{"signals":["new_external_ip"]}`+scan))
	assert.Empty(t, alertsIn(out))
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_alerts", map[string]string{"rule": "shell-callout", "action": "fired"}))
	assert.Equal(t, int64(2), testkit.Sum(t, h.tel, "otelcol_processor_correlate_signals", map[string]string{"signal": "falco_shell"}))
}

// TestFlatSemconvEvents: OTLP senders' flat attributes and semantic
// convention names, with host.name on the resource, correlate the same way;
// the alert carries the entity's resource.
func TestFlatSemconvEvents(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "edge-7")
	rl.Resource().Attributes().PutStr("cloud.region", "eu-west-1")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	add := func(at time.Duration, attrs map[string]any) {
		r := recs.AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(at)))
		require.NoError(t, r.Attributes().FromRaw(attrs))
	}
	add(0, map[string]any{"process.executable.path": "/tmp/x", "process.user.name": "root", "user.id": "0",
		"cairn.signals": []any{"new_binary_on_host", "new_binary_in_environment", "intel_malicious_hash"}})
	add(time.Second, map[string]any{"process.executable.path": "/tmp/x", "server.address": "45.134.26.117", "server.port": float64(80),
		"cairn.signals": []any{"new_external_ip"}})
	out := h.sendLogs(ld)
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, "edge-7", testkit.Nested(a, "host.name"))
	assert.Equal(t, "eu-west-1", testkit.Nested(a, "cloud.region"), "the entity's resource")
	assert.Equal(t, RuleCompromisedHost, testkit.Nested(a, "rule.id"))
	assert.Contains(t, testkit.Nested(a, "message"), "/tmp/x connected to 45.134.26.117:80")
	assert.Equal(t, "2026-03-05T14:00:00.000Z", testkit.Nested(a, "@timestamp"), "the malicious start decides; the connection updates")
	assert.Equal(t, "2026-03-05T14:00:01.000Z", testkit.Nested(a, "event.end"))
	// Both events carry the alert id, the earlier one too (same batch).
	assert.Equal(t, []any{testkit.Nested(a, "event.id")}, testkit.Nested(out[0], "cairn.alert.ids"))
	assert.Equal(t, []any{testkit.Nested(a, "event.id")}, testkit.Nested(out[1], "cairn.alert.ids"))
}

func TestDroppedEventsAreCounted(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	h.send(`{"@timestamp":"2026-03-05T14:00:00Z","cairn":{"signals":["new_domain"]}}`)
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_dropped", map[string]string{"reason": "no_entity"}))
	h.send(doc(time.Hour, "a", `"cairn":{"signals":["new_domain"]}`))
	h.send(doc(0, "a", `"cairn":{"signals":["new_external_ip"]}`))
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_dropped", map[string]string{"reason": "late"}))
	// Unknown signal names are not correlated (nor counted as signals).
	h.send(doc(time.Hour, "a", `"cairn":{"signals":["something_else"]}`))
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_signals", nil))
}

func TestEvictionsAndEntitiesMetrics(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxEntities = 2
	h := newHarness(t, cfg)
	for i, host := range []string{"a", "b", "c"} {
		h.send(doc(time.Duration(i)*time.Second, host, `"cairn":{"signals":["new_domain"]}`))
	}
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_evictions", map[string]string{"table": "entities"}))
	m, err := h.tel.GetMetric("otelcol_processor_correlate_entities")
	require.NoError(t, err)
	assert.Equal(t, "otelcol_processor_correlate_entities", m.Name)
	assert.Equal(t, 2, h.p.eng.Len())
}

func TestEarlyWarningAndSuperseding(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	// A new binary and a new external IP (two tactics, score 30): the early warning.
	out := h.send(
		doc(0, "web-09", `"process":{"executable":"/opt/new"},"user":{"name":"app","id":"1001"},"cairn":{"signals":["new_binary_on_host"]}`),
		doc(time.Minute, "web-09", `"process":{"executable":"/opt/new"},"destination":{"ip":"45.33.32.156","port":22},"user":{"name":"app","id":"1001"},"cairn":{"signals":["new_external_ip"]}`))
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	assert.Equal(t, RuleEarlyWarning, testkit.Nested(alerts[0], "rule.id"))
	assert.EqualValues(t, 21, testkit.Nested(alerts[0], "event.severity"))
	// Then a malicious hash: escalation to the composite alert; the early
	// warning, still open, takes the evidence as an update.
	out = h.send(doc(2*time.Minute, "web-09", `"process":{"executable":"/opt/new"},"user":{"name":"root","id":"0"},"cairn":{"signals":["intel_malicious_hash","new_binary_in_environment"]}`))
	alerts = alertsIn(out)
	require.Len(t, alerts, 2)
	rules := []any{testkit.Nested(alerts[0], "rule.id"), testkit.Nested(alerts[1], "rule.id")}
	assert.ElementsMatch(t, []any{RuleEarlyWarning, RuleCompromisedHost}, rules)
	assert.Len(t, testkit.Nested(out[0], "cairn.alert.ids"), 2)
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_alerts", map[string]string{"rule": RuleEarlyWarning, "action": "updated"}))

	// On a fresh host where one event meets both rules, only the composite fires.
	out = h.send(
		doc(0, "web-10", `"process":{"executable":"/opt/x"},"user":{"name":"root","id":"0"},"cairn":{"signals":["new_binary_on_host","new_binary_in_environment","intel_malicious_hash"]}`),
		doc(time.Second, "web-10", `"destination":{"ip":"45.33.32.156"},"cairn":{"signals":["new_external_ip"]}`))
	alerts = alertsIn(out)
	require.Len(t, alerts, 1)
	assert.Equal(t, RuleCompromisedHost, testkit.Nested(alerts[0], "rule.id"))
	assert.Equal(t, int64(1), testkit.Sum(t, h.tel, "otelcol_processor_correlate_alerts", map[string]string{"rule": RuleEarlyWarning, "action": "superseded"}))
}

func TestEntityField(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Entity = "container.id|host.name"
	h := newHarness(t, cfg)
	// Strong, but one tactic: no alert on its own.
	sig := `"user":{"id":"0"},"cairn":{"signals":["new_binary_on_host","new_binary_in_environment","sigma_high"]}`
	// Two containers on one host: separate entities, no alert for either...
	h.send(doc(0, "node-1", `"container":{"id":"c1"},`+sig))
	out := h.send(doc(time.Second, "node-1", `"container":{"id":"c2"},"destination":{"ip":"45.33.32.156"},"cairn":{"signals":["new_external_ip"]}`))
	assert.Empty(t, alertsIn(out))
	// ...until the same container calls out.
	out = h.send(doc(2*time.Second, "node-1", `"container":{"id":"c1"},"destination":{"ip":"45.33.32.157"},"cairn":{"signals":["new_external_ip"]}`))
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	assert.Equal(t, "c1", testkit.Nested(alerts[0], "container.id"))
	assert.Equal(t, []any{"node-1"}, testkit.Nested(alerts[0], "related.hosts"))
}

// TestCrashMidAttack: the collector dies (no shutdown, no final write)
// after the gs-netcat start; what the flush loop wrote is enough for the
// connection after the restart to fire the alert.
func TestCrashMidAttack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	cfg.FlushInterval = 20 * time.Millisecond
	// A binary on a feed that was known on the host: alone, no alert.
	start := doc(0, "web-03", `"process":{"executable":"/tmp/.x/gs-netcat"},"user":{"name":"root","id":"0"},"cairn":{"signals":["intel_malicious_hash"]}`)
	beacon := doc(time.Second, "web-03", `"process":{"executable":"/tmp/.x/gs-netcat"},"destination":{"ip":"45.134.26.117","port":80},"cairn":{"signals":["new_external_ip"]}`)

	run := func(crash bool, docs ...string) []map[string]any {
		ext := testkit.StartFileStorage(t, dir)
		h := &harness{t: t, tel: componenttest.NewTelemetry(), sink: &consumertest.LogsSink{}}
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = h.tel.NewTelemetrySettings()
		pl, p, err := newLogsProcessor(ctx, set, cfg, h.sink)
		require.NoError(t, err)
		require.NoError(t, pl.Start(ctx, storagetest.NewStorageHost().WithExtension(storageID, ext)))
		h.p, h.proc = p, pl
		out := h.send(docs...)
		if crash {
			// Let the flush loop write, then stop it and close storage
			// under the processor, skipping the shutdown's final write.
			require.Eventually(t, func() bool {
				p.mu.Lock()
				defer p.mu.Unlock()
				return len(p.state.stored) == 1
			}, 5*time.Second, 10*time.Millisecond)
			p.mu.Lock()
			st := p.state
			p.state = nil
			p.mu.Unlock()
			st.loop.Stop()
			require.NoError(t, st.client.Close(ctx))
		}
		require.NoError(t, pl.Shutdown(ctx))
		require.NoError(t, ext.Shutdown(ctx))
		return out
	}
	assert.Empty(t, alertsIn(run(true, start)))
	alerts := alertsIn(run(false, beacon))
	require.Len(t, alerts, 1, "the evidence from before the crash counts")
	assert.EqualValues(t, 75+20, testkit.Nested(alerts[0], "cairn.alert.score"), "75 as root, then 20: the malicious binary corroborated")
}

// TestAlertLogLine: log_alerts writes one readable line when an alert
// fires, and none at info when it is updated.
func TestAlertLogLine(t *testing.T) {
	for _, on := range []bool{true, false} {
		cfg := createDefaultConfig().(*Config)
		cfg.LogAlerts = on
		core, logs := observer.New(zap.InfoLevel)
		set := processortest.NewNopSettings(metadata.Type)
		set.Logger = zap.New(core)
		sink := &consumertest.LogsSink{}
		pl, _, err := newLogsProcessor(context.Background(), set, cfg, sink)
		require.NoError(t, err)
		require.NoError(t, pl.Start(context.Background(), componenttest.NewNopHost()))
		h := &harness{t: t, sink: sink, proc: pl}
		h.send(doc(0, "web-10", `"process":{"executable":"/opt/x"},"user":{"name":"root","id":"0"},"cairn":{"signals":["new_binary_on_host","new_binary_in_environment","intel_malicious_hash"]}`),
			doc(time.Second, "web-10", `"destination":{"ip":"45.33.32.156","port":443},"process":{"executable":"/opt/x"},"cairn":{"signals":["new_external_ip"]}`))
		h.send(doc(2*time.Second, "web-10", `"dns":{"question":{"name":"evil.example"}},"cairn":{"signals":["new_domain"]}`))
		require.NoError(t, pl.Shutdown(context.Background()))
		lines := logs.FilterMessageSnippet("ALERT ").All()
		if !on {
			assert.Empty(t, lines)
			continue
		}
		require.Len(t, lines, 1, "fired once; the update is at debug")
		assert.Contains(t, lines[0].Message, "ALERT Potentially Compromised Host on web-10 (score 140")
		assert.Contains(t, lines[0].Message, "/opt/x connected to 45.33.32.156:443", "the state at the end of the batch")
		assert.Equal(t, "high", lines[0].ContextMap()["severity"])
		assert.Equal(t, "web-10", lines[0].ContextMap()["host.name"])
	}
}
