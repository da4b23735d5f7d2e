package ecs

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

var benchEvents = []struct{ name, doc string }{
	{"process_start", processStartEvent},
	{"network", networkEvent},
}

func TestBenchEventsAreRealistic(t *testing.T) {
	for _, ev := range benchEvents {
		rec := decode(t, ev.doc)
		n := leafCount(rec.Attributes()) + 1 // + @timestamp
		require.GreaterOrEqual(t, len(ev.doc), 550, ev.name)
		require.LessOrEqual(t, len(ev.doc), 700, ev.name)
		require.GreaterOrEqual(t, n, 20, ev.name)
		require.LessOrEqual(t, n, 40, ev.name)
		t.Logf("%s: %d bytes, %d leaves", ev.name, len(ev.doc), n)
	}
}

func BenchmarkDecode(b *testing.B) {
	benchDecode(b, func(d *Decoder, doc []byte, rec plog.LogRecord) error { return d.Decode(doc, rec) })
}

// BenchmarkDecodeID is Decode that also sums the content id, as the
// pipelines decode (internal/ingest).
func BenchmarkDecodeID(b *testing.B) {
	benchDecode(b, func(d *Decoder, doc []byte, rec plog.LogRecord) error {
		_, err := d.DecodeID(doc, rec)
		return err
	})
}

func benchDecode(b *testing.B, decode func(*Decoder, []byte, plog.LogRecord) error) {
	for _, ev := range benchEvents {
		b.Run(ev.name, func(b *testing.B) {
			doc := []byte(ev.doc)
			var d Decoder
			// Records are what the replay tool appends to a batch; the
			// batch is recycled so that the benchmark measures decoding.
			logs := plog.NewLogs()
			recs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if recs.Len() == 1024 {
					recs.RemoveIf(func(plog.LogRecord) bool { return true })
				}
				if err := decode(&d, doc, recs.AppendEmpty()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, ev := range benchEvents {
		rec := decode(b, ev.doc)
		// The replay tool has no resource attributes and takes the
		// streaming path; an exporter usually has some, which forces the
		// merge tree.
		withResource := pcommon.NewResource()
		withResource.Attributes().PutStr("service.name", "edr")
		for _, res := range []struct {
			name string
			res  pcommon.Resource
		}{{"", pcommon.NewResource()}, {"_tree", withResource}} {
			b.Run(ev.name+res.name, func(b *testing.B) {
				var e Encoder
				buf := e.Append(nil, res.res, rec)
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					buf = e.Append(buf[:0], res.res, rec)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkDecodeEncode is the replay loop without processors: one NDJSON
// line in, one out.
func BenchmarkDecodeEncode(b *testing.B) {
	for _, ev := range benchEvents {
		b.Run(ev.name, func(b *testing.B) {
			doc := []byte(ev.doc)
			var d Decoder
			var e Encoder
			logs := plog.NewLogs()
			rl := logs.ResourceLogs().AppendEmpty()
			recs := rl.ScopeLogs().AppendEmpty().LogRecords()
			var buf []byte
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if recs.Len() == 1024 {
					recs.RemoveIf(func(plog.LogRecord) bool { return true })
				}
				rec := recs.AppendEmpty()
				if err := d.Decode(doc, rec); err != nil {
					b.Fatal(err)
				}
				buf = e.Append(buf[:0], rl.Resource(), rec)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// The baselines put the figures above in proportion on whatever machine runs
// them: parsing alone with fastjson, and building the same record with
// pdata's own CopyTo, are what Decode cannot avoid.
func BenchmarkBaselineParse(b *testing.B) {
	for _, ev := range benchEvents {
		b.Run(ev.name, func(b *testing.B) {
			doc := []byte(ev.doc)
			var p fastjson.Parser
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.ParseBytes(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBaselineCopy(b *testing.B) {
	for _, ev := range benchEvents {
		b.Run(ev.name, func(b *testing.B) {
			src := decode(b, ev.doc)
			logs := plog.NewLogs()
			recs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			b.ReportAllocs()
			for b.Loop() {
				if recs.Len() == 1024 {
					recs.RemoveIf(func(plog.LogRecord) bool { return true })
				}
				src.CopyTo(recs.AppendEmpty())
			}
		})
	}
}

// BenchmarkEncodeDoc is Encode with the fields every writer adds
// (internal/document) and the exporter's bookkeeping.
func BenchmarkEncodeDoc(b *testing.B) {
	x := &Extra{ID: "0123456789abcdef0123456789abcdef", Dataset: "cairn.events", Ingested: "2026-03-05T00:00:00.000Z",
		ECSVersion: "8.17.0", DataStreamType: "logs", DataStreamDataset: "cairn.events", DataStreamNamespace: "default"}
	for _, ev := range benchEvents {
		rec := decode(b, ev.doc)
		b.Run(ev.name, func(b *testing.B) {
			var e Encoder
			buf := e.AppendDoc(nil, pcommon.NewResource(), rec, x)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = e.AppendDoc(buf[:0], pcommon.NewResource(), rec, x)
			}
		})
	}
}
