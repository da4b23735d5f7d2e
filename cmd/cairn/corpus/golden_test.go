package corpus

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite testdata/eval from the generator")

var (
	testdataDir = filepath.Join(testkit.RepoRoot(), "testdata")
	corpusDir   = filepath.Join(testdataDir, "eval")
)

var generated = sync.OnceValues(func() ([]*Generated, error) { return Generate(testdataDir) })

func generateAll(t *testing.T) []*Generated {
	t.Helper()
	gens, err := generated()
	require.NoError(t, err)
	return gens
}

func byName(t *testing.T, name string) *Generated {
	t.Helper()
	for _, g := range generateAll(t) {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no scenario %s", name)
	return nil
}

// TestGolden requires the committed corpus to be exactly what the generator
// makes: labels byte for byte, events byte for byte once decompressed (the
// gzip bytes themselves may differ between Go versions), and no scenario
// directory the generator does not make.
func TestGolden(t *testing.T) {
	gens := generateAll(t)
	if *update {
		require.NoError(t, Write(corpusDir, gens))
	}
	const hint = "if the change is intended, run: go test ./cmd/cairn/corpus -run TestGolden -update"
	for _, g := range gens {
		labels, err := os.ReadFile(filepath.Join(corpusDir, g.Name, LabelsFile))
		require.NoError(t, err, hint)
		require.Equal(t, string(g.LabelsYAML), string(labels), "%s/%s: %s", g.Name, LabelsFile, hint)
		events, err := readEvents(filepath.Join(corpusDir, g.Name, EventsFile))
		require.NoError(t, err, hint)
		// Not require.Equal: a diff of two megabyte blobs is useless.
		if !bytes.Equal(g.Events, events) {
			t.Fatalf("%s/%s differs from the generator's output (%d vs %d bytes); %s", g.Name, EventsFile, len(events), len(g.Events), hint)
		}
	}
	loaded, err := Load(corpusDir)
	require.NoError(t, err)
	var names []string
	for _, s := range loaded {
		names = append(names, s.Name())
	}
	require.Equal(t, Names(), names, "scenario directories in %s", corpusDir)
}

// TestDeterministic generates twice: the same bytes, so the golden test
// cannot pass by luck of iteration order.
func TestDeterministic(t *testing.T) {
	a := generateAll(t)
	b, err := Generate(testdataDir)
	require.NoError(t, err)
	require.Len(t, b, len(a))
	for i := range a {
		require.Equal(t, a[i].LabelsYAML, b[i].LabelsYAML, a[i].Name)
		require.True(t, bytes.Equal(a[i].Events, b[i].Events), a[i].Name)
	}
}
