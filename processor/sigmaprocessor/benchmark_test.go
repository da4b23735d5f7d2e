package sigmaprocessor

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
)

// BenchmarkScenario runs the bundled scenario (testdata/scenario: 5,828
// events of a 12-host fleet, process starts, connections and DNS answers)
// through the processor with the curated rule set, as one batch: what the
// processor adds per event, nearly all of it for events no rule matches
// (one does: gs-netcat started from /tmp).
//
//	go test -run XXX -bench BenchmarkScenario -benchtime 200x ./processor/sigmaprocessor/
func BenchmarkScenario(b *testing.B) { benchBatch(b, bundledScenario(b)) }

// BenchmarkNoMatch is a batch of 1,000 events of the generated fleet
// without the attack (as intel's BenchmarkNoMatch): no event matches, and
// the batch is the size a collector's receivers hand over.
func BenchmarkNoMatch(b *testing.B) {
	var buf bytes.Buffer
	cfg := scenario.Default()
	cfg.Attack = false
	_, err := scenario.Generate(cfg, &buf)
	require.NoError(b, err)
	var lines []string
	for _, l := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(l) > 0 && len(lines) < 1000 {
			lines = append(lines, string(l))
		}
	}
	benchBatch(b, decode(b, lines...))
}

func benchBatch(b *testing.B, ld plog.Logs) {
	f := newFixture(b, defaultConfig(), nil)
	n := ld.LogRecordCount()
	ctx := context.Background()
	if _, err := f.p.processLogs(ctx, ld); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	runtime.ReadMemStats(&before)
	for i := 0; i < b.N; i++ {
		if _, err := f.p.processLogs(ctx, ld); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/event")
}
