package ecs

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
)

// agreeDocs have one field written several ways: the document must hold
// what the processors read.
var agreeDocs = []string{
	`{"host.name":"decoy-01","host":{"name":"web-03"}}`,
	`{"host":{"name":"web-03"},"host.name":"decoy-01"}`,
	`{"a":{"b":{"c":1}},"a.b":{"c":2},"a.b.c":3}`,
	`{"a.b":{"c":2},"a":{"b.c":3,"b":{"c":4}}}`,
	`{"process":{"executable":"/bin/x","args":["a"]},"process.executable":"/tmp/y","process.args":["b","c"]}`,
	processStartEvent,
	networkEvent,
}

// TestEncoderAgreesWithEventModel: every leaf of the document is the value
// internal/event reads for its path, whatever the order and shape of the
// record's duplicates, and wherever (attributes, body, resource) they are.
func TestEncoderAgreesWithEventModel(t *testing.T) {
	for _, doc := range agreeDocs {
		for shape := 0; shape < 4; shape++ {
			checkAgreement(t, []byte(doc), shape)
		}
	}
}

func FuzzEncoderAgreesWithEventModel(f *testing.F) {
	for _, doc := range agreeDocs {
		f.Add([]byte(doc), uint8(0))
		f.Add([]byte(doc), uint8(3))
	}
	f.Fuzz(func(t *testing.T, doc []byte, shape uint8) {
		checkAgreement(t, doc, int(shape%4))
	})
}

// checkAgreement decodes doc and, by shape, also copies its fields into a
// Map body (1), the resource (2) or both (3) with different values, then
// compares each leaf of the encoded document with the event model's read.
func checkAgreement(t *testing.T, doc []byte, shape int) {
	t.Helper()
	var d Decoder
	rec := plog.NewLogRecord()
	if err := d.Decode(doc, rec); err != nil {
		return
	}
	res := pcommon.NewResource()
	if shape&1 != 0 {
		body := rec.Body().SetEmptyMap()
		rec.Attributes().CopyTo(body)
		body.PutStr("body.only", "b")
		rec.Attributes().Range(func(k string, v pcommon.Value) bool {
			if v.Type() == pcommon.ValueTypeStr {
				body.PutStr(k, "from-body")
			}
			return true
		})
	}
	if shape&2 != 0 {
		rec.Attributes().CopyTo(res.Attributes())
		res.Attributes().Range(func(k string, v pcommon.Value) bool {
			if v.Type() == pcommon.ValueTypeStr {
				res.Attributes().PutStr(k, "from-resource")
			}
			return true
		})
	}
	for _, noStream := range []bool{false, true} {
		e := Encoder{noStream: noStream}
		out := e.Append(nil, res, rec)
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid output %s", out)
		}
		v := event.NewView()
		v.Reset(res, rec)
		walkLeaves(got, "", func(path string, val any) {
			if path == "@timestamp" || path == "message" || strings.HasSuffix(path, ".value") || path == "value" {
				return // the record's time and body text; leaf/object conflicts
			}
			want, ok := v.Get(event.Lookup(path))
			if !ok {
				return // a name the event model reads through an alias first, or not at all
			}
			var w any
			raw, _ := json.Marshal(want.AsRaw())
			_ = json.Unmarshal(raw, &w)
			if !reflect.DeepEqual(w, val) {
				t.Fatalf("%s: document has %v, the event model reads %v (doc %s, shape %d, tree %v)\n%s", path, val, w, doc, shape, noStream, out)
			}
		})
	}
}

// walkLeaves calls fn with the dotted path of every non-object value;
// paths that cannot be read back unambiguously (a key with a dot, an empty
// key) are passed over.
func walkLeaves(m map[string]any, prefix string, fn func(string, any)) {
	for k, v := range m {
		if k == "" || strings.Contains(k, ".") {
			continue
		}
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			walkLeaves(sub, p, fn)
			continue
		}
		fn(p, v)
	}
}
