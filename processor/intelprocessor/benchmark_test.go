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

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/metadata"
)

// BenchmarkNoMatch measures what the processor adds per event on a batch of
// 1000 scenario events (process starts with hashes, connections, DNS
// answers) none of which is in the feeds: 100k SHA-256 hashes, 10k IPs and
// 10k domains in a plain list. With no MD5 or SHA-1 indicators loaded, the
// md5 and sha1 fields are not read at all (see fieldPlan);
// BenchmarkNoMatchAllHashTypes is the same with all three.
func BenchmarkNoMatch(b *testing.B) { benchNoMatch(b, false) }

// BenchmarkNoMatchAllHashTypes is BenchmarkNoMatch with 100k MD5 and 100k
// SHA-1 hashes more in the feed, so that every configured field is read.
func BenchmarkNoMatchAllHashTypes(b *testing.B) { benchNoMatch(b, true) }

func benchNoMatch(b *testing.B, allHashTypes bool) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "feed.csv"))
	require.NoError(b, err)
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewSource(1))
	want := 120_000
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(w, "%016x%016x%016x%016x,malicious\n", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
		if allHashTypes {
			fmt.Fprintf(w, "%016x%016x,malicious\n", rng.Uint64(), rng.Uint64())
			fmt.Fprintf(w, "%016x%016x%08x,malicious\n", rng.Uint64(), rng.Uint64(), rng.Uint32())
			want += 2
		}
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
	require.Equal(b, want, p.feeds.snapshot().total)
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

// BenchmarkLoad1M loads a 1M-line MalwareBazaar-format export (one sample
// per line: sha256, md5 and sha1 columns) from disk into the processor's
// index, as a start or a reload does, and reports the index's memory.
func BenchmarkLoad1M(b *testing.B) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "full.csv"))
	require.NoError(b, err)
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "################################################################")
	fmt.Fprintln(w, "# MalwareBazaar full data dump (CSV)                           #")
	fmt.Fprintln(w, "################################################################")
	fmt.Fprintln(w, `# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"`)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(w, `"2026-02-%02d 10:%02d:%02d", "%016x%016x%016x%016x", "%016x%016x", "%016x%016x%08x", "reporter%d", "sample.exe", "exe", "application/x-dosexec", "Family%d", "n/a", "n/a", "n/a", "n/a", "n/a"`+"\n",
			1+i%28, i%60, i%60, rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64(),
			rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint32(), i%50, i%200)
	}
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := newIntel(processortest.NewNopSettings(metadata.Type), feedsConfig(dir), nil)
		require.NoError(b, err)
		require.NoError(b, p.feeds.refresh(true))
		snap := p.feeds.snapshot()
		require.Equal(b, 3_000_000, snap.total, "sha256, md5 and sha1 of each sample")
		b.ReportMetric(float64(snap.stores[0].MemoryBytes())/(1<<20), "MiB")
		b.ReportMetric(float64(snap.stores[0].MemoryBytes())/3e6, "bytes/indicator")
	}
}
