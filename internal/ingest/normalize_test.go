package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/normalize"
)

const captures = "../normalize/testdata/"

// tetragonLine reads one of the report's captures as the single line
// Tetragon's export writes.
func tetragonLine(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(captures + "tetragon/security-observability-with-ebpf/" + rel)
	require.NoError(t, err)
	var c bytes.Buffer
	require.NoError(t, json.Compact(&c, b))
	return c.Bytes()
}

func withFormat(f string) Options {
	o := DefaultOptions()
	o.Format = f
	return o
}

// snapshot is what a record says: its time, attributes and body.
func snapshot(rec plog.LogRecord) string {
	return fmt.Sprintf("%d %d %v %v", rec.Timestamp(), rec.ObservedTimestamp(), rec.Attributes().AsRaw(), rec.Body().AsRaw())
}

// Format ecs, empty or left at its default decodes exactly as before, and
// auto decodes ECS documents exactly as ecs does.
func TestECSLinesDecodeAlikeInEveryFormat(t *testing.T) {
	lines := []string{
		line,
		`{"event":{"id":"mine"},"a":1}`,
		`{"a":1,"a":2,"event":{"kind":"x"}}`,
		`{"process":{"args":["a"]},"n":1.5,"big":123456789012345678901234567890}`,
		`not json`,
		`[1,2]`,
		`{"a":`,
		``,
		`{"process_exec":"not an object","@timestamp":"2026-03-02T00:00:02Z"}`,
		`{"ts":"x","note":"an ECS document with a ts field"}`,
	}
	decodeAll := func(o Options) []string {
		d := NewDecoder(o)
		recs := newRecs()
		var out []string
		for _, l := range lines {
			before := recs.Len()
			res, err := d.Line([]byte(l), recs)
			s := fmt.Sprintf("%d %v", res, err)
			for i := before; i < recs.Len(); i++ {
				rec := recs.At(i)
				if res == Malformed {
					rec.SetObservedTimestamp(0) // the time it was read
				}
				s += " " + snapshot(rec)
			}
			out = append(out, s)
		}
		return out
	}
	want := decodeAll(DefaultOptions())
	assert.Equal(t, FormatECS, DefaultOptions().Format)
	assert.Equal(t, want, decodeAll(withFormat("")))
	assert.Equal(t, want, decodeAll(withFormat(normalize.FormatAuto)))
	assert.Nil(t, NewDecoder(DefaultOptions()).FormatCounts())
}

// A Tetragon line becomes the normalised event; its content id is summed
// over the normalised document while decoding it, so it is the event
// model's id of the record and the same for the same line, and it is the
// id the document itself would get as an ECS line.
func TestTetragonLineGetsTheIDOfItsNormalisedDocument(t *testing.T) {
	raw := tetragonLine(t, "00_process_lifecycle/nc_process_exec.json")
	for _, f := range []string{normalize.FormatTetragon, normalize.FormatAuto} {
		d := NewDecoder(withFormat(f))
		recs := newRecs()
		res, err := d.Line(append(raw, '\n'), recs)
		require.NoError(t, err)
		require.Equal(t, Decoded, res)
		rec := recs.At(0)
		assert.Equal(t, "2022-02-01T18:01:56.411Z", rec.Timestamp().AsTime().Format("2006-01-02T15:04:05.000Z"))
		proc, ok := rec.Attributes().Get("process")
		require.True(t, ok)
		exe, _ := proc.Map().Get("executable")
		assert.Equal(t, "/usr/bin/nc", exe.Str())
		id := idOf(t, rec)
		assert.Equal(t, contentID(rec), id, "the decoder's id is the event model's")

		_, err = d.Line(raw, recs)
		require.NoError(t, err)
		assert.Equal(t, id, idOf(t, recs.At(1)), "the same line, the same id")

		n, err := normalize.New(f)
		require.NoError(t, err)
		doc, _, err := n.Record(raw)
		require.NoError(t, err)
		ecs := newRecs()
		_, err = NewDecoder(DefaultOptions()).Line(doc, ecs)
		require.NoError(t, err)
		assert.Equal(t, snapshot(ecs.At(0)), snapshot(rec), "the record of the normalised document, as an ECS line")

		o := withFormat(f)
		o.EventOriginal = true
		orig := newRecs()
		_, err = NewDecoder(o).Line(raw, orig)
		require.NoError(t, err)
		ev, _ := orig.At(0).Attributes().Get("event")
		original, _ := ev.Map().Get("original")
		assert.Equal(t, string(raw), original.Str(), "event.original keeps the native line")
		assert.Equal(t, id, idOf(t, orig.At(0)), "and stays out of the id")

		assert.Equal(t, []normalize.Count{{Format: "tetragon", Type: "process_exec", Kind: normalize.Normalized, N: 2}}, d.FormatCounts())
	}
}

func TestZeekTSVThroughTheDecoder(t *testing.T) {
	b, err := os.ReadFile(captures + "zeek/dns.log")
	require.NoError(t, err)
	d := NewDecoder(withFormat(normalize.FormatZeek))
	recs := newRecs()
	counts := map[Result]int{}
	for _, l := range strings.SplitAfter(string(b), "\n") {
		res, err := d.Line([]byte(l), recs)
		require.NoError(t, err)
		counts[res]++
	}
	assert.Equal(t, map[Result]int{Decoded: 4, Blank: 10}, counts, "8 header lines, #close and the empty tail are blank")
	q, _ := recs.At(0).Attributes().Get("dns")
	question, _ := q.Map().Get("question")
	name, _ := question.Map().Get("name")
	assert.Equal(t, "virgo.sas.upenn.edu", name.Str())

	// A row that does not fit its header is malformed, in its place.
	res, err := d.Line([]byte("1533309955.393636\tC1\t35.184.172.191"), recs)
	assert.Equal(t, Malformed, res)
	assert.Equal(t, ReasonInvalidValue, ReasonOf(err))
	last := recs.At(recs.Len() - 1)
	ev, _ := last.Attributes().Get("event")
	kind, _ := ev.Map().Get("kind")
	assert.Equal(t, "pipeline_error", kind.Str())

	// Inputs read in turn keep their headers apart with UseStream.
	var s1, s2 normalize.Stream
	d = NewDecoder(withFormat(normalize.FormatAuto))
	conn, _ := os.ReadFile(captures + "zeek/conn-wiki.log")
	cl := strings.SplitAfter(string(conn), "\n")
	dl := strings.SplitAfter(string(b), "\n")
	recs = newRecs()
	for i := 0; i < len(cl) || i < len(dl); i++ {
		if i < len(cl) {
			d.UseStream(&s1)
			_, err := d.Line([]byte(cl[i]), recs)
			require.NoError(t, err)
		}
		if i < len(dl) {
			d.UseStream(&s2)
			_, err := d.Line([]byte(dl[i]), recs)
			require.NoError(t, err)
		}
	}
	assert.Equal(t, 34+4, recs.Len())
}

// The normalised document is bounded like a line: a Zeek set written with a
// separator other than the comma escapes the line's check.
func TestNormalisedDocumentIsBoundedToo(t *testing.T) {
	o := withFormat(normalize.FormatZeek)
	o.MaxValues = 100
	d := NewDecoder(o)
	recs := newRecs()
	for _, h := range []string{"#separator \\x09", "#set_separator\t;", "#path\tx509", "#fields\tts\tsan", "#types\ttime\tset[string]"} {
		res, err := d.Line([]byte(h), recs)
		require.NoError(t, err)
		require.Equal(t, Blank, res)
	}
	res, err := d.Line([]byte("1.5\t"+strings.Repeat("a;", 500)+"a"), recs)
	assert.Equal(t, Malformed, res)
	assert.Equal(t, ReasonTooManyValues, ReasonOf(err))
	res, err = d.Line([]byte("1.5\ta;b"), recs)
	require.NoError(t, err)
	assert.Equal(t, Decoded, res)
}

func TestFormatOption(t *testing.T) {
	for _, f := range append(normalize.Names(), "") {
		assert.NoError(t, withFormat(f).Validate(), f)
	}
	err := withFormat("syslog").Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `format must be one of ecs, tetragon, zeek, falco, sysmon, auto, got "syslog"`)

	// A decoder made with options that were not validated refuses every
	// line rather than guess.
	d := NewDecoder(withFormat("syslog"))
	recs := newRecs()
	res, err := d.Line([]byte(line), recs)
	assert.Equal(t, Malformed, res)
	assert.Error(t, err)
}
