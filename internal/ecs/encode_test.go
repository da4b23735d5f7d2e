package ecs

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestRoundTripNested(t *testing.T) {
	for _, doc := range []string{processStartEvent, networkEvent} {
		rec := decode(t, doc)
		assert.Equal(t, doc, encode(rec))
	}
}

func TestRoundTripDotted(t *testing.T) {
	doc := `{"@timestamp":"2026-03-02T10:00:00.123Z","process.name":"a","process":{"pid":1,"parent.pid":2},` +
		`"event.category":["process"],"host.os.family":"linux","host":{"os":{"type":"linux"}},"user.name":"root"}`
	rec := decode(t, doc)
	assert.Equal(t,
		`{"@timestamp":"2026-03-02T10:00:00.123Z","process":{"name":"a","pid":1,"parent":{"pid":2}},`+
			`"event":{"category":["process"]},"host":{"os":{"family":"linux","type":"linux"}},"user":{"name":"root"}}`,
		encode(rec))
}

// record builds a record whose attributes are the JSON object attrs, with
// the types Decode gives them.
func record(t *testing.T, attrs string) plog.LogRecord {
	rec := decode(t, attrs)
	require.Zero(t, rec.Timestamp())
	return rec
}

func TestMergeRules(t *testing.T) {
	for _, tc := range []struct{ name, attrs, want string }{
		{"dotted then nested", `{"process.name":"a","process":{"pid":1}}`, `{"process":{"name":"a","pid":1}}`},
		{"nested then dotted", `{"process":{"pid":1},"process.name":"a"}`, `{"process":{"pid":1,"name":"a"}}`},
		{"dotted inside nested", `{"a":{"b.c":1,"b":{"d":2}},"a.b.e":3}`, `{"a":{"b":{"c":1,"d":2,"e":3}}}`},
		{"duplicate leaf: the flat key wins, as the event model reads it, in the earlier place", `{"a.b":1,"c":0,"a":{"b":2}}`, `{"a":{"b":1},"c":0}`},
		{"duplicate leaf: the flat rest wins inside a map", `{"a":{"b":{"c":1}},"x":0,"a.b":{"c":2},"a ":0,"a":{"b.c":3}}`, `{"a":{"b":{"c":3}},"x":0,"a ":0}`},
		{"duplicate through map", `{"x":{"y":"1"},"x.y":"2"}`, `{"x":{"y":"2"}}`},
		{"leaf then object", `{"host":"x","host.name":"y"}`, `{"host":{"name":"y","value":"x"}}`},
		{"object then leaf", `{"host.name":"y","host":"x"}`, `{"host":{"name":"y","value":"x"}}`},
		{"leaf then empty map", `{"a":1,"a.b":{}}`, `{"a":{"b":{},"value":1}}`},
		{"map replaces nothing", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
		{"explicit value child wins", `{"host":"x","host.value":"v","host.name":"y"}`, `{"host":{"value":"v","name":"y"}}`},
		{"leaf overwritten twice", `{"host":"x","host.name":"y","host":"z"}`, `{"host":{"name":"y","value":"z"}}`},
		{"empty segments not expanded", `{".a":1,"b.":2,"c..d":3,".":4,"":5}`, `{".a":1,"b.":2,"c..d":3,".":4,"":5}`},
		{"dots in nested keys", `{"a":{"b.c":{"d.e":1}}}`, `{"a":{"b":{"c":{"d":{"e":1}}}}}`},
		{"slice of maps expanded", `{"a":[{"b.c":1,"b":{"d":2}},{"x.y":"z"}],"a.q":0}`, `{"a":{"q":0,"value":[{"b":{"c":1,"d":2}},{"x":{"y":"z"}}]}}`},
		{"nested slices", `{"a":[[{"b.c":1}],[]]}`, `{"a":[[{"b":{"c":1}}],[]]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encode(record(t, tc.attrs))
			assert.Equal(t, tc.want, got)
			assert.True(t, json.Valid([]byte(got)))
		})
	}
}

func TestMergeResourceRecordBody(t *testing.T) {
	res := pcommon.NewResource()
	res.Attributes().PutStr("host.name", "from-resource")
	res.Attributes().PutStr("service.name", "edr")
	res.Attributes().PutStr("agent.version", "1")

	rec := plog.NewLogRecord()
	rec.SetTimestamp(pcommon.Timestamp(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixNano()))
	rec.Attributes().PutStr("host.name", "from-record")
	rec.Attributes().PutStr("event.action", "exec")
	rec.Attributes().PutStr("@timestamp", "ignored: the record's timestamp wins")
	rec.Attributes().PutStr("@timestamp.x", "ignored as well")
	body := rec.Body().SetEmptyMap()
	body.PutStr("event.action", "from-body")
	body.PutEmptyMap("agent").PutStr("type", "endpoint")
	body.PutStr("message", "hello")

	// The record's attributes win over the Map body, which wins over the
	// resource, as the event model reads a field.
	var e Encoder
	got := string(e.Append(nil, res, rec))
	assert.Equal(t, `{"@timestamp":"2026-03-02T10:00:00.000Z","host":{"name":"from-record"},"service":{"name":"edr"},`+
		`"agent":{"version":"1","type":"endpoint"},"event":{"action":"exec"},"message":"hello"}`, got)
}

func TestBodyToMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(v pcommon.Value)
		want string
	}{
		{"string", func(v pcommon.Value) { v.SetStr("line \"1\"") }, `{"message":"line \"1\""}`},
		{"empty string", func(v pcommon.Value) { v.SetStr("") }, `{}`},
		{"empty", func(pcommon.Value) {}, `{}`},
		{"int", func(v pcommon.Value) { v.SetInt(-42) }, `{"message":"-42"}`},
		{"bool", func(v pcommon.Value) { v.SetBool(true) }, `{"message":"true"}`},
		{"double", func(v pcommon.Value) { v.SetDouble(1.5e-7) }, `{"message":"1.5e-7"}`},
		{"integral double", func(v pcommon.Value) { v.SetDouble(3) }, `{"message":"3"}`},
		{"nan", func(v pcommon.Value) { v.SetDouble(math.NaN()) }, `{"message":"NaN"}`},
		{"inf", func(v pcommon.Value) { v.SetDouble(math.Inf(-1)) }, `{"message":"-Infinity"}`},
		{"bytes", func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte("hi!?")) }, `{"message":"aGkhPw=="}`},
		{"slice", func(v pcommon.Value) {
			v.SetEmptySlice().FromRaw([]any{1, "a<", map[string]any{"b.c": 1.5, "a": nil}})
		}, `{"message":"[1,\"a<\",{\"a\":null,\"b.c\":1.5}]"}`},
		{"empty map", func(v pcommon.Value) { v.SetEmptyMap() }, `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := plog.NewLogRecord()
			tc.set(rec.Body())
			got := encode(rec)
			assert.Equal(t, tc.want, got)
			if rec.Body().Type() != pcommon.ValueTypeEmpty && rec.Body().Type() != pcommon.ValueTypeMap && got != `{}` {
				var m map[string]string
				require.NoError(t, json.Unmarshal([]byte(got), &m))
				assert.Equal(t, rec.Body().AsString(), m["message"], "message is AsString")
			}
		})
	}

	// An existing message field is not overwritten.
	rec := record(t, `{"message":"kept"}`)
	rec.Body().SetStr("dropped")
	assert.Equal(t, `{"message":"kept"}`, encode(rec))
	rec = record(t, `{"message.x":"kept"}`)
	rec.Body().SetInt(1)
	assert.Equal(t, `{"message":{"x":"kept"}}`, encode(rec))
}

func TestBodyTextMatchesAsString(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var e Encoder
	for range 20000 {
		v := pcommon.NewValueEmpty()
		switch r.IntN(3) {
		case 0:
			v.SetDouble(math.Float64frombits(r.Uint64()))
		case 1:
			v.SetDouble(float64(r.IntN(1e6)) * math.Pow(10, float64(r.IntN(60)-30)))
		case 2:
			v.SetInt(int64(r.Uint64()))
		}
		got := e.writeBodyText(nil, v)
		want, _ := json.Marshal(v.AsString())
		require.Equal(t, string(want), string(got), v.AsRaw())
	}
}

func TestSeverityAndIDs(t *testing.T) {
	rec := plog.NewLogRecord()
	rec.SetSeverityText("WARN")
	rec.SetTraceID(pcommon.TraceID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10})
	rec.SetSpanID(pcommon.SpanID{0xAA, 0xbb, 0, 1, 2, 3, 4, 0xff})
	rec.Attributes().PutStr("log.logger", "main")
	assert.Equal(t, `{"log":{"logger":"main","level":"WARN"},"trace":{"id":"0123456789abcdeffedcba9876543210"},"span":{"id":"aabb0001020304ff"}}`, encode(rec))

	// Present fields win, in either form.
	rec.Attributes().PutStr("log.level", "error")
	rec.Attributes().PutEmptyMap("trace").PutStr("id", "t")
	rec.Attributes().PutStr("span.id", "s")
	assert.Equal(t, `{"log":{"logger":"main","level":"error"},"trace":{"id":"t"},"span":{"id":"s"}}`, encode(rec))

	// A scalar in the way follows the leaf/object rule.
	rec = record(t, `{"log":"x","message":{}}`)
	rec.SetSeverityText("info")
	rec.Body().SetStr("not written: message exists")
	assert.Equal(t, `{"log":{"level":"info","value":"x"},"message":{}}`, encode(rec))
}

func TestEncodeTimestamp(t *testing.T) {
	for _, tc := range []struct {
		ts, observed time.Time
		attr         string
		want         string
	}{
		{ts: time.Date(2026, 3, 2, 10, 0, 0, 123_000_000, time.UTC), want: `{"@timestamp":"2026-03-02T10:00:00.123Z"}`},
		{ts: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), want: `{"@timestamp":"2026-03-02T10:00:00.000Z"}`},
		{ts: time.Date(2026, 3, 2, 10, 0, 0, 123_400_000, time.UTC), want: `{"@timestamp":"2026-03-02T10:00:00.123400000Z"}`},
		{ts: time.Date(2026, 3, 2, 10, 0, 0, 1, time.UTC), want: `{"@timestamp":"2026-03-02T10:00:00.000000001Z"}`},
		{ts: time.Date(2026, 3, 2, 12, 0, 0, 0, time.FixedZone("x", 2*3600)), want: `{"@timestamp":"2026-03-02T10:00:00.000Z"}`},
		{ts: time.Unix(0, 1e6), want: `{"@timestamp":"1970-01-01T00:00:00.001Z"}`},
		{ts: time.Date(2262, 4, 11, 23, 47, 16, 854_775_807, time.UTC), want: `{"@timestamp":"2262-04-11T23:47:16.854775807Z"}`},
		{observed: time.Date(2026, 12, 31, 23, 59, 59, 999_000_000, time.UTC), want: `{"@timestamp":"2026-12-31T23:59:59.999Z"}`},
		{ts: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), observed: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), want: `{"@timestamp":"2024-02-29T00:00:00.000Z"}`},
		{want: `{}`},
		{attr: `{"a":1,"@timestamp":"as is"}`, want: `{"@timestamp":"as is","a":1}`},
		{attr: `{"a":1,"@timestamp":true}`, want: `{"@timestamp":true,"a":1}`},
		{ts: time.Unix(1, 0), attr: `{"@timestamp":"replaced","a":1}`, want: `{"@timestamp":"1970-01-01T00:00:01.000Z","a":1}`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			rec := plog.NewLogRecord()
			if tc.attr != "" {
				rec = record(t, tc.attr)
			}
			if !tc.ts.IsZero() {
				rec.SetTimestamp(pcommon.NewTimestampFromTime(tc.ts))
			}
			if !tc.observed.IsZero() {
				rec.SetObservedTimestamp(pcommon.NewTimestampFromTime(tc.observed))
			}
			assert.Equal(t, tc.want, encode(rec))
		})
	}
	// Beyond int64 nanoseconds: still a valid date.
	rec := plog.NewLogRecord()
	rec.SetTimestamp(math.MaxUint64)
	assert.Equal(t, `{"@timestamp":"2554-07-21T23:34:33.709551615Z"}`, encode(rec))
}

func TestEncodeValueTypes(t *testing.T) {
	rec := plog.NewLogRecord()
	a := rec.Attributes()
	a.PutStr("s", "x")
	a.PutStr("empty", "")
	a.PutInt("i", math.MinInt64)
	a.PutDouble("d", 0.1)
	a.PutDouble("whole", 3)
	a.PutDouble("negzero", math.Copysign(0, -1))
	a.PutDouble("big", 1e21)
	a.PutDouble("small", 1.5e-7)
	a.PutDouble("max", math.MaxFloat64)
	a.PutDouble("nan", math.NaN())
	a.PutDouble("inf", math.Inf(1))
	a.PutBool("t", true)
	a.PutBool("f", false)
	a.PutEmptyBytes("b").FromRaw([]byte{0, 1, 2, 0xff, 0xfe})
	a.PutEmptyBytes("eb")
	a.PutEmpty("null")
	s := a.PutEmptySlice("slice")
	s.AppendEmpty().SetInt(1)
	s.AppendEmpty()
	s.AppendEmpty().SetEmptyBytes().FromRaw([]byte("abc"))
	s.AppendEmpty().SetEmptySlice().AppendEmpty().SetDouble(2)
	s.AppendEmpty().SetEmptyMap().PutStr("k.j", "v")
	got := encode(rec)
	assert.Equal(t, `{"s":"x","empty":"","i":-9223372036854775808,"d":0.1,"whole":3.0,"negzero":-0.0,`+
		`"big":1e+21,"small":1.5e-7,"max":1.7976931348623157e+308,"nan":null,"inf":null,"t":true,"f":false,`+
		`"b":"AAEC//4=","eb":"","null":null,"slice":[1,null,"YWJj",[2.0],{"k":{"j":"v"}}]}`, got)
	require.True(t, json.Valid([]byte(got)))

	// Every double decodes back to the same Double.
	back := decode(t, got).Attributes()
	for _, k := range []string{"d", "whole", "negzero", "big", "small", "max"} {
		want, _ := a.Get(k)
		v, _ := back.Get(k)
		assert.Equal(t, pcommon.ValueTypeDouble, v.Type(), k)
		assert.Equal(t, want.Double(), v.Double(), k)
	}
}

func TestEncodeDoublesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var e Encoder
	var d Decoder
	for range 20000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		rec := plog.NewLogRecord()
		rec.Attributes().PutDouble("f", f)
		out := e.Append(nil, pcommon.NewResource(), rec)
		back := plog.NewLogRecord()
		require.NoError(t, d.Decode(out, back), string(out))
		v, _ := back.Attributes().Get("f")
		require.Equal(t, pcommon.ValueTypeDouble, v.Type(), string(out))
		require.Equal(t, f, v.Double(), string(out))
	}
}

func TestEscaping(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\s/`, `"q\"b\\s/"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<&>", `"<&>"`},
		{"line\u2028para\u2029end", `"line\u2028para\u2029end"`},
		{"héllo 世界 🎉", `"héllo 世界 🎉"`},
		{"bad\xffbyte", "\"bad\uFFFDbyte\""},
		{"\xc3", "\"\uFFFD\""},
		{"\xe2\x80", "\"\uFFFD\uFFFD\""},
		{"\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""}, // a surrogate in UTF-8 form
		{"abcdefgh\"ijklmnop\\qrstuvwx\x01yz", `"abcdefgh\"ijklmnop\\qrstuvwx\u0001yz"`},
		{strings.Repeat("a", 17) + "é" + strings.Repeat("b", 9), `"` + strings.Repeat("a", 17) + "é" + strings.Repeat("b", 9) + `"`},
	} {
		got := string(appendString(nil, tc.in))
		assert.Equal(t, tc.want, got, "%q", tc.in)
		assert.True(t, json.Valid([]byte(got)), got)
		assert.True(t, utf8.ValidString(got), got)
	}
}

// encoding/json agrees with appendString on what any byte string means, and
// keys are escaped like values.
func TestEscapingMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "Z", " ", "\"", "\\", "\n", "\x00", "\x1f", "\x7f", "\x80", "\xff", "é", "€", "\u2028", "\u2029", "🎉", "\xf0\x9f", "/"}
	var e Encoder
	for range 5000 {
		var sb strings.Builder
		for range r.IntN(40) {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := sb.String()
		rec := plog.NewLogRecord()
		rec.Attributes().PutStr(s+"k", s)
		out := e.Append(nil, pcommon.NewResource(), rec)
		require.True(t, json.Valid(out), "%q", out)
		var got map[string]string
		require.NoError(t, json.Unmarshal(out, &got))
		want, _ := json.Marshal(map[string]string{s + "k": s})
		var expected map[string]string
		require.NoError(t, json.Unmarshal(want, &expected))
		if !strings.Contains(s, ".") {
			require.Equal(t, expected, got, "%q", s)
		}
	}
}

func TestLargeStringEncode(t *testing.T) {
	big := strings.Repeat("x\"y\u2028\xff", 1<<18) // ~1.75 MiB with escapes
	rec := plog.NewLogRecord()
	rec.Body().SetStr(big)
	out := encode(rec)
	require.True(t, json.Valid([]byte(out)))
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	require.Equal(t, strings.ToValidUTF8(big, "\uFFFD"), m["message"])
}

// Wide objects switch to the hash index; the result must not change.
func TestWideObjects(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{`)
	for i := range 300 {
		fmt := strconv.Itoa(i)
		sb.WriteString(`"k` + fmt + `":` + fmt + `,"g.k` + fmt + `":` + fmt + `,`)
	}
	// Overwrites of early keys after the switch, and a slice of wide maps.
	sb.WriteString(`"k0":"again","g":{"k1":"again"},"s":[`)
	for j := range 3 {
		if j > 0 {
			sb.WriteString(`,`)
		}
		sb.WriteString(`{`)
		for i := range 40 {
			sb.WriteString(`"m.k` + strconv.Itoa(i) + `":` + strconv.Itoa(i+j) + `,`)
		}
		sb.WriteString(`"m.k3":"x"}`)
	}
	sb.WriteString(`]}`)

	rec := decode(t, sb.String())
	var e Encoder
	out := e.Append(nil, pcommon.NewResource(), rec)
	require.True(t, json.Valid(out))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, "again", got["k0"])
	assert.EqualValues(t, 299, got["k299"])
	g := got["g"].(map[string]any)
	assert.Len(t, g, 300)
	assert.EqualValues(t, 1, g["k1"], "the flat g.k1 wins over g: {k1}")
	assert.EqualValues(t, 2, g["k2"])
	s := got["s"].([]any)
	require.Len(t, s, 3)
	for j, el := range s {
		m := el.(map[string]any)["m"].(map[string]any)
		assert.Len(t, m, 40)
		assert.EqualValues(t, 5+j, m["k5"])
		assert.Equal(t, "x", m["k3"])
	}
	assert.Empty(t, e.index, "index is cleared after each call")
	assert.Equal(t, string(out), string(e.Append(nil, pcommon.NewResource(), rec)), "deterministic")
	// Key order is first occurrence.
	assert.True(t, strings.HasPrefix(string(out), `{"k0":"again","g":{"k0":0,"k1":1,"k2":2,`), string(out[:60]))
}

func TestDeterministic(t *testing.T) {
	recA := decode(t, processStartEvent)
	recB := decode(t, networkEvent)
	res := pcommon.NewResource()
	res.Attributes().PutStr("service.name", "replay")
	var e Encoder
	first := string(e.Append(nil, res, recA))
	buf := make([]byte, 0, 4096)
	for range 100 {
		buf = e.Append(buf[:0], res, recB)
		buf = e.Append(buf[:0], res, recA)
		require.Equal(t, first, string(buf))
	}
	// Appends, never overwrites.
	out := e.Append([]byte("prefix "), res, recA)
	assert.Equal(t, "prefix "+first, string(out))
}

func TestEncodeZeroAllocs(t *testing.T) {
	recs := []plog.LogRecord{decode(t, processStartEvent), decode(t, networkEvent)}
	rich := record(t, `{"a.b":1,"a":{"c":[{"d.e":1,"f":[1,2]}]},"host":"x","host.name":"y"}`)
	rich.SetSeverityText("info")
	rich.SetTraceID(pcommon.TraceID{1})
	rich.SetSpanID(pcommon.SpanID{2})
	rich.Body().SetInt(7)
	recs = append(recs, rich)
	withResource := pcommon.NewResource()
	withResource.Attributes().PutStr("service.name", "replay")
	// An empty resource takes the streaming path where it can, the other
	// one the tree path.
	for _, res := range []pcommon.Resource{pcommon.NewResource(), withResource} {
		var e Encoder
		buf := make([]byte, 0, 4096)
		for _, rec := range recs {
			buf = e.Append(buf[:0], res, rec) // grow the encoder's buffers
		}
		for i, rec := range recs {
			allocs := testing.AllocsPerRun(100, func() {
				buf = e.Append(buf[:0], res, rec)
			})
			assert.Zero(t, allocs, "record %d, resource %v", i, res.Attributes().AsRaw())
		}
	}
}

// The streaming path must write exactly what the tree path writes.
func TestStreamMatchesTree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	keys := []string{"a", "b", "log", "trace", "span", "message", "level", "id", "value", "@timestamp", "a.b", "log.level", "x.", ""}
	var randValue func(v pcommon.Value, depth int)
	randMap := func(m pcommon.Map, depth int) {
		for range r.IntN(5) {
			k := keys[r.IntN(len(keys))]
			if r.IntN(4) > 0 {
				k = keys[r.IntN(10)] // mostly undotted, so the stream path runs
			}
			randValue(m.PutEmpty(k), depth+1)
		}
	}
	randValue = func(v pcommon.Value, depth int) {
		n := 9
		if depth > 3 {
			n = 6
		}
		switch r.IntN(n) {
		case 0:
			v.SetStr(keys[r.IntN(len(keys))])
		case 1:
			v.SetInt(r.Int64N(100))
		case 2:
			v.SetDouble(r.Float64() * 10)
		case 3:
			v.SetBool(r.IntN(2) == 0)
		case 4:
			v.SetEmptyBytes().FromRaw([]byte{1, 2})
		case 5:
			// Empty
		case 6, 7:
			randMap(v.SetEmptyMap(), depth)
		case 8:
			s := v.SetEmptySlice()
			for range r.IntN(3) {
				randValue(s.AppendEmpty(), depth+1)
			}
		}
	}
	stream, tree := Encoder{}, Encoder{noStream: true}
	res := pcommon.NewResource()
	streamed := 0
	for i := range 20000 {
		rec := plog.NewLogRecord()
		randMap(rec.Attributes(), 0)
		if r.IntN(3) == 0 {
			randValue(rec.Body(), 2)
		}
		if r.IntN(2) == 0 {
			rec.SetSeverityText("info")
		}
		if r.IntN(3) == 0 {
			rec.SetTraceID(pcommon.TraceID{byte(i)})
		}
		if r.IntN(3) == 0 {
			rec.SetSpanID(pcommon.SpanID{byte(i), 1})
		}
		if r.IntN(2) == 0 {
			rec.SetTimestamp(pcommon.Timestamp(r.Int64N(1e18)))
		}
		want := string(tree.Append(nil, res, rec))
		got := string(stream.Append(nil, res, rec))
		require.Equal(t, want, got, "%v", rec.Attributes().AsRaw())
		require.True(t, json.Valid([]byte(got)), got)
		if _, ok := stream.stream(nil, rec); ok {
			streamed++
		}
	}
	assert.Greater(t, streamed, 5000, "the stream path is exercised")
}

// Maps read off the wire can repeat a key; both paths merge them alike.
func TestDuplicateKeysFromWire(t *testing.T) {
	otlp := `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[` +
		`{"key":"a","value":{"stringValue":"1"}},{"key":"b","value":{"intValue":"2"}},` +
		`{"key":"a","value":{"stringValue":"3"}},` +
		`{"key":"m","value":{"kvlistValue":{"values":[{"key":"x","value":{"intValue":"1"}},{"key":"x","value":{"intValue":"2"}}]}}}` +
		`]}]}]}]}`
	var u plog.JSONUnmarshaler
	logs, err := u.UnmarshalLogs([]byte(otlp))
	require.NoError(t, err)
	rec := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	require.Equal(t, 4, rec.Attributes().Len(), "duplicates survive unmarshalling")
	// The first of each, as Map.Get (and so the event model) finds it.
	want := `{"a":"1","b":2,"m":{"x":1}}`
	assert.Equal(t, want, encode(rec))
	tree := Encoder{noStream: true}
	assert.Equal(t, want, string(tree.Append(nil, pcommon.NewResource(), rec)))
}

// One encoder across many times, several in the same second, agrees with
// the time package.
func TestEncodeTimestampReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var e Encoder
	rec := plog.NewLogRecord()
	ns := int64(1772445600) * 1e9
	for range 10000 {
		switch r.IntN(3) {
		case 0:
			ns += r.Int64N(1e6) * 1e3 // same second, mostly
		case 1:
			ns += r.Int64N(1e15)
		case 2:
			ns = r.Int64N(math.MaxInt64)
		}
		rec.SetTimestamp(pcommon.Timestamp(ns))
		want := time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
		if ns%1e6 == 0 {
			want = time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000Z")
		}
		require.Equal(t, `{"@timestamp":"`+want+`"}`, string(e.Append(nil, pcommon.NewResource(), rec)))
	}
}

func TestFormatTime(t *testing.T) {
	base := time.Date(2026, 3, 5, 14, 0, 41, 0, time.UTC).UnixNano()
	assert.Equal(t, "2026-03-05T14:00:41.000Z", FormatTime(base))
	assert.Equal(t, "2026-03-05T14:00:41.262Z", FormatTime(base+262e6))
	assert.Equal(t, "2026-03-05T14:00:41.262000001Z", FormatTime(base+262e6+1))
}
