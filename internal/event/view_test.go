package event

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func newRecord(t testing.TB, attrs map[string]any) (pcommon.Resource, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, rec.Attributes().FromRaw(attrs))
	return rl.Resource(), rec
}

func view(t testing.TB, attrs map[string]any) *View {
	res, rec := newRecord(t, attrs)
	v := NewView()
	v.Reset(res, rec)
	return v
}

func TestGetShapes(t *testing.T) {
	shapes := map[string]map[string]any{
		"flat":        {"process.executable": "/usr/bin/zsh"},
		"nested":      {"process": map[string]any{"executable": "/usr/bin/zsh"}},
		"mixed":       {"process": map[string]any{"executable.path": "/usr/bin/zsh"}},
		"semconv":     {"process.executable.path": "/usr/bin/zsh"},
		"semconvNest": {"process": map[string]any{"executable": map[string]any{"path": "/usr/bin/zsh"}}},
	}
	for name, attrs := range shapes {
		t.Run(name, func(t *testing.T) {
			v := view(t, attrs)
			s, ok := v.Str(ProcessExecutable)
			require.True(t, ok)
			assert.Equal(t, "/usr/bin/zsh", s)
		})
	}
}

func TestGetPrefersECSNameAndFirstKey(t *testing.T) {
	v := view(t, map[string]any{"process.executable.path": "/semconv", "process.executable": "/ecs"})
	s, _ := v.Str(ProcessExecutable)
	assert.Equal(t, "/ecs", s)

	// A prefix key that is not a map must not hide a later flat key.
	v = view(t, map[string]any{"destination": "x", "destination.ip": "8.8.8.8"})
	s, ok := v.Str(DestinationIP)
	require.True(t, ok)
	assert.Equal(t, "8.8.8.8", s)
}

func TestBodyAndResource(t *testing.T) {
	res, rec := newRecord(t, map[string]any{})
	res.Attributes().PutStr("host.name", "web-01")
	rec.Body().SetEmptyMap().PutEmptyMap("dns").PutEmptyMap("question").PutStr("name", "example.com")
	v := NewView()
	v.Reset(res, rec)
	h, ok := v.Str(HostName)
	require.True(t, ok)
	assert.Equal(t, "web-01", h)
	d, ok := v.Str(DNSQuestionName)
	require.True(t, ok)
	assert.Equal(t, "example.com", d)

	// The record wins over the resource.
	rec.Attributes().PutStr("host.name", "web-02")
	v.Invalidate()
	h, _ = v.Str(HostName)
	assert.Equal(t, "web-02", h)
}

func TestAddressAliasesSplitIPAndName(t *testing.T) {
	v := view(t, map[string]any{"server.address": "l.gs.thc.org", "server.port": int64(7350)})
	_, ok := v.Str(DestinationIP)
	assert.False(t, ok)
	d, ok := v.Str(DestinationDomain)
	require.True(t, ok)
	assert.Equal(t, "l.gs.thc.org", d)
	p, ok := v.Get(DestinationPort)
	require.True(t, ok)
	assert.Equal(t, int64(7350), p.Int())

	v = view(t, map[string]any{"destination.address": "45.77.141.38"})
	ip, ok := v.Str(DestinationIP)
	require.True(t, ok)
	assert.Equal(t, "45.77.141.38", ip)
	_, ok = v.Str(DestinationDomain)
	assert.False(t, ok)
}

func TestLookupUnknownFieldAndNames(t *testing.T) {
	f := Lookup("container.image.name")
	assert.Equal(t, []string{"container.image.name"}, f.Names())
	assert.Same(t, ProcessExecutable, Lookup("process.executable"))
	assert.Equal(t, []string{"process.executable", "process.executable.path"}, ProcessExecutable.Names())
	v := view(t, map[string]any{"container": map[string]any{"image": map[string]any{"name": "nginx"}}})
	s, ok := v.Str(f)
	require.True(t, ok)
	assert.Equal(t, "nginx", s)
}

func TestEmptyAndNonStringValues(t *testing.T) {
	v := view(t, map[string]any{"user.id": int64(0), "process.name": ""})
	_, ok := v.Str(ProcessName)
	assert.False(t, ok, "empty strings are absent")
	val, ok := v.Get(UserID)
	require.True(t, ok)
	b, ok := AppendValue(nil, val)
	require.True(t, ok)
	assert.Equal(t, "0", string(b))
	_, ok = AppendValue(nil, pcommon.NewValueMap())
	assert.False(t, ok)
}

func TestAnyEquals(t *testing.T) {
	v := view(t, map[string]any{"event.category": []any{"network", "process"}, "event.type": "start", "user.id": int64(0)})
	cat, _ := v.Get(EventCategory)
	assert.True(t, AnyEquals(cat, func(s string) bool { return s == "process" }))
	assert.False(t, AnyEquals(cat, func(s string) bool { return s == "file" }))
	typ, _ := v.Get(EventType)
	assert.True(t, AnyEquals(typ, func(s string) bool { return s == "start" }))
	uid, _ := v.Get(UserID)
	assert.True(t, AnyEquals(uid, func(s string) bool { return s == "0" }))
}

func TestTime(t *testing.T) {
	want := time.Date(2026, 3, 2, 14, 0, 0, 123e6, time.UTC)
	res, rec := newRecord(t, map[string]any{"@timestamp": "2026-03-02T14:00:00.123Z"})
	rec.SetTimestamp(pcommon.NewTimestampFromTime(want.Add(time.Hour)))
	rec.SetObservedTimestamp(pcommon.NewTimestampFromTime(want.Add(2 * time.Hour)))
	v := NewView()
	v.Reset(res, rec)
	got, ok := v.Time()
	require.True(t, ok)
	assert.True(t, want.Add(time.Hour).Equal(got), "the record Timestamp wins: %v", got)

	rec.SetTimestamp(0)
	got, _ = v.Time()
	assert.True(t, want.Equal(got), "then @timestamp, before the observed time: %v", got)
	ns, src := RecordTime(rec)
	assert.Equal(t, FromField, src)
	assert.Equal(t, want.UnixNano(), ns)

	rec.Attributes().PutInt("@timestamp", want.UnixMilli())
	got, _ = v.Time()
	assert.True(t, want.Equal(got), "epoch millis: %v", got)

	for _, bad := range []any{"yesterday", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", int64(-5), true} {
		switch b := bad.(type) {
		case string:
			rec.Attributes().PutStr("@timestamp", b)
		case int64:
			rec.Attributes().PutInt("@timestamp", b)
		case bool:
			rec.Attributes().PutBool("@timestamp", b)
		}
		got, _ = v.Time()
		assert.True(t, want.Add(2*time.Hour).Equal(got), "%v: falls back to the observed timestamp", bad)
		_, src = RecordTime(rec)
		assert.Equal(t, FromObserved, src, "%v", bad)
	}

	rec.SetObservedTimestamp(0)
	_, ok = v.Time()
	assert.False(t, ok)
	_, src = RecordTime(rec)
	assert.Equal(t, NoTime, src)

	rec.Attributes().Remove("@timestamp")
	rec.Body().SetEmptyMap().PutStr("@timestamp", "2026-03-02T14:00:00.123+00:00")
	v.Reset(res, rec)
	got, ok = v.Time()
	require.True(t, ok)
	assert.True(t, want.Equal(got))
}

func TestSignals(t *testing.T) {
	v := view(t, map[string]any{})
	assert.False(t, v.HasSignal("a"))
	v.AddSignal("a")
	v.AddSignal("b")
	v.AddSignal("a")
	assert.True(t, v.HasSignal("a"))
	got, _ := v.Attributes().Get(SignalsKey)
	assert.Equal(t, []any{"a", "b"}, got.Slice().AsRaw())

	// Signals from upstream, nested or as a single string, are kept.
	v = view(t, map[string]any{"cairn": map[string]any{"signals": []any{"upstream"}}})
	v.AddSignal("new")
	got, _ = lookup(v.Attributes(), SignalsKey)
	assert.Equal(t, []any{"upstream", "new"}, got.Slice().AsRaw())
	v = view(t, map[string]any{"cairn.signals": "upstream"})
	v.AddSignal("new")
	got, _ = v.Attributes().Get(SignalsKey)
	assert.Equal(t, []any{"upstream", "new"}, got.Slice().AsRaw())

	v.SetFlag("cairn.first_seen.x")
	b, _ := v.Attributes().Get("cairn.first_seen.x")
	assert.True(t, b.Bool())
}

func TestEnsureIDStable(t *testing.T) {
	nested := map[string]any{
		"host":    map[string]any{"name": "web-03"},
		"process": map[string]any{"executable": "/tmp/.x/gs-netcat", "pid": int64(4242), "args": []any{"gs-netcat", "-l"}},
		"event":   map[string]any{"category": []any{"process"}},
	}
	flat := map[string]any{
		"event.category":     []any{"process"},
		"process.pid":        int64(4242),
		"process.args":       []any{"gs-netcat", "-l"},
		"process.executable": "/tmp/.x/gs-netcat",
		"host.name":          "web-03",
	}
	a := view(t, flat).EnsureID()
	assert.Len(t, a, 32)
	for i := 0; i < 20; i++ {
		// FromRaw builds maps from Go maps: key order differs each time.
		assert.Equal(t, a, view(t, flat).EnsureID(), "same content, same id")
		assert.Equal(t, a, view(t, nested).EnsureID(), "nesting does not change the id")
	}
	nestedWithID := map[string]any{"event": map[string]any{"category": []any{"process"}, "id": "x"}, "host": nested["host"], "process": nested["process"]}
	assert.Equal(t, "x", view(t, nestedWithID).EnsureID())
	assert.Equal(t, view(t, nested).ContentID(), view(t, nestedWithID).ContentID(), "a nested event.id is not content")

	v := view(t, flat)
	id := v.EnsureID()
	assert.Equal(t, id, v.EnsureID(), "an existing id is kept")
	got, _ := v.Attributes().Get("event.id")
	assert.Equal(t, id, got.Str())

	// Cairn's own output does not change identity.
	withSignals := view(t, flat)
	withSignals.AddSignal("new_binary_on_host")
	withSignals.SetFlag("cairn.first_seen.new_binary_on_host")
	assert.Equal(t, a, withSignals.ContentID())

	// Any content change does.
	other := map[string]any{}
	for k, val := range flat {
		other[k] = val
	}
	other["process.pid"] = int64(4243)
	assert.NotEqual(t, a, view(t, other).EnsureID())
	other["process.pid"] = "4242"
	assert.NotEqual(t, a, view(t, other).EnsureID(), "types matter")
	big := map[string]any{"message": strings.Repeat("x", 10000)}
	big2 := map[string]any{"message": strings.Repeat("x", 9999) + "y"}
	assert.NotEqual(t, view(t, big).EnsureID(), view(t, big2).EnsureID(), "long values are hashed whole")
	swapped := map[string]any{}
	for k, val := range flat {
		swapped[k] = val
	}
	swapped["process.args"] = []any{"-l", "gs-netcat"}
	assert.NotEqual(t, a, view(t, swapped).EnsureID(), "array order matters")

	res, rec := newRecord(t, flat)
	rec.SetTimestamp(1)
	tv := NewView()
	tv.Reset(res, rec)
	assert.NotEqual(t, a, tv.EnsureID(), "time matters")

	given := view(t, map[string]any{"event.id": "abc"})
	assert.Equal(t, "abc", given.EnsureID())
}

func TestEnsureIDManyDistinct(t *testing.T) {
	seen := map[string]bool{}
	v := NewView()
	for i := 0; i < 20000; i++ {
		res, rec := newRecord(t, map[string]any{"n": int64(i)})
		v.Reset(res, rec)
		id := v.EnsureID()
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestReadsDoNotAllocate(t *testing.T) {
	v := view(t, map[string]any{
		"host":        map[string]any{"name": "web-03"},
		"process":     map[string]any{"executable": "/usr/bin/zsh", "hash": map[string]any{"sha256": "ab"}},
		"destination": map[string]any{"ip": "45.77.141.38"},
		"event":       map[string]any{"category": []any{"process"}},
	})
	allocs := testing.AllocsPerRun(200, func() {
		_, _ = v.Str(HostName)
		_, _ = v.Str(ProcessHashSHA256)
		_, _ = v.Str(DestinationIP)
		_, _ = v.Str(DNSQuestionName)
		c, _ := v.Get(EventCategory)
		_ = AnyEquals(c, func(s string) bool { return s == "process" })
		_, _ = v.Time()
		_ = v.HasSignal("x")
	})
	assert.Zero(t, allocs)
}

func TestCacheSeesWrites(t *testing.T) {
	v := view(t, map[string]any{"host.name": "a"})
	_, ok := v.Str(EventID)
	require.False(t, ok)
	id := v.EnsureID()
	got, ok := v.Str(EventID)
	require.True(t, ok, "a cached miss is forgotten after the write")
	assert.Equal(t, id, got)

	v.Attributes().PutStr("user.name", "root")
	v.Invalidate()
	u, ok := v.Str(UserName)
	require.True(t, ok)
	assert.Equal(t, "root", u)
}

func BenchmarkGet(b *testing.B) {
	res, rec := newRecord(b, map[string]any{
		"host":        map[string]any{"name": "web-03", "id": "52c6"},
		"event":       map[string]any{"category": []any{"network"}, "type": []any{"connection", "start"}, "kind": "event"},
		"process":     map[string]any{"executable": "/usr/bin/curl", "pid": int64(4), "name": "curl"},
		"destination": map[string]any{"ip": "45.77.141.38", "port": int64(443)},
		"source":      map[string]any{"ip": "10.0.1.7", "port": int64(51000)},
		"user":        map[string]any{"name": "root", "id": "0"},
		"network":     map[string]any{"transport": "tcp", "direction": "egress"},
	})
	v := NewView()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v.Reset(res, rec)
		_, _ = v.Str(HostName)
		_, _ = v.Str(ProcessExecutable)
		_, _ = v.Str(DestinationIP)
		_, _ = v.Str(DNSQuestionName)
		_, _ = v.Get(EventCategory)
	}
}

func BenchmarkContentID(b *testing.B) {
	v := view(b, map[string]any{
		"host":        map[string]any{"name": "web-03", "id": "52c66659a78e0d0d4bb93c73f435ccee", "os": map[string]any{"type": "linux"}},
		"event":       map[string]any{"category": []any{"network"}, "type": []any{"connection", "start"}, "kind": "event", "module": "cairn", "dataset": "cairn.host"},
		"process":     map[string]any{"executable": "/usr/bin/curl", "pid": int64(4), "name": "curl"},
		"destination": map[string]any{"ip": "45.77.141.38", "port": int64(443), "domain": "api.github.com"},
		"source":      map[string]any{"ip": "10.0.1.7", "port": int64(51000)},
		"user":        map[string]any{"name": "root", "id": "0"},
		"network":     map[string]any{"transport": "tcp", "direction": "egress"},
	})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = v.ContentID()
	}
}

func TestWritesFollowTheRecordShape(t *testing.T) {
	v := view(t, map[string]any{"event": map[string]any{"kind": "event"}, "host": map[string]any{"name": "a"}})
	id := v.EnsureID()
	v.AddSignal("new_domain")
	v.SetFlag("cairn.first_seen.new_domain")
	got := v.Attributes().AsRaw()
	assert.Equal(t, map[string]any{"kind": "event", "id": id}, got["event"])
	assert.Equal(t, map[string]any{"signals": []any{"new_domain"}, "first_seen": map[string]any{"new_domain": true}}, got["cairn"])
	assert.NotContains(t, got, "cairn.signals")
	assert.True(t, v.HasSignal("new_domain"))
	s, ok := v.Str(EventID)
	require.True(t, ok)
	assert.Equal(t, id, s)

	// Flat records get flat keys.
	v = view(t, map[string]any{"event.kind": "event"})
	id = v.EnsureID()
	v.AddSignal("x")
	v.SetFlag("cairn.first_seen.x")
	got = v.Attributes().AsRaw()
	assert.Equal(t, id, got["event.id"])
	assert.Equal(t, []any{"x"}, got["cairn.signals"])
	assert.Equal(t, true, got["cairn.first_seen.x"])

	// A scalar in the way keeps the rest of the path flat beneath it.
	v = view(t, map[string]any{"event": map[string]any{}, "cairn": "upstream note"})
	v.SetFlag("cairn.first_seen.x")
	assert.Equal(t, true, v.Attributes().AsRaw()["cairn.first_seen.x"])
}

func TestAppendObject(t *testing.T) {
	v := view(t, map[string]any{"event": map[string]any{"kind": "event"}})
	v.AppendObject("threat.enrichments").PutStr("a", "1")
	v.AppendObject("threat.enrichments").PutStr("a", "2")
	got := v.Attributes().AsRaw()
	assert.Equal(t, map[string]any{"enrichments": []any{map[string]any{"a": "1"}, map[string]any{"a": "2"}}}, got["threat"])

	v = view(t, map[string]any{"threat.enrichments": []any{map[string]any{"a": "0"}}})
	v.AppendObject("threat.enrichments").PutStr("a", "1")
	got = v.Attributes().AsRaw()
	assert.Len(t, got["threat.enrichments"], 2, "appends to what is there")
}

// TestRelease: after Release the view refers to nothing of the last event,
// and it is usable again after the next Reset.
func TestRelease(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "h1")
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.Attributes().PutStr("process.executable", "/bin/x")
	v := NewView()
	v.Reset(rl.Resource(), rec)
	_, ok := v.Get(HostName)
	require.True(t, ok)
	v.Release()
	_, ok = v.Get(ProcessExecutable)
	assert.False(t, ok)
	_, ok = v.Get(HostName)
	assert.False(t, ok, "the cache was dropped too")
	v.Reset(rl.Resource(), rec)
	s, ok := v.Str(ProcessExecutable)
	assert.True(t, ok)
	assert.Equal(t, "/bin/x", s)
}

func TestSkewedTime(t *testing.T) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	res, rec := newRecord(t, map[string]any{})
	v := NewView()
	v.Reset(res, rec)
	_, _, ok := v.SkewedTime(now, time.Minute)
	assert.False(t, ok, "no time at all")

	rec.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(30 * time.Second)))
	got, skewed, ok := v.SkewedTime(now, time.Minute)
	require.True(t, ok)
	assert.False(t, skewed, "within the tolerance")
	assert.True(t, got.Equal(now.Add(30*time.Second)))

	rec.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)))
	got, skewed, _ = v.SkewedTime(now, time.Minute)
	assert.True(t, skewed)
	assert.True(t, got.Equal(now), "no receipt time: now")

	rec.SetObservedTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	got, skewed, _ = v.SkewedTime(now, time.Minute)
	assert.True(t, skewed)
	assert.True(t, got.Equal(now.Add(-time.Second)), "the receipt time")

	// Old events are not skewed, however old.
	rec.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)))
	_, skewed, _ = v.SkewedTime(now, time.Minute)
	assert.False(t, skewed)
}
