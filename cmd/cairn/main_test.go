package main

import (
	"bytes"
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
