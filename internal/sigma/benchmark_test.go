package sigma

import (
	"bufio"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/ingest"
)

// BenchmarkEvaluator evaluates Cairn's curated rules
// (processor/sigmaprocessor/rules) on the bundled scenario's 5,828 events,
// decoded by internal/ingest, read through an event.View: the engine's
// cost per event, View.Reset included.
//
//	go test -run XXX -bench BenchmarkEvaluator ./internal/sigma/
func BenchmarkEvaluator(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("..", "..", "processor", "sigmaprocessor", "rules", "*.yml"))
	require.NoError(b, err)
	require.NotEmpty(b, files)
	var rules []*Rule
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(b, err)
		rs, _, err := ParseFile(f, data)
		require.NoError(b, err)
		rules = append(rules, rs...)
	}
	set, _, err := NewRuleSet(rules, Options{})
	require.NoError(b, err)

	f, err := os.Open(filepath.Join("..", "..", "testdata", "scenario", "events.ndjson"))
	require.NoError(b, err)
	defer f.Close()
	recs := plog.NewLogs().ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	dec := ingest.NewDecoder(ingest.DefaultOptions())
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		_, err := dec.Line(sc.Bytes(), recs)
		require.NoError(b, err)
	}
	require.NoError(b, sc.Err())

	e := set.NewEvaluator()
	v := event.NewView()
	res := pcommon.NewResource()
	n := recs.Len()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		for j := 0; j < n; j++ {
			v.Reset(res, recs.At(j))
			e.Match(v)
		}
	}
	cpu = cpuTime() - cpu
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	// CPU time is what the process spent, not the wall clock: on a shared
	// machine, the time other processes take from it is left out.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/event")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
