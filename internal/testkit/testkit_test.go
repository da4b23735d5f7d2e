package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestGet(t *testing.T) {
	m := pcommon.NewMap()
	require.NoError(t, m.FromRaw(map[string]any{"a.b": 1, "c": map[string]any{"d": map[string]any{"e": "x"}, "f.g": true}}))
	v, ok := Get(m, "a.b")
	require.True(t, ok)
	assert.Equal(t, int64(1), v.Int())
	v, ok = Get(m, "c.d.e")
	require.True(t, ok)
	assert.Equal(t, "x", v.Str())
	v, ok = Get(m, "c.f.g")
	require.True(t, ok)
	assert.True(t, v.Bool())
	_, ok = Get(m, "c.d.z")
	assert.False(t, ok)
}

func TestRepoRootAndFeeds(t *testing.T) {
	_, err := os.Stat(filepath.Join(RepoRoot(), "go.mod"))
	require.NoError(t, err)
	t.Setenv("CAIRN_INTEL_DIR", "")
	UseScenarioFeeds()
	assert.Equal(t, filepath.Join(RepoRoot(), "testdata", "intel"), os.Getenv("CAIRN_INTEL_DIR"))
}

func TestNested(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b": 1.0}, "c.d": "flat"}
	assert.Equal(t, 1.0, Nested(doc, "a.b"))
	assert.Nil(t, Nested(doc, "c.d"), "flat keys are not nested objects")
	assert.Nil(t, Nested(doc, "a.b.c"))
}
