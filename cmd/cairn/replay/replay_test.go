package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/document"
	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/normalize"
	"github.com/cairnsec/cairn/internal/testkit"
)

func options(t testing.TB, config, input, output string) Options {
	return Options{
		ConfigPath: config, InputPath: input, OutputPath: output,
		Stderr:     &bytes.Buffer{},
		Processors: DefaultProcessors(), Extensions: DefaultExtensions(),
	}
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func readDocs(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	require.NoError(t, sc.Err())
	return out
}

// get reads nested document fields.
func get(doc map[string]any, path string) any { return testkit.Nested(doc, path) }

func signalsOf(doc map[string]any) []string {
	raw, _ := get(doc, "cairn.signals").([]any)
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		out = append(out, s.(string))
	}
	return out
}

type flagged struct {
	host, what string
	signals    []string
}

// TestScenario replays the bundled scenario through the reference config
// and checks exactly which events are flagged: the fleet-wide node_exporter
// upgrade and the attack, nothing else.
func TestScenario(t *testing.T) {
	root := testkit.RepoRoot()
	out := filepath.Join(t.TempDir(), "out.ndjson")
	o := options(t, filepath.Join(root, "deploy", "cairn.yaml"), filepath.Join(root, "testdata", "scenario", "events.ndjson"), out)
	sum, err := Run(context.Background(), o)
	require.NoError(t, err, o.Stderr.(*bytes.Buffer).String())
	assert.Equal(t, 5828, sum.EventsIn)
	assert.Equal(t, sum.EventsIn+1, sum.EventsOut, "the events and one alert")
	assert.Zero(t, sum.Malformed)
	assert.Contains(t, sum.Notes, "processor memory_limiter skipped: it only refuses data under memory pressure")
	require.Len(t, sum.Alerts, 1)
	assert.Equal(t, "Potentially Compromised Host", sum.Alerts[0].Rule)
	assert.Equal(t, "web-03", sum.Alerts[0].Entity)

	docs := readDocs(t, out)
	require.Len(t, docs, 5829)
	ids := map[string]bool{}
	var got []flagged
	rollout := map[string]bool{}
	for _, d := range docs {
		id, _ := get(d, "event.id").(string)
		require.Len(t, id, 32)
		require.False(t, ids[id], "event ids are unique")
		ids[id] = true
		sig := signalsOf(d)
		if len(sig) == 0 || get(d, "event.kind") == "alert" {
			continue
		}
		for _, s := range sig {
			if strings.HasPrefix(s, "intel_") || strings.HasPrefix(s, "sigma_") {
				continue // threat-intel and Sigma signals have no first-seen flag
			}
			assert.Equal(t, true, get(d, "cairn.first_seen."+s), "flag attribute for %s", s)
		}
		host := get(d, "host.name").(string)
		exe, _ := get(d, "process.executable").(string)
		if exe == "/usr/local/bin/node_exporter" {
			assert.Contains(t, sig, "new_binary_on_host")
			rollout[host] = true
			continue
		}
		what := exe
		if ip, ok := get(d, "destination.ip").(string); ok && get(d, "dns.question.name") == nil {
			what += " -> " + ip
		}
		if q, ok := get(d, "dns.question.name").(string); ok {
			what = "dns " + q
		}
		got = append(got, flagged{host: host, what: what, signals: sig})
	}
	assert.Len(t, rollout, 12, "every host gets the new node_exporter flagged once")

	want := []flagged{
		// zsh ran on one other host (bastion-01) before: below
		// known_after_hosts, so still new to the environment.
		{"web-03", "/usr/bin/zsh", []string{"new_binary_on_host", "new_binary_in_environment"}},
		{"web-03", "/tmp/.x/gs-netcat", []string{"intel_malicious_hash", "new_binary_on_host", "new_binary_in_environment", "sigma_medium"}},
		{"web-03", "/tmp/.x/gs-netcat -> 45.134.26.117", []string{"new_external_ip", "new_ip_for_binary"}},
		{"web-03", "dns l.gs.thc.org", []string{"new_domain"}},
		{"web-03", "/tmp/.x/gs-netcat -> 193.32.249.56", []string{"new_external_ip", "new_ip_for_binary"}},
	}
	assert.Equal(t, want, got, "only the attack is flagged besides the rollout")

	// The intel processor's enrichment of the gs-netcat start, from the
	// scenario feed in testdata/intel.
	start := findDoc(t, docs, func(d map[string]any) bool {
		return get(d, "process.executable") == "/tmp/.x/gs-netcat" && get(d, "destination.ip") == nil && get(d, "dns") == nil
	})
	enr, _ := get(start, "threat.enrichments").([]any)
	require.Len(t, enr, 1)
	e := enr[0].(map[string]any)
	assert.Equal(t, "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9", get(e, "indicator.file.hash.sha256"))
	assert.Equal(t, "cairn scenario feed", get(e, "indicator.provider"))
	assert.Equal(t, "process.hash.sha256", get(e, "matched.field"))
	assert.Equal(t, "malicious", get(e, "cairn.intel.verdict"))
	assert.Equal(t, 1, sum.Signals["intel_malicious_hash"])

	gs := findDoc(t, docs, func(d map[string]any) bool {
		return get(d, "process.executable") == "/tmp/.x/gs-netcat" && get(d, "destination.port") == float64(7350)
	})
	assert.Equal(t, "l.gs.thc.org", get(gs, "destination.domain"))

	// The same input gives the same bytes: event ids are content-derived.
	out2 := filepath.Join(t.TempDir(), "out2.ndjson")
	_, err = Run(context.Background(), options(t, o.ConfigPath, o.InputPath, out2))
	require.NoError(t, err)
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	assert.True(t, bytes.Equal(a, b), "replay is deterministic")

	var buf bytes.Buffer
	sum.Write(&buf)
	assert.Contains(t, buf.String(), "events: 5828 in, 5829 out")
	assert.Contains(t, buf.String(), "formats: ecs 5828, falco 0, sysmon 0, tetragon 0, zeek 0 (format auto)\n", "deploy/cairn.yaml reads with format auto; no ECS line is taken for a sensor's")
	assert.Contains(t, buf.String(), "alerts: 1 (1 alert records written, updates included)")
	assert.Contains(t, buf.String(), "new_domain")
}

func findDoc(t *testing.T, docs []map[string]any, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	for _, d := range docs {
		if pred(d) {
			return d
		}
	}
	t.Fatal("no matching document")
	return nil
}

// TestStateContinues: two replays over the halves of the scenario with one
// --state directory give the same output as one replay over the whole.
func TestStateContinues(t *testing.T) {
	root := testkit.RepoRoot()
	cfg := filepath.Join(root, "deploy", "cairn.yaml")
	input, err := os.ReadFile(filepath.Join(root, "testdata", "scenario", "events.ndjson"))
	require.NoError(t, err)
	lines := strings.SplitAfter(string(input), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	// Split in the middle of day 3, between the rollout and the attack.
	half := len(lines) * 3 / 5
	dir := t.TempDir()
	first := writeFile(t, dir, "first.ndjson", strings.Join(lines[:half], ""))
	second := writeFile(t, dir, "second.ndjson", strings.Join(lines[half:], ""))

	whole := filepath.Join(dir, "whole.out")
	_, err = Run(context.Background(), options(t, cfg, filepath.Join(root, "testdata", "scenario", "events.ndjson"), whole))
	require.NoError(t, err)

	state := filepath.Join(dir, "state")
	o1 := options(t, cfg, first, filepath.Join(dir, "1.out"))
	o1.StateDir = state
	_, err = Run(context.Background(), o1)
	require.NoError(t, err)
	o2 := options(t, cfg, second, filepath.Join(dir, "2.out"))
	o2.StateDir = state
	sum2, err := Run(context.Background(), o2)
	require.NoError(t, err)
	assert.Equal(t, 1, sum2.Signals["new_domain"], "the attack's domain is flagged in the second half")

	a, _ := os.ReadFile(filepath.Join(dir, "1.out"))
	b, _ := os.ReadFile(filepath.Join(dir, "2.out"))
	w, _ := os.ReadFile(whole)
	// Alerts are written at the end of the batch that decided them, and the
	// batches differ between the runs: compare the records, not their order.
	sortedLines := func(s string) []string {
		l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		sort.Strings(l)
		return l
	}
	assert.Equal(t, sortedLines(string(w)), sortedLines(string(a)+string(b)), "the second replay continues the first exactly")
	assert.Contains(t, string(b), `"kind":"alert"`, "the alert comes from the second half")

	// Without --state nothing is carried over: the second half alone is a
	// fresh start, with its own learning period and other results.
	o3 := options(t, cfg, second, filepath.Join(dir, "3.out"))
	sum3, err := Run(context.Background(), o3)
	require.NoError(t, err)
	assert.NotEqual(t, sum2.Signals, sum3.Signals)
	c, _ := os.ReadFile(filepath.Join(dir, "3.out"))
	assert.NotEqual(t, string(b), string(c))
}

func TestMalformedLinesAreReportedAndKept(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", minimalConfig)
	input := writeFile(t, dir, "in.ndjson", strings.Join([]string{
		`{"@timestamp":"2026-03-02T00:00:00Z","dns":{"question":{"name":"a.example"}}}`,
		`not json`,
		``,
		`[1,2,3]`,
		"\ufeff" + `{"@timestamp":"2026-03-02T00:00:01Z","dns.question.name":"b.example"}`,
		`{"truncated":`,
		`{"@timestamp":"2026-03-02T00:00:02Z","dns.question.name":"c.example"}   `,
	}, "\n"))
	out := filepath.Join(dir, "out.ndjson")
	o := options(t, cfg, input, out)
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 6, sum.EventsIn, "three events and three pipeline errors")
	assert.Equal(t, 3, sum.Malformed)
	assert.Equal(t, 1, sum.Blank)
	msgs := o.Stderr.(*bytes.Buffer).String()
	assert.Contains(t, msgs, "line 2: ")
	assert.Contains(t, msgs, "line 4: ")
	assert.Contains(t, msgs, "line 6: ")
	assert.NotContains(t, msgs, "line 5:")
	docs := readDocs(t, out)
	require.Len(t, docs, 6)
	for i, orig := range map[int]string{1: "not json", 2: "[1,2,3]", 4: `{"truncated":`} {
		assert.Equal(t, "pipeline_error", get(docs[i], "event.kind"), "line kept as an ECS pipeline error")
		assert.Equal(t, orig, get(docs[i], "event.original"))
		assert.NotEmpty(t, get(docs[i], "error.message"))
	}
	assert.Equal(t, []string{"new_domain"}, signalsOf(docs[5]), "learning 0 in the test config")

	// on_error: drop only counts them.
	o = options(t, cfg, input, out)
	o.Decoding = ingest.DefaultOptions()
	o.Decoding.OnError = ingest.OnErrorDrop
	sum, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 3, sum.EventsIn)
	assert.Equal(t, 3, sum.Malformed)
	require.Len(t, readDocs(t, out), 3)
}

func TestManyMalformedLinesAreCountedNotAllShown(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", minimalConfig)
	input := writeFile(t, dir, "in.ndjson", strings.Repeat("garbage\n", 500)+"{}\n")
	o := options(t, cfg, input, filepath.Join(dir, "out"))
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 500, sum.Malformed)
	assert.Equal(t, 501, sum.EventsIn)
	assert.Equal(t, maxReported+1, strings.Count(o.Stderr.(*bytes.Buffer).String(), "\n"))
}

func TestLongLine(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", minimalConfig)
	big := `{"message":"` + strings.Repeat("x", 3<<20) + `"}`
	input := writeFile(t, dir, "in.ndjson", big+"\n{}\n")

	// Within max_line_bytes, lines longer than the read buffer are
	// assembled.
	o := options(t, cfg, input, filepath.Join(dir, "out"))
	o.Decoding = ingest.DefaultOptions()
	o.Decoding.MaxLineBytes = 4 << 20
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 2, sum.EventsIn)
	docs := readDocs(t, filepath.Join(dir, "out"))
	assert.Len(t, docs[0]["message"], 3<<20)

	// Beyond it (the default is 1 MiB), the line is malformed: its first
	// max_line_bytes are kept in event.original, and the next line is read.
	o = options(t, cfg, input, filepath.Join(dir, "out"))
	sum, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Malformed)
	assert.Contains(t, o.Stderr.(*bytes.Buffer).String(), "line 1: line longer than 1048576 bytes")
	docs = readDocs(t, filepath.Join(dir, "out"))
	require.Len(t, docs, 2)
	assert.Len(t, get(docs[0], "event.original"), ingest.DefaultMaxLineBytes)
	assert.Equal(t, "pipeline_error", get(docs[0], "event.kind"))
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	input := writeFile(t, dir, "in.ndjson", "{}\n")
	out := filepath.Join(dir, "out")
	cases := map[string]struct {
		config string
		o      func(*Options)
		want   string
	}{
		"missing flags":    {minimalConfig, func(o *Options) { o.InputPath = "" }, "--config, --input and --output are required"},
		"no config file":   {"", func(o *Options) { o.ConfigPath = filepath.Join(dir, "nope.yaml") }, "nope.yaml"},
		"no input":         {minimalConfig, func(o *Options) { o.InputPath = filepath.Join(dir, "nope.ndjson") }, "input:"},
		"output dir":       {minimalConfig, func(o *Options) { o.OutputPath = filepath.Join(dir, "no", "such", "dir", "x") }, "output:"},
		"no logs pipeline": {"service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n", nil, "no logs pipeline"},
		"two pipelines": {"processors:\n  firstseen:\nservice:\n  pipelines:\n    logs/a:\n      processors: [firstseen]\n    logs/b:\n      processors: [firstseen]\n",
			nil, "choose one with --pipeline"},
		"unknown pipeline": {minimalConfig, func(o *Options) { o.Pipeline = "logs/x" }, `pipeline "logs/x" not found`},
		"unknown processor": {"processors:\n  transform:\nservice:\n  pipelines:\n    logs:\n      processors: [transform]\n",
			nil, `type "transform" cannot run in replay`},
		"undefined processor": {"service:\n  pipelines:\n    logs:\n      processors: [firstseen]\n", nil, "not defined under processors"},
		"invalid processor config": {"processors:\n  firstseen:\n    trackers:\n      - name: x\n        scope: planet\nservice:\n  pipelines:\n    logs:\n      processors: [firstseen]\n",
			nil, `scope must be "host" or "environment"`},
		"unknown option": {"processors:\n  firstseen:\n    trakers: []\nservice:\n  pipelines:\n    logs:\n      processors: [firstseen]\n", nil, "trakers"},
		// It used to panic in the processor's Validate.
		"huge max_terms": {"processors:\n  firstseen:\n    trackers:\n      - name: new_binary_on_host\n        max_terms: 2000000000\nservice:\n  pipelines:\n    logs:\n      processors: [firstseen]\n",
			nil, "max_terms must be between 1 and 1073741824, got 2000000000"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(dir, "absent.yaml")
			if c.config != "" {
				cfg = writeFile(t, t.TempDir(), "c.yaml", c.config)
			}
			o := options(t, cfg, input, out)
			if c.o != nil {
				c.o(&o)
			}
			_, err := Run(context.Background(), o)
			require.Error(t, err)
			var ue *UsageError
			assert.ErrorAs(t, err, &ue)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestEnvExpansionAndMultiplePipelines(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CAIRN_TEST_HISTORY", "7d")
	cfg := writeFile(t, dir, "c.yaml", `
processors:
  firstseen:
    trackers:
      - name: new_domain
        learning: 0
        history: ${env:CAIRN_TEST_HISTORY}
  firstseen/other:
service:
  pipelines:
    logs/a:
      processors: [firstseen]
    logs/b:
      processors: [firstseen/other]
`)
	input := writeFile(t, dir, "in.ndjson", `{"dns.question.name":"a.example","@timestamp":"2026-03-02T00:00:00Z"}`+"\n")
	o := options(t, cfg, input, filepath.Join(dir, "out"))
	o.Pipeline = "logs/a"
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Signals["new_domain"])
	o.Pipeline = "logs/b"
	sum, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Empty(t, sum.Signals, "defaults learn for 24h")
}

func TestEmptyPipelineCopiesEvents(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", "processors:\n  batch:\nservice:\n  pipelines:\n    logs:\n      processors: [batch]\n")
	input := writeFile(t, dir, "in.ndjson", `{"a":{"b":1},"c.d":"x","@timestamp":"2026-03-02T00:00:00.5Z"}`+"\n")
	_, err := Run(context.Background(), options(t, cfg, input, filepath.Join(dir, "out")))
	require.NoError(t, err)
	got, _ := os.ReadFile(filepath.Join(dir, "out"))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(got, &doc))
	id, _ := get(doc, "event.id").(string)
	assert.Len(t, id, 32, "the output numbers events that no processor changed")
	assert.JSONEq(t, `{"@timestamp":"2026-03-02T00:00:00.500Z","a":{"b":1},"c":{"d":"x"},"event":{"id":"`+id+`","dataset":"cairn.events"},"ecs":{"version":"`+document.ECSVersion+`"}}`, string(got))
}

func TestFactoryNames(t *testing.T) {
	names := strings.Split(factoryNames(DefaultProcessors()), ", ")
	assert.True(t, sort.StringsAreSorted(names))
	assert.Contains(t, names, "firstseen")
	assert.Contains(t, names, "batch (skipped)")
}

const minimalConfig = `
processors:
  firstseen:
    trackers:
      - name: new_domain
        learning: 0
service:
  pipelines:
    logs:
      processors: [firstseen]
`

func TestStdinToStdout(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", minimalConfig)
	var out bytes.Buffer
	o := options(t, cfg, "-", "-")
	o.Stdin = strings.NewReader(`{"@timestamp":"2026-03-02T00:00:00Z","dns.question.name":"a.example"}` + "\n")
	o.Stdout = &out
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.EventsOut)
	assert.Contains(t, out.String(), `"signals":["new_domain"]`)
}

// Replay decodes and batches as the pipeline's cairn_file receiver is
// configured to.
func TestDecodesAsTheFileReceiver(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", `
receivers:
  cairn_file:
    include: [/nonexistent/*.ndjson]
    event_original: true
    on_error: drop
    max_line_bytes: 100
    max_batch_events: 2
processors:
  firstseen:
    trackers:
      - name: new_domain
        learning: 0
service:
  pipelines:
    logs:
      receivers: [cairn_file]
      processors: [firstseen]
`)
	line := `{"@timestamp":"2026-03-02T00:00:00Z","dns":{"question":{"name":"a.example"}}}`
	input := writeFile(t, dir, "in.ndjson", line+"\n"+`{"long":"`+strings.Repeat("x", 100)+`"}`+"\nnot json\n")
	out := filepath.Join(dir, "out")
	o := options(t, cfg, input, out)
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 2, sum.Malformed)
	assert.Equal(t, 1, sum.EventsIn, "on_error: drop")
	assert.Equal(t, "lines decoded and batched (2 records per batch) as receiver cairn_file does", sum.Notes[0], "max_batch_events")
	docs := readDocs(t, out)
	require.Len(t, docs, 1)
	assert.Equal(t, line, get(docs[0], "event.original"), "event_original")

	// An explicit option wins.
	o = options(t, cfg, input, out)
	o.Decoding = ingest.DefaultOptions()
	sum, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 3, sum.EventsIn)
}

// The Observer sees every batch the processors hand on, in order, with
// what the processors wrote on it.
func TestObserverSeesEveryBatch(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", minimalConfig)
	var in strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&in, `{"@timestamp":"2026-03-02T00:00:0%dZ","dns.question.name":"d%d.example"}`+"\n", i, i)
	}
	var out bytes.Buffer
	o := options(t, cfg, "-", "-")
	o.Stdin = strings.NewReader(in.String())
	o.Stdout = &out
	o.BatchSize = 2
	var sizes []int
	var flagged int
	o.Observer = func(ld plog.Logs) {
		sizes = append(sizes, ld.LogRecordCount())
		for i := 0; i < ld.LogRecordCount(); i++ {
			rec := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(i)
			if _, ok := rec.Attributes().Get("cairn.signals"); ok {
				flagged++
			}
		}
	}
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 2, 1}, sizes)
	assert.Equal(t, 5, flagged, "the observer sees the processors' signals")
	assert.Equal(t, 5, sum.EventsOut)
}

// A Tetragon export replayed with --format auto through the reference
// config: every record is normalised (none malformed) and the summary
// counts the records per format and type.
func TestReplayTetragonExportAuto(t *testing.T) {
	root := testkit.RepoRoot()
	out := filepath.Join(t.TempDir(), "out.ndjson")
	o := options(t, filepath.Join(root, "deploy", "cairn.yaml"), filepath.Join(root, "internal", "normalize", "testdata", "tetragon", "events.json"), out)
	o.Format = "auto"
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 0, sum.Malformed)
	assert.Equal(t, 3, sum.EventsIn)
	assert.Equal(t, "auto", sum.Format)
	assert.Equal(t, []normalize.Count{{Format: "tetragon", Type: "process_exec", Kind: normalize.Normalized, N: 3}}, sum.Formats)
	docs := readDocs(t, out)
	require.Len(t, docs, 3)
	for _, d := range docs {
		assert.Equal(t, "tetragon", get(d, "event.module"))
		assert.Equal(t, "exec", get(d, "event.action"))
		assert.NotEmpty(t, get(d, "process.executable"))
	}
	var buf bytes.Buffer
	sum.Write(&buf)
	assert.Contains(t, buf.String(), "malformed lines: 0\nformats: ecs 0, falco 0, sysmon 0, tetragon 3, zeek 0 (format auto)\n"+
		"  falco: normalized 0, unknown 0, refused 0\n  sysmon: normalized 0, unknown 0, refused 0\n"+
		"  tetragon: normalized 3 (process_exec 3), unknown 0, refused 0\n  zeek: normalized 0, unknown 0, refused 0\n")

	// --format overrides the receiver's: read as ECS, the export's lines
	// are documents as they are, not Tetragon events.
	o = options(t, o.ConfigPath, o.InputPath, out)
	o.Format = "ecs"
	sum, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 3, sum.EventsIn)
	assert.Nil(t, get(readDocs(t, out)[0], "event.module"))
	buf.Reset()
	sum.Write(&buf)
	assert.Contains(t, buf.String(), "formats: ecs 3\n")
}

// Records of several types and kinds are counted per type; an unknown
// --format is a usage error before anything is written.
func TestReplayFormatCounts(t *testing.T) {
	dir := t.TempDir()
	var in bytes.Buffer
	lifecycle := filepath.Join(testkit.RepoRoot(), "internal", "normalize", "testdata", "tetragon", "security-observability-with-ebpf", "00_process_lifecycle")
	for _, f := range []string{"cat_process_exec.json", "cat_process_kprobe.json", "cat_process_exit.json", "nc_process_exec.json", "nc_process_exit.json"} {
		b, err := os.ReadFile(filepath.Join(lifecycle, f))
		require.NoError(t, err)
		require.NoError(t, json.Compact(&in, b))
		in.WriteByte('\n')
	}
	in.WriteString(`{"@timestamp":"2026-03-02T00:00:00Z","host":{"name":"a"}}` + "\n\n")
	input := writeFile(t, dir, "in.json", in.String())
	out := filepath.Join(dir, "out")
	o := options(t, writeFile(t, dir, "c.yaml", minimalConfig), input, out)
	o.Format = "tetragon"
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	var buf bytes.Buffer
	sum.Write(&buf)
	assert.Equal(t, 6, sum.EventsIn)
	assert.Contains(t, buf.String(), "formats: ecs 1, tetragon 5 (format tetragon)\n  tetragon: normalized 5 (process_exec 2, process_exit 2, process_kprobe 1), unknown 0, refused 0\n")

	out = filepath.Join(dir, "out2")
	o = options(t, o.ConfigPath, input, out)
	o.Format = "syslog"
	_, err = Run(context.Background(), o)
	var ue *UsageError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), `--format must be one of ecs, tetragon, zeek, falco, sysmon, auto, got "syslog"`)
	_, statErr := os.Stat(out)
	assert.True(t, os.IsNotExist(statErr), "nothing written")
}
