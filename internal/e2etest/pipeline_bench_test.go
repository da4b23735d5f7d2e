package e2etest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/testkit"
)

// BenchmarkPipeline is `make bench-pipeline`: the collector as shipped
// (deploy/cairn.yaml: its receivers, processors, exporters, durability and
// all) against the stock pipeline that only reads the same file into debug
// (filelog with json_parser → batch → debug), same binary, same generated
// fleet file, runs interleaved. It prints the CPU seconds (user + system,
// from the kernel, start-up and shutdown included) per million events of
// each, and their ratio.
//
// It runs only when CAIRN_BENCH_PIPELINE is set (make bench-pipeline sets
// it): a round takes minutes. CAIRN_BENCH_EVENTS (default 500000) sets the
// size of the fleet file and CAIRN_BENCH_ROUNDS (default 2) the number of
// interleaved rounds. CAIRN_BENCH_INPUT=tetragon reads Tetragon's JSON
// export instead of ECS events (the records of the Tetragon captures, each
// copy with its own exec ids, on 100 nodes), which the shipped config
// (format: auto) normalises and the stock pipeline only parses.
func BenchmarkPipeline(b *testing.B) {
	if os.Getenv("CAIRN_BENCH_PIPELINE") == "" {
		b.Skip("set CAIRN_BENCH_PIPELINE=1 (make bench-pipeline) to run")
	}
	events := envInt(b, "CAIRN_BENCH_EVENTS", 500_000)
	rounds := envInt(b, "CAIRN_BENCH_ROUNDS", 2)
	bin := testkit.CollectorBinary(b)
	dir := b.TempDir()
	input := filepath.Join(dir, "fleet.ndjson")
	var st scenario.Stats
	switch kind := os.Getenv("CAIRN_BENCH_INPUT"); kind {
	case "", "fleet":
		st = generateFleet(b, input, events)
	case "tetragon":
		st.Events = generateTetragon(b, input, events)
	default:
		b.Fatalf("CAIRN_BENCH_INPUT=%q: want fleet or tetragon", kind)
	}
	fi, _ := os.Stat(input)
	b.Logf("input file: %d events, %.0f MB", st.Events, float64(fi.Size())/1e6)

	for n := 0; n < b.N; n++ {
		cpu := map[string][]float64{}
		for round := 0; round < rounds; round++ {
			for _, name := range []string{"stock", "cairn"} {
				run := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", name, n, round))
				var secs float64
				if name == "stock" {
					secs = runStock(b, bin, input, st.Events, run)
				} else {
					secs = runShipped(b, bin, input, st.Events, run)
				}
				perM := secs / float64(st.Events) * 1e6
				b.Logf("round %d %-5s %.2f CPU-s (%.2f per 1M events)", round+1, name, secs, perM)
				cpu[name] = append(cpu[name], perM)
			}
		}
		stock, cairn := median(cpu["stock"]), median(cpu["cairn"])
		fmt.Printf("pipeline CPU-seconds per 1M events (median of %d interleaved rounds, %d events):\n", rounds, st.Events)
		fmt.Printf("  stock filelog(json_parser) -> batch -> debug   %6.2f   (runs: %s)\n", stock, list(cpu["stock"]))
		fmt.Printf("  deploy/cairn.yaml as shipped                    %6.2f   (runs: %s)\n", cairn, list(cpu["cairn"]))
		fmt.Printf("  ratio shipped/stock                             %6.3f   (target <= 0.75)\n", cairn/stock)
		b.ReportMetric(stock, "cpu-s/1M/stock")
		b.ReportMetric(cairn, "cpu-s/1M/cairn")
		b.ReportMetric(cairn/stock, "ratio")
		b.ReportMetric(0, "ns/op")
	}
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func list(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, ", ")
}

// generateFleet writes a scenario of about n events: 4 days of a fleet sized
// for it, the attack included.
func generateFleet(b *testing.B, path string, n int) scenario.Stats {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cfg := scenario.Default()
	cfg.Days, cfg.EventsPerHostDay = 4, 125
	cfg.Hosts = max(12, n/(cfg.Days*cfg.EventsPerHostDay))
	st, err := scenario.Generate(cfg, w)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return st
}

// generateTetragon writes n lines of Tetragon's JSON export: the records of
// the captures in internal/normalize/testdata, over and over, each copy's
// exec ids made its own and its node one of 100, so that no two lines are
// the same event.
func generateTetragon(b *testing.B, path string, n int) int {
	root := filepath.Join(testkit.RepoRoot(), "internal", "normalize", "testdata", "tetragon")
	var records [][]byte
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, "events.json") { // one record a line
			for _, l := range bytes.Split(raw, []byte("\n")) {
				if len(bytes.TrimSpace(l)) > 0 {
					records = append(records, l)
				}
			}
			return nil
		}
		var c bytes.Buffer // one pretty-printed record
		if err := json.Compact(&c, raw); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		records = append(records, c.Bytes())
		return nil
	})
	if err != nil || len(records) == 0 {
		b.Fatalf("tetragon captures: %v (%d records)", err, len(records))
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 0; i < n; i++ {
		rec := records[i%len(records)]
		copyN := strconv.Itoa(i / len(records))
		rec = bytes.ReplaceAll(rec, []byte(`exec_id":"`), []byte(`exec_id":"`+copyN+"-"))
		rec = bytes.ReplaceAll(rec, []byte(`"node_name":"`), []byte(`"node_name":"n`+strconv.Itoa(i%100)+"-"))
		w.Write(rec)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return n
}

// runStock runs filelog(json_parser) → batch → debug on input.
func runStock(b *testing.B, bin, input string, events int, dir string) float64 {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	tel, url := telemetryOverlay(b, dir)
	cfg := filepath.Join(dir, "stock.yaml")
	body := fmt.Sprintf(`receivers:
  file_log:
    include: [%q]
    start_at: beginning
    operators:
      - type: json_parser
processors:
  batch:
exporters:
  debug:
    verbosity: basic
service:
  pipelines:
    logs:
      receivers: [file_log]
      processors: [batch]
      exporters: [debug]
`, input)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	return runCollector(b, exec.Command(bin, "--config", cfg, "--config", tel), dir, url, "debug", events)
}

// runShipped runs deploy/cairn.yaml unchanged, its input and state pointed
// at the run's files through the environment variables it documents.
func runShipped(b *testing.B, bin, input string, events int, dir string) float64 {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	tel, url := telemetryOverlay(b, dir)
	cmd := exec.Command(bin, "--config", filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"), "--config", tel)
	cmd.Env = append(os.Environ(), "CAIRN_STATE_DIR="+filepath.Join(dir, "state"), "CAIRN_EVENTS="+input,
		"CAIRN_OUT_DIR="+filepath.Join(dir, "out"),
		"CAIRN_INTEL_DIR="+filepath.Join(testkit.RepoRoot(), "testdata", "intel"),
		"CAIRN_HEALTH=127.0.0.1:0", "CAIRN_OTLP_GRPC=127.0.0.1:0", "CAIRN_OTLP_HTTP=127.0.0.1:0")
	return runCollector(b, cmd, dir, url, "cairn_search", events)
}

// runCollector runs cmd until exporter has sent events records, stops it
// with SIGTERM and returns its CPU seconds.
func runCollector(b *testing.B, cmd *exec.Cmd, dir, url, exporter string, events int) float64 {
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Minute)
	for sentBy(url, exporter) < events {
		select {
		case err := <-exited:
			b.Fatalf("collector exited (%v) before sending %d records:\n%s", err, events, out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			b.Fatalf("collector did not send %d records in time:\n%s", events, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		b.Fatalf("collector exit: %v\n%s", err, out.String())
	}
	ps := cmd.ProcessState
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}

// sentBy reads otelcol_exporter_sent_log_records of one exporter.
func sentBy(url, exporter string) int {
	total := 0
	for _, line := range metricLines(url, "otelcol_exporter_sent_log_records") {
		if strings.Contains(line, `exporter="`+exporter+`"`) {
			fields := strings.Fields(line)
			if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
				total += int(v)
			}
		}
	}
	return total
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// metricLines returns the lines of the Prometheus endpoint that start with
// prefix (none while the collector is not up yet).
func metricLines(url, prefix string) []string {
	resp, err := httpClient.Get(url) //nolint:noctx // loopback, bounded by the caller's loop
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			out = append(out, sc.Text())
		}
	}
	sort.Strings(out)
	return out
}
