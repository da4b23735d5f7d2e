package cairnsearchexporter

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"
	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/testkit"
)

// BenchmarkEncode is the exporter's per-document CPU cost on the scenario
// events as the cairn_file receiver decodes them (internal/ingest: each
// carries its event.id): routing, the action line and the ECS encoding of
// each record, with the fields every document gets, into a _bulk body.
// Reports documents per second on one goroutine.
func BenchmarkEncode(b *testing.B) {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	dec := ingest.NewDecoder(ingest.DefaultOptions())
	for _, line := range scenarioLines(b, 0) {
		if _, err := dec.Line(line, recs); err != nil {
			b.Fatal(err)
		}
	}
	enc := newDocEncoder(createDefaultConfig().(*Config))
	var bt batch
	n := ld.LogRecordCount()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bt.reset()
		enc.encode(ld, &bt)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n)/float64(b.N), "ns/doc")
	b.ReportMetric(float64(len(bt.buf))/float64(n), "bytes/doc")
}

// BenchmarkEncodeFresh adds what a record without event.id costs (one that
// came over OTLP, or from cairn_host): the content-derived id, worked out
// from the record by the encoder.
func BenchmarkEncodeFresh(b *testing.B) {
	ld := logsOf(b, scenarioLines(b, 0)...)
	enc := newDocEncoder(createDefaultConfig().(*Config))
	var bt batch
	n := ld.LogRecordCount()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bt.reset()
		enc.encode(ld, &bt)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n)/float64(b.N), "ns/doc")
}

// cpuTime is the CPU time (user and system) the process has used: the
// durable paths work in background goroutines too (queue consumers, spool
// readers, the garbage collector), which wall time per call would miss.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report writes the per-document figures: ns/doc is the wall time of the
// ConsumeLogs calls (what the pipeline waits), cpu-ns/doc the CPU the
// process spent, background work included, until everything was through.
func report(b *testing.B, docs int, wall, cpu time.Duration) {
	b.ReportMetric(float64(wall.Nanoseconds())/float64(docs), "ns/doc")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(docs), "cpu-ns/doc")
	b.ReportMetric(0, "ns/op") // per call is meaningless here
}

// BenchmarkDurable compares the CPU each durable path costs per document,
// from ConsumeLogs to the encoded _bulk lines ready to send (no network):
//
//   - persistent_queue: the old default, exporterhelper's sending_queue on
//     file_storage (bbolt) with its batching: each batch is marshalled to
//     protobuf and written, read back, unmarshalled, re-batched, then
//     encoded by the push function;
//   - spool: the batch is encoded once and appended to the spool; a reader
//     reads each record back, checks it and decodes its items, and
//     acknowledges it (what the senders do before and after sending);
//   - offline: the batch is encoded and written to the _bulk file;
//
// each with fsync per batch (sync_batch) where the option exists.
// Batches are the whole scenario (5,828 events), as one ConsumeLogs call.
func BenchmarkDurable(b *testing.B) {
	ld := logsOf(b, scenarioLines(b, 0)...)
	n := ld.LogRecordCount()

	b.Run("persistent_queue", func(b *testing.B) {
		cfg := createDefaultConfig().(*Config)
		q := withQueue(cfg)
		q.Batch.Get().FlushTimeout = time.Second
		q.Batch.Get().MinSize, q.Batch.Get().MaxSize = 1000, 5000
		id := component.MustNewID("file_storage")
		q.StorageID = &id
		ext := testkit.StartFileStorage(b, b.TempDir())
		defer ext.Shutdown(context.Background())
		var pushed atomic.Int64
		var encoders sync.Pool
		encoders.New = func() any { return &pushState{enc: newDocEncoder(cfg)} }
		push := func(_ context.Context, ld plog.Logs) error {
			st := encoders.Get().(*pushState)
			st.b.reset()
			st.enc.encode(ld, &st.b)
			encoders.Put(st)
			pushed.Add(int64(ld.LogRecordCount()))
			return nil
		}
		set := exportertest.NewNopSettings(metadata.Type)
		set.ID = component.NewID(metadata.Type)
		exp, err := exporterhelper.NewLogs(context.Background(), set, cfg, push,
			exporterhelper.WithQueue(cfg.QueueBatchConfig), exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}))
		require.NoError(b, err)
		require.NoError(b, exp.Start(context.Background(), storagetest.NewStorageHost().WithExtension(id, ext)))
		defer exp.Shutdown(context.Background())
		b.ResetTimer()
		cpu0 := cpuTime(b)
		var wall time.Duration
		for i := 0; i < b.N; i++ {
			c0 := time.Now()
			require.NoError(b, exp.ConsumeLogs(context.Background(), ld))
			wall += time.Since(c0)
		}
		for pushed.Load() < int64(n*b.N) {
			time.Sleep(time.Millisecond)
		}
		report(b, n*b.N, wall, cpuTime(b)-cpu0)
	})

	for _, sync := range []string{SyncNone, SyncBatch} {
		b.Run("spool_sync_"+sync, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			sp, err := openSpool(SpoolConfig{Directory: b.TempDir(), MaxBytes: 4 << 30, Sync: sync, Senders: 1}, zap.NewNop())
			require.NoError(b, err)
			defer sp.close()
			// The reader side: what a sender does before and after the
			// network (read, check, decode, acknowledge).
			ctx, cancel := context.WithCancel(context.Background())
			var read atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					r, err := sp.next(ctx)
					if err != nil {
						return
					}
					read.Add(int64(len(r.b.items)))
					sp.done(r)
				}
			}()
			st := &pushState{enc: newDocEncoder(cfg)}
			b.ResetTimer()
			cpu0 := cpuTime(b)
			var wall time.Duration
			for i := 0; i < b.N; i++ {
				c0 := time.Now()
				// pushLogs and pushSpool, without exporterhelper.
				reserveRecord(&st.b)
				st.enc.encode(ld, &st.b)
				rec, err := sealRecord(&st.b, time.Now().UnixNano())
				require.NoError(b, err)
				require.NoError(b, sp.append(context.Background(), rec, func(bool) {}))
				wall += time.Since(c0)
			}
			for read.Load() < int64(n*b.N) {
				time.Sleep(time.Millisecond)
			}
			report(b, n*b.N, wall, cpuTime(b)-cpu0)
			cancel()
			<-done
		})
	}

	for _, sync := range []string{SyncNone, SyncBatch} {
		b.Run("offline_sync_"+sync, func(b *testing.B) {
			cfg := createDefaultConfig().(*Config)
			cfg.Offline = OfflineConfig{Directory: b.TempDir(), MaxFileBytes: 1 << 30, Sync: sync}
			r := startRaw(b, cfg)
			defer r.shutdown(context.Background())
			b.ResetTimer()
			cpu0, t0 := cpuTime(b), time.Now()
			for i := 0; i < b.N; i++ {
				require.NoError(b, r.pushLogs(context.Background(), ld))
			}
			report(b, n*b.N, time.Since(t0), cpuTime(b)-cpu0)
		})
	}
}

// BenchmarkSpoolAppend is the spool's own cost on ConsumeLogs' path, the
// batch already encoded (in place, after reserveRecord): the record's
// per-item metadata, its CRC-32C and its write. Acknowledged as it goes,
// so the spool stays small.
func BenchmarkSpoolAppend(b *testing.B) {
	var bt batch
	reserveRecord(&bt)
	newDocEncoder(createDefaultConfig().(*Config)).encode(logsOf(b, scenarioLines(b, 0)...), &bt)
	n, bodyEnd := len(bt.items), len(bt.buf)
	sp, err := openSpool(SpoolConfig{Directory: b.TempDir(), MaxBytes: 4 << 30, Sync: SyncNone, Senders: 1}, zap.NewNop())
	require.NoError(b, err)
	defer sp.close()
	var rec []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt.buf = bt.buf[:bodyEnd]
		rec, err = sealRecord(&bt, time.Now().UnixNano())
		require.NoError(b, err)
		require.NoError(b, sp.append(context.Background(), rec, func(bool) {}))
		b.StopTimer()
		r, err := sp.next(context.Background())
		require.NoError(b, err)
		sp.done(r)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/doc")
	b.ReportMetric(float64(len(rec)-bodyEnd+recPrefixLen)/float64(n), "overhead-bytes/doc")
}
