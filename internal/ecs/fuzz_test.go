package ecs

import (
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// FuzzDecodeEncode feeds arbitrary bytes to the Decoder. Whatever it accepts
// must encode to valid JSON, the same on the streaming and the tree path,
// and the output must be a fixed point: decoding and encoding it again gives
// it back unchanged.
func FuzzDecodeEncode(f *testing.F) {
	for _, doc := range []string{
		processStartEvent,
		networkEvent,
		`{"process.name":"a","process":{"pid":1},"host":"x","host.name":"y"}`,
		`{"@timestamp":1772445600123,"a":[1,null,{"b.c":true}],"e":{}}`,
		`{"s":"\u2028\ud83c\udf89\u0000\"\\","n":-1.5e-7,"i":9223372036854775807}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var d Decoder
		rec := plog.NewLogRecord()
		if err := d.Decode(doc, rec); err != nil {
			return
		}
		// Vary the record-level fields too, from something the fuzzer
		// controls.
		flags := len(doc)
		if flags&1 != 0 {
			rec.SetSeverityText("warn")
		}
		if flags&2 != 0 {
			rec.SetTraceID(pcommon.TraceID{1, 2})
			rec.SetSpanID(pcommon.SpanID{3})
		}
		if flags&4 != 0 {
			rec.Body().SetStr("body")
		}
		res := pcommon.NewResource()
		if flags&8 != 0 {
			res.Attributes().PutStr("service.name", "fuzz")
		}

		var e Encoder
		out := e.Append(nil, res, rec)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, doc)
		}
		tree := Encoder{noStream: true}
		if treeOut := tree.Append(nil, res, rec); string(treeOut) != string(out) {
			t.Fatalf("stream and tree differ:\n%s\n%s", out, treeOut)
		}
		// The same with the fields a writer adds.
		if flags&16 != 0 {
			x := &Extra{ID: "id1", Dataset: "cairn.events", Ingested: "2026-01-01T00:00:00.000Z", ECSVersion: "9.9.9",
				DataStreamType: "logs", DataStreamDataset: "cairn.events", DataStreamNamespace: "default", Now: 1}
			withX := e.AppendDoc(nil, res, rec, x)
			if !json.Valid(withX) {
				t.Fatalf("invalid JSON %q from %q", withX, doc)
			}
			if treeX := tree.AppendDoc(nil, res, rec, x); string(treeX) != string(withX) {
				t.Fatalf("stream and tree differ with extras:\n%s\n%s", withX, treeX)
			}
		}

		again := plog.NewLogRecord()
		if err := d.Decode(out, again); err != nil {
			if strings.Contains(err.Error(), "depth") {
				return // expanding dotted keys can nest past the parser's limit
			}
			t.Fatalf("cannot decode own output %q: %v", out, err)
		}
		if out2 := e.Append(nil, pcommon.NewResource(), again); string(out2) != string(out) {
			t.Fatalf("not a fixed point:\n%s\n%s", out, out2)
		}
	})
}
