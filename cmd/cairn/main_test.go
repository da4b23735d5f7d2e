package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func root() string { return filepath.Join("..", "..") }

func TestReplayCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.ndjson")
	var stdout, stderr bytes.Buffer
	code := run([]string{"replay",
		"--config", filepath.Join(root(), "deploy", "cairn.yaml"),
		"--input", filepath.Join(root(), "testdata", "scenario", "events.ndjson"),
		"--output", out,
		"--state", filepath.Join(t.TempDir(), "state"),
	}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "events: 5828 in, 5829 out")
	assert.Contains(t, stdout.String(), "[high] Potentially Compromised Host: web-03")
	assert.Contains(t, stdout.String(), "new_binary_in_environment")
	assert.Contains(t, stdout.String(), "malformed lines: 0")
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Greater(t, st.Size(), int64(1<<20))
}

func TestReplayMalformedInputStillSucceeds(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte("{}\nnot json\n"), 0o600))
	var stdout, stderr bytes.Buffer
	code := run([]string{"replay", "--config", filepath.Join(root(), "deploy", "cairn.yaml"), "--input", in, "--output", filepath.Join(dir, "o")}, &stdout, &stderr)
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr.String(), "line 2:")
	assert.Contains(t, stdout.String(), "malformed lines: 1")
}

func TestReplayToStdoutKeepsSummaryOnStderr(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(`{"a":1}`+"\n"), 0o600))
	var stdout, stderr bytes.Buffer
	code := run([]string{"replay", "--config", filepath.Join(root(), "deploy", "cairn.yaml"), "--input", in, "--output", "-"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 1)
	assert.True(t, strings.HasPrefix(lines[0], `{"a":1,`), lines[0])
	assert.Contains(t, stderr.String(), "events: 1 in, 1 out")
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]string{
		"no command":       {},
		"unknown command":  {"replai"},
		"missing flags":    {"replay", "--config", "x"},
		"unknown flag":     {"replay", "--confg", "x"},
		"extra argument":   {"replay", "--config", "a", "--input", "b", "--output", "c", "extra"},
		"bad batch size":   {"replay", "--config", "a", "--input", "b", "--output", "c", "--batch-size", "0"},
		"absent config":    {"replay", "--config", filepath.Join(dir, "none.yaml"), "--input", "b", "--output", filepath.Join(dir, "o")},
		"eval no config":   {"eval"},
		"eval bad format":  {"eval", "--config", "a", "--format", "xml"},
		"eval extra arg":   {"eval", "--config", "a", "extra"},
		"eval batch size":  {"eval", "--config", "a", "--batch-size", "-1"},
		"eval no corpus":   {"eval", "--config", filepath.Join(root(), "deploy", "cairn.yaml"), "--corpus", filepath.Join(dir, "none")},
		"eval unknown":     {"eval", "--config", filepath.Join(root(), "deploy", "cairn.yaml"), "--corpus", filepath.Join(root(), "testdata", "eval"), "--scenario", "nope"},
		"eval bad config":  {"eval", "--config", filepath.Join(dir, "none.yaml"), "--corpus", filepath.Join(root(), "testdata", "eval"), "--scenario", "m-fleet-only"},
		"scenario no out":  {"scenario"},
		"scenario bad cfg": {"scenario", "--output", filepath.Join(dir, "s"), "--days", "1"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, 2, run(args, &stdout, &stderr))
			assert.NotEmpty(t, stderr.String())
		})
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"version"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "cairn ")
	assert.Equal(t, 0, run([]string{"replay", "-h"}, &stdout, &stderr))
	assert.Equal(t, 0, run([]string{"eval", "-h"}, &stdout, &stderr))
	assert.Equal(t, 0, run([]string{"help"}, &stdout, &stderr))
}

func TestScenarioCommandMatchesBundledFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.ndjson")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"scenario", "--output", out}, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "attack on web-03 at 2026-03-05T14:00:00Z")
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(root(), "testdata", "scenario", "events.ndjson"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "cairn scenario with defaults writes the bundled file")
}

// evalConfig raises a high alert for every event whose event.action is
// "high", through correlate alone, so the command's exit status is known.
const evalConfig = `
receivers:
  otlp:
    protocols:
      grpc:
processors:
  correlate:
    signals:
      test_high: {weight: 100, tactic: TA0002}
    signal_mappings:
      - signal: test_high
        when: {event.action: [high]}
    rules:
      - id: t-high
        name: Test High
        condition: {all_of: [test_high]}
        severity: high
        risk_score: 73
exporters:
  debug:
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [correlate]
      exporters: [debug]
`

func writeEvalScenario(t *testing.T, root, name, expect, events string) {
	t.Helper()
	dir := filepath.Join(root, name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	labels := "name: " + name + "\ntitle: t\ndescription: d\nexpect: " + expect + "\nevents: events.ndjson\n" +
		"period: {first: \"2026-04-08T10:00:00.000Z\", last: \"2026-04-08T10:00:01.000Z\"}\nquiet: [h2]\n"
	if expect == "detect" {
		labels += "attacked:\n  - host: h1\n    first_malicious: {time: \"2026-04-08T10:00:00.000Z\", event: e}\n"
	} else {
		labels = strings.Replace(labels, "quiet: [h2]", "quiet: [h1, h2]", 1)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "labels.yaml"), []byte(labels), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte(events), 0o644))
}

func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(config, []byte(evalConfig), 0o644))
	corpusDir := filepath.Join(dir, "corpus")
	ev := func(host, action string, sec int) string {
		return `{"@timestamp":"2026-04-08T10:00:0` + string(rune('0'+sec)) + `.000Z","event":{"action":"` + action + `"},"host":{"name":"` + host + `"}}` + "\n"
	}
	writeEvalScenario(t, corpusDir, "caught", "detect", ev("h1", "high", 0)+ev("h2", "exec", 1))
	writeEvalScenario(t, corpusDir, "calm", "quiet", ev("h1", "exec", 0)+ev("h2", "exec", 1))
	writeEvalScenario(t, corpusDir, "noisy", "quiet", ev("h1", "exec", 0)+ev("h2", "high", 1))

	var stdout, stderr bytes.Buffer
	code := run([]string{"eval", "--config", config, "--corpus", corpusDir, "--scenario", "caught,calm"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "2 scenarios: 2 passed, 0 failed")
	assert.Regexp(t, `caught\s+detect\s+1/1\s+0\.0s\s+yes\s+0\s+PASS\s+test_high`, stdout.String())

	stdout.Reset()
	code = run([]string{"eval", "--config", config, "--corpus", corpusDir, "--format", "json"}, &stdout, &stderr)
	assert.Equal(t, 1, code, "one scenario fails")
	var rep struct {
		Passed, Failed int
		Scenarios      []struct {
			Name string
			Pass bool
		}
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	assert.Equal(t, 2, rep.Passed)
	assert.Equal(t, 1, rep.Failed)
	assert.Equal(t, "noisy", rep.Scenarios[2].Name)
	assert.False(t, rep.Scenarios[2].Pass)
}
