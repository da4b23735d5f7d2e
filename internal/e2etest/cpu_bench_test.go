package e2etest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"

	"github.com/cairnsec/cairn/internal/testkit"
)

// BenchmarkCollectorCPU runs the real collector on the same generated input
// (300k scenario events through cairn_file) twice over: with the reference
// pipeline of deploy/cairn.yaml (its processors as shipped, read from the
// file: intel, firstseen, sigma and correlate today), and with the same
// pipeline minus Cairn's processors (memory_limiter only). It reports the CPU seconds (user+system, from the kernel) of
// each, median of three interleaved runs, and their ratio.
func BenchmarkCollectorCPU(b *testing.B) {
	bin := testkit.CollectorBinary(b)
	dir := b.TempDir()
	input := filepath.Join(dir, "events.ndjson")
	f, err := os.Create(input)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cfg := scenario.Default()
	cfg.Hosts, cfg.Days, cfg.EventsPerHostDay = 600, 4, 125
	st, err := scenario.Generate(cfg, w)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	_ = f.Close()

	pipelines := map[string]string{
		"cairn":    "[" + strings.Join(shippedProcessors(b), ", ") + "]",
		"baseline": "[memory_limiter]",
	}
	if base := os.Getenv("CAIRN_BENCH_BASELINE"); base != "" {
		// Another pipeline to compare with, e.g. "[memory_limiter, intel,
		// firstseen, correlate]" for what one processor costs.
		pipelines["baseline"] = base
	}
	b.Logf("processors: %s against %s", pipelines["cairn"], pipelines["baseline"])
	for n := 0; n < b.N; n++ {
		cpu := map[string][]float64{}
		for round := 0; round < 3; round++ {
			for _, name := range []string{"baseline", "cairn"} {
				secs := runForCPU(b, bin, input, pipelines[name], st.Events, filepath.Join(dir, fmt.Sprintf("%s-%d-%d", name, n, round)))
				cpu[name] = append(cpu[name], secs)
			}
		}
		with, without := median(cpu["cairn"]), median(cpu["baseline"])
		b.ReportMetric(with, "cpu-s/cairn")
		b.ReportMetric(without, "cpu-s/baseline")
		b.ReportMetric(with/without, "cpu-ratio")
		b.ReportMetric(float64(st.Events)/without, "events/cpu-s/baseline")
		b.ReportMetric(0, "ns/op")
	}
}

// shippedProcessors are the processors of deploy/cairn.yaml's logs
// pipeline, so that the benchmark measures the pipeline users run.
func shippedProcessors(b *testing.B) []string {
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	var cfg struct {
		Service struct {
			Pipelines map[string]struct {
				Processors []string `yaml:"processors"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		b.Fatal(err)
	}
	procs := cfg.Service.Pipelines["logs"].Processors
	if len(procs) < 2 {
		b.Fatalf("deploy/cairn.yaml: logs pipeline processors %v", procs)
	}
	return procs
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func freePort(b testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runForCPU runs the collector until its exporter has sent every record,
// stops it, and returns its CPU seconds.
func runForCPU(b *testing.B, bin, input, processors string, events int, stateDir string) float64 {
	dir := b.TempDir()
	tel, url := telemetryOverlay(b, dir)
	overlay := filepath.Join(dir, "overlay.yaml")
	receiver := ""
	if n := os.Getenv("CAIRN_BENCH_MAX_BATCH"); n != "" {
		// Another batch size for cairn_file than the shipped one.
		receiver = "receivers:\n  cairn_file:\n    max_batch_events: " + n + "\n"
	}
	cfg := receiver + fmt.Sprintf(`exporters:
  debug:
    verbosity: basic
service:
  pipelines:
    logs:
      receivers: [cairn_file]
      processors: %s
      exporters: [debug]
`, processors)
	if err := os.WriteFile(overlay, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"), "--config", tel, "--config", overlay)
	cmd.Env = append(os.Environ(), "CAIRN_STATE_DIR="+stateDir, "CAIRN_EVENTS="+input,
		"CAIRN_INTEL_DIR="+filepath.Join(testkit.RepoRoot(), "testdata", "intel"),
		"CAIRN_HEALTH=127.0.0.1:0", "CAIRN_OTLP_GRPC=127.0.0.1:0", "CAIRN_OTLP_HTTP=127.0.0.1:0")
	return runCollector(b, cmd, dir, url, "debug", events)
}
