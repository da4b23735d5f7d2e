package firstseenprocessor

import (
	"context"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/internal/duration"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/metadata"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/tracker"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	return cfg, testkit.LoadConfig(t, metadata.Type, name, cfg)
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, createDefaultConfig(), cfg)
	specs, err := cfg.specs()
	require.NoError(t, err)
	names := []string{}
	for _, s := range specs {
		names = append(names, s.Name)
		assert.Equal(t, 30*24*time.Hour, s.History)
		assert.Equal(t, 24*time.Hour, s.Learning)
	}
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment", "new_external_ip", "new_domain", "new_ip_for_binary"}, names)
	assert.Equal(t, tracker.ScopeHost, specs[0].Scope)
	assert.Equal(t, [][]string{{"process.hash.sha256", "process.executable"}}, specs[0].Fields)
	assert.True(t, specs[2].OnlyExternal)
	assert.Equal(t, [][]string{{"dns.question.name", "destination.domain"}}, specs[3].Fields)
	assert.Equal(t, [][]string{{"process.executable"}, {"destination.ip"}}, specs[4].Fields)

	// Prevalence defaults, on the environment trackers only, each with its
	// rare signal.
	assert.Equal(t, 3, cfg.KnownAfterHosts)
	assert.Equal(t, 5, cfg.RareHosts)
	assert.Zero(t, cfg.RareShare)
	assert.Equal(t, 5*time.Minute, cfg.MaxFuture)
	assert.Empty(t, cfg.BaselineGroup)
	assert.Zero(t, specs[0].KnownAfterHosts)
	assert.Empty(t, specs[0].RareSignal)
	rare := []string{"", "rare_binary_in_environment", "rare_external_ip", "rare_domain", "rare_ip_for_binary"}
	for i, s := range specs {
		assert.Equal(t, rare[i], s.RareSignal, s.Name)
		if s.Scope == tracker.ScopeEnvironment {
			assert.Equal(t, 3, s.KnownAfterHosts)
			assert.Equal(t, 5, s.RareHosts)
			assert.Zero(t, s.RareShare)
		}
	}
}

func TestCustomConfig(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)
	id := component.MustNewID("file_storage")
	assert.Equal(t, &id, cfg.Storage)
	assert.Equal(t, 30*time.Second, cfg.FlushInterval)
	assert.Equal(t, 2*time.Hour, cfg.PersistGranularity)
	assert.Equal(t, []string{"203.0.114.0/24"}, cfg.InternalNetworks)
	assert.Equal(t, []string{"10.99.0.0/16"}, cfg.ExternalNetworks)
	assert.Equal(t, 1024, cfg.MaxValueBytes)
	assert.Equal(t, "all", cfg.EventIDs)
	seven := duration.Duration(7 * 24 * time.Hour)
	assert.Equal(t, &seven, cfg.Trackers[0].History)
	assert.Equal(t, map[string][]string{"event.category": {"process"}, "event.type": {"start"}}, cfg.Trackers[2].When)

	assert.Equal(t, 2, cfg.KnownAfterHosts)
	assert.Equal(t, 4, cfg.RareHosts)
	assert.Equal(t, 0.05, cfg.RareShare)
	assert.Equal(t, 2*time.Minute, cfg.MaxFuture)
	assert.Equal(t, "pipeline-a", cfg.BaselineGroup)

	specs, err := cfg.specs()
	require.NoError(t, err)
	require.Len(t, specs, 3, "a listed set replaces the defaults")
	// Per tracker over the processor's defaults; a default tracker keeps its
	// rare signal, one of your own names it.
	assert.Equal(t, 2, specs[0].KnownAfterHosts)
	assert.Equal(t, 8, specs[0].RareHosts)
	assert.Equal(t, 0.05, specs[0].RareShare)
	assert.Equal(t, "rare_domain", specs[0].RareSignal)
	assert.Equal(t, 1, specs[1].KnownAfterHosts)
	assert.Equal(t, 4, specs[1].RareHosts)
	assert.Equal(t, "rare_service_account", specs[1].RareSignal)
	specs = append(specs[:1], specs[2:]...)
	// new_domain inherits what it does not set.
	assert.Equal(t, [][]string{{"dns.question.name", "destination.domain"}}, specs[0].Fields)
	assert.Equal(t, tracker.ScopeEnvironment, specs[0].Scope)
	assert.Equal(t, 7*24*time.Hour, specs[0].History)
	assert.Equal(t, 24*time.Hour, specs[0].Learning)
	assert.Equal(t, []string{"*.corp.example"}, specs[0].Exclude)
	assert.Equal(t, "deployment.environment.name", specs[0].EnvironmentField)
	assert.Equal(t, time.Duration(0), specs[1].Learning)
	assert.Equal(t, 5000, specs[1].MaxTerms)
	assert.Equal(t, 200, specs[1].MaxScopes)
}

func TestInvalidConfigs(t *testing.T) {
	cases := map[string]string{
		"bad_scope":                `scope must be "host" or "environment"`,
		"too_many_fields":          "fields must list 1 to 3 fields",
		"no_fields":                "fields must list 1 to 3 fields",
		"duplicate":                "duplicate tracker name",
		"bad_cidr":                 "internal_networks",
		"bad_duration":             `invalid duration "soon"`,
		"history_too_short":        "must be longer than persist_granularity",
		"no_name":                  "name is required",
		"bad_when":                 "when:",
		"bad_event_ids":            `event_ids must be "flagged" or "all"`,
		"bad_prevalence":           "known_after_hosts must be between 1 and 32",
		"prevalence_on_host":       "are for scope: environment",
		"rare_signal_is_a_tracker": `rare_signal "new_external_ip" is a tracker name`,
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}

func TestValidateCoreOptions(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.FlushInterval = 0
	cfg.PersistGranularity = 0
	cfg.MaxValueBytes = 0
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"flush_interval", "persist_granularity", "max_value_bytes"} {
		assert.Contains(t, err.Error(), want)
	}
	cfg = createDefaultConfig().(*Config)
	cfg.Trackers = []TrackerConfig{{Name: "custom", Fields: []string{"a|"}, Scope: "host"}}
	assert.ErrorContains(t, cfg.Validate(), "empty field")
	cfg.Trackers = []TrackerConfig{{Name: "custom", Fields: []string{"user.name"}, Scope: "host", MaxTerms: -1}}
	assert.ErrorContains(t, cfg.Validate(), "max_terms")
}

func TestValidatePrevalenceAndTime(t *testing.T) {
	_, err := loadConfig(t, "bad_prevalence")
	require.Error(t, err)
	for _, want := range []string{"known_after_hosts", "rare_hosts must be between 0 and 31", "rare_share must be between 0 and 1", "max_future must be positive"} {
		assert.Contains(t, err.Error(), want)
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Trackers = []TrackerConfig{{Name: "t", Fields: []string{"user.name"}, Scope: "environment", RareSignal: "t"}}
	assert.ErrorContains(t, cfg.Validate(), "rare_signal must differ")
	cfg.Trackers = []TrackerConfig{{Name: "new_domain", RareShare: func() *float64 { v := -1.0; return &v }()}}
	assert.ErrorContains(t, cfg.Validate(), "rare_share")
	// A default environment tracker moved to host scope leaves its rare
	// signal behind rather than failing.
	cfg.Trackers = []TrackerConfig{{Name: "new_domain", Scope: "host"}}
	require.NoError(t, cfg.Validate())
}

func TestConfigUnmarshalRejectsUnknownKeys(t *testing.T) {
	cm := confmap.NewFromStringMap(map[string]any{"trackers": []any{map[string]any{"name": "x", "feilds": []any{"a"}}}})
	cfg := createDefaultConfig().(*Config)
	assert.ErrorContains(t, cm.Unmarshal(cfg), "feilds")
}

// TestValidateBoundsSizes: max_terms and max_scopes beyond what the term
// stores can index (termstore.MaxCap) are configuration errors stating the
// allowed range. max_terms: 2000000000 used to panic in Validate
// (termstore.New, through tracker.New), so `otelcol-cairn validate` crashed.
func TestValidateBoundsSizes(t *testing.T) {
	const want = "between 1 and 1073741824"
	cases := map[string]struct {
		tracker map[string]any
		option  string
	}{
		"host max_terms":               {map[string]any{"name": "new_binary_on_host", "max_terms": 2_000_000_000}, "max_terms"},
		"custom host max_terms":        {map[string]any{"name": "x", "fields": []any{"user.name"}, "scope": "host", "max_terms": int64(1) << 40}, "max_terms"},
		"environment max_terms":        {map[string]any{"name": "new_domain", "max_terms": 2_000_000_000}, "max_terms"},
		"max_terms max int":            {map[string]any{"name": "new_binary_on_host", "max_terms": int64(math.MaxInt64)}, "max_terms"},
		"negative max_terms":           {map[string]any{"name": "new_binary_on_host", "max_terms": -1}, "max_terms"},
		"host max_scopes":              {map[string]any{"name": "new_binary_on_host", "max_scopes": 2_000_000_000}, "max_scopes"},
		"environment max_scopes":       {map[string]any{"name": "new_domain", "max_scopes": int64(math.MaxInt64)}, "max_scopes"},
		"negative max_scopes":          {map[string]any{"name": "new_domain", "max_scopes": math.MinInt32}, "max_scopes"},
		"min int max_terms and scopes": {map[string]any{"name": "new_domain", "max_terms": int64(math.MinInt64), "max_scopes": int64(math.MinInt64)}, "max_terms"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(map[string]any{"trackers": []any{c.tracker}}).Unmarshal(cfg))
			var err error
			require.NotPanics(t, func() { err = cfg.Validate() })
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.option+" must be "+want)
		})
	}

	// The largest allowed sizes are valid, and a processor with them
	// allocates nothing in proportion at creation and start: the stores
	// grow with use.
	cfg := createDefaultConfig().(*Config)
	cfg.Trackers = []TrackerConfig{{Name: "new_binary_on_host", MaxTerms: 1 << 30, MaxScopes: 1 << 30}}
	require.NoError(t, cfg.Validate())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	runtime.ReadMemStats(&after)
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated by creating and starting the processor")
}
