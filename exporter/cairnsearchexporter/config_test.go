package cairnsearchexporter

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"
	"github.com/cairnsec/cairn/internal/testkit"
)

func load(t *testing.T, name string) (*Config, error) {
	cfg := createDefaultConfig().(*Config)
	err := testkit.LoadConfig(t, metadata.Type, name, cfg)
	return cfg, err
}

func TestConfigValid(t *testing.T) {
	cfg, err := load(t, "")
	require.NoError(t, err)
	assert.Equal(t, "auto", cfg.Flavour)
	assert.Equal(t, "default", cfg.Namespace)
	assert.True(t, cfg.Bootstrap)
	assert.True(t, cfg.DeadLetter.Enabled)
	assert.Equal(t, "gzip", string(cfg.Compression))
	assert.Zero(t, cfg.BackOffConfig.MaxElapsedTime, "retries never give up by default")
	assert.False(t, cfg.QueueBatchConfig.HasValue(), "no sending_queue by default: delivery is synchronous, or spooled")
	assert.Empty(t, cfg.Spool.Directory)
	assert.Equal(t, int64(1<<30), cfg.Spool.MaxBytes)
	assert.Equal(t, "none", cfg.Spool.Sync)
	assert.Equal(t, "none", cfg.Offline.Sync)

	full, err := load(t, "full")
	require.NoError(t, err)
	assert.Equal(t, "elasticsearch", full.Flavour)
	assert.Equal(t, "prod", full.Namespace)
	assert.Equal(t, "cairn-alerts", full.AlertsIndex)
	assert.False(t, full.Bootstrap)
	assert.Equal(t, "365d", full.Lifecycle.DeleteAfter)
	assert.Equal(t, 30*time.Second, full.Timeout)
	assert.Equal(t, "http://proxy.example.com:3128", full.ProxyURL)
	assert.Equal(t, "/etc/cairn/ca.pem", full.TLS.CAFile)
	assert.Equal(t, SpoolConfig{Directory: "/var/lib/cairn/spool", MaxBytes: 512 << 20, Sync: "batch", Senders: 2}, full.Spool)
	assert.False(t, full.QueueBatchConfig.HasValue())
	assert.Equal(t, 2*time.Minute, full.BackOffConfig.MaxInterval)

	// Any sending_queue option turns the queue on, with the defaults as
	// its base (blocking when full).
	q, err := load(t, "queue")
	require.NoError(t, err)
	require.True(t, q.QueueBatchConfig.HasValue())
	require.NotNil(t, q.QueueBatchConfig.Get().StorageID)
	assert.Equal(t, "file_storage", q.QueueBatchConfig.Get().StorageID.String())
	assert.Equal(t, int64(8000), q.QueueBatchConfig.Get().Batch.Get().MaxSize)
	assert.True(t, q.QueueBatchConfig.Get().BlockOnOverflow, "the default base blocks when full")

	off, err := load(t, "offline")
	require.NoError(t, err)
	assert.Equal(t, "./out/bulk", off.Offline.Directory)
	assert.Equal(t, 10, off.Offline.MaxFiles)
	assert.Equal(t, "batch", off.Offline.Sync)
}

func TestConfigErrorsNameTheOption(t *testing.T) {
	for name, want := range map[string]string{
		"both":            "set either endpoint",
		"none":            "endpoint must be set",
		"bad_flavour":     `flavour "solr"`,
		"two_credentials": "at most one of user/password, api_key, bearer_token and auth",
		"bad_namespace":   `namespace "Prod-EU"`,
		"bad_index":       `index "Cairn Events"`,
		"bad_lifecycle":   "lifecycle::rollover_max_age",
		"bad_scheme":      "must start with http:// or https://",
		"spool_and_queue": "use either spool (durable, encoded once) or a persistent sending_queue (storage), not both",
		"spool_offline":   "spool::directory is for online mode",
		"bad_spool":       "spool::max_bytes must be at least 1048576",
		"bad_compression": `compression "zstd"`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
	_, err := load(t, "bad_lifecycle")
	assert.Contains(t, err.Error(), "lifecycle::rollover_max_size")
	_, err = load(t, "bad_spool")
	assert.Contains(t, err.Error(), `spool::sync "always" must be none or batch`)
	assert.Contains(t, err.Error(), "spool::senders must be from 1 to 1024, got 0")
}

// TestValidateBoundsExtremes: options that start goroutines
// (spool::senders, sending_queue::num_consumers) and the retry multiplier
// and randomization factor are bounded, with messages naming the option and
// its range. spool::senders: 1<<40 passed before and the start then launched
// that many senders; multiplier: .inf or .nan passed and made every retry
// immediate.
func TestValidateBoundsExtremes(t *testing.T) {
	online := map[string]any{"endpoint": "http://localhost:9200"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range online {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := map[string]struct {
		conf map[string]any
		want string
	}{
		"senders":           {with(map[string]any{"spool": map[string]any{"directory": "/tmp/spool", "senders": int64(1) << 40}}), "spool::senders must be from 1 to 1024, got 1099511627776"},
		"num_consumers":     {with(map[string]any{"sending_queue": map[string]any{"num_consumers": math.MaxInt32}}), "sending_queue::num_consumers must be at most 1024, got 2147483647"},
		"infinite multiple": {with(map[string]any{"retry_on_failure": map[string]any{"multiplier": math.Inf(1)}}), "retry_on_failure::multiplier must be from 0 to 100"},
		"NaN multiplier":    {with(map[string]any{"retry_on_failure": map[string]any{"multiplier": math.NaN()}}), "retry_on_failure::multiplier must be from 0 to 100, got NaN"},
		"huge multiplier":   {with(map[string]any{"retry_on_failure": map[string]any{"multiplier": 1e308}}), "retry_on_failure::multiplier must be from 0 to 100"},
		"NaN randomization": {with(map[string]any{"retry_on_failure": map[string]any{"randomization_factor": math.NaN()}}), "retry_on_failure::randomization_factor must be from 0 to 1, got NaN"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(c.conf).Unmarshal(cfg))
			var err error
			require.NotPanics(t, func() { err = confmap.Validate(cfg) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(with(map[string]any{"spool": map[string]any{"directory": "/tmp/spool", "senders": 1024},
		"retry_on_failure": map[string]any{"multiplier": 100}})).Unmarshal(cfg))
	assert.NoError(t, confmap.Validate(cfg), "the bounds themselves are valid")
}

// TestBackoffNeverOverflows: however the interval grows, a delay is never
// negative or zero (it used to wrap around int64 into a negative interval,
// i.e. retries in a tight loop, once interval × multiplier passed 292
// years, or at once with a NaN multiplier).
func TestBackoffNeverOverflows(t *testing.T) {
	for name, bc := range map[string]configretry.BackOffConfig{
		"huge growth":     {InitialInterval: time.Hour, Multiplier: 1e6, RandomizationFactor: 0.5},
		"huge initial":    {InitialInterval: math.MaxInt64, Multiplier: 1.5, RandomizationFactor: 1},
		"NaN multiplier":  {InitialInterval: time.Second, Multiplier: math.NaN(), MaxInterval: time.Minute},
		"capped by max":   {InitialInterval: time.Second, Multiplier: 1e300, MaxInterval: time.Minute},
		"infinite factor": {InitialInterval: time.Second, Multiplier: math.Inf(1)},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBackoff(bc)
			for i := range 40 {
				d, ok := b.next()
				require.True(t, ok)
				require.Positive(t, d, "attempt %d", i)
				if bc.MaxInterval > 0 {
					require.LessOrEqual(t, d, bc.MaxInterval)
				}
			}
		})
	}
}
