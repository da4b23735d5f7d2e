package normalizeprocessor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/processor/normalizeprocessor/internal/metadata"
)

const testdata = "../../internal/normalize/testdata/"

// line returns line i (from 0) of a capture, compacted when it is JSON.
func line(t *testing.T, path string, i int) string {
	t.Helper()
	f, err := os.Open(testdata + path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 0; sc.Scan(); n++ {
		if n == i {
			b := sc.Bytes()
			if b[0] == '{' {
				var out bytes.Buffer
				require.NoError(t, json.Compact(&out, b))
				return out.String()
			}
			return string(b)
		}
	}
	t.Fatalf("%s has no line %d", path, i)
	return ""
}

type fixture struct {
	sink *consumertest.LogsSink
	tel  *componenttest.Telemetry
	run  func(bodies ...func(pcommon.Value)) plog.LogRecordSlice
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	if mod != nil {
		mod(cfg)
	}
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.LogsSink)
	pl, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, pl.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, pl.Shutdown(context.Background())) })
	f := &fixture{sink: sink, tel: tel}
	f.run = func(bodies ...func(pcommon.Value)) plog.LogRecordSlice {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("host.name", "collector-7")
		recs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for _, b := range bodies {
			r := recs.AppendEmpty()
			r.SetTimestamp(pcommon.Timestamp(42))
			r.Attributes().PutStr("syslog.appname", "x")
			b(r.Body())
		}
		sink.Reset()
		require.NoError(t, pl.ConsumeLogs(context.Background(), ld))
		out := sink.AllLogs()[0].ResourceLogs().At(0)
		v, _ := out.Resource().Attributes().Get("host.name")
		assert.Equal(t, "collector-7", v.Str(), "resource kept")
		return out.ScopeLogs().At(0).LogRecords()
	}
	return f
}

func str(s string) func(pcommon.Value) { return func(v pcommon.Value) { v.SetStr(s) } }

// want decodes a record as the cairn_file receiver would (format auto, or
// the one given).
func want(t *testing.T, format, rec string) plog.LogRecord {
	t.Helper()
	o := ingest.DefaultOptions()
	o.Format = format
	recs := plog.NewLogRecordSlice()
	res, err := ingest.NewDecoder(o).Line([]byte(rec), recs)
	require.NoError(t, err)
	require.Equal(t, ingest.Decoded, res)
	return recs.At(0)
}

// sameEvent: the processor's record carries the receiver's event: same
// attributes (event.id included), same time, body cleared.
func sameEvent(t *testing.T, exp, got plog.LogRecord) {
	t.Helper()
	assert.Equal(t, exp.Attributes().AsRaw(), got.Attributes().AsRaw())
	assert.Equal(t, exp.Timestamp(), got.Timestamp())
	assert.NotZero(t, got.Timestamp())
	assert.Equal(t, pcommon.ValueTypeEmpty, got.Body().Type())
	_, ok := got.Attributes().Get("syslog.appname")
	assert.False(t, ok, "attributes replaced")
}

// count returns the records metric's value for one series (0 if none).
func count(t *testing.T, tel *componenttest.Telemetry, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	want := attribute.NewSet(attrs...)
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

const (
	records = "otelcol_processor_cairn_normalize_records"
	refused = "otelcol_processor_cairn_normalize_refused_records"
)

func series(format, typ, kind string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("format", format), attribute.String("type", typ), attribute.String("kind", kind)}
}

func TestFalcoJSONBody(t *testing.T) {
	f := newFixture(t, nil)
	falco := line(t, "falco/alerts.json", 0)
	// A string body (OTLP, syslog), bytes, and a journald entry whose
	// MESSAGE is the alert.
	got := f.run(str(falco), func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte(falco)) },
		func(v pcommon.Value) {
			m := v.SetEmptyMap()
			m.PutStr("MESSAGE", falco)
			m.PutStr("_SYSTEMD_UNIT", "falco.service")
		})
	require.Equal(t, 3, got.Len())
	exp := want(t, "auto", falco)
	for i := 0; i < got.Len(); i++ {
		sameEvent(t, exp, got.At(i))
	}
	ts := time.Date(2023, 5, 25, 13, 44, 5, 478445995, time.UTC)
	assert.Equal(t, ts, got.At(0).Timestamp().AsTime())
	id, ok := got.At(0).Attributes().Get("event")
	require.True(t, ok)
	_, ok = id.Map().Get("id")
	assert.True(t, ok, "content event.id")
	var n int64
	m, err := f.tel.GetMetric(records)
	require.NoError(t, err)
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := dp.Attributes.Value("format"); v.AsString() == "falco" {
			k, _ := dp.Attributes.Value("kind")
			assert.Equal(t, "normalized", k.AsString())
			n += dp.Value
		}
	}
	assert.Equal(t, int64(3), n)
}

func TestSysmonXMLInSyslog(t *testing.T) {
	f := newFixture(t, nil)
	bsd := line(t, "sysmon/events.log", 0) // "Nov 24 09:59:47 web-01 sysmon: <Event>..."
	require.True(t, strings.Contains(bsd, " sysmon: <Event>"), bsd)
	xml := bsd[strings.Index(bsd, "<Event"):]
	rfc5424 := "<134>1 2024-05-01T09:00:00Z web-01 sysmon 1109 - - " + xml
	got := f.run(str(bsd), str(rfc5424), str(xml))
	exp := want(t, "sysmon", xml)
	for i := 0; i < got.Len(); i++ {
		sameEvent(t, exp, got.At(i))
	}
	assert.Equal(t, int64(3), count(t, f.tel, records, series("sysmon", "process_create", "normalized")...))
}

func TestTetragonJSONBody(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Format = "tetragon" })
	tet := line(t, "tetragon/events.json", 1)
	got := f.run(str(tet))
	sameEvent(t, want(t, "tetragon", tet), got.At(0))
	assert.Equal(t, int64(1), count(t, f.tel, records, series("tetragon", "process_exec", "normalized")...))

	// An exec without a time takes its process's start; another event
	// without a time of its own keeps the record's.
	untimed := line(t, "tetragon/events.json", 0)
	got = f.run(str(untimed))
	assert.Equal(t, want(t, "tetragon", untimed).Attributes().AsRaw(), got.At(0).Attributes().AsRaw())
	assert.Equal(t, "2022-10-18T03:16:18.273546829Z", got.At(0).Timestamp().AsTime().UTC().Format(time.RFC3339Nano))
	exit := strings.Replace(untimed, `"process_exec"`, `"process_exit"`, 1)
	got = f.run(str(exit))
	assert.Equal(t, want(t, "tetragon", exit).Attributes().AsRaw(), got.At(0).Attributes().AsRaw())
	assert.Equal(t, int64(42), int64(got.At(0).Timestamp()))
}

func TestECSBody(t *testing.T) {
	doc := `{"@timestamp":"2024-05-01T09:00:00.000Z","event":{"kind":"event","category":["process"]},"process":{"name":"sh","pid":7}}`
	f := newFixture(t, func(c *Config) { c.Format = "ecs"; c.KeepBody = true })
	got := f.run(str(doc))
	exp := want(t, "ecs", doc)
	assert.Equal(t, exp.Attributes().AsRaw(), got.At(0).Attributes().AsRaw())
	assert.Equal(t, exp.Timestamp(), got.At(0).Timestamp())
	assert.Equal(t, doc, got.At(0).Body().Str(), "keep_body")
	assert.Equal(t, int64(1), count(t, f.tel, records, series("ecs", "", "normalized")...))

	// With auto, an ECS document (or any JSON no sensor claims) is left
	// as it is: decoding an application's JSON logs as ECS would replace
	// their attributes.
	f = newFixture(t, nil)
	got = f.run(str(doc), str(`{"level":"info","msg":"started"}`))
	for i := 0; i < got.Len(); i++ {
		assert.Equal(t, int64(42), int64(got.At(i).Timestamp()))
		assert.Equal(t, map[string]any{"syslog.appname": "x"}, got.At(i).Attributes().AsRaw())
	}
	assert.Equal(t, int64(2), count(t, f.tel, records, series("", "", "skipped")...))
}

// Records without a sensor record, or refused, pass unchanged, counted.
func TestUntouched(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxBodyBytes = 100 })
	bad := `{"rule":"r","priority":"Severe","time":"2024-01-01T00:00:00Z","output":"x"}`
	long := `{"rule":"r","priority":"Warning","time":"2024-01-01T00:00:00Z","output":"` + strings.Repeat("x", 100) + `"}`
	got := f.run(str("sshd[12]: Accepted publickey for root"), str(bad), str(long),
		func(v pcommon.Value) { v.SetInt(7) }, func(v pcommon.Value) { v.SetEmptyMap().PutStr("other", bad) })
	bodies := []any{"sshd[12]: Accepted publickey for root", bad, long, int64(7), map[string]any{"other": bad}}
	require.Equal(t, len(bodies), got.Len())
	for i := 0; i < got.Len(); i++ {
		r := got.At(i)
		assert.Equal(t, bodies[i], r.Body().AsRaw())
		assert.Equal(t, int64(42), int64(r.Timestamp()))
		assert.Equal(t, map[string]any{"syslog.appname": "x"}, r.Attributes().AsRaw())
	}
	assert.Equal(t, int64(3), count(t, f.tel, records, series("", "", "skipped")...))
	assert.Equal(t, int64(1), count(t, f.tel, records, series("", "", "refused")...), "too long")
	assert.Equal(t, int64(1), count(t, f.tel, refused, attribute.String("reason", "too_long")))
	assert.Equal(t, int64(1), count(t, f.tel, refused, attribute.String("reason", "invalid_value")))
	var falcoRefused int64
	m, err := f.tel.GetMetric(records)
	require.NoError(t, err)
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		fm, _ := dp.Attributes.Value("format")
		k, _ := dp.Attributes.Value("kind")
		if fm.AsString() == "falco" && k.AsString() == "refused" {
			falcoRefused += dp.Value
		}
	}
	assert.Equal(t, int64(1), falcoRefused)

	// format ecs: a body that is not a document is refused, unchanged.
	f = newFixture(t, func(c *Config) { c.Format = "ecs" })
	got = f.run(str(`{"a":`))
	assert.Equal(t, `{"a":`, got.At(0).Body().Str())
	assert.Equal(t, int64(1), count(t, f.tel, records, series("ecs", "", "refused")...))
	assert.Equal(t, int64(1), count(t, f.tel, refused, attribute.String("reason", "invalid_json")))
}

// Counts are published as deltas: a second batch adds, not repeats.
func TestCountsAccumulate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Format = "tetragon" })
	tet := line(t, "tetragon/events.json", 0)
	f.run(str(tet))
	f.run(str(tet), str(tet))
	assert.Equal(t, int64(3), count(t, f.tel, records, series("tetragon", "process_exec", "normalized")...))
}

func TestFind(t *testing.T) {
	for in, out := range map[string]string{
		`  {"a":1}` + "\n":                  `{"a":1}`,
		`host falco: {"a":1}`:               `{"a":1}`,
		`<134>1 t h sysmon - - <Event>{x}`:  `<Event>{x}`,
		`x {"m":"<Event>"}`:                 `{"m":"<Event>"}`,
		`plain text`:                        ``,
		`<134>1 t h app - - no record here`: ``,
	} {
		assert.Equal(t, out, string(find([]byte(in))), in)
	}
}
