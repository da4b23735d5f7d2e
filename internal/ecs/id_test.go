package ecs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
)

// viewID is the content id internal/event derives from a decoded record.
func viewID(rec plog.LogRecord) string {
	v := event.NewView()
	v.Reset(pcommon.NewResource(), rec)
	return v.ContentID()
}

var idDocs = []string{
	processStartEvent,
	networkEvent,
	`{"a":1}`,
	`{"@timestamp":"2026-03-02T14:00:00Z","event":{"id":"x","original":"raw","kind":"event"},"cairn":{"signals":["s"]},"cairn.x":1,"event.id":"y"}`,
	`{"event":"scalar","a":[1,null,{"b.c":true},[2.5,"s"]],"e":{},"f":[]}`,
	`{"process.name":"a","process":{"pid":1},"host":"x","host.name":"y"}`,
	`{"big":"` + string(make([]byte, 0)) + `` + repeat("x", 3000) + `"}`,
	`{"a":1,"a":2}`,
	`{"a":{"b":1,"b":null}}`,
	`{"event":{"kind":"a","kind":"b"}}`,
	`{"@timestamp":1772445600123,"n":-1.5e-7,"i":9223372036854775807,"t":true,"f":false}`,
}

func repeat(s string, n int) string {
	b := make([]byte, 0, n*len(s))
	for i := 0; i < n; i++ {
		b = append(b, s...)
	}
	return string(b)
}

func TestDecodeIDMatchesView(t *testing.T) {
	for _, doc := range idDocs {
		var d Decoder
		rec := plog.NewLogRecord()
		res, err := d.DecodeID([]byte(doc), rec)
		require.NoError(t, err, doc)
		if !res.Summed {
			continue
		}
		got := string(res.Sum.AppendHex(nil))
		assert.Equal(t, viewID(rec), got, doc)
	}
}

func TestDecodeIDSpotsDuplicatesAndOwnIDs(t *testing.T) {
	cases := []struct {
		doc           string
		summed, hasID bool
	}{
		{`{"a":1}`, true, false},
		{`{"a":1,"a":2}`, false, false},
		{`{"a":{"b":1,"b":null}}`, false, false},
		{`{"event":{"kind":"a","kind":"b"}}`, false, false},
		{`{"a":[{"b":1,"b":2}]}`, false, false},
		{`{"event":{"id":"x"}}`, true, true},
		{`{"event.id":"x"}`, true, true},
		{`{"event":{"id":5}}`, true, false},
	}
	for _, c := range cases {
		var d Decoder
		res, err := d.DecodeID([]byte(c.doc), plog.NewLogRecord())
		require.NoError(t, err, c.doc)
		assert.Equal(t, c.summed, res.Summed, "summed: %s", c.doc)
		assert.Equal(t, c.hasID, res.HasID, "hasID: %s", c.doc)
	}
}

// FuzzDecodeID: whenever the decoder could sum the content on the way, its
// id is the one the event model derives from the record.
func FuzzDecodeID(f *testing.F) {
	for _, doc := range idDocs {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var d Decoder
		rec := plog.NewLogRecord()
		res, err := d.DecodeID(doc, rec)
		if err != nil || !res.Summed {
			return
		}
		if got, want := string(res.Sum.AppendHex(nil)), viewID(rec); got != want {
			t.Fatalf("decoder id %s, view id %s for %q", got, want, doc)
		}
	})
}
