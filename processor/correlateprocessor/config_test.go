package correlateprocessor

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
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
	c, err := cfg.compile()
	require.NoError(t, err)
	require.Len(t, c.engine.Rules, 2)
	ew, pch := c.engine.Rules[0], c.engine.Rules[1]
	assert.Equal(t, RuleEarlyWarning, ew.ID)
	assert.Equal(t, []int{1}, ew.SupersededBy)
	assert.Equal(t, "Potentially Compromised Host", pch.Name)
	assert.Equal(t, int64(time.Hour), pch.Window)
	intel, critical := c.signalIdx["intel_malicious_hash"], c.signalIdx["sigma_critical"]
	assert.Equal(t, []criteria.Criterion{criteria.Either{Groups: [][]criteria.Criterion{
		{criteria.MinScore(100), criteria.MinDistinct(3), criteria.MinTactics(2)},
		{criteria.MinDistinct(2), criteria.AllOf{Signals: []int{intel}, Names: []string{"intel_malicious_hash"}}},
		{criteria.MinDistinct(2), criteria.AllOf{Signals: []int{critical}, Names: []string{"sigma_critical"}}},
	}}}, pch.Criteria)
	assert.Equal(t, engine.RuleSignal{Weight: 10, Cap: 30, Ratio: 0.5}, pch.Signals[c.signalIdx["new_binary_on_host"]])
	assert.Len(t, c.engine.Signals, 21)
	assert.Equal(t, keyKind(keyIP), c.keys[c.signalIdx["new_ip_for_binary"]].kind)
	assert.Equal(t, int64(event.DefaultMaxFuture), c.engine.MaxFuture)
	assert.Equal(t, "host.name", c.entity[0].Name)
	require.Len(t, c.modifiers, 1)
	assert.Equal(t, 1.5, c.modifiers[0].mult)
	assert.Equal(t, "high", c.rules[1].severity)
	assert.Equal(t, 73.0, c.rules[1].riskScore)
}

func TestFullConfig(t *testing.T) {
	cfg, err := loadConfig(t, "full")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, cfg.Lateness)
	assert.Equal(t, 10*time.Minute, cfg.MaxFuture)
	assert.Equal(t, 0.25, cfg.DistinctRatio)
	assert.Equal(t, "fleet-a", cfg.BaselineGroup)
	assert.Equal(t, component.MustNewID("file_storage"), *cfg.Storage)
	assert.False(t, cfg.LogAlerts)
	assert.Equal(t, storeRedis, cfg.Store)
	assert.Equal(t, "redis.internal:6379", cfg.Redis.Endpoint)
	assert.Equal(t, "fleet-a:correlate:", cfg.Redis.KeyPrefix)
	assert.Equal(t, 50*time.Millisecond, cfg.Redis.Timeout)
	assert.Equal(t, 2*time.Second, cfg.Redis.DialTimeout, "defaults kept for what is not set")
	c, err := cfg.compile()
	require.NoError(t, err)
	require.Len(t, c.entity, 2)
	assert.Equal(t, "host.id", c.entity[0].Name)
	assert.Len(t, c.engine.Signals, 22, "the defaults and one added")
	falco := c.signalIdx["falco_shell_in_container"]
	assert.Equal(t, attack.Technique{ID: "T1059", Name: "Command and Scripting Interpreter", SubID: "T1059.004", SubName: "Unix Shell"},
		c.engine.Signals[falco].Technique, "a sub-technique is kept under its parent technique")
	require.Len(t, c.keys[falco].fields, 2, "key fields")
	assert.Equal(t, "rule.name", c.keys[falco].fields[0][0].Name)
	assert.Len(t, c.keys[falco].fields[1], 2, "alternatives")
	assert.Equal(t, int64(10*time.Minute), c.engine.MaxFuture)
	assert.Equal(t, "domain nobody reached before", c.engine.Signals[c.signalIdx["new_domain"]].Label)
	require.Len(t, c.mappings, 1)
	assert.Len(t, c.modifiers, 2)

	require.Len(t, c.engine.Rules, 2)
	pch := c.engine.Rules[0]
	assert.Equal(t, "Potentially Compromised Host", pch.Name, "inherited from the default rule")
	assert.Equal(t, []criteria.Criterion{criteria.Either{Groups: [][]criteria.Criterion{
		{criteria.MinScore(80), criteria.MinTactics(2)},
		{criteria.AllOf{Signals: []int{c.signalIdx["intel_malicious_hash"], falco}, Names: []string{"intel_malicious_hash", "falco_shell_in_container"}}},
	}}}, pch.Criteria)
	assert.Zero(t, pch.Signals[c.signalIdx["new_ip_for_binary"]].Weight, "weight 0 turns a signal off")
	assert.Equal(t, engine.RuleSignal{Weight: 40, Cap: 100, Ratio: 1}, pch.Signals[falco], "the catalog's ratio")
	assert.Equal(t, engine.RuleSignal{Weight: 20, Cap: 30, Ratio: 0.25}, pch.Signals[c.signalIdx["new_binary_in_environment"]], "distinct_ratio")
	assert.Len(t, c.exceptions[0], 1)

	custom := c.engine.Rules[1]
	assert.Equal(t, int64(30*time.Minute), custom.Window)
	assert.Equal(t, int64(2*time.Hour), custom.SuppressFor)
	assert.Equal(t, []int{0}, custom.SupersededBy)
	assert.Equal(t, 40.0, custom.Signals[falco].Weight, "catalog weight")
	ext := custom.Signals[c.signalIdx["new_external_ip"]]
	assert.Equal(t, engine.RuleSignal{Weight: 30, Cap: 60, Ratio: 0}, ext, "the rule's own ratio")
	assert.Zero(t, custom.Signals[c.signalIdx["new_domain"]].Weight, "not listed: not counted")
	assert.Equal(t, "critical", c.rules[1].severity)
}

func TestInvalidConfigs(t *testing.T) {
	for name, wants := range map[string][]string{
		"bad_rules": {
			"rules[a]: duplicate rule id",
			"severity must be low, medium, high or critical",
			"risk_score must be between 0 and 100",
			"superseded_by: a rule cannot supersede itself",
			`superseded_by: no rule with id "nope"`,
			"exceptions[0]: empty",
			`signals: "not_a_signal" is not in the signals catalog`,
			"set tactic, technique and key in the signals catalog, not per rule",
			"signals[new_external_ip]: ratio must be between 0 and 1",
			"condition: or[0]: set at least one of",
			"condition: or[1]: alternatives do not nest",
		},
		"bad_catalog": {
			"entity:",
			"lateness must be between 0 and 3650d (87600h), got -",
			"max_entities must be positive",
			"max_signals_per_entity must be positive",
			"max_contributions must be positive",
			"flush_interval must be positive",
			"max_future must be between 0 and 3650d (87600h), got -",
			"distinct_ratio must be between 0 and 1",
			"signals[w]: ratio must be between 0 and 1",
			`signals[w]: key: "" is not a field name`,
			`signals[w]: key: "a|" is not a field name`,
			"signals[x]: weight must be a finite number, not negative",
			`unknown ATT&CK tactic "TA9999"`,
			`technique "T99" is not an ATT&CK technique id`,
			"signals[y]: technique T1003: set technique_name",
			`signals[z]: sub-technique T1003.001: set technique_name to ATT&CK's "Technique: Sub-technique" name`,
			`signal "unknown_signal" is not in the signals catalog`,
			"signal_mappings[1]: when is required",
			"modifiers[zero]: multiplier must be a positive finite number",
		},
		"cycle": {"superseded_by forms a cycle"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			for _, w := range wants {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestEmptyCondition(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Rules = []RuleConfig{{ID: "r", Name: "R", Severity: "low", RiskScore: f64(1), Condition: &ConditionConfig{}}}
	assert.ErrorContains(t, cfg.Validate(), "rules[r]: condition: set at least one of min_score")
}

func TestConditionNamesAbsentSignal(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Rules = []RuleConfig{{ID: "r", Name: "R", Severity: "low", RiskScore: f64(1),
		Signals:   map[string]SignalConfig{"new_domain": {}},
		Condition: &ConditionConfig{AllOf: []string{"new_external_ip"}}}}
	assert.ErrorContains(t, cfg.Validate(), `signal "new_external_ip" has no weight in this rule`)
}

func TestValidateDoesNotChangeConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Rules = []RuleConfig{{ID: RuleCompromisedHost, Condition: &ConditionConfig{MinScore: 50}}}
	require.NoError(t, cfg.Validate())
	assert.Empty(t, cfg.Rules[0].Name, "inheritance happens in the compiled form only")
}

func TestStoreConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Store = "memcached"
	assert.ErrorContains(t, cfg.Validate(), `store must be "local" or "redis", got "memcached"`)
	cfg.Store = storeRedis
	assert.ErrorContains(t, cfg.Validate(), "redis: set endpoint, sentinel or cluster")
	cfg.Redis.Endpoint = "127.0.0.1:6379"
	assert.NoError(t, cfg.Validate())
	cfg.Store = storeLocal
	cfg.Redis.Endpoint = ""
	assert.NoError(t, cfg.Validate(), "redis options are not checked unless used")
}

// TestValidateBoundsExtremes: durations the engine adds to Unix-nanosecond
// times are bounded (beyond about 290 years the sums wrap around int64:
// restored state was dropped, windows swept at once), and NaN or infinite
// numbers (YAML's .nan, .inf) are refused: NaN passed every "< 0" and
// "> 1" check before and made every score NaN, so no rule could fire.
func TestValidateBoundsExtremes(t *testing.T) {
	rule := func(extra map[string]any) map[string]any {
		r := map[string]any{"id": RuleCompromisedHost}
		for k, v := range extra {
			r[k] = v
		}
		return map[string]any{"rules": []any{r}}
	}
	cases := map[string]struct {
		conf map[string]any
		want string
	}{
		"huge lateness":         {map[string]any{"lateness": "2562047h"}, "lateness must be between 0 and 3650d (87600h), got 2562047h0m0s"},
		"huge max_future":       {map[string]any{"max_future": "100000h"}, "max_future must be between 0 and 3650d (87600h)"},
		"huge window":           {rule(map[string]any{"window": "3651d"}), "rules[cairn-compromised-host]: window must be positive and at most 3650d (87600h)"},
		"huge suppress_for":     {rule(map[string]any{"suppress_for": "2562047h"}), "rules[cairn-compromised-host]: suppress_for must be between 0 and 3650d (87600h)"},
		"NaN distinct_ratio":    {map[string]any{"distinct_ratio": math.NaN()}, "distinct_ratio must be between 0 and 1"},
		"NaN signal weight":     {map[string]any{"signals": map[string]any{"new_domain": map[string]any{"weight": math.NaN()}}}, "signals[new_domain]: weight must be a finite number"},
		"infinite signal cap":   {map[string]any{"signals": map[string]any{"new_domain": map[string]any{"cap": math.Inf(1)}}}, "signals[new_domain]: cap must be a finite number"},
		"NaN signal ratio":      {map[string]any{"signals": map[string]any{"new_domain": map[string]any{"ratio": math.NaN()}}}, "signals[new_domain]: ratio must be between 0 and 1"},
		"infinite multiplier":   {map[string]any{"modifiers": []any{map[string]any{"name": "m", "when": map[string]any{"user.id": []any{"0"}}, "multiplier": math.Inf(1)}}}, "modifiers[m]: multiplier must be a positive finite number"},
		"NaN risk_score":        {rule(map[string]any{"risk_score": math.NaN()}), "risk_score must be between 0 and 100"},
		"NaN min_score":         {rule(map[string]any{"condition": map[string]any{"min_score": math.NaN(), "min_tactics": 1}}), "minimums must be finite numbers"},
		"NaN rule signal ratio": {rule(map[string]any{"signals": map[string]any{"new_domain": map[string]any{"ratio": math.NaN()}}}), "signals[new_domain]: ratio must be between 0 and 1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(c.conf).Unmarshal(cfg))
			var err error
			require.NotPanics(t, func() { err = cfg.Validate() })
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"lateness": "87600h", "max_future": "87600h", "rules": []any{map[string]any{"id": RuleCompromisedHost, "window": "3650d", "suppress_for": "3650d"}}}).Unmarshal(cfg))
	assert.NoError(t, cfg.Validate(), "the bounds themselves are valid")
}
