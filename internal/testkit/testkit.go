// Package testkit holds helpers shared by Cairn's component tests: loading
// a component's testdata/config.yaml section, reading counters from the
// collector's test telemetry, and reading fields written flat or nested.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// LoadConfig unmarshals the section "<typ>/<name>" (or "<typ>" for an
// empty name) of testdata/config.yaml into cfg and validates it, returning
// the error a collector would report.
func LoadConfig(t testing.TB, typ component.Type, name string, cfg component.Config) error {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(typ, name).String())
	require.NoError(t, err)
	if err := sub.Unmarshal(cfg); err != nil {
		return err
	}
	return confmap.Validate(cfg)
}

// Sum adds up the data points of an int64 sum metric whose attributes
// include attrs; 0 when the metric was never recorded.
func Sum(t testing.TB, tel *componenttest.Telemetry, name string, attrs map[string]string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is an int64 sum", name)
	var total int64
	for _, dp := range sum.DataPoints {
		match := true
		for k, want := range attrs {
			got, ok := dp.Attributes.Value(attribute.Key(k))
			if !ok || got.AsString() != want {
				match = false
			}
		}
		if match {
			total += dp.Value
		}
	}
	return total
}

// Get reads a field written flat ("a.b"), nested ({"a":{"b"}}) or mixed.
func Get(m pcommon.Map, path string) (pcommon.Value, bool) {
	if v, ok := m.Get(path); ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if v, ok := m.Get(path[:i]); ok && v.Type() == pcommon.ValueTypeMap {
			if r, ok := Get(v.Map(), path[i+1:]); ok {
				return r, true
			}
		}
	}
	return pcommon.Value{}, false
}

// RepoRoot is the module root, found from this file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// UseScenarioFeeds points deploy/cairn.yaml's feed directory (relative to
// the working directory by default) at the repository's scenario feed,
// since tests run in their package directory. Call it from TestMain.
func UseScenarioFeeds() {
	if os.Getenv("CAIRN_INTEL_DIR") == "" {
		_ = os.Setenv("CAIRN_INTEL_DIR", filepath.Join(RepoRoot(), "testdata", "intel"))
	}
}

// Nested reads path from a decoded JSON document strictly as nested
// objects ({"a":{"b":…}} for "a.b"), as Cairn's ECS output writes them; a
// flat "a.b" key does not count. Nil when absent.
func Nested(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// StartFileStorage starts a file_storage extension on dir, as the
// collector would, for tests of state that must survive a restart.
func StartFileStorage(t testing.TB, dir string) extension.Extension {
	t.Helper()
	fact := filestorage.NewFactory()
	scfg := fact.CreateDefaultConfig().(*filestorage.Config)
	scfg.Directory = dir
	ext, err := fact.Create(context.Background(), extensiontest.NewNopSettings(fact.Type()), scfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return ext
}

// CollectorBinary returns the collector binary that end-to-end tests run:
// $CAIRN_COLLECTOR, else bin/otelcol-cairn (make build). When it is
// missing the test skips with a message, and under CI it fails instead.
func CollectorBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("CAIRN_COLLECTOR")
	if bin == "" {
		bin = filepath.Join(RepoRoot(), "bin", "otelcol-cairn")
	}
	// Stat also ties go test's result cache to the binary.
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("collector binary not found (%v): run `make build` (or `make test`), or set CAIRN_COLLECTOR", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// LockedBuffer collects a child process's output, written by its stdout
// and stderr copiers while the test reads it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Signals returns the names in a record's cairn.signals (flat or nested),
// nil when it has none.
func Signals(m pcommon.Map) []string {
	v, ok := Get(m, "cairn.signals")
	if !ok {
		return nil
	}
	var out []string
	for _, s := range v.Slice().AsRaw() {
		out = append(out, s.(string))
	}
	return out
}
