package replay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/receiver/filereceiver"
)

// BenchmarkChain measures Cairn's processors alone, as deploy/cairn.yaml
// configures them (intel, firstseen, sigma with its default rules,
// correlate), on ONE core: the events are decoded into batches beforehand
// (as the cairn_file receiver batches them) and nothing is encoded, so what
// is timed is the processing chain. Each sub-benchmark runs the chain cut
// after one more processor, from a fresh state, over the same 300k events of
// a generated fleet (1,000 hosts, 3 days: day 1 learns, days 2 and 3 are
// steady), and reports ns and allocations per event over the whole run and
// over its second half (the steady state a long-running collector is in).
//
// CAIRN_BENCH_BATCH sets another batch size than the receiver's (the cost
// per event depends on it: a batch larger than the CPU caches is fetched
// from memory again by each processor).
//
//	go test -run '^$' -bench BenchmarkChain -benchtime 1x ./cmd/cairn/replay/
func BenchmarkChain(b *testing.B) {
	root := testkit.RepoRoot()
	ctx := context.Background()
	cc, err := loadConfig(ctx, filepath.Join(root, "deploy", "cairn.yaml"), "")
	require.NoError(b, err)
	input, _, err := cc.fileInput()
	require.NoError(b, err)
	require.NotNil(b, input, "deploy/cairn.yaml reads with cairn_file")
	if s := os.Getenv("CAIRN_BENCH_BATCH"); s != "" {
		// The batch size to try instead of the receiver's max_batch_events.
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		input.MaxBatchEvents = n
	}

	var buf bytes.Buffer
	cfg := scenario.Default()
	cfg.Hosts, cfg.Days, cfg.EventsPerHostDay = 1000, 3, 100
	_, err = scenario.Generate(cfg, &buf)
	require.NoError(b, err)
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	buf = bytes.Buffer{}

	var procIDs []component.ID
	for _, id := range cc.processors {
		if _, skip := skipped[id.Type().String()]; !skip {
			procIDs = append(procIDs, id)
		}
	}
	for n := 1; n <= len(procIDs); n++ {
		name := ""
		for _, id := range procIDs[:n] {
			if name != "" {
				name += "+"
			}
			name += id.String()
		}
		b.Run(name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			for i := 0; i < b.N; i++ {
				sub := *cc
				sub.processors = procIDs[:n]
				chain, stop := startChain(b, &sub)
				dec := ingest.NewDecoder(filereceiver.IngestOptions(input))
				var all, steady chainCost
				sample := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
				// Labeled so a CPU profile can be cut to the timed part
				// (go tool pprof -tagfocus phase=chain).
				pprof.Do(ctx, pprof.Labels("phase", "chain"), func(ctx context.Context) {
					for at := 0; at < len(lines); at += input.MaxBatchEvents {
						// Each batch is decoded just before it is processed,
						// untimed, as the receiver hands the processors
						// records it has just written (warm in the cache).
						ld := decodeBatch(b, dec, lines[at:min(at+input.MaxBatchEvents, len(lines))])
						metrics.Read(sample)
						a0 := sample[0].Value.Uint64()
						cpu0 := processCPU(b)
						t0 := time.Now()
						require.NoError(b, chain.ConsumeLogs(ctx, ld))
						c := chainCost{time.Since(t0), processCPU(b) - cpu0, 0, ld.LogRecordCount()}
						metrics.Read(sample)
						c.allocs = sample[0].Value.Uint64() - a0
						all.add(c)
						if at >= len(lines)/2 {
							steady.add(c)
						}
					}
				})
				stop()
				b.ReportMetric(all.nsPerEvent(), "ns/event")
				b.ReportMetric(all.cpuNsPerEvent(), "cpu-ns/event")
				b.ReportMetric(steady.cpuNsPerEvent(), "steady-cpu-ns/event")
				b.ReportMetric(all.allocsPerEvent(), "allocs/event")
				b.ReportMetric(steady.nsPerEvent(), "steady-ns/event")
				b.ReportMetric(steady.allocsPerEvent(), "steady-allocs/event")
			}
		})
	}
}

type chainCost struct {
	elapsed time.Duration
	// cpu is the process's CPU time (user and system, every thread: the
	// garbage collector's share included), which other load on the machine
	// does not inflate as it does elapsed time.
	cpu    time.Duration
	allocs uint64
	events int
}

func (c *chainCost) add(o chainCost) {
	c.elapsed += o.elapsed
	c.cpu += o.cpu
	c.allocs += o.allocs
	c.events += o.events
}

func (c chainCost) nsPerEvent() float64 { return float64(c.elapsed.Nanoseconds()) / float64(c.events) }

func (c chainCost) cpuNsPerEvent() float64 { return float64(c.cpu.Nanoseconds()) / float64(c.events) }

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c chainCost) allocsPerEvent() float64 { return float64(c.allocs) / float64(c.events) }

// decodeBatch decodes lines as the cairn_file receiver does, into one batch.
func decodeBatch(b *testing.B, dec *ingest.Decoder, lines [][]byte) plog.Logs {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, line := range lines {
		if res, err := dec.Line(line, recs); res == ingest.Malformed {
			b.Fatalf("line %s: %v", line, err)
		}
	}
	return ld
}

// startChain builds and starts the configuration's processors, in memory
// state, in front of a sink that drops what it gets.
func startChain(b *testing.B, cc *collectorConfig) (chain interface {
	ConsumeLogs(context.Context, plog.Logs) error
}, stop func()) {
	b.Helper()
	ctx := context.Background()
	tel := component.TelemetrySettings{
		Logger:         zap.NewNop(),
		TracerProvider: nooptrace.NewTracerProvider(),
		MeterProvider:  noopmetric.NewMeterProvider(),
		Resource:       pcommon.NewResource(),
	}
	build := component.BuildInfo{Command: "cairn", Version: Version}
	o := Options{Processors: DefaultProcessors(), Extensions: DefaultExtensions()}
	h := &host{exts: map[component.ID]component.Component{}}
	require.NoError(b, startExtensions(ctx, cc, o, tel, build, h))
	c, procs, _, err := buildChain(ctx, cc, o, tel, build, consumertest.NewNop())
	require.NoError(b, err)
	for i := len(procs) - 1; i >= 0; i-- {
		require.NoError(b, procs[i].Start(ctx, h))
	}
	return c, func() {
		for _, p := range procs {
			require.NoError(b, p.Shutdown(ctx))
		}
		require.NoError(b, h.shutdown(ctx))
	}
}
