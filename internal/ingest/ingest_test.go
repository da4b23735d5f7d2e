package ingest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
)

const line = `{"@timestamp":"2026-03-02T00:00:02.104Z","event":{"kind":"event","category":["process"]},"host":{"name":"worker-01"},"process":{"pid":565,"args":["/usr/sbin/cron","-f"]}}`

func newRecs() plog.LogRecordSlice {
	return plog.NewLogs().ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
}

func idOf(t *testing.T, rec plog.LogRecord) string {
	t.Helper()
	v := event.NewView()
	v.Reset(pcommon.NewResource(), rec)
	id, ok := v.Str(event.EventID)
	require.True(t, ok, "the record has an event.id")
	return id
}

// contentID derives the id of rec without its event.id, as the event model
// does for a record that did not come through the decoder.
func contentID(rec plog.LogRecord) string {
	c := plog.NewLogRecord()
	rec.CopyTo(c)
	if ev, ok := c.Attributes().Get("event"); ok && ev.Type() == pcommon.ValueTypeMap {
		ev.Map().Remove("id")
	}
	c.Attributes().Remove("event.id")
	v := event.NewView()
	v.Reset(pcommon.NewResource(), c)
	return v.ContentID()
}

func TestLineKeepsTimeTypesAndGivesTheContentID(t *testing.T) {
	d := NewDecoder(DefaultOptions())
	recs := newRecs()
	res, err := d.Line([]byte(line+"\r\n"), recs)
	require.NoError(t, err)
	require.Equal(t, Decoded, res)
	require.Equal(t, 1, recs.Len())
	rec := recs.At(0)
	assert.Equal(t, "2026-03-02T00:00:02.104Z", rec.Timestamp().AsTime().Format("2006-01-02T15:04:05.000Z"))
	_, hasTS := rec.Attributes().Get("@timestamp")
	assert.False(t, hasTS, "@timestamp is the record time, not an attribute")
	proc, _ := rec.Attributes().Get("process")
	pid, _ := proc.Map().Get("pid")
	assert.Equal(t, pcommon.ValueTypeInt, pid.Type(), "integers stay integers")
	assert.Equal(t, pcommon.ValueTypeEmpty, rec.Body().Type(), "no copy of the raw line")
	ev, _ := rec.Attributes().Get("event")
	_, hasOriginal := ev.Map().Get("original")
	assert.False(t, hasOriginal)
	id := idOf(t, rec)
	assert.Len(t, id, 32)
	assert.Equal(t, contentID(rec), id, "the decoder's id is the event model's")

	// The same line decodes to the same id, every time.
	res, _ = d.Line([]byte(line), recs)
	require.Equal(t, Decoded, res)
	assert.Equal(t, id, idOf(t, recs.At(1)))
}

func TestLineKeepsAnIDOfItsOwn(t *testing.T) {
	d := NewDecoder(DefaultOptions())
	recs := newRecs()
	_, err := d.Line([]byte(`{"event":{"id":"mine"},"a":1}`), recs)
	require.NoError(t, err)
	assert.Equal(t, "mine", idOf(t, recs.At(0)))
	_, err = d.Line([]byte(`{"event.id":"flat","a":1}`), recs)
	require.NoError(t, err)
	assert.Equal(t, "flat", idOf(t, recs.At(1)))
}

func TestLineWithDuplicateKeysGetsTheIDOfWhatWasKept(t *testing.T) {
	d := NewDecoder(DefaultOptions())
	recs := newRecs()
	_, err := d.Line([]byte(`{"a":1,"a":2,"event":{"kind":"x"}}`), recs)
	require.NoError(t, err)
	rec := recs.At(0)
	a, _ := rec.Attributes().Get("a")
	assert.Equal(t, int64(2), a.Int())
	assert.Equal(t, contentID(rec), idOf(t, rec))
}

func TestEventOriginalIsOptInAndLeftOutOfTheID(t *testing.T) {
	plain := newRecs()
	_, err := NewDecoder(DefaultOptions()).Line([]byte(line), plain)
	require.NoError(t, err)

	o := DefaultOptions()
	o.EventOriginal = true
	withOriginal := newRecs()
	_, err = NewDecoder(o).Line([]byte(line+"\n"), withOriginal)
	require.NoError(t, err)
	ev, _ := withOriginal.At(0).Attributes().Get("event")
	orig, ok := ev.Map().Get("original")
	require.True(t, ok)
	assert.Equal(t, line, orig.Str(), "the line without its ending")
	assert.Equal(t, idOf(t, plain.At(0)), idOf(t, withOriginal.At(0)))

	// A document without an "event" object gets one.
	recs := newRecs()
	_, err = NewDecoder(o).Line([]byte(`{"a":1}`), recs)
	require.NoError(t, err)
	ev, _ = recs.At(0).Attributes().Get("event")
	orig, _ = ev.Map().Get("original")
	assert.Equal(t, `{"a":1}`, orig.Str())
}

func TestMalformedLines(t *testing.T) {
	o := DefaultOptions()
	o.MaxLineBytes = 64
	for _, tc := range []struct {
		line, reason string
		kind         Reason
	}{
		{`{"a":`, "invalid JSON", ReasonInvalidJSON},
		{`[1,2]`, "not an object", ReasonNotObject},
		{`{"a":NaN}`, "invalid number", ReasonInvalidValue},
		{`{"a":"` + strings.Repeat("x", 80) + `"}`, "longer than 64 bytes", ReasonTooLong},
	} {
		recs := newRecs()
		res, err := NewDecoder(o).Line([]byte(tc.line), recs)
		require.Equal(t, Malformed, res, tc.line)
		require.ErrorContains(t, err, tc.reason)
		assert.Equal(t, tc.kind, ReasonOf(err), tc.line)
		assert.NotZero(t, recs.At(0).ObservedTimestamp(), "a pipeline error is dated when it was read")
		require.Equal(t, 1, recs.Len(), "on_error send keeps a pipeline error record")
		a := recs.At(0).Attributes()
		ev, _ := a.Get("event")
		kind, _ := ev.Map().Get("kind")
		assert.Equal(t, "pipeline_error", kind.Str())
		orig, _ := ev.Map().Get("original")
		want := tc.line
		if len(want) > 64 {
			want = want[:64]
		}
		assert.Equal(t, want, orig.Str())
		msg, _ := a.Get("error")
		m, _ := msg.Map().Get("message")
		assert.Contains(t, m.Str(), tc.reason)
	}

	o.OnError = OnErrorDrop
	recs := newRecs()
	res, err := NewDecoder(o).Line([]byte(`{"a":`), recs)
	assert.Equal(t, Malformed, res)
	assert.Error(t, err)
	assert.Zero(t, recs.Len(), "on_error drop only counts")

	// A bad line leaves nothing of itself in the next record.
	d := NewDecoder(DefaultOptions())
	recs = newRecs()
	_, _ = d.Line([]byte(`{"left":"over","bad":tru}`), recs)
	_, err = d.Line([]byte(`{"b":1}`), recs)
	require.NoError(t, err)
	_, left := recs.At(1).Attributes().Get("left")
	assert.False(t, left)
}

func TestTooLong(t *testing.T) {
	o := DefaultOptions()
	o.MaxLineBytes = 64
	d := NewDecoder(o)
	recs := newRecs()
	err := d.TooLong([]byte(strings.Repeat("y", 64)), recs)
	require.ErrorContains(t, err, "longer than 64")
	assert.Equal(t, ReasonTooLong, ReasonOf(err))
	require.Equal(t, 1, recs.Len())
}

func TestBlankAndBOM(t *testing.T) {
	d := NewDecoder(DefaultOptions())
	recs := newRecs()
	for _, l := range []string{"", "\n", "  \t\r\n"} {
		res, err := d.Line([]byte(l), recs)
		require.NoError(t, err)
		assert.Equal(t, Blank, res)
	}
	res, err := d.Line([]byte("\xEF\xBB\xBF{\"a\":1}\n"), recs)
	require.NoError(t, err)
	assert.Equal(t, Decoded, res)
	assert.Equal(t, 1, recs.Len())
}

func TestValidate(t *testing.T) {
	require.NoError(t, DefaultOptions().Validate())
	o := DefaultOptions()
	o.MaxLineBytes = 10
	assert.ErrorContains(t, o.Validate(), "max_line_bytes")
	o = DefaultOptions()
	o.MaxLineBytes = MaxMaxLineBytes + 1
	assert.ErrorContains(t, o.Validate(), "max_line_bytes")
	o = DefaultOptions()
	o.OnError = "ignore"
	assert.ErrorContains(t, o.Validate(), "on_error")
	o = Options{}
	err := o.Validate()
	for _, opt := range []string{"max_line_bytes", "on_error", "max_values"} {
		assert.ErrorContains(t, err, opt, "every bad option is reported")
	}
}

// A document's values are bounded, not only its bytes: a long line of tiny
// array elements is refused before it is parsed.
func TestTooManyValues(t *testing.T) {
	o := DefaultOptions()
	o.MaxValues = 100
	d := NewDecoder(o)
	recs := newRecs()
	many := `{"a":[` + strings.Repeat("1,", 150) + `1]}`
	res, err := d.Line([]byte(many), recs)
	assert.Equal(t, Malformed, res)
	assert.Equal(t, ReasonTooManyValues, ReasonOf(err))
	assert.ErrorContains(t, err, "more than 100 values")

	// Commas inside strings are not values.
	text := `{"a":"` + strings.Repeat(",", 300) + `"}`
	res, err = d.Line([]byte(text), recs)
	assert.Equal(t, Decoded, res, "%v", err)

	// The default lets a 15 MB line of 7.5 million elements through the
	// byte cap of 16 MB but not into the parser.
	o = DefaultOptions()
	o.MaxLineBytes = 16 << 20
	big := make([]byte, 0, 15<<20+16)
	big = append(big, `{"a":[`...)
	for len(big) < 15<<20 {
		big = append(big, "1,"...)
	}
	big = append(big, `1]}`...)
	res, err = NewDecoder(o).Line(big, newRecs())
	assert.Equal(t, Malformed, res)
	assert.Equal(t, ReasonTooManyValues, ReasonOf(err))
}
