package intelprocessor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/metadata"
)

const (
	gsNetcat = "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"
	evilMD5  = "0749bae92ca336a02c83d126e04ec628"
)

var evTime = time.Date(2026, 3, 5, 14, 0, 40, 0, time.UTC)

type fixture struct {
	proc processor.Logs
	p    *intel
	sink *consumertest.LogsSink
	tel  *componenttest.Telemetry
}

func newFixture(t *testing.T, cfg *Config) *fixture {
	t.Helper()
	return newFixtureLogger(t, cfg, zap.NewNop())
}

func newFixtureLogger(t *testing.T, cfg *Config, logger *zap.Logger) *fixture {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = logger
	sink := new(consumertest.LogsSink)
	pl, p, err := newLogsProcessor(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, pl.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, pl.Shutdown(context.Background())) })
	return &fixture{proc: pl, p: p, sink: sink, tel: tel}
}

func (f *fixture) send(t *testing.T, events ...map[string]any) []pcommon.Map {
	t.Helper()
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, e := range events {
		require.NoError(t, recs.AppendEmpty().Attributes().FromRaw(e))
	}
	require.NoError(t, f.proc.ConsumeLogs(context.Background(), ld))
	// ld is what was handed on (the processor changes it in place). Late
	// online answers travel on their own, and may reach the sink first.
	out := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	var res []pcommon.Map
	for i := 0; i < out.Len(); i++ {
		res = append(res, out.At(i).Attributes())
	}
	return res
}

func writeFeed(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func feedsConfig(dir string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.FeedsDir = dir
	cfg.ReloadInterval = 0
	return cfg
}

func procStart(hash string) map[string]any {
	return map[string]any{
		"@timestamp": evTime.Format(time.RFC3339Nano),
		"host":       map[string]any{"name": "web-03"},
		"event":      map[string]any{"category": []any{"process"}, "type": []any{"start"}},
		"process":    map[string]any{"executable": "/tmp/.x/gs-netcat", "hash": map[string]any{"sha256": hash}},
	}
}

func enrichments(t *testing.T, m pcommon.Map) []map[string]any {
	v, ok := testkit.Get(m, "threat.enrichments")
	if !ok {
		return nil
	}
	var out []map[string]any
	for _, e := range v.Slice().AsRaw() {
		out = append(out, e.(map[string]any))
	}
	return out
}

func counter(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	return testkit.Sum(t, tel, name, nil)
}

func TestMatchesWriteECSEnrichmentsAndSignals(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, "inhouse.csv", strings.Join([]string{
		"indicator,verdict,source,confidence",
		strings.ToUpper(gsNetcat) + ",malicious,scenario feed,90",
		evilMD5 + ",suspicious,md5 list,20",
		"45.134.26.117,malicious,ip list,50",
		"l.gs.thc.org,malicious,domain list",
	}, "\n"))
	f := newFixture(t, feedsConfig(dir))
	out := f.send(t,
		procStart(gsNetcat),
		map[string]any{"@timestamp": evTime.Format(time.RFC3339), "event": map[string]any{"kind": "event"},
			"process": map[string]any{"hash": map[string]any{"md5": strings.ToUpper(evilMD5)}}},
		map[string]any{"@timestamp": evTime.Format(time.RFC3339), "destination.ip": "45.134.26.117", "destination.port": int64(80)},
		map[string]any{"@timestamp": evTime.Format(time.RFC3339), "dns.question.name": "L.GS.THC.ORG."},
		map[string]any{"@timestamp": evTime.Format(time.RFC3339), "server.address": "45.134.26.117"},
		procStart(strings.Repeat("0", 64)),
	)
	assert.Equal(t, []string{"intel_malicious_hash"}, testkit.Signals(out[0]))
	e := enrichments(t, out[0])
	require.Len(t, e, 1)
	assert.Equal(t, map[string]any{
		"indicator": map[string]any{
			"type":       "file",
			"file":       map[string]any{"hash": map[string]any{"sha256": gsNetcat}},
			"provider":   "scenario feed",
			"confidence": "High",
		},
		"matched": map[string]any{
			"atomic": gsNetcat, "field": "process.hash.sha256", "type": "indicator_match_rule",
			"occurred": evTime.Format(time.RFC3339Nano),
		},
		"cairn": map[string]any{"intel": map[string]any{"verdict": "malicious"}},
	}, e[0])
	id, ok := testkit.Get(out[0], "event.id")
	require.True(t, ok, "a changed event gets its id")
	assert.Len(t, id.Str(), 32)

	assert.Equal(t, []string{"intel_suspicious_hash"}, testkit.Signals(out[1]))
	e = enrichments(t, out[1])
	require.Len(t, e, 1)
	assert.Equal(t, "process.hash.md5", e[0]["matched"].(map[string]any)["field"])
	assert.Equal(t, "Low", e[0]["indicator"].(map[string]any)["confidence"])
	assert.Equal(t, "suspicious", e[0]["cairn"].(map[string]any)["intel"].(map[string]any)["verdict"])

	assert.Equal(t, []string{"intel_bad_ip"}, testkit.Signals(out[2]))
	e = enrichments(t, out[2])
	require.Len(t, e, 1)
	assert.Equal(t, "ipv4-addr", e[0]["indicator"].(map[string]any)["type"])
	assert.Equal(t, "45.134.26.117", e[0]["indicator"].(map[string]any)["ip"])
	assert.Equal(t, "Medium", e[0]["indicator"].(map[string]any)["confidence"])

	assert.Equal(t, []string{"intel_bad_domain"}, testkit.Signals(out[3]))
	e = enrichments(t, out[3])
	require.Len(t, e, 1)
	assert.Equal(t, map[string]any{"domain": "l.gs.thc.org"}, e[0]["indicator"].(map[string]any)["url"])
	assert.Equal(t, "Not Specified", e[0]["indicator"].(map[string]any)["confidence"])

	assert.Equal(t, []string{"intel_bad_ip"}, testkit.Signals(out[4]), "semantic-convention names are read too")
	assert.Empty(t, testkit.Signals(out[5]))
	_, ok = testkit.Get(out[5], "event.id")
	assert.False(t, ok, "unmatched events are untouched")

	assert.Equal(t, int64(6), counter(t, f.tel, "otelcol_processor_intel_events"))
	assert.Equal(t, int64(5), counter(t, f.tel, "otelcol_processor_intel_matched_events"))
	assert.Equal(t, int64(5), counter(t, f.tel, "otelcol_processor_intel_matches"))
}

func TestAllowListOverrides(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, "bad.csv", gsNetcat+",malicious,feed A\n")
	writeFeed(t, dir, "allow.tsv", gsNetcat+"\tbenign\tin-house allow list\n")
	f := newFixture(t, feedsConfig(dir))
	out := f.send(t, procStart(gsNetcat))
	assert.Empty(t, testkit.Signals(out[0]))
	assert.Empty(t, enrichments(t, out[0]))
	assert.Equal(t, int64(1), counter(t, f.tel, "otelcol_processor_intel_allowed"))
}

func TestSeveralFeedsGiveSeveralEnrichments(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, "a.csv", gsNetcat+",malicious,feed A\n")
	writeFeed(t, dir, "b.csv", gsNetcat+",suspicious,feed B\n")
	f := newFixture(t, feedsConfig(dir))
	out := f.send(t, procStart(gsNetcat))
	assert.ElementsMatch(t, []string{"intel_malicious_hash", "intel_suspicious_hash"}, testkit.Signals(out[0]))
	assert.Len(t, enrichments(t, out[0]), 2)
}

const stixWindow = `{"type":"bundle","id":"bundle--1","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--1","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z",
  "name":"gs-netcat","pattern":"[file:hashes.'SHA-256' = '` + gsNetcat + `']","pattern_type":"stix",
  "valid_from":"2026-03-01T00:00:00Z","valid_until":"2026-03-05T00:00:00Z","indicator_types":["malicious-activity"]}]}`

func TestValidityWindow(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, "bundle.json", stixWindow)
	f := newFixture(t, feedsConfig(dir))
	late := procStart(gsNetcat) // 2026-03-05T14:00:40Z: after valid_until
	inside := procStart(gsNetcat)
	inside["@timestamp"] = "2026-03-03T00:00:00Z"
	before := procStart(gsNetcat)
	before["@timestamp"] = "2026-02-01T00:00:00Z"
	out := f.send(t, late, inside, before)
	assert.Empty(t, testkit.Signals(out[0]))
	assert.Equal(t, []string{"intel_malicious_hash"}, testkit.Signals(out[1]))
	assert.Empty(t, testkit.Signals(out[2]))
}

func TestReloadSettlesAndKeepsGoodContents(t *testing.T) {
	dir := t.TempDir()
	path := writeFeed(t, dir, "list.csv", gsNetcat+",malicious\n")
	cfg := feedsConfig(dir)
	cfg.Settle = time.Minute
	f := newFixture(t, cfg)
	clock := time.Now()
	f.p.feeds.now = func() time.Time { return clock }
	require.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1)

	// A new version: not read until it stopped changing for `settle`.
	other := strings.Repeat("1", 64)
	require.NoError(t, os.WriteFile(path, []byte(other+",malicious\n"), 0o600))
	future := time.Now().Add(time.Second)
	require.NoError(t, os.Chtimes(path, future, future))
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1, "old contents still in force")
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Empty(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), "new contents replaced the old")
	assert.Len(t, testkit.Signals(f.send(t, procStart(other))[0]), 1)

	// A broken file (truncated JSON): reported, previous contents stay.
	require.NoError(t, os.WriteFile(path, []byte(`{"type":"bundle","objects":[{"type":"indic`), 0o600))
	future = future.Add(time.Second)
	require.NoError(t, os.Chtimes(path, future, future))
	require.NoError(t, f.p.feeds.refresh(false))
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Len(t, testkit.Signals(f.send(t, procStart(other))[0]), 1, "a broken file keeps its previous contents")
	assert.GreaterOrEqual(t, counter(t, f.tel, "otelcol_processor_intel_feed_errors"), int64(1))

	// A removed file is dropped.
	require.NoError(t, os.Remove(path))
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Empty(t, testkit.Signals(f.send(t, procStart(other))[0]))
}

func TestReloadLoop(t *testing.T) {
	dir := t.TempDir()
	cfg := feedsConfig(dir)
	cfg.ReloadInterval = 20 * time.Millisecond
	cfg.Settle = 0
	f := newFixture(t, cfg)
	assert.Empty(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]))
	writeFeed(t, dir, "late.csv", gsNetcat+",malicious\n")
	require.Eventually(t, func() bool {
		return len(testkit.Signals(f.send(t, procStart(gsNetcat))[0])) == 1
	}, 5*time.Second, 20*time.Millisecond, "a feed added while running is picked up")
}

func TestSkippedFileNames(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, ".hidden.csv", gsNetcat+",malicious\n")
	writeFeed(t, dir, "download.csv.part", gsNetcat+",malicious\n")
	writeFeed(t, dir, "README.md", "# notes\n")
	f := newFixture(t, feedsConfig(dir))
	assert.Empty(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]))
}

func TestStartErrors(t *testing.T) {
	cfg := feedsConfig(filepath.Join(t.TempDir(), "missing"))
	pl, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, pl.Start(context.Background(), componenttest.NewNopHost()), "feeds_dir")

	file := writeFeed(t, t.TempDir(), "x.csv", "")
	cfg = feedsConfig(file)
	pl, err = NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, pl.Start(context.Background(), componenttest.NewNopHost()), "not a directory")
}

func TestBrokenFileAtStartDoesNotStopTheOthers(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, "good.csv", gsNetcat+",malicious\n")
	writeFeed(t, dir, "broken.json", `{"Event": {"Attribute": [`)
	f := newFixture(t, feedsConfig(dir))
	assert.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1)
	assert.Equal(t, int64(1), counter(t, f.tel, "otelcol_processor_intel_feed_errors"))
}

func processorSettings() processor.Settings { return processortest.NewNopSettings(metadata.Type) }

func TestFeedFilesAndCustomFields(t *testing.T) {
	file := writeFeed(t, t.TempDir(), "list.csv", "45.134.26.117,malicious\n"+gsNetcat+",malicious\n")
	cfg := createDefaultConfig().(*Config)
	cfg.ReloadInterval = 0
	cfg.Feeds = []string{file}
	cfg.Fields = FieldsConfig{IPs: []string{"source.ip"}}
	require.NoError(t, cfg.Validate())
	f := newFixture(t, cfg)
	out := f.send(t,
		map[string]any{"@timestamp": evTime.Format(time.RFC3339), "source.ip": "45.134.26.117"},
		map[string]any{"@timestamp": evTime.Format(time.RFC3339), "destination.ip": "45.134.26.117"},
		procStart(gsNetcat),
	)
	assert.Equal(t, []string{"intel_bad_ip"}, testkit.Signals(out[0]), "a configured field is checked")
	assert.Empty(t, testkit.Signals(out[1]), "fields not configured are not")
	assert.Empty(t, testkit.Signals(out[2]), "no hash fields configured")
}

// TestFieldsFollowLoadedTypes: fields of a kind no feed holds are not read
// (fieldPlan), and are read again once a reload brings such indicators.
func TestFieldsFollowLoadedTypes(t *testing.T) {
	dir := t.TempDir()
	feed := writeFeed(t, dir, "ips.csv", "45.134.26.117,malicious,ip list\n")
	cfg := feedsConfig(dir)
	cfg.Settle = 0
	f := newFixture(t, cfg)
	md5Event := map[string]any{"@timestamp": evTime.Format(time.RFC3339), "event": map[string]any{"kind": "event"},
		"process":     map[string]any{"hash": map[string]any{"md5": evilMD5, "sha256": gsNetcat}},
		"destination": map[string]any{"ip": "45.134.26.117"}}
	out := f.send(t, md5Event)
	assert.Equal(t, []string{"intel_bad_ip"}, testkit.Signals(out[0]))
	assert.Len(t, f.p.planFor(f.p.feeds.snapshot()).fields, 1, "only destination.ip is read")

	require.NoError(t, os.WriteFile(feed, []byte("45.134.26.117,malicious,ip list\n"+evilMD5+",suspicious,md5 list\n"), 0o600))
	require.NoError(t, os.Chtimes(feed, evTime, evTime))
	require.NoError(t, f.p.feeds.refresh(false))
	out = f.send(t, md5Event)
	assert.Equal(t, []string{"intel_suspicious_hash", "intel_bad_ip"}, testkit.Signals(out[0]))
	var fields []string
	for _, cf := range f.p.planFor(f.p.feeds.snapshot()).fields {
		fields = append(fields, cf.field.Name)
	}
	assert.Equal(t, []string{"process.hash.md5", "file.hash.md5", "destination.ip"}, fields)
}
