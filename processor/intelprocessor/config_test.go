package intelprocessor

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/metadata"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	return cfg, testkit.LoadConfig(t, metadata.Type, name, cfg)
}

func TestConfigs(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, "./feeds", cfg.FeedsDir)
	assert.Equal(t, 30*time.Second, cfg.ReloadInterval)
	assert.Equal(t, DefaultHashFields, cfg.Fields.Hashes)
	assert.Equal(t, []string{"destination.ip"}, cfg.Fields.IPs)
	assert.Equal(t, []string{"destination.domain", "dns.question.name"}, cfg.Fields.Domains)
	assert.False(t, cfg.Online.Enabled)

	cfg, err = loadConfig(t, "custom")
	require.NoError(t, err)
	assert.Equal(t, []string{"a.csv", "b.json"}, cfg.Feeds)
	assert.Equal(t, time.Minute, cfg.ReloadInterval)
	assert.Equal(t, 2*time.Second, cfg.Settle)
	assert.Equal(t, []string{"process.hash.sha256"}, cfg.Fields.Hashes)
	assert.Equal(t, []string{"destination.ip", "source.ip"}, cfg.Fields.IPs)
	assert.Equal(t, LimitsConfig{MaxFileSizeMiB: 64, MaxIndicatorsPerFile: 1000, MaxIndicators: 5000, MaxFiles: 10}, cfg.Limits)

	cfg, err = loadConfig(t, "online")
	require.NoError(t, err)
	assert.True(t, cfg.Online.Enabled)
	assert.Equal(t, 60, cfg.Online.RequestsPerMinute)
	assert.Equal(t, 50*time.Millisecond, cfg.Online.WaitBudget)
	assert.Equal(t, 24*time.Hour, cfg.Online.PositiveTTL)
	assert.Equal(t, 10, cfg.Online.HostQueueSize)
	assert.Equal(t, 25, cfg.Online.HostRequestsPerDay)
	assert.Equal(t, 3, cfg.Online.CorroboratingHosts)
	assert.Equal(t, []string{"new_binary_in_environment"}, cfg.Online.PrioritySignals)

	cfg = createDefaultConfig().(*Config)
	assert.Equal(t, LimitsConfig{MaxFileSizeMiB: 1024, MaxIndicatorsPerFile: 10_000_000, MaxIndicators: 20_000_000, MaxFiles: 1000}, cfg.Limits)
	assert.Equal(t, 20, cfg.Online.HostQueueSize)
	assert.Equal(t, 50, cfg.Online.HostRequestsPerDay)
	assert.Equal(t, 2, cfg.Online.CorroboratingHosts)
	assert.Empty(t, cfg.Online.PrioritySignals)
}

func TestInvalidLimitsAndFairness(t *testing.T) {
	// Out-of-range numbers are errors that name the option, never a panic
	// or an overflow.
	_, err := loadConfig(t, "huge_limits")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "limits.max_file_size_mib (9223372036854775807) must be from 1 to 1099511627776")
	assert.Contains(t, err.Error(), "limits.max_indicators (2000000000000) must be from 1 to 2147483647")

	for name, tc := range map[string]struct {
		change func(*Config)
		want   string
	}{
		"zero file size":         {func(c *Config) { c.Limits.MaxFileSizeMiB = 0 }, "limits.max_file_size_mib (0) must be from 1"},
		"negative per file":      {func(c *Config) { c.Limits.MaxIndicatorsPerFile = -1 }, "limits.max_indicators_per_file (-1) must be from 1"},
		"per file over total":    {func(c *Config) { c.Limits.MaxIndicatorsPerFile = 30_000_000 }, "limits.max_indicators_per_file (30000000) must not exceed limits.max_indicators (20000000)"},
		"no files":               {func(c *Config) { c.Limits.MaxFiles = 0 }, "limits.max_files (0) must be from 1"},
		"host queue zero":        {func(c *Config) { c.Online.HostQueueSize = 0 }, "online.host_queue_size (0) must be positive and at most online.queue_size (1000)"},
		"host queue over queue":  {func(c *Config) { c.Online.HostQueueSize = 1001 }, "online.host_queue_size (1001) must be positive and at most online.queue_size (1000)"},
		"host cap zero":          {func(c *Config) { c.Online.HostRequestsPerDay = 0 }, "online.host_requests_per_day must be positive, or negative for no per-host cap"},
		"host cap over day cap":  {func(c *Config) { c.Online.HostRequestsPerDay = 501 }, "online.host_requests_per_day (501) must not exceed online.requests_per_day (500)"},
		"corroborating one":      {func(c *Config) { c.Online.CorroboratingHosts = 1 }, "online.corroborating_hosts (1) must be 0 (off) or from 2 to 16"},
		"corroborating too many": {func(c *Config) { c.Online.CorroboratingHosts = 17 }, "online.corroborating_hosts (17)"},
		"empty signal":           {func(c *Config) { c.Online.PrioritySignals = []string{"x", ""} }, "online.priority_signals[1]: empty signal name"},
		// The lookup tables are sized 2× and 4× queue_size: at MaxInt
		// that wrapped negative and creation failed with "must provide a
		// positive size".
		"queue max int":   {func(c *Config) { c.Online.QueueSize = math.MaxInt }, "online.queue_size (9223372036854775807) must be from 1 to 1000000"},
		"queue too large": {func(c *Config) { c.Online.QueueSize = 1_000_001 }, "online.queue_size (1000001) must be from 1 to 1000000"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("CAIRN_TEST_VT_KEY", "k")
			cfg := createDefaultConfig().(*Config)
			cfg.FeedsDir = "./feeds"
			cfg.Online.Enabled = true
			cfg.Online.APIKeyEnv = "CAIRN_TEST_VT_KEY"
			require.NoError(t, cfg.Validate())
			tc.change(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// Without a daily cap, any per-host cap is fine; 0 corroborating hosts
	// turns corroboration off.
	t.Setenv("CAIRN_TEST_VT_KEY", "k")
	cfg := createDefaultConfig().(*Config)
	cfg.Online.Enabled = true
	cfg.Online.APIKeyEnv = "CAIRN_TEST_VT_KEY"
	cfg.Online.RequestsPerDay = -1
	cfg.Online.HostRequestsPerDay = 10_000
	cfg.Online.CorroboratingHosts = 0
	assert.NoError(t, cfg.Validate())
}

func TestInvalidConfigs(t *testing.T) {
	cases := map[string]string{
		"nothing":         "nothing to match against",
		"empty_feed":      "feeds[0]: empty path",
		"no_fields":       "at least one field",
		"online_two_keys": "exactly one of api_key_env and api_key_file",
		"negative":        "reload_interval must not be negative",
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Online.Enabled = true
	cfg.Online.APIKeyEnv = "CAIRN_SURELY_UNSET_VAR"
	cfg.Online.RequestsPerMinute = 0
	cfg.Online.RequestsPerDay = 0
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CAIRN_SURELY_UNSET_VAR is not set")
	assert.Contains(t, err.Error(), "requests_per_minute")
	assert.Contains(t, err.Error(), "requests_per_day")
}
