package cairnsearchexporter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"
	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/testkit"
)

// scenarioLines returns the first n lines of the bundled scenario (all
// when n is 0).
func scenarioLines(t testing.TB, n int) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(testkit.RepoRoot(), "testdata", "scenario", "events.ndjson"))
	require.NoError(t, err)
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && (n == 0 || len(out) < n) {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// logsOf decodes ECS documents into one plog.Logs.
func logsOf(t testing.TB, docs ...[]byte) plog.Logs {
	t.Helper()
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var dec ecs.Decoder
	for _, d := range docs {
		require.NoError(t, dec.Decode(d, recs.AppendEmpty()), "%s", d)
	}
	return ld
}

func jsonDoc(t testing.TB, v map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// testConfig: defaults pointed at url (synchronous delivery: no spool, no
// sending_queue), with retries fast enough for tests.
func testConfig(url string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = url
	cfg.Timeout = 2 * time.Second
	cfg.BackOffConfig.InitialInterval = 5 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 40 * time.Millisecond
	cfg.BackOffConfig.RandomizationFactor = 0
	return cfg
}

// withQueue turns exporterhelper's sending_queue on (the default values,
// as a user setting any of its options gets), flushing fast.
func withQueue(cfg *Config) *exporterhelper.QueueBatchConfig {
	q := cfg.QueueBatchConfig.GetOrInsertDefault()
	q.Batch.Get().FlushTimeout = 20 * time.Millisecond
	q.Batch.Get().MinSize = 500
	q.Batch.Get().MaxSize = 1000
	return q
}

// withSpool turns the spool on in dir.
func withSpool(cfg *Config, dir string) *Config {
	cfg.Spool.Directory = dir
	return cfg
}

// harness runs one exporter instance.
type harness struct {
	exp  exporter.Logs
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
}

func startExporter(t testing.TB, cfg *Config, host component.Host) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type) // a stable id: the persistent queue's file is named after it
	set.TelemetrySettings = tel.NewTelemetrySettings()
	core, logs := observer.New(zap.DebugLevel)
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, exp.Start(context.Background(), host))
	return &harness{exp: exp, tel: tel, logs: logs}
}

func (h *harness) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, h.exp.Shutdown(context.Background()))
}

func (h *harness) consume(t testing.TB, ld plog.Logs) {
	t.Helper()
	require.NoError(t, h.exp.ConsumeLogs(context.Background(), ld))
}

func (h *harness) sum(t testing.TB, name string, attrs map[string]string) int64 {
	t.Helper()
	return testkit.Sum(t, h.tel, "otelcol_exporter_cairn_search_"+name, attrs)
}

// eventually waits for cond, failing with msg after d.
func eventually(t testing.TB, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", d, msg())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noQueue makes sure no sending_queue is configured (the default).
func noQueue(cfg *Config) {
	cfg.QueueBatchConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return tm
}

func configString(s string) configopaque.String { return configopaque.String(s) }
