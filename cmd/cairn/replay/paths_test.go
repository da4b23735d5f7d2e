package replay

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

const twoEvents = `{"@timestamp":"2026-03-02T00:00:00Z","dns.question.name":"a.example"}
{"@timestamp":"2026-03-02T00:00:01Z","dns.question.name":"b.example"}
`

// TestSameInputAndOutputRefused: an output that is the input, however it is
// spelled (relative path, symbolic link, hard link, stdin or stdout
// redirected from or to it), or the configuration, is a usage error found
// before the output is opened: the input is left as it was. Without the check os.Create emptied
// the input and the run reported success with "0 in".
func TestSameInputAndOutputRefused(t *testing.T) {
	cases := map[string]func(t *testing.T, dir, input string, o *Options){
		"same path": func(_ *testing.T, _, input string, o *Options) { o.OutputPath = input },
		"relative spelling": func(t *testing.T, dir, _ string, o *Options) {
			t.Chdir(dir)
			o.InputPath, o.OutputPath = "in.ndjson", "./sub/../in.ndjson"
			require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o750))
		},
		"symbolic link": func(t *testing.T, dir, input string, o *Options) {
			o.OutputPath = filepath.Join(dir, "link")
			require.NoError(t, os.Symlink(input, o.OutputPath))
		},
		"hard link": func(t *testing.T, dir, input string, o *Options) {
			o.OutputPath = filepath.Join(dir, "hard")
			require.NoError(t, os.Link(input, o.OutputPath))
		},
		"stdin is the output": func(t *testing.T, _, input string, o *Options) {
			f, err := os.Open(input)
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			o.InputPath, o.Stdin, o.OutputPath = "-", f, input
		},
		"stdout appends to the input": func(t *testing.T, _, input string, o *Options) {
			f, err := os.OpenFile(input, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			o.OutputPath, o.Stdout = "-", f
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeFile(t, dir, "c.yaml", minimalConfig)
			input := writeFile(t, dir, "in.ndjson", twoEvents)
			o := options(t, cfg, input, "")
			setup(t, dir, input, &o)
			sum, err := Run(context.Background(), o)
			require.Error(t, err)
			assert.Nil(t, sum)
			var ue *UsageError
			assert.ErrorAs(t, err, &ue, "exit status 2")
			assert.Contains(t, err.Error(), "are the same file")
			got, rerr := os.ReadFile(input)
			require.NoError(t, rerr)
			assert.Equal(t, twoEvents, string(got), "the input is untouched")
		})
	}

	// Nor may the output be the configuration (read before the output is
	// opened, then emptied by it).
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", minimalConfig)
	input := writeFile(t, dir, "in.ndjson", twoEvents)
	_, err := Run(context.Background(), options(t, cfg, input, cfg))
	var ue *UsageError
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, err.Error(), "is the --config file")
	got, rerr := os.ReadFile(cfg)
	require.NoError(t, rerr)
	assert.Equal(t, minimalConfig, string(got), "the configuration is untouched")

	// Different files, and "-" on a terminal-like or in-memory stream, run.
	o := options(t, cfg, "-", "-")
	o.Stdin, o.Stdout = strings.NewReader(twoEvents), &bytes.Buffer{}
	sum, err := Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 2, sum.EventsIn)
	o = options(t, cfg, input, filepath.Join(dir, "out.ndjson"))
	sum, err = Run(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, 2, sum.EventsIn)
}

// TestStatePathsRefused: --state naming the input or output file, and an
// output among the state directory's storage files, are usage errors found
// before anything is written.
func TestStatePathsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", "extensions:\n  file_storage:\n    directory: "+filepath.Join(dir, "unused")+"\n"+
		"processors:\n  firstseen:\n    storage: file_storage\n    trackers:\n      - name: new_domain\n        learning: 0\n"+
		"service:\n  extensions: [file_storage]\n  pipelines:\n    logs:\n      processors: [firstseen]\n")
	input := writeFile(t, dir, "in.ndjson", twoEvents)
	state := filepath.Join(dir, "state")
	o := options(t, cfg, input, filepath.Join(dir, "first.out"))
	o.StateDir = state
	_, err := Run(context.Background(), o)
	require.NoError(t, err, "a first run creates the state")
	dbFile := filepath.Join(state, "processor_firstseen_")
	db, err := os.ReadFile(dbFile)
	require.NoError(t, err)
	require.NoError(t, os.Link(dbFile, filepath.Join(dir, "db-link")))
	outFile := writeFile(t, dir, "existing.out", "previous output\n")

	cases := map[string]struct {
		output, state, want string
	}{
		"state is the input":        {filepath.Join(dir, "o"), input, "is the input file"},
		"state is the output":       {outFile, outFile, "are the same path"},
		"state is a new output":     {filepath.Join(dir, "new"), filepath.Join(dir, "new"), "are the same path"},
		"output in the state":       {filepath.Join(state, "out.ndjson"), state, "is in the --state directory"},
		"output is a state file":    {dbFile, state, "is in the --state directory"},
		"output links a state file": {filepath.Join(dir, "db-link"), state, "is the state file"},
		"state is another file":     {filepath.Join(dir, "o"), outFile, "is not a directory"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := options(t, cfg, input, c.output)
			o.StateDir = c.state
			_, err := Run(context.Background(), o)
			require.Error(t, err)
			var ue *UsageError
			assert.ErrorAs(t, err, &ue)
			assert.Contains(t, err.Error(), c.want)
			for path, want := range map[string]string{input: twoEvents, dbFile: string(db), outFile: "previous output\n"} {
				got, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.True(t, want == string(got), "%s is untouched", path) // binary: no diff
			}
			assert.NoFileExists(t, filepath.Join(dir, "new"))
		})
	}
}

// TestStateInUse: a replay on a --state directory that a running replay
// holds fails at once (not after the storage's lock timeout) with a usage
// error naming the directory and the locked file, and leaves its output
// file alone; the first replay is not disturbed.
func TestStateInUse(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "c.yaml", "extensions:\n  file_storage:\n    directory: "+filepath.Join(dir, "unused")+"\n    timeout: 5s\n"+
		"processors:\n  firstseen:\n    storage: file_storage\n    trackers:\n      - name: new_domain\n        learning: 0\n"+
		"service:\n  extensions: [file_storage]\n  pipelines:\n    logs:\n      processors: [firstseen]\n")
	state := filepath.Join(dir, "state")

	// The first replay reads a pipe: it holds the state until the pipe
	// is closed.
	pr, pw := io.Pipe()
	first := options(t, cfg, "-", filepath.Join(dir, "first.out"))
	first.Stdin, first.StateDir, first.BatchSize = pr, state, 1
	seen := make(chan struct{}, 16)
	first.Observer = func(plog.Logs) { seen <- struct{}{} }
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), first)
		done <- err
	}()
	_, err := io.WriteString(pw, strings.SplitAfter(twoEvents, "\n")[0])
	require.NoError(t, err)
	select {
	case <-seen: // its processors run: the storage is open
	case err := <-done:
		t.Fatalf("the first replay ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the first replay did not process its first event")
	}

	out := writeFile(t, dir, "second.out", "previous output\n")
	second := options(t, cfg, writeFile(t, dir, "in.ndjson", twoEvents), out)
	second.StateDir = state
	t0 := time.Now()
	_, err = Run(context.Background(), second)
	elapsed := time.Since(t0)
	require.Error(t, err)
	var ue *UsageError
	assert.ErrorAs(t, err, &ue, "exit status 2")
	assert.Contains(t, err.Error(), "--state "+state+" is in use by another process")
	assert.Contains(t, err.Error(), filepath.Join(state, "processor_firstseen_"), "names the lock file")
	assert.NotContains(t, err.Error(), "timeout")
	assert.Less(t, elapsed, 2*time.Second, "does not wait for the 5s lock timeout")
	got, _ := os.ReadFile(out)
	assert.Equal(t, "previous output\n", string(got), "the output is not truncated")

	_, err = io.WriteString(pw, strings.SplitAfter(twoEvents, "\n")[1])
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.NoError(t, <-done, "the first replay finishes")
	assert.Len(t, readDocs(t, filepath.Join(dir, "first.out")), 2)

	// Once it has finished, the state is free again.
	_, err = Run(context.Background(), second)
	require.NoError(t, err)
}
