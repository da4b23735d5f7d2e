package intelprocessor

import (
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

	cfg, err = loadConfig(t, "online")
	require.NoError(t, err)
	assert.True(t, cfg.Online.Enabled)
	assert.Equal(t, 60, cfg.Online.RequestsPerMinute)
	assert.Equal(t, 50*time.Millisecond, cfg.Online.WaitBudget)
	assert.Equal(t, 24*time.Hour, cfg.Online.PositiveTTL)
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
