package intelprocessor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/scenario"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/metadata"
)

// BenchmarkNoMatch measures what the processor adds per event on a batch of
// 1000 scenario events (process starts with hashes, connections, DNS
// answers) none of which is in the feeds: 100k hashes, 10k IPs and 10k
// domains in a plain list.
func BenchmarkNoMatch(b *testing.B) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "feed.csv"))
	require.NoError(b, err)
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(w, "%016x%016x%016x%016x,malicious\n", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
	}
	for i := 0; i < 10_000; i++ {
		fmt.Fprintf(w, "%d.%d.%d.%d,malicious\n", 11+rng.Intn(100), rng.Intn(256), rng.Intn(256), 1+rng.Intn(254))
		fmt.Fprintf(w, "bad%d.example.org,malicious\n", i)
	}
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())

	var buf bytes.Buffer
	cfg := scenario.Default()
	cfg.Attack = false
	_, err = scenario.Generate(cfg, &buf)
	require.NoError(b, err)
	batch := plog.NewLogs()
	recs := batch.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var dec ecs.Decoder
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && recs.Len() < 1000 {
		require.NoError(b, dec.Decode(sc.Bytes(), recs.AppendEmpty()))
	}

	p, err := newIntel(processortest.NewNopSettings(metadata.Type), feedsConfig(dir), nil)
	require.NoError(b, err)
	require.NoError(b, p.feeds.refresh(true))
	require.Equal(b, 120_000, p.feeds.snapshot().total)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.processLogs(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*recs.Len()), "ns/event")
}
