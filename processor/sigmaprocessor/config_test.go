package sigmaprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/sigmaprocessor/internal/metadata"
)

func TestDefaultConfig(t *testing.T) {
	cfg := defaultConfig()
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	require.NoError(t, cfg.Validate())
	assert.True(t, cfg.DefaultRules)
	assert.Equal(t, "low", cfg.MinLevel)
	assert.Equal(t, []string{"stable", "test"}, cfg.Statuses)
	assert.Equal(t, 5000, cfg.MaxRules)
	assert.Equal(t, 30*time.Second, cfg.ReloadInterval)
	assert.Equal(t, 5*time.Second, cfg.Settle)
	assert.Equal(t, metadata.Type, NewFactory().Type())
}

func TestLoadConfig(t *testing.T) {
	cfg := defaultConfig()
	require.NoError(t, testkit.LoadConfig(t, metadata.Type, "", cfg))
	assert.Equal(t, defaultConfig(), cfg, "an empty section is the defaults")

	cfg = defaultConfig()
	require.NoError(t, testkit.LoadConfig(t, metadata.Type, "custom", cfg))
	assert.Equal(t, &Config{
		RulesDir:       "/etc/cairn/sigma",
		DefaultRules:   false,
		MinLevel:       "medium",
		Statuses:       []string{"stable", "test", "experimental"},
		Exclude:        []string{"312b42b1-bded-4441-8b58-163a3af58775"},
		MaxRules:       100,
		ReloadInterval: time.Minute,
		Settle:         2 * time.Second,
	}, cfg)

	for name, want := range map[string]string{
		"nothing":       "no rules",
		"bad_level":     "min_level",
		"bad_status":    "statuses[0]",
		"negative":      "reload_interval",
		"max_rules":     "max_rules",
		"empty_exclude": "exclude[0]",
	} {
		cfg := defaultConfig()
		err := testkit.LoadConfig(t, metadata.Type, name, cfg)
		assert.ErrorContains(t, err, want, name)
	}
	cfg = defaultConfig()
	cfg.Settle = -time.Second
	assert.ErrorContains(t, cfg.Validate(), "settle")
}
