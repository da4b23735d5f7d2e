package filereceiver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/ingest"
)

// benchLines is the size of the benchmark file: about 500 bytes a line
// (the ECS process event of doc()), 24 MB in all.
const benchLines = 50_000

func benchFile(b *testing.B) (string, []byte) {
	b.Helper()
	var buf bytes.Buffer
	for i := range benchLines {
		buf.WriteString(doc("bench", i))
	}
	path := filepath.Join(b.TempDir(), "bench.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, buf.Bytes()
}

// perLine reports the time, allocations and rate per line of a benchmark
// whose every iteration handles benchLines lines.
func perLine(b *testing.B, run func()) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		run()
		n++
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	lines := float64(n * benchLines)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/lines, "ns/line")
	b.ReportMetric(lines/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/lines, "allocs/line")
}

// BenchmarkReader: the receiver's reading path on one file: poll, large
// reads, line splitting, decoding into batches of max_batch_events, the
// checkpoint of each batch. Batches are handed to a goroutine that drops
// them.
func BenchmarkReader(b *testing.B) {
	path, content := benchFile(b)
	// The file's content stays alive, as in BenchmarkDecodeOnly (which
	// decodes from it): the same live heap, so the same GC pacing.
	defer runtime.KeepAlive(content)
	cfg := createDefaultConfig().(*Config)
	cfg.Include = []string{path}
	cfg.StartAt = StartAtBeginning
	ctx := context.Background()
	perLine(b, func() {
		out := make(chan *batch)
		done := make(chan int)
		go func() {
			n := 0
			for bt := range out {
				n += bt.n
			}
			done <- n
		}()
		r := newReader(cfg, zap.NewNop(), new(counters), out, readBufferSize)
		r.poll(time.Now())
		for {
			progress, ok := r.readRound(ctx)
			if !ok || !progress {
				break
			}
		}
		r.handOff(ctx)
		r.closeAll()
		close(out)
		if got := <-done; got != benchLines {
			b.Fatalf("read %d records, want %d", got, benchLines)
		}
	})
}

// BenchmarkReaderNoDecode: BenchmarkReader with a decoder that does
// nothing (every line taken for blank): the cost of the reader itself,
// reads, line splitting and per-line bookkeeping.
func BenchmarkReaderNoDecode(b *testing.B) {
	path, content := benchFile(b)
	defer runtime.KeepAlive(content)
	cfg := createDefaultConfig().(*Config)
	cfg.Include = []string{path}
	cfg.StartAt = StartAtBeginning
	ctx := context.Background()
	perLine(b, func() {
		out := make(chan *batch, 1)
		r := newReader(cfg, zap.NewNop(), new(counters), out, readBufferSize)
		lines := 0
		r.decode = func([]byte, plog.LogRecordSlice) (ingest.Result, error) {
			lines++
			return ingest.Blank, nil
		}
		r.poll(time.Now())
		for {
			progress, ok := r.readRound(ctx)
			if !ok || !progress {
				break
			}
		}
		r.closeAll()
		if lines != benchLines {
			b.Fatalf("read %d lines, want %d", lines, benchLines)
		}
	})
}

// BenchmarkDecodeOnly: the same lines, already split in memory, through
// ingest.Decoder into batches of the same size: what the reader costs is
// BenchmarkReader less this.
func BenchmarkDecodeOnly(b *testing.B) {
	_, content := benchFile(b)
	lines := bytes.SplitAfter(content, []byte("\n"))
	lines = lines[:len(lines)-1]
	cfg := createDefaultConfig().(*Config)
	dec := ingest.NewDecoder(IngestOptions(cfg))
	perLine(b, func() {
		var recs plog.LogRecordSlice
		n := 0
		for i, l := range lines {
			if i%cfg.MaxBatchEvents == 0 {
				recs = plog.NewLogs().ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
				recs.EnsureCapacity(cfg.MaxBatchEvents)
			}
			if res, _ := dec.Line(l, recs); res == ingest.Decoded {
				n++
			}
		}
		if n != benchLines {
			b.Fatalf("decoded %d", n)
		}
	})
}

// countingConsumer counts the records it is handed.
type countingConsumer struct {
	recorder
	n atomic.Int64
}

func (c *countingConsumer) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.n.Add(int64(ld.LogRecordCount()))
	return nil
}

// BenchmarkReceiver: the whole receiver, started and shut down around one
// file, delivering to a consumer that counts (the reading and the
// delivery goroutines overlap).
func BenchmarkReceiver(b *testing.B) {
	path, content := benchFile(b)
	defer runtime.KeepAlive(content)
	cfg := createDefaultConfig().(*Config)
	cfg.Include = []string{path}
	cfg.StartAt = StartAtBeginning
	cfg.PollInterval = time.Millisecond
	perLine(b, func() {
		next := new(countingConsumer)
		r, err := newReceiver(settings(), cfg, next)
		if err != nil {
			b.Fatal(err)
		}
		r.set.Logger = zap.NewNop()
		if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		for next.n.Load() < benchLines {
			time.Sleep(100 * time.Microsecond)
		}
		if err := r.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}
