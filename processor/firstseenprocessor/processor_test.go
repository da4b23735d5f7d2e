package firstseenprocessor

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
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
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/metadata"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// ev builds an ECS event as nested attributes, the shape filelog's
// json_parser and the replay decoder produce.
func procStart(host, exe, hash string, at time.Duration) map[string]any {
	return map[string]any{
		"@timestamp": day0.Add(at).Format(time.RFC3339Nano),
		"host":       map[string]any{"name": host},
		"event":      map[string]any{"category": []any{"process"}, "type": []any{"start"}},
		"process":    map[string]any{"executable": exe, "hash": map[string]any{"sha256": hash}},
	}
}

func conn(host, exe, ip string, port int64, domain string, at time.Duration) map[string]any {
	d := map[string]any{"ip": ip, "port": port}
	if domain != "" {
		d["domain"] = domain
	}
	return map[string]any{
		"@timestamp":  day0.Add(at).Format(time.RFC3339Nano),
		"host":        map[string]any{"name": host},
		"event":       map[string]any{"category": []any{"network"}, "type": []any{"connection", "start"}},
		"process":     map[string]any{"executable": exe},
		"destination": d,
	}
}

func dnsAnswer(host, name string, at time.Duration) map[string]any {
	return map[string]any{
		"@timestamp":  day0.Add(at).Format(time.RFC3339Nano),
		"host":        map[string]any{"name": host},
		"event":       map[string]any{"category": []any{"network"}, "type": []any{"protocol"}},
		"dns":         map[string]any{"question": map[string]any{"name": name}},
		"destination": map[string]any{"ip": "10.0.0.2", "port": int64(53)},
	}
}

func hash(s string) string { return fmt.Sprintf("%064x", []byte(s))[:64] }

func batch(t testing.TB, events ...map[string]any) plog.Logs {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, e := range events {
		require.NoError(t, recs.AppendEmpty().Attributes().FromRaw(e))
	}
	return ld
}

type fixture struct {
	proc processor.Logs
	fs   *firstSeen
	sink *consumertest.LogsSink
	tel  *componenttest.Telemetry
}

func newFixture(t *testing.T, cfg *Config, host component.Host) *fixture {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.LogsSink)
	p, fs, err := newLogsProcessor(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, p.Start(context.Background(), host))
	return &fixture{proc: p, fs: fs, sink: sink, tel: tel}
}

func (f *fixture) send(t testing.TB, events ...map[string]any) []pcommon.Map {
	before := len(f.sink.AllLogs())
	require.NoError(t, f.proc.ConsumeLogs(context.Background(), batch(t, events...)))
	all := f.sink.AllLogs()
	require.Len(t, all, before+1)
	var out []pcommon.Map
	recs := all[before].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < recs.Len(); i++ {
		out = append(out, recs.At(i).Attributes())
	}
	return out
}

// TestStory runs the seed story: a learned fleet, then zsh and gs-netcat.
func TestStory(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.EventIDs = "all"
	f := newFixture(t, cfg, nil)
	ctx := context.Background()
	defer func() { require.NoError(t, f.proc.Shutdown(ctx)) }()

	// Day 1: learning. Everything is new, nothing is flagged.
	learning := f.send(t,
		procStart("web-03", "/usr/sbin/nginx", hash("nginx"), 1*time.Hour),
		procStart("bastion-01", "/usr/bin/zsh", hash("zsh"), 1*time.Hour),
		conn("web-03", "/usr/bin/curl", "151.101.2.132", 443, "", 2*time.Hour),
		dnsAnswer("web-03", "deb.mirror.example.net", 2*time.Hour),
	)
	for _, m := range learning {
		assert.Empty(t, testkit.Signals(m))
		id, ok := testkit.Get(m, "event.id")
		require.True(t, ok, "every event gets an id")
		assert.Len(t, id.Str(), 32)
	}

	// Day 2: the same activity is known.
	known := f.send(t,
		procStart("web-03", "/usr/sbin/nginx", hash("nginx"), 30*time.Hour),
		conn("web-03", "/usr/bin/curl", "151.101.2.132", 443, "", 30*time.Hour),
		dnsAnswer("web-03", "DEB.Mirror.example.net.", 30*time.Hour),
	)
	for _, m := range known {
		assert.Empty(t, testkit.Signals(m))
	}

	// Day 2, 14:00: the attack.
	attack := f.send(t,
		procStart("web-03", "/usr/bin/zsh", hash("zsh"), 38*time.Hour),
		procStart("web-03", "/tmp/.x/gs-netcat", "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9", 38*time.Hour+40*time.Second),
		conn("web-03", "/tmp/.x/gs-netcat", "45.77.141.38", 80, "", 38*time.Hour+41*time.Second),
		dnsAnswer("web-03", "l.gs.thc.org", 38*time.Hour+42*time.Second),
		conn("web-03", "/tmp/.x/gs-netcat", "185.246.209.94", 7350, "l.gs.thc.org", 38*time.Hour+43*time.Second),
		conn("web-03", "/usr/bin/curl", "45.77.141.38", 80, "", 38*time.Hour+50*time.Second),
	)
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment"}, testkit.Signals(attack[0]),
		"zsh: new on the host, and seen on one other host only: not known in the environment yet (known_after_hosts: 3)")
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment"}, testkit.Signals(attack[1]))
	assert.Equal(t, []string{"new_external_ip", "new_ip_for_binary"}, testkit.Signals(attack[2]))
	assert.Equal(t, []string{"new_domain"}, testkit.Signals(attack[3]))
	assert.Equal(t, []string{"new_external_ip", "new_ip_for_binary"}, testkit.Signals(attack[4]), "the domain was already seen in the DNS answer")
	assert.Equal(t, []string{"new_ip_for_binary"}, testkit.Signals(attack[5]), "a known IP reached by another binary")
	flag, ok := testkit.Get(attack[1], "cairn.first_seen.new_binary_in_environment")
	require.True(t, ok)
	assert.True(t, flag.Bool())
	_, ok = testkit.Get(attack[1], "cairn.first_seen.new_domain")
	assert.False(t, ok)

	assert.Equal(t, int64(13), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_events", nil))
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_signals", map[string]string{"tracker": "new_external_ip"}))
	assert.Equal(t, int64(3), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_signals", map[string]string{"tracker": "new_ip_for_binary"}))
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_learning", map[string]string{"tracker": "new_binary_on_host"}))
}

func TestUnflaggedEventsKeepTheirContent(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	in := procStart("a", "/bin/x", hash("x"), 0)
	in["event"].(map[string]any)["id"] = "given-id"
	out := f.send(t, in)
	want := pcommon.NewMap()
	require.NoError(t, want.FromRaw(in))
	assert.Equal(t, want.AsRaw(), out[0].AsRaw(), "learning: nothing added, the given id kept")
}

func TestBadInputNeverFailsTheBatch(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Trackers = []TrackerConfig{
		{Name: "new_external_ip", Learning: durPtr(0)},
		{Name: "new_binary_on_host", Learning: durPtr(0)},
		{Name: "new_domain", Learning: durPtr(0)},
	}
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	huge := strings.Repeat("x", 1<<20)
	events := []map[string]any{
		{"destination.ip": "not-an-ip", "@timestamp": "2026-03-02T00:00:00Z"},
		{"destination.ip": int64(12), "host.name": "a"},
		{"destination.ip": map[string]any{"nested": true}},
		{"host.name": "a", "event.category": "process", "event.type": "start", "process.executable": huge},
		{"event.category": "process", "event.type": "start", "process.executable": "/bin/nohost"},
		{"dns.question.name": huge},
		{"dns.question.name": "bad name"},
		{"@timestamp": "garbage", "dns.question.name": "ok.example.com"},
		{},
	}
	out := f.send(t, events...)
	require.Len(t, out, len(events), "every event passes")
	assert.Equal(t, []string{"new_domain"}, testkit.Signals(out[7]), "an event with a bad timestamp is still tracked")
	// An object under destination.ip is not a value of the field at all
	// (ECS fields are leaves), so it counts as absent, not malformed.
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_malformed", map[string]string{"tracker": "new_external_ip", "reason": "not_ip"}))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_malformed", map[string]string{"tracker": "new_binary_on_host", "reason": "too_long"}))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_malformed", map[string]string{"tracker": "new_binary_on_host", "reason": "missing_host"}))
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_malformed", map[string]string{"tracker": "new_domain", "reason": "not_domain"}))

	// A body that is a map and resource attributes are read too.
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "res-host")
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.SetTimestamp(pcommon.NewTimestampFromTime(day0))
	body := rec.Body().SetEmptyMap()
	body.PutStr("event.category", "process")
	body.PutStr("event.type", "start")
	body.PutStr("process.executable.path", "/usr/bin/semconv")
	require.NoError(t, f.proc.ConsumeLogs(context.Background(), ld))
	got := f.sink.AllLogs()[1].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	assert.Equal(t, []string{"new_binary_on_host"}, testkit.Signals(got))
}

func durPtr(d time.Duration) *durationT { v := durationT(d); return &v }

func TestRestartKeepsBaseline(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	cfg.FlushInterval = time.Hour // only the shutdown snapshot and explicit flushes write

	run := func(events ...map[string]any) []pcommon.Map {
		ext := testkit.StartFileStorage(t, dir)
		host := storagetest.NewStorageHost().WithExtension(storageID, ext)
		f := newFixture(t, cfg, host)
		out := f.send(t, events...)
		require.NoError(t, f.proc.Shutdown(ctx))
		require.NoError(t, ext.Shutdown(ctx))
		return out
	}
	out := run(
		procStart("a", "/bin/old", hash("old"), 0),
		procStart("a", "/bin/day2", hash("day2"), 30*time.Hour),
	)
	assert.Empty(t, testkit.Signals(out[0]), "learning")
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment"}, testkit.Signals(out[1]))

	out = run(
		procStart("a", "/bin/old", hash("old"), 31*time.Hour),
		procStart("a", "/bin/day2", hash("day2"), 31*time.Hour),
		procStart("a", "/bin/new", hash("new"), 31*time.Hour),
	)
	assert.Empty(t, testkit.Signals(out[0]), "baseline survived the restart")
	assert.Empty(t, testkit.Signals(out[1]), "terms flagged before the restart are known")
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment"}, testkit.Signals(out[2]), "learning did not restart")
}

func TestPeriodicFlushSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	cfg.FlushInterval = 20 * time.Millisecond

	ext := testkit.StartFileStorage(t, dir)
	host := storagetest.NewStorageHost().WithExtension(storageID, ext)
	f := newFixture(t, cfg, host)
	f.send(t, procStart("a", "/bin/old", hash("old"), 0))
	time.Sleep(200 * time.Millisecond) // several flush intervals
	// Simulate a crash: no shutdown snapshot; the flush loop stops and the
	// storage is closed under the processor.
	f.fs.mu.Lock()
	st := f.fs.state
	f.fs.state = nil
	f.fs.mu.Unlock()
	st.loop.Stop()
	require.NoError(t, st.client.Close(ctx))
	require.NoError(t, f.proc.Shutdown(ctx))
	require.NoError(t, ext.Shutdown(ctx))

	ext2 := testkit.StartFileStorage(t, dir)
	host2 := storagetest.NewStorageHost().WithExtension(storageID, ext2)
	f2 := newFixture(t, cfg, host2)
	out := f2.send(t, procStart("a", "/bin/old", hash("old"), 30*time.Hour), procStart("a", "/bin/new", hash("new"), 30*time.Hour))
	assert.Empty(t, testkit.Signals(out[0]))
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment"}, testkit.Signals(out[1]))
	require.NoError(t, f2.proc.Shutdown(ctx))
	require.NoError(t, ext2.Shutdown(ctx))
}

func TestStorageErrors(t *testing.T) {
	id := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id
	set := processortest.NewNopSettings(metadata.Type)
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	err = p.Start(context.Background(), componenttest.NewNopHost())
	assert.ErrorContains(t, err, `extension "file_storage" is not configured`)

	nonStorage := storagetest.NewStorageHost().WithNonStorageExtension("x")
	nsID := storagetest.NewNonStorageID("x")
	cfg.Storage = &nsID
	p, err = NewFactory().CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, p.Start(context.Background(), nonStorage), "is not a storage extension")
}

func TestDefinitionChangeStartsNewBaseline(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	storageID := component.MustNewID("file_storage")
	run := func(fields []string, events ...map[string]any) []pcommon.Map {
		cfg := createDefaultConfig().(*Config)
		cfg.Storage = &storageID
		cfg.Trackers = []TrackerConfig{{Name: "t", Fields: fields, Scope: "host"}}
		ext := testkit.StartFileStorage(t, dir)
		f := newFixture(t, cfg, storagetest.NewStorageHost().WithExtension(storageID, ext))
		out := f.send(t, events...)
		require.NoError(t, f.proc.Shutdown(ctx))
		require.NoError(t, ext.Shutdown(ctx))
		return out
	}
	run([]string{"process.executable"}, procStart("a", "/bin/x", hash("x"), 0))
	out := run([]string{"process.hash.sha256"}, procStart("a", "/bin/y", hash("y"), 48*time.Hour))
	assert.Empty(t, testkit.Signals(out[0]), "a redefined tracker learns again instead of flagging everything")
	out = run([]string{"process.executable"}, procStart("a", "/bin/z", hash("z"), 49*time.Hour))
	assert.Equal(t, []string{"t"}, testkit.Signals(out[0]), "the earlier definition's baseline is still there")
}

func TestCardinalityFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a million terms")
	}
	const maxTerms = 100_000
	const flood = 1_000_000
	cfg := createDefaultConfig().(*Config)
	cfg.Trackers = []TrackerConfig{{Name: "new_domain", Learning: durPtr(0), MaxTerms: maxTerms}}
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	rng := rand.New(rand.NewSource(1))
	names := make([]string, flood)
	for i := range names {
		names[i] = fmt.Sprintf("%08x.flood.example", rng.Uint32())
	}
	const per = 10_000
	for i := 0; i < flood; i += per {
		ld := plog.NewLogs()
		recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for j := i; j < i+per; j++ {
			r := recs.AppendEmpty()
			r.SetTimestamp(pcommon.NewTimestampFromTime(day0.Add(time.Duration(j) * time.Millisecond)))
			r.Attributes().PutStr("dns.question.name", names[j])
		}
		require.NoError(t, f.proc.ConsumeLogs(context.Background(), ld))
		f.sink.Reset()
	}
	tr := f.fs.trackers[0]
	assert.Equal(t, maxTerms, tr.Terms.Len())
	assert.LessOrEqual(t, tr.Terms.MemoryBytes(), 64*maxTerms, "memory stays within the bound")
	assert.GreaterOrEqual(t, testkit.Sum(t, f.tel, "otelcol_processor_firstseen_evictions", map[string]string{"tracker": "new_domain", "table": "terms"}), int64(flood-maxTerms-1000))

	// The newest terms are held, the oldest went first.
	recent := f.send(t, map[string]any{"dns.question.name": names[flood-1], "@timestamp": day0.Add(time.Hour).Format(time.RFC3339)})
	assert.Empty(t, testkit.Signals(recent[0]))
	oldest := f.send(t, map[string]any{"dns.question.name": names[0], "@timestamp": day0.Add(time.Hour).Format(time.RFC3339)})
	assert.Equal(t, []string{"new_domain"}, testkit.Signals(oldest[0]))
}

func TestConcurrentBatches(t *testing.T) {
	f := newFixture(t, createDefaultConfig().(*Config), nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				ld := batch(t, procStart(fmt.Sprintf("h%d", g), fmt.Sprintf("/bin/%d", i), hash(fmt.Sprint(i)), time.Duration(i)*time.Minute))
				assert.NoError(t, f.proc.ConsumeLogs(context.Background(), ld))
			}
		}(g)
	}
	wg.Wait()
	assert.Equal(t, int64(200), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_events", nil))
}

func TestTermsGauge(t *testing.T) {
	f := newFixture(t, createDefaultConfig().(*Config), nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	f.send(t, dnsAnswer("a", "a.example", 0), dnsAnswer("a", "b.example", 0))
	m, err := f.tel.GetMetric("otelcol_processor_firstseen_terms")
	require.NoError(t, err)
	found := false
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := dp.Attributes.Value("tracker"); v.AsString() == "new_domain" {
			assert.Equal(t, int64(2), dp.Value)
			found = true
		}
	}
	assert.True(t, found)
}

func TestEventIDsOnlyOnFlaggedByDefault(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Trackers = []TrackerConfig{{Name: "new_domain", Learning: durPtr(0)}}
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	out := f.send(t, dnsAnswer("a", "a.example", 0), dnsAnswer("a", "a.example", time.Minute))
	id, ok := testkit.Get(out[0], "event.id")
	require.True(t, ok, "the flagged event has an id")
	assert.Len(t, id.Str(), 32)
	_, ok = testkit.Get(out[1], "event.id")
	assert.False(t, ok, "an unchanged event is left for the output to number")
}

// TestLearningStartsWithTheScope: a scope's learning period starts when any
// tracker of its kind first saw it. A host (and environment) busy for days
// that reaches its first external IP only now is past learning: that IP is
// flagged, not learnt.
func TestLearningStartsWithTheScope(t *testing.T) {
	f := newFixture(t, createDefaultConfig().(*Config), componenttest.NewNopHost())
	f.send(t, procStart("a", "/usr/bin/app", hash("app"), 0))
	out := f.send(t, conn("a", "/usr/bin/app", "45.33.32.156", 443, "", 48*time.Hour))
	assert.ElementsMatch(t, []string{"new_external_ip", "new_ip_for_binary"}, testkit.Signals(out[0]))

	// A host first seen now still learns, whichever tracker sees it first.
	out = f.send(t, conn("b", "/usr/bin/app", "45.33.32.157", 443, "", 48*time.Hour),
		procStart("b", "/usr/bin/other", hash("other"), 49*time.Hour))
	assert.ElementsMatch(t, []string{"new_external_ip", "new_ip_for_binary"}, testkit.Signals(out[0]), "environment trackers: the environment is old")
	assert.ElementsMatch(t, []string{"new_binary_in_environment"}, testkit.Signals(out[1]), "host b is learning")
}
