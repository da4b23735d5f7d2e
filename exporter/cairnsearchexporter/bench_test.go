package cairnsearchexporter

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// BenchmarkEncode is the exporter's per-document CPU cost on the scenario
// events: routing, the action line and ECS encoding of each record into a
// _bulk body. The records already carry their event.id and data_stream.*
// (as after the first attempt, or when the processors numbered them).
// Reports documents per second on one goroutine.
func BenchmarkEncode(b *testing.B) {
	ld := logsOf(b, scenarioLines(b, 0)...)
	enc := newDocEncoder(createDefaultConfig().(*Config))
	var bt batch
	enc.encode(ld, &bt) // first pass writes ids and data_stream.*
	n := ld.LogRecordCount()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bt.reset()
		enc.encode(ld, &bt)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(len(bt.buf))/float64(n), "bytes/doc")
}

// BenchmarkEncodeFresh adds what a record without event.id costs: the
// content-derived id and the data_stream.* fields written into the record.
// Copying the input records is excluded from the timing.
func BenchmarkEncodeFresh(b *testing.B) {
	src := logsOf(b, scenarioLines(b, 0)...)
	enc := newDocEncoder(createDefaultConfig().(*Config))
	var bt batch
	n := src.LogRecordCount()
	ld := plog.NewLogs()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		src.CopyTo(ld)
		b.StartTimer()
		bt.reset()
		enc.encode(ld, &bt)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
