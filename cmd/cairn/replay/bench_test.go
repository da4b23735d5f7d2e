package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"

	"github.com/cairnsec/cairn/internal/testkit"
)

// BenchmarkReplay1M replays a generated 1M-event scenario (2000 hosts, 4
// days) end to end — decode, the reference pipeline, encode — on ONE core,
// and reports events/s.
func BenchmarkReplay1M(b *testing.B) {
	dir := b.TempDir()
	input := filepath.Join(dir, "1m.ndjson")
	f, err := os.Create(input)
	require.NoError(b, err)
	w := bufio.NewWriterSize(f, 1<<20)
	cfg := scenario.Default()
	cfg.Hosts, cfg.Days, cfg.EventsPerHostDay = 2000, 4, 125
	st, err := scenario.Generate(cfg, w)
	require.NoError(b, err)
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())

	// As the CLI runs it.
	TuneGC()
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	root := testkit.RepoRoot()
	for _, cores := range []int{1, 2} {
		b.Run(fmt.Sprintf("cores=%d", cores), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cores))
			for i := 0; i < b.N; i++ {
				o := options(b, filepath.Join(root, "deploy", "cairn.yaml"), input, "-")
				o.Stdout = io.Discard
				sum, err := Run(context.Background(), o)
				require.NoError(b, err)
				require.Equal(b, st.Events, sum.EventsOut-sum.AlertRecords, "every event out once, besides the alert records")
				b.ReportMetric(sum.EventsPerSecond(), "events/s")
			}
		})
	}
}
