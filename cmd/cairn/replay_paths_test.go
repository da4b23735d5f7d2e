package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/cairnsec/cairn/internal/testkit"
)

// TestReplaySameInputAndOutput: `cairn replay --input X --output X` exits
// with the usage status 2 and leaves X alone (it used to empty X and exit 0
// with "0 in").
func TestReplaySameInputAndOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "X")
	content := []byte(`{"a":1}` + "\n")
	require.NoError(t, os.WriteFile(in, content, 0o600))
	t.Chdir(dir)
	for _, out := range []string{"X", "./X", in} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"replay", "--config", filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"), "--input", "X", "--output", out}, &stdout, &stderr)
		assert.Equal(t, 2, code, out)
		assert.Contains(t, stderr.String(), "are the same file", out)
		assert.Empty(t, stdout.String(), "no summary")
		got, err := os.ReadFile(in)
		require.NoError(t, err)
		assert.Equal(t, content, got, "the input is untouched")
	}
}

// TestReplayStateInUse: a replay whose --state a running process holds (here
// the storage extension with the firstseen processor's database open, as a
// replay or collector has it) exits with status 2 at once, saying that the
// directory is in use and naming the locked file, instead of "timeout" after
// the storage's lock timeout.
func TestReplayStateInUse(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(`{"a":1}`+"\n"), 0o600))
	state := filepath.Join(dir, "state")
	args := []string{"replay", "--config", filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"), "--input", in, "--output", filepath.Join(dir, "out"), "--state", state}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())

	ext := testkit.StartFileStorage(t, state)
	client, err := ext.(storage.Extension).GetClient(context.Background(), component.KindProcessor, component.MustNewID("firstseen"), "")
	require.NoError(t, err)
	stdout.Reset()
	stderr.Reset()
	t0 := time.Now()
	code := run(args, &stdout, &stderr)
	elapsed := time.Since(t0)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "--state "+state+" is in use by another process")
	assert.Contains(t, stderr.String(), filepath.Join(state, "processor_firstseen_"))
	assert.Less(t, elapsed, 500*time.Millisecond, "no wait for file_storage's 1s lock timeout")

	require.NoError(t, client.Close(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))
	stderr.Reset()
	assert.Equal(t, 0, run(args, &stdout, &stderr), "free again: %s", stderr.String())
}
