package sigmaprocessor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/sigmaprocessor/internal/metadata"
)

type fixture struct {
	p   *sigmaProcessor
	pl  processor.Logs
	tel *componenttest.Telemetry
}

func settings(t testing.TB, logger *zap.Logger) (processor.Settings, *componenttest.Telemetry) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	if logger != nil {
		set.Logger = logger
	}
	return set, tel
}

// newFixture starts a processor on cfg; the test fails if it does not
// start.
func newFixture(t testing.TB, cfg *Config, logger *zap.Logger) *fixture {
	t.Helper()
	f, err := startFixture(t, cfg, logger)
	require.NoError(t, err)
	return f
}

func startFixture(t testing.TB, cfg *Config, logger *zap.Logger) (*fixture, error) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	set, tel := settings(t, logger)
	pl, p, err := newLogsProcessor(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	if err := pl.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { require.NoError(t, pl.Shutdown(context.Background())) })
	return &fixture{p: p, pl: pl, tel: tel}, nil
}

func defaultConfig() *Config { return createDefaultConfig().(*Config) }

// decode turns NDJSON lines into a batch, through internal/ingest as the
// cairn_file receiver and replay decode them.
func decode(t testing.TB, lines ...string) plog.Logs {
	t.Helper()
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	dec := ingest.NewDecoder(ingest.DefaultOptions())
	for _, l := range lines {
		res, err := dec.Line([]byte(l), recs)
		require.NoError(t, err, l)
		require.Equal(t, ingest.Decoded, res)
	}
	return ld
}

// doc encodes an event given as a map (nested or flat keys) as one line.
func doc(t testing.TB, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// send runs documents through the processor and returns the records.
func (f *fixture) send(t testing.TB, docs ...map[string]any) []pcommon.Map {
	t.Helper()
	var lines []string
	for _, d := range docs {
		lines = append(lines, doc(t, d))
	}
	ld := decode(t, lines...)
	out, err := f.p.processLogs(context.Background(), ld)
	require.NoError(t, err)
	var recs []pcommon.Map
	rs := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < rs.Len(); i++ {
		recs = append(recs, rs.At(i).Attributes())
	}
	return recs
}

// sigmaIDs lists the ids in an event's cairn.sigma.rules.
func sigmaIDs(m pcommon.Map) []string {
	v, ok := testkit.Get(m, RulesKey)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range v.Slice().AsRaw() {
		out = append(out, r.(map[string]any)["id"].(string))
	}
	return out
}

// bundledScenario decodes testdata/scenario/events.ndjson.
func bundledScenario(t testing.TB) plog.Logs {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), "testdata", "scenario", "events.ndjson"))
	require.NoError(t, err)
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return decode(t, lines...)
}

// ecsProcess is a nested ECS process start as cairn_host writes it.
func ecsProcess(exe string, args []string, extra map[string]any) map[string]any {
	a := make([]any, len(args))
	for i, s := range args {
		a[i] = s
	}
	d := map[string]any{
		"@timestamp": "2026-03-05T14:00:00Z",
		"event":      map[string]any{"kind": "event", "category": []any{"process"}, "type": []any{"start"}},
		"host":       map[string]any{"name": "web-03"},
		"process":    map[string]any{"executable": exe, "name": filepath.Base(exe), "args": a},
		"user":       map[string]any{"name": "root", "id": "0"},
	}
	for k, v := range extra {
		setPath(d, k, v)
	}
	return d
}

func ecsConnection(extra map[string]any) map[string]any {
	d := map[string]any{
		"@timestamp": "2026-03-05T14:00:00Z",
		"event":      map[string]any{"kind": "event", "category": []any{"network"}, "type": []any{"connection", "start"}},
		"host":       map[string]any{"name": "web-03"},
		"network":    map[string]any{"transport": "tcp", "direction": "egress"},
	}
	for k, v := range extra {
		setPath(d, k, v)
	}
	return d
}

func ecsFile(path, exe string) map[string]any {
	return map[string]any{
		"@timestamp": "2026-03-05T14:00:00Z",
		"event":      map[string]any{"kind": "event", "category": []any{"file"}, "type": []any{"creation"}},
		"host":       map[string]any{"name": "web-03"},
		"file":       map[string]any{"path": path},
		"process":    map[string]any{"executable": exe},
	}
}

// setPath sets a dotted path in a nested document.
func setPath(d map[string]any, path string, v any) {
	m := d
	for {
		i := bytes.IndexByte([]byte(path), '.')
		if i < 0 {
			m[path] = v
			return
		}
		k := path[:i]
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m, path = next, path[i+1:]
	}
}
