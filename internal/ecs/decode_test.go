package ecs

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestDecodeValueTypes(t *testing.T) {
	rec := decode(t, `{"s":"x","i":-42,"big":9223372036854775807,"over":9223372036854775808,`+
		`"d":1.5,"e":1e3,"z":-0,"neg":-0.25,"t":true,"f":false,"n":null,`+
		`"o":{"a":{"b":1}},"eo":{},"a":[1,"two",null,{"k":"v"},[true]],"ea":[]}`)
	attrs := rec.Attributes()
	assert.Equal(t, map[string]any{
		"s":    "x",
		"i":    int64(-42),
		"big":  int64(math.MaxInt64),
		"over": 9223372036854775808.0,
		"d":    1.5,
		"e":    1000.0,
		"z":    int64(0),
		"neg":  -0.25,
		"t":    true,
		"f":    false,
		"o":    map[string]any{"a": map[string]any{"b": int64(1)}},
		"eo":   map[string]any{},
		"a":    []any{int64(1), "two", nil, map[string]any{"k": "v"}, []any{true}},
		"ea":   []any{},
	}, attrs.AsRaw())

	// Types, not just values: 1e3 must not come back as an Int.
	v, _ := attrs.Get("e")
	assert.Equal(t, pcommon.ValueTypeDouble, v.Type())
	v, _ = attrs.Get("a")
	assert.Equal(t, pcommon.ValueTypeEmpty, v.Slice().At(2).Type())
	_, ok := attrs.Get("n")
	assert.False(t, ok, "null is left out")
}

func TestDecodeKeepsKeysVerbatim(t *testing.T) {
	rec := decode(t, `{"process.name":"x","process":{"pid":1,"parent.name":"y"},"a\u002eb":2,"\u00e9":"\u00e9\n"}`)
	assert.Equal(t, map[string]any{
		"process.name": "x",
		"process":      map[string]any{"pid": int64(1), "parent.name": "y"},
		"a.b":          int64(2),
		"é":            "é\n",
	}, rec.Attributes().AsRaw())
}

func TestDecodeDuplicateKeysLastWins(t *testing.T) {
	rec := decode(t, `{"a":1,"b":2,"a":3}`)
	assert.Equal(t, map[string]any{"a": int64(3), "b": int64(2)}, rec.Attributes().AsRaw())
	k := []string{}
	for key := range rec.Attributes().All() {
		k = append(k, key)
	}
	assert.Equal(t, []string{"a", "b"}, k, "first position is kept")

	rec = decode(t, `{"a":1,"b":2,"c":3,"a":null,"o":{"x":1,"x":null,"y":2}}`)
	assert.Equal(t, map[string]any{"b": int64(2), "c": int64(3), "o": map[string]any{"y": int64(2)}}, rec.Attributes().AsRaw())
	assert.Equal(t, `{"b":2,"c":3,"o":{"y":2}}`, encode(rec), "a later null removes the key, order kept")
}

func TestDecodeReplacesAttributesKeepsBody(t *testing.T) {
	rec := plog.NewLogRecord()
	rec.Attributes().PutStr("stale", "x")
	rec.Body().SetStr("body")
	rec.SetSeverityText("warn")
	var d Decoder
	require.NoError(t, d.Decode([]byte(`{"a":1}`), rec))
	assert.Equal(t, map[string]any{"a": int64(1)}, rec.Attributes().AsRaw())
	assert.Equal(t, "body", rec.Body().Str())
	assert.Equal(t, "warn", rec.SeverityText())
}

func TestDecodeTimestamp(t *testing.T) {
	ts := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm.UnixNano()
	}
	for _, tc := range []struct {
		in   string
		want int64 // 0: kept as attribute
	}{
		{`"2026-03-02T10:00:00Z"`, ts("2026-03-02T10:00:00Z")},
		{`"2026-03-02T10:00:00.123Z"`, ts("2026-03-02T10:00:00.123Z")},
		{`"2026-03-02T10:00:00.123456789Z"`, ts("2026-03-02T10:00:00.123456789Z")},
		{`"2026-03-02T10:00:00.1234567891Z"`, ts("2026-03-02T10:00:00.123456789Z")},
		{`"2026-03-02T10:00:00.5z"`, ts("2026-03-02T10:00:00.5Z")},
		{`"2026-03-02t10:00:00+02:00"`, ts("2026-03-02T08:00:00Z")},
		{`"2026-03-02T10:00:00.25-05:30"`, ts("2026-03-02T15:30:00.25Z")},
		{`"2024-02-29T23:59:59Z"`, ts("2024-02-29T23:59:59Z")},
		{`"1969-12-31T23:00:00-02:00"`, ts("1970-01-01T01:00:00Z")},
		{`"2262-04-11T23:47:16Z"`, ts("2262-04-11T23:47:16Z")},
		{`1772445600123`, ts("2026-03-02T10:00:00.123Z")},
		{`1772445600123.5`, ts("2026-03-02T10:00:00.1235Z")},
		{`1.772445600123e12`, ts("2026-03-02T10:00:00.123Z")},

		{`"2026-03-02 10:00:00Z"`, 0},
		{`"2026-03-02T10:00:00"`, 0},
		{`"2026-03-02T10:00:00.Z"`, 0},
		{`"2026-02-29T10:00:00Z"`, 0},
		{`"2026-13-02T10:00:00Z"`, 0},
		{`"2026-03-02T24:00:00Z"`, 0},
		{`"2026-03-02T10:00:60Z"`, 0},
		{`"2026-03-02T10:00:00+0200"`, 0},
		{`"2026-03-02T10:00:00+24:00"`, 0},
		{`"1960-01-01T00:00:00Z"`, 0},
		{`"2262-04-11T23:47:16.854775807Z"`, ts("2262-04-11T23:47:16.854775807Z")},
		{`"2262-04-11T23:47:16.854775808Z"`, 0},
		{`"2263-01-01T00:00:00Z"`, 0},
		{`"1970-01-01T00:00:00Z"`, 0},
		{`"yesterday"`, 0},
		{`""`, 0},
		{`-5`, 0},
		{`0`, 0},
		{`true`, 0},
		{`{"x":1}`, 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			doc := `{"@timestamp":` + tc.in + `,"a":1}`
			rec := decode(t, doc)
			v, kept := rec.Attributes().Get("@timestamp")
			if tc.want != 0 {
				assert.Equal(t, pcommon.Timestamp(tc.want), rec.Timestamp())
				assert.False(t, kept)
				return
			}
			assert.Zero(t, rec.Timestamp())
			require.True(t, kept, "an unparsable @timestamp is kept")
			// Kept unchanged: re-encoding gives back the input.
			assert.Equal(t, doc, encode(rec))
			if strings.HasPrefix(tc.in, `"`) {
				assert.Equal(t, pcommon.ValueTypeStr, v.Type())
			}
		})
	}
}

func TestDecodeTimestampOnlyAtTopLevel(t *testing.T) {
	rec := decode(t, `{"event":{"@timestamp":"2026-03-02T10:00:00Z"}}`)
	assert.Zero(t, rec.Timestamp())
	assert.Equal(t, map[string]any{"event": map[string]any{"@timestamp": "2026-03-02T10:00:00Z"}}, rec.Attributes().AsRaw())
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", ``, "empty document"},
		{"blank", " \t\r\n", "empty document"},
		{"array", `[1,2]`, "document is a JSON array, not an object"},
		{"string", `"x"`, "document is a JSON string, not an object"},
		{"number", `12`, "document is a JSON number, not an object"},
		{"null", `null`, "document is a JSON null, not an object"},
		{"true", `true`, "document is a JSON true, not an object"},
		{"truncated", `{"a":1`, "invalid JSON"},
		{"trailing comma", `{"a":1,}`, "invalid JSON"},
		{"unquoted key", `{a:1}`, "invalid JSON"},
		{"two values", `{"a":1} {"b":2}`, "invalid JSON"},
		{"bad literal", `{"a":tru}`, "invalid JSON"},
		{"missing colon", `{"a" 1}`, "invalid JSON"},
		{"bad number", `{"a":1.2.3}`, `field "a": invalid number "1.2.3"`},
		{"leading plus", `{"a":+1}`, `field "a": invalid number "+1"`},
		{"leading zero", `{"a":{"b":[01]}}`, `field "a": invalid number "01"`},
		{"bare fraction", `{"a":.5}`, `invalid number ".5"`},
		{"empty exponent", `{"a":1e}`, `invalid number "1e"`},
		{"NaN", `{"a":NaN}`, `invalid number "NaN"`},
		{"Infinity", `{"a":-Inf}`, `invalid number "-Inf"`},
		{"overflow", `{"a":1e400}`, `field "a": number "1e400" is out of range`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			err := d.Decode([]byte(tc.doc), plog.NewLogRecord())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "ecs: "), err.Error())
		})
	}
}

func TestDecodeAfterErrorRecovers(t *testing.T) {
	var d Decoder
	require.Error(t, d.Decode([]byte(`{"a":1.2.3}`), plog.NewLogRecord()))
	rec := plog.NewLogRecord()
	require.NoError(t, d.Decode([]byte(`{"a":1}`), rec))
	assert.Equal(t, map[string]any{"a": int64(1)}, rec.Attributes().AsRaw())
}

// Strings must outlive the parser's buffer, which each Decode overwrites.
func TestDecoderReuseKeepsEarlierRecords(t *testing.T) {
	var d Decoder
	recs := make([]plog.LogRecord, 0, 3000)
	for i := range cap(recs) {
		rec := plog.NewLogRecord()
		doc := `{"k` + strings.Repeat("x", i%50) + `":"v` + strings.Repeat("y", i%300) + `","esc":"a\"b"}`
		require.NoError(t, d.Decode([]byte(doc), rec))
		recs = append(recs, rec)
	}
	for i, rec := range recs {
		v, ok := rec.Attributes().Get("k" + strings.Repeat("x", i%50))
		require.True(t, ok, i)
		require.Equal(t, "v"+strings.Repeat("y", i%300), v.Str(), i)
		v, _ = rec.Attributes().Get("esc")
		require.Equal(t, `a"b`, v.Str())
	}
}

func TestDecodeLargeString(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	doc := `{"@timestamp":"2026-03-02T10:00:00.000Z","message":"` + big + `","n":1}`
	rec := decode(t, doc)
	v, _ := rec.Attributes().Get("message")
	require.Len(t, v.Str(), 1<<20)
	require.Equal(t, doc, encode(rec))
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in    string
		i     int64
		f     float64
		isInt bool
	}{
		{"0", 0, 0, true},
		{"-0", 0, 0, true},
		{"7", 7, 0, true},
		{"123456789012345678", 123456789012345678, 0, true},
		{"-9223372036854775808", math.MinInt64, 0, true},
		{"-9223372036854775809", 0, -9223372036854775809, false},
		{"0.0", 0, 0, false},
		{"1E+2", 0, 100, false},
		{"1e-2", 0, 0.01, false},
		{"-1.5e-7", 0, -1.5e-7, false},
	} {
		i, f, isInt, ok := parseNumber([]byte(tc.in))
		require.True(t, ok, tc.in)
		assert.Equal(t, tc.isInt, isInt, tc.in)
		assert.Equal(t, tc.i, i, tc.in)
		assert.Equal(t, tc.f, f, tc.in)
	}
	for _, in := range []string{"", "-", "00", "-01", "1.", ".1", "1e", "1e+", "1.e3", "0x10", "1_000", "--1", "1-2", "Infinity", "nan"} {
		_, _, _, ok := parseNumber([]byte(in))
		assert.False(t, ok, in)
	}
}

func TestDecodeNDJSON(t *testing.T) {
	ld, err := DecodeNDJSON(strings.NewReader("{\"a\":1}\n\n{\"b\":\"x\"}\n"))
	require.NoError(t, err)
	assert.Equal(t, 2, ld.LogRecordCount())
	_, err = DecodeNDJSON(strings.NewReader("{\"a\":1}\nnot json\n"))
	assert.ErrorContains(t, err, "line 2")
}
