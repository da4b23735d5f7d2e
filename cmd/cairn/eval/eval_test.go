package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/cmd/cairn/corpus"
	"github.com/cairnsec/cairn/cmd/cairn/replay"
	"github.com/cairnsec/cairn/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.UseScenarioFeeds()
	os.Exit(m.Run())
}

// markerConfig runs only correlate, with two rules whose outcome a test
// controls through event.action: "high" raises a high alert, "low" a low
// one. It leaves the first-seen and intel processors (whose verdicts other
// work changes) out of the evaluation's own tests.
const markerConfig = `
receivers:
  otlp:
    protocols:
      grpc:
processors:
  correlate:
    signals:
      test_high: {weight: 100, tactic: TA0002, label: high marker}
      test_low: {weight: 10, tactic: TA0011, label: low marker}
    signal_mappings:
      - signal: test_high
        when: {event.action: [high]}
      - signal: test_low
        when: {event.action: [low]}
    rules:
      - id: t-high
        name: Test High
        window: 1h
        condition: {all_of: [test_high]}
        severity: high
        risk_score: 73
      - id: t-low
        name: Test Low
        window: 1h
        condition: {all_of: [test_low]}
        severity: low
        risk_score: 21
exporters:
  debug:
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [correlate]
      exporters: [debug]
`

var t0 = time.Date(2026, 4, 8, 10, 0, 0, 0, time.UTC)

// ev is one event of a fake scenario: a host does action at t0+offset.
type ev struct {
	host   string
	offset time.Duration
	action string
}

func line(e ev) string {
	return fmt.Sprintf(`{"@timestamp":%q,"event":{"kind":"event","action":%q},"host":{"name":%q},"process":{"executable":"/usr/bin/%s"}}`,
		t0.Add(e.offset).Format("2006-01-02T15:04:05.000Z"), e.action, e.host, e.action)
}

type fake struct {
	name, expect string
	attacked     map[string]time.Duration // host -> first malicious offset
	quiet        []string
	unjudged     []string
	events       []ev
}

func writeFake(t *testing.T, root string, f fake) {
	t.Helper()
	dir := filepath.Join(root, f.name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var lines []string
	for _, e := range f.events {
		lines = append(lines, line(e))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	l := corpus.Labels{Name: f.name, Title: f.name, Description: "fake", Expect: f.expect, Events: "events.ndjson",
		Period: corpus.Period{First: t0.Format(time.RFC3339), Last: t0.Add(24 * time.Hour).Format(time.RFC3339)},
		Quiet:  f.quiet}
	for h, off := range f.attacked {
		l.Attacked = append(l.Attacked, corpus.Attacked{Host: h, FirstMalicious: corpus.Marker{Time: t0.Add(off).Format("2006-01-02T15:04:05.000Z"), Event: "first"}})
	}
	for _, h := range f.unjudged {
		l.Unjudged = append(l.Unjudged, corpus.Unjudged{Host: h, Why: "test"})
	}
	b, err := json.Marshal(l) // JSON is YAML
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	y, err := json.Marshal(snake(m))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, corpus.LabelsFile), y, 0o644))
}

// snake renames the Go field names json.Marshal wrote to the labels' keys.
func snake(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range t {
			if val == nil {
				continue
			}
			key := strings.ToLower(k)
			if k == "FirstMalicious" {
				key = "first_malicious"
			}
			out[key] = snake(val)
		}
		return out
	case []any:
		for i := range t {
			t[i] = snake(t[i])
		}
	}
	return v
}

// fakes are scenarios with a known outcome under markerConfig.
var fakes = []fake{
	{name: "detect-ok", expect: "detect", attacked: map[string]time.Duration{"h1": 0}, quiet: []string{"h2"},
		events: []ev{{"h1", 0, "exec"}, {"h2", 10 * time.Second, "exec"}, {"h1", 90 * time.Second, "high"}, {"h1", 95 * time.Second, "high"}}},
	{name: "detect-missed", expect: "detect", attacked: map[string]time.Duration{"h1": 0}, quiet: []string{"h2"},
		events: []ev{{"h1", 0, "low"}, {"h2", time.Second, "exec"}}},
	{name: "detect-twice", expect: "detect", attacked: map[string]time.Duration{"h1": 0}, quiet: []string{"h2"},
		events: []ev{{"h1", 0, "high"}, {"h2", time.Second, "exec"}, {"h1", 3 * time.Hour, "high"}}},
	{name: "detect-early", expect: "detect", attacked: map[string]time.Duration{"h1": time.Hour}, quiet: []string{"h2"},
		events: []ev{{"h1", 0, "high"}, {"h2", time.Second, "exec"}, {"h1", time.Hour, "exec"}}},
	{name: "quiet-ok", expect: "quiet", quiet: []string{"h1", "h2"},
		events: []ev{{"h1", 0, "exec"}, {"h2", time.Second, "exec"}}},
	{name: "quiet-noisy", expect: "quiet", quiet: []string{"h1", "h2"},
		events: []ev{{"h1", 0, "exec"}, {"h2", time.Second, "low"}, {"h2", 2 * time.Hour, "high"}}},
	{name: "unjudged", expect: "quiet", quiet: []string{"h1"}, unjudged: []string{"h3"},
		events: []ev{{"h1", 0, "exec"}, {"h3", time.Second, "high"}}},
	{name: "wrong-labels", expect: "detect", attacked: map[string]time.Duration{"h1": time.Minute}, quiet: []string{"h2"},
		events: []ev{{"h1", 0, "high"}, {"h9", time.Second, "exec"}}},
}

func fakeCorpus(t *testing.T) (config, dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range fakes {
		writeFake(t, dir, f)
	}
	config = filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(config, []byte(markerConfig), 0o644))
	return config, dir
}

func options(config, dir string, scenarios ...string) Options {
	return Options{ConfigPath: config, CorpusDir: dir, Scenarios: scenarios, BatchSize: DefaultBatchSize,
		Processors: replay.DefaultProcessors(), Extensions: replay.DefaultExtensions()}
}

func TestFakeCorpus(t *testing.T) {
	config, dir := fakeCorpus(t)
	rep, err := Run(context.Background(), options(config, dir))
	require.NoError(t, err)
	got := map[string]*Result{}
	for _, s := range rep.Scenarios {
		got[s.Name] = s
	}
	require.Len(t, got, len(fakes))
	assert.Equal(t, 3, rep.Passed)
	assert.Equal(t, 5, rep.Failed)
	assert.False(t, rep.Pass())

	ok := got["detect-ok"]
	require.True(t, ok.Pass, ok.Failures)
	require.Len(t, ok.Attacked, 1)
	h := ok.Attacked[0]
	assert.True(t, h.Detected)
	assert.Equal(t, 1, ok.Detected)
	require.Len(t, h.High, 1)
	assert.Equal(t, "Test High", h.High[0].Rule)
	assert.True(t, h.High[0].InBatch)
	assert.Zero(t, h.High[0].Updates, "both high events are in one batch: one alert record")
	require.NotNil(t, h.Latency)
	assert.Equal(t, 90*time.Second, *h.Latency, "event time from the first malicious event to the alert")
	assert.NotEmpty(t, h.FirstMaliciousID)
	// One signal name adds its weight once per window (correlate's cap).
	assert.Equal(t, []Signal{{Name: "test_high", Weight: 100, Count: 2}}, h.High[0].Signals)
	assert.Equal(t, []Signal{{Name: "test_high", Count: 2}}, h.Signals)
	assert.Equal(t, 4, ok.Events)

	assert.Equal(t, []string{`h1: no high alert (1 lower: low "Test Low" at 2026-04-08T10:00:00.000Z, score 10); signals from the first malicious event on: test_low x1`},
		got["detect-missed"].Failures)
	assert.Contains(t, strings.Join(got["detect-twice"].Failures, ""), "h1: 2 high alerts, want exactly one")
	assert.Contains(t, strings.Join(got["detect-early"].Failures, ""), "before the first malicious event")
	assert.True(t, got["quiet-ok"].Pass)
	noisy := got["quiet-noisy"]
	assert.False(t, noisy.Pass)
	require.Len(t, noisy.QuietAlerts, 2)
	assert.Equal(t, "low", noisy.QuietAlerts[0].Severity)
	assert.Equal(t, "h2", noisy.QuietAlerts[0].Host)
	assert.True(t, got["unjudged"].Pass)
	require.Len(t, got["unjudged"].UnjudgedAlerts, 1)
	wrong := strings.Join(got["wrong-labels"].Failures, "\n")
	assert.Contains(t, wrong, "labels: host h9 has events but is neither attacked, quiet nor unjudged")
	assert.Contains(t, wrong, "labels: host h2 has no event")
	assert.Contains(t, wrong, "labels: h1 has no event at 2026-04-08T10:01:00.000Z")

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	out := table.String()
	t.Log("\n" + out)
	row := rowOf(t, out, "detect-ok")
	assert.Equal(t, []string{"detect-ok", "detect", "1/1", "1m30s", "yes", "0", "PASS", "test_high"}, strings.Fields(row))
	assert.Equal(t, []string{"detect-missed", "detect", "0/1", "-", "-", "0", "FAIL", "-"}, strings.Fields(rowOf(t, out, "detect-missed")))
	assert.Contains(t, rowOf(t, out, "quiet-noisy"), "2 (Test High, Test Low)")
	assert.Contains(t, out, "quiet-noisy:   1 x low \"Test Low\", score 10 (h2): test_low +10")
	assert.Contains(t, out, "quiet-noisy:   1 x high \"Test High\", score 100 (h2): test_high +100")
	assert.Contains(t, out, "8 scenarios: 3 passed, 5 failed")

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	assert.Equal(t, rep.Passed, back.Passed)
	require.Len(t, back.Scenarios, len(fakes))
	for _, s := range back.Scenarios {
		if s.Name == "detect-ok" {
			require.NotNil(t, s.Attacked[0].Latency)
			assert.Equal(t, 90*time.Second, *s.Attacked[0].Latency)
		}
	}
}

func rowOf(t *testing.T, table, name string) string {
	t.Helper()
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	t.Fatalf("no row %s in\n%s", name, table)
	return ""
}

func TestSelectAndBatchSizes(t *testing.T) {
	config, dir := fakeCorpus(t)
	for _, bs := range []int{0, 1, 2, DefaultBatchSize} {
		o := options(config, dir, "detect-ok", "quiet-ok")
		o.BatchSize = bs
		rep, err := Run(context.Background(), o)
		require.NoError(t, err)
		require.Len(t, rep.Scenarios, 2)
		assert.True(t, rep.Pass(), "batch size %d", bs)
		want := 4
		if bs == 1 || bs == 2 {
			want = (4 + bs - 1) / bs
		} else {
			want = 1
		}
		assert.Equal(t, want, rep.Scenarios[0].Batches, "batch size %d", bs)
		a := rep.Scenarios[0].Attacked[0].High[0]
		assert.True(t, a.InBatch, "batch size %d", bs)
		if bs == 1 {
			// The second high event comes in a later batch and updates
			// the open alert under the same id.
			assert.Equal(t, 1, a.Updates)
			assert.Equal(t, 3, a.Batch)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	config, dir := fakeCorpus(t)
	for name, o := range map[string]Options{
		"no config":        options("", dir),
		"absent config":    options(filepath.Join(dir, "none.yaml"), dir, "quiet-ok"),
		"no corpus":        options(config, filepath.Join(dir, "none")),
		"unknown scenario": options(config, dir, "nope"),
	} {
		_, err := Run(context.Background(), o)
		var ue *UsageError
		assert.ErrorAs(t, err, &ue, name)
	}
}

// TestInBatch feeds the observer by hand: an alert whose first record
// comes in a later batch than every event it is built from did not come
// with its deciding event, which correlate as shipped never does.
func TestInBatch(t *testing.T) {
	s := &corpus.Scenario{Labels: corpus.Labels{Name: "s", Expect: corpus.ExpectDetect,
		Attacked: []corpus.Attacked{{Host: "h1"}, {Host: "h2"}}, Quiet: []string{"h3"}},
		FirstMalicious: map[string]time.Time{"h1": t0, "h2": t0}}
	o := newObserver(s)
	batch := func(recs ...map[string]any) plog.Logs {
		ld := plog.NewLogs()
		rs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for _, r := range recs {
			lr := rs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
			require.NoError(t, lr.Attributes().FromRaw(r))
		}
		return ld
	}
	alert := func(id, host string) map[string]any {
		return map[string]any{"event.kind": "alert", "event.id": id, "host.name": host, "rule.name": "R", "cairn.alert.severity": "high"}
	}
	// h1: its alert comes with the deciding event. h2: its evidence is in
	// batch 1, the alert in batch 2 alone.
	o.batch(batch(
		map[string]any{"event.kind": "event", "event.id": "e1", "host.name": "h1", "cairn.alert.ids": []any{"A1"}},
		alert("A1", "h1"),
		map[string]any{"event.kind": "event", "event.id": "e2", "host.name": "h2", "cairn.alert.ids": []any{"A2"}},
		map[string]any{"event.kind": "event", "event.id": "e3", "host.name": "h3"},
	))
	o.batch(batch(alert("A2", "h2")))
	res := o.result()
	require.Len(t, res.Attacked, 2)
	assert.True(t, res.Attacked[0].Detected)
	assert.Equal(t, "e1", res.Attacked[0].FirstMaliciousID)
	assert.False(t, res.Attacked[1].Detected)
	assert.Equal(t, 2, res.Attacked[1].High[0].Batch)
	assert.Equal(t, []string{"h2: the high alert (fired 2026-04-08T10:00:00.000Z) did not come in the batch of its deciding event"}, res.Failures)
}

// TestCommittedCorpus runs the real corpus through the reference config.
// Which scenarios pass depends on the processors (and changes as they
// improve); what must hold whatever they do is that the labels describe the
// events: every host named, every first malicious event present, no
// malformed line.
func TestCommittedCorpus(t *testing.T) {
	root := testkit.RepoRoot()
	start := time.Now()
	rep, err := Run(context.Background(), options(filepath.Join(root, "deploy", "cairn.yaml"), filepath.Join(root, "testdata", "eval")))
	require.NoError(t, err)
	require.Len(t, rep.Scenarios, len(corpus.Names()))
	for _, s := range rep.Scenarios {
		assert.Greater(t, s.Events, 2500, s.Name)
		for _, f := range s.Failures {
			assert.False(t, strings.HasPrefix(f, "labels:") || strings.Contains(f, "malformed"), "%s: %s", s.Name, f)
		}
		for _, h := range s.Attacked {
			assert.NotEmpty(t, h.FirstMaliciousID, "%s %s", s.Name, h.Host)
		}
	}
	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	t.Logf("in %v:\n%s", time.Since(start), table.String())
}
