package filereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/normalize"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/receiver/filereceiver/internal/metadata"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	return cfg, testkit.LoadConfig(t, metadata.Type, name, cfg)
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	want := createDefaultConfig().(*Config)
	want.Include = []string{"/var/log/cairn/*.ndjson"}
	assert.Equal(t, want, cfg)
	assert.Equal(t, StartAtEnd, cfg.StartAt)
	assert.Nil(t, cfg.Storage)
	assert.Equal(t, 200*time.Millisecond, cfg.PollInterval)
	assert.Equal(t, 4096, cfg.MaxBatchEvents)
	assert.Equal(t, 1000, cfg.FingerprintBytes)
	assert.Equal(t, 500*time.Millisecond, cfg.ForceFlushPeriod)
	assert.False(t, cfg.IncludeFilePath)
	assert.Equal(t, ingest.DefaultOptions(), IngestOptions(cfg))
}

func TestFullConfig(t *testing.T) {
	cfg, err := loadConfig(t, "full")
	require.NoError(t, err)
	storageID := component.MustNewID("file_storage")
	assert.Equal(t, &Config{
		Include:            []string{"/var/log/cairn/*.ndjson", "/data/export/events-*.json"},
		Exclude:            []string{"/var/log/cairn/*.tmp.ndjson"},
		StartAt:            StartAtBeginning,
		Storage:            &storageID,
		PollInterval:       time.Second,
		DecodeConfig:       DecodeConfig{MaxLineBytes: 65536, EventOriginal: true, OnError: ingest.OnErrorDrop, MaxValues: 5000, Format: normalize.FormatAuto},
		MaxBatchEvents:     1000,
		MaxConcurrentFiles: 64,
		FingerprintBytes:   2000,
		ForceFlushPeriod:   2 * time.Second,
		IncludeFilePath:    true,
	}, cfg)
	// replay reads the decoding options from the same section.
	assert.Equal(t, ingest.Options{MaxLineBytes: 65536, EventOriginal: true, OnError: ingest.OnErrorDrop, MaxValues: 5000, Format: normalize.FormatAuto}, IngestOptions(cfg))
}

func TestFormatConfig(t *testing.T) {
	cfg, err := loadConfig(t, "zeek")
	require.NoError(t, err)
	assert.Equal(t, normalize.FormatZeek, cfg.Format)
	// replay takes the format from the same section.
	assert.Equal(t, normalize.FormatZeek, IngestOptions(cfg).Format)

	def := createDefaultConfig().(*Config)
	assert.Equal(t, ingest.FormatECS, def.Format, "ECS documents unless told otherwise")
}

func TestInvalidConfig(t *testing.T) {
	_, err := loadConfig(t, "no_include")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "include must list at least one glob pattern")

	_, err = loadConfig(t, "bad_values")
	require.Error(t, err)
	for _, want := range []string{
		`include: bad pattern "/var/log/[a-"`,
		"exclude: empty pattern",
		`start_at must be "beginning" or "end", got "middle"`,
		"poll_interval must be at least",
		"max_line_bytes must be between 64 and",
		`on_error must be "send" or "drop", got "keep"`,
		"max_values must be between 16 and",
		`format must be one of ecs, tetragon, zeek, falco, sysmon, auto, got "syslog"`,
		"max_batch_events must be between 1 and",
		"max_concurrent_files must be at least 1",
		"fingerprint_bytes must be between 16 and",
		"force_flush_period must not be negative",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	assert.Equal(t, "cairn_file", f.Type().String())
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Include = []string{"/nonexistent/*.ndjson"}
	require.NoError(t, cfg.Validate())
	r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	// Never started: shutting down is harmless.
	require.NoError(t, r.Shutdown(context.Background()))
}
