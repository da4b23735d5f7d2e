package correlateprocessor

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/cairnsec/cairn/internal/condition"
	"github.com/cairnsec/cairn/internal/duration"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/redisconf"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
)

// Config is the correlate processor's configuration.
type Config struct {
	// Entity is the field whose value groups signals: host.name by default;
	// host.id, container.id, user.name, … or alternatives "a|b" (first
	// present wins). Events without it are passed on uncorrelated (counted).
	Entity string `mapstructure:"entity"`
	// Signals is the catalog of signal names with their default weight and
	// ATT&CK mapping. Omitted: the defaults for Cairn's own signals. An entry
	// named like a default signal inherits what it leaves unset; weight 0
	// turns a signal off.
	Signals map[string]SignalConfig `mapstructure:"signals"`
	// SignalMappings turn other detectors' events into signals.
	SignalMappings []MappingConfig `mapstructure:"signal_mappings"`
	// Modifiers multiply the weight of every signal of a matching event.
	Modifiers []ModifierConfig `mapstructure:"modifiers"`
	// Rules to evaluate. Omitted: the two default rules. An entry whose id is
	// a default rule's inherits what it leaves unset.
	Rules []RuleConfig `mapstructure:"rules"`

	// Lateness is how far out of order (in event time) an event may arrive
	// and still be placed in its windows; later ones are dropped (counted).
	Lateness time.Duration `mapstructure:"lateness"`
	// MaxEntities bounds the entities held; the least recently active go first.
	MaxEntities int `mapstructure:"max_entities"`
	// MaxSignalsPerEntity bounds the signal observations held per entity.
	MaxSignalsPerEntity int `mapstructure:"max_signals_per_entity"`
	// MaxContributions bounds the contributions listed on one alert.
	MaxContributions int `mapstructure:"max_contributions"`

	// Storage is the ID of a storage extension (file_storage) that keeps the
	// correlation state across restarts.
	Storage *component.ID `mapstructure:"storage"`
	// FlushInterval is how often changed entities are written to storage.
	FlushInterval time.Duration `mapstructure:"flush_interval"`

	// Store "redis" keeps each entity's state in Redis too, so that a
	// gateway taking over a host continues its windows; "local" (default)
	// keeps it in this collector only.
	Store string `mapstructure:"store"`
	// Redis is the connection used with store: redis.
	Redis redisconf.Config `mapstructure:"redis"`

	// LogAlerts writes one readable log line per alert fired (info) and
	// updated (debug) to the collector's own log: the console view of
	// `make run`.
	LogAlerts bool `mapstructure:"log_alerts"`

	_ struct{}
}

// SignalConfig describes a signal, in the catalog or in a rule.
type SignalConfig struct {
	// Weight is added to a rule's score per occurrence; 0 ignores the signal.
	Weight *float64 `mapstructure:"weight"`
	// Cap bounds what the signal adds to one window; 0 (default): only the
	// strongest occurrence counts, repeats add nothing.
	Cap *float64 `mapstructure:"cap"`
	// Tactic is an ATT&CK tactic id (TA0002); "none" clears an inherited one.
	Tactic string `mapstructure:"tactic"`
	// Technique is an ATT&CK technique or sub-technique id (T1071,
	// T1204.002). Alerts put a sub-technique in
	// threat.technique.subtechnique.* and its parent in threat.technique.*.
	Technique string `mapstructure:"technique"`
	// TechniqueName is needed for techniques Cairn does not know by name;
	// for a sub-technique whose parent Cairn does not know either, ATT&CK's
	// "Technique: Sub-technique" form ("OS Credential Dumping: LSASS
	// Memory").
	TechniqueName string `mapstructure:"technique_name"`
	// Label is a few words used in alert messages.
	Label string `mapstructure:"label"`

	_ struct{}
}

// MappingConfig raises a signal on events that match.
type MappingConfig struct {
	Signal string              `mapstructure:"signal"`
	When   map[string][]string `mapstructure:"when"`

	_ struct{}
}

// ModifierConfig weighs the signals of matching events more (or less).
type ModifierConfig struct {
	Name       string              `mapstructure:"name"`
	When       map[string][]string `mapstructure:"when"`
	Multiplier float64             `mapstructure:"multiplier"`

	_ struct{}
}

// RuleConfig is one correlation rule.
type RuleConfig struct {
	ID          string `mapstructure:"id"`
	Name        string `mapstructure:"name"`
	Description string `mapstructure:"description"`
	// Window of event time whose signals count together (default 1h).
	Window *duration.Duration `mapstructure:"window"`
	// Signals: the catalog signals this rule counts, with optional
	// overrides. Omitted: every catalog signal, as in the catalog.
	Signals   map[string]SignalConfig `mapstructure:"signals"`
	Condition *ConditionConfig        `mapstructure:"condition"`
	// Severity: low, medium, high or critical.
	Severity string `mapstructure:"severity"`
	// RiskScore 0–100 (event.risk_score).
	RiskScore *float64 `mapstructure:"risk_score"`
	// SuppressFor: after firing, evidence for the same entity updates the
	// alert for this long instead of opening a new one (default: window).
	SuppressFor *duration.Duration `mapstructure:"suppress_for"`
	// SupersededBy lists rule ids whose open alert for the entity keeps this
	// rule from opening its own (an early warning under a full alert).
	SupersededBy []string `mapstructure:"superseded_by"`
	// Exceptions: events matching any of these never contribute.
	Exceptions []map[string][]string `mapstructure:"exceptions"`

	_ struct{}
}

// ConditionConfig: every set clause must hold.
type ConditionConfig struct {
	MinScore           float64  `mapstructure:"min_score"`
	MinDistinctSignals int      `mapstructure:"min_distinct_signals"`
	MinTactics         int      `mapstructure:"min_tactics"`
	AnyOf              []string `mapstructure:"any_of"`
	AllOf              []string `mapstructure:"all_of"`

	_ struct{}
}

const (
	defaultEntity           = "host.name"
	defaultLateness         = 5 * time.Minute
	defaultMaxEntities      = 50_000
	defaultMaxSignals       = 32
	defaultMaxContributions = 32
	defaultFlush            = 10 * time.Second
	defaultWindow           = time.Hour

	storeLocal         = "local"
	storeRedis         = "redis"
	defaultRedisPrefix = "cairn:correlate:"
)

// severities maps severity names to ECS event.severity numbers, on the scale
// Elastic's detection rules use for the same names.
var severities = map[string]int64{"low": 21, "medium": 47, "high": 73, "critical": 99}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every error names the offending option.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.Lateness < 0 {
		errs = errors.Join(errs, errors.New("lateness must not be negative"))
	}
	if cfg.MaxEntities <= 0 {
		errs = errors.Join(errs, errors.New("max_entities must be positive"))
	}
	if cfg.MaxSignalsPerEntity <= 0 {
		errs = errors.Join(errs, errors.New("max_signals_per_entity must be positive"))
	}
	if cfg.MaxContributions <= 0 {
		errs = errors.Join(errs, errors.New("max_contributions must be positive"))
	}
	if cfg.FlushInterval <= 0 {
		errs = errors.Join(errs, errors.New("flush_interval must be positive"))
	}
	switch cfg.Store {
	case storeLocal:
	case storeRedis:
		errs = errors.Join(errs, cfg.Redis.Check())
	default:
		errs = errors.Join(errs, fmt.Errorf(`store must be "local" or "redis", got %q`, cfg.Store))
	}
	_, err := cfg.compile()
	return errors.Join(errs, err)
}

// compiled is the configuration in the form the processor runs.
type compiled struct {
	entity    []*event.Field
	engine    engine.Config
	rules     []ruleInfo
	mappings  []mapping
	modifiers []modifier
	// exceptions[i] lists the conditions of rule i.
	exceptions [][]condition.Condition
	signalIdx  map[string]int
}

// ruleInfo is what alert records need of a rule beyond the engine's view.
type ruleInfo struct {
	description string
	severity    string
	riskScore   float64
}

type mapping struct {
	signal int
	when   condition.Condition
}

type modifier struct {
	name string
	when condition.Condition
	mult float64
}

func (cfg *Config) compile() (*compiled, error) {
	var errs error
	c := &compiled{signalIdx: map[string]int{}}
	alts := event.SplitAlternatives(cfg.Entity)
	if len(alts) == 0 {
		errs = errors.Join(errs, fmt.Errorf("entity: %q is not a field name or a list of alternatives a|b", cfg.Entity))
	}
	for _, a := range alts {
		c.entity = append(c.entity, event.Lookup(a))
	}

	// The catalog: defaults, user entries merged over them.
	catalog := map[string]SignalConfig{}
	for name, sc := range DefaultSignals() {
		catalog[name] = sc
	}
	for name, sc := range cfg.Signals {
		if name == "" {
			errs = errors.Join(errs, errors.New("signals: empty signal name"))
			continue
		}
		catalog[name] = sc.over(catalog[name])
	}
	for _, m := range cfg.SignalMappings {
		if _, ok := catalog[m.Signal]; !ok && m.Signal != "" {
			errs = errors.Join(errs, fmt.Errorf("signal_mappings: signal %q is not in the signals catalog: add it there with a weight", m.Signal))
		}
	}
	names := make([]string, 0, len(catalog))
	for name := range catalog {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sig, err := catalog[name].signal(name)
		if err != nil {
			errs = errors.Join(errs, prefixed("signals["+name+"]", err))
		}
		if w := catalog[name].weight(); w < 0 {
			errs = errors.Join(errs, fmt.Errorf("signals[%s]: weight must not be negative", name))
		}
		c.signalIdx[name] = len(c.engine.Signals)
		c.engine.Signals = append(c.engine.Signals, sig)
	}

	for i, m := range cfg.SignalMappings {
		where := fmt.Sprintf("signal_mappings[%d]", i)
		if m.Signal == "" {
			errs = errors.Join(errs, fmt.Errorf("%s: signal is required", where))
			continue
		}
		if len(m.When) == 0 {
			errs = errors.Join(errs, fmt.Errorf("%s: when is required (a mapping without it would tag every event)", where))
			continue
		}
		when, err := condition.FromMap(m.When)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s: when: %w", where, err))
			continue
		}
		if idx, ok := c.signalIdx[m.Signal]; ok {
			c.mappings = append(c.mappings, mapping{signal: idx, when: when})
		}
	}
	for i, m := range cfg.Modifiers {
		where := fmt.Sprintf("modifiers[%d]", i)
		if m.Name != "" {
			where = fmt.Sprintf("modifiers[%s]", m.Name)
		}
		if m.Multiplier <= 0 {
			errs = errors.Join(errs, fmt.Errorf("%s: multiplier must be positive", where))
		}
		if len(m.When) == 0 {
			errs = errors.Join(errs, fmt.Errorf("%s: when is required", where))
			continue
		}
		when, err := condition.FromMap(m.When)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s: when: %w", where, err))
			continue
		}
		c.modifiers = append(c.modifiers, modifier{name: m.Name, when: when, mult: m.Multiplier})
	}

	rules := append([]RuleConfig(nil), cfg.Rules...)
	if len(rules) == 0 {
		rules = DefaultRules()
	}
	if len(rules) > engine.MaxRules {
		errs = errors.Join(errs, fmt.Errorf("rules: at most %d rules, got %d", engine.MaxRules, len(rules)))
		rules = rules[:engine.MaxRules]
	}
	ids := map[string]int{}
	for i, rc := range rules {
		rc = rc.inherit()
		rules[i] = rc
		if rc.ID == "" {
			errs = errors.Join(errs, fmt.Errorf("rules[%d]: id is required", i))
			continue
		}
		if _, dup := ids[rc.ID]; dup {
			errs = errors.Join(errs, fmt.Errorf("rules[%s]: duplicate rule id", rc.ID))
			continue
		}
		ids[rc.ID] = i
	}
	for i, rc := range rules {
		r, info, exc, err := rc.compile(i, c, catalog, ids)
		if err != nil {
			errs = errors.Join(errs, prefixed("rules["+ruleName(rc, i)+"]", err))
		}
		c.engine.Rules = append(c.engine.Rules, r)
		c.rules = append(c.rules, info)
		c.exceptions = append(c.exceptions, exc)
	}
	c.engine.Lateness = int64(cfg.Lateness)
	c.engine.MaxEntities = cfg.MaxEntities
	c.engine.MaxObservations = cfg.MaxSignalsPerEntity
	c.engine.MaxContributions = cfg.MaxContributions
	if errs != nil {
		return nil, errs
	}
	if _, err := engine.New(c.engine); err != nil {
		return nil, err
	}
	return c, nil
}

// prefixed puts where in front of every error joined in err, so that each
// line of the collector's error report names its option.
func prefixed(where string, err error) error {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		var out error
		for _, e := range multi.Unwrap() {
			out = errors.Join(out, prefixed(where, e))
		}
		return out
	}
	return fmt.Errorf("%s: %w", where, err)
}

func ruleName(rc RuleConfig, i int) string {
	if rc.ID != "" {
		return rc.ID
	}
	return fmt.Sprint(i)
}

func (sc SignalConfig) weight() float64 {
	if sc.Weight == nil {
		return 0
	}
	return *sc.Weight
}

// over returns sc with what it leaves unset taken from base.
func (sc SignalConfig) over(base SignalConfig) SignalConfig {
	out := base
	if sc.Weight != nil {
		out.Weight = sc.Weight
	}
	if sc.Cap != nil {
		out.Cap = sc.Cap
	}
	if sc.Tactic != "" {
		out.Tactic = sc.Tactic
	}
	if sc.Technique != "" {
		out.Technique = sc.Technique
		out.TechniqueName = sc.TechniqueName
	}
	if sc.Label != "" {
		out.Label = sc.Label
	}
	return out
}

func (sc SignalConfig) signal(name string) (engine.Signal, error) {
	var errs error
	s := engine.Signal{Name: name, Tactic: -1, Label: sc.Label}
	if s.Label == "" {
		s.Label = name
	}
	if sc.Tactic != "" && sc.Tactic != "none" {
		t, err := attack.LookupTactic(sc.Tactic)
		errs = errors.Join(errs, err)
		s.Tactic = t.Index
		if err != nil {
			s.Tactic = -1
		}
	}
	if sc.Technique != "" && sc.Technique != "none" {
		t, err := attack.LookupTechnique(sc.Technique, sc.TechniqueName)
		errs = errors.Join(errs, err)
		s.Technique = t
	}
	if sc.Cap != nil && *sc.Cap < 0 {
		errs = errors.Join(errs, errors.New("cap must not be negative"))
	}
	return s, errs
}

// inherit fills what a rule with a default rule's id leaves unset.
func (rc RuleConfig) inherit() RuleConfig {
	var base *RuleConfig
	for _, d := range DefaultRules() {
		if d.ID == rc.ID {
			base = &d
			break
		}
	}
	if base == nil {
		return rc
	}
	out := *base
	if rc.Name != "" {
		out.Name = rc.Name
	}
	if rc.Description != "" {
		out.Description = rc.Description
	}
	if rc.Window != nil {
		out.Window = rc.Window
	}
	if rc.Signals != nil {
		out.Signals = rc.Signals
	}
	if rc.Condition != nil {
		out.Condition = rc.Condition
	}
	if rc.Severity != "" {
		out.Severity = rc.Severity
	}
	if rc.RiskScore != nil {
		out.RiskScore = rc.RiskScore
	}
	if rc.SuppressFor != nil {
		out.SuppressFor = rc.SuppressFor
	}
	if rc.SupersededBy != nil {
		out.SupersededBy = rc.SupersededBy
	}
	if rc.Exceptions != nil {
		out.Exceptions = rc.Exceptions
	}
	return out
}

func (rc RuleConfig) compile(index int, c *compiled, catalog map[string]SignalConfig, ids map[string]int) (*engine.Rule, ruleInfo, []condition.Condition, error) {
	var errs error
	r := &engine.Rule{Index: index, ID: rc.ID, Name: rc.Name, Window: int64(defaultWindow),
		Signals: make([]engine.RuleSignal, len(c.engine.Signals))}
	if rc.Name == "" {
		errs = errors.Join(errs, errors.New("name is required"))
	}
	if rc.Window != nil {
		r.Window = int64(rc.Window.D())
		if r.Window <= 0 {
			errs = errors.Join(errs, errors.New("window must be positive"))
			r.Window = int64(defaultWindow)
		}
	}
	r.SuppressFor = r.Window
	if rc.SuppressFor != nil {
		r.SuppressFor = int64(rc.SuppressFor.D())
		if r.SuppressFor < 0 {
			errs = errors.Join(errs, errors.New("suppress_for must not be negative"))
			r.SuppressFor = 0
		}
	}

	// Weights: the rule's own list over the catalog, or the whole catalog.
	if rc.Signals == nil {
		for name, sc := range catalog {
			r.Signals[c.signalIdx[name]] = ruleSignal(sc)
		}
	} else {
		for name, sc := range rc.Signals {
			base, ok := catalog[name]
			if !ok {
				errs = errors.Join(errs, fmt.Errorf("signals: %q is not in the signals catalog", name))
				continue
			}
			merged := sc.over(base)
			if sc.Tactic != "" || sc.Technique != "" {
				errs = errors.Join(errs, fmt.Errorf("signals[%s]: set tactic and technique in the signals catalog, not per rule", name))
			}
			if merged.weight() < 0 || (merged.Cap != nil && *merged.Cap < 0) {
				errs = errors.Join(errs, fmt.Errorf("signals[%s]: weight and cap must not be negative", name))
			}
			r.Signals[c.signalIdx[name]] = ruleSignal(merged)
		}
	}

	// Condition.
	if rc.Condition == nil {
		errs = errors.Join(errs, errors.New("condition is required"))
	} else {
		cc := rc.Condition
		if cc.MinScore < 0 || cc.MinDistinctSignals < 0 || cc.MinTactics < 0 {
			errs = errors.Join(errs, errors.New("condition: minimums must not be negative"))
		}
		if cc.MinScore > 0 {
			r.Criteria = append(r.Criteria, criteria.MinScore(cc.MinScore))
		}
		if cc.MinDistinctSignals > 0 {
			r.Criteria = append(r.Criteria, criteria.MinDistinct(cc.MinDistinctSignals))
		}
		if cc.MinTactics > 0 {
			r.Criteria = append(r.Criteria, criteria.MinTactics(cc.MinTactics))
		}
		for _, clause := range []struct {
			key   string
			names []string
			all   bool
		}{{"any_of", cc.AnyOf, false}, {"all_of", cc.AllOf, true}} {
			if len(clause.names) == 0 {
				continue
			}
			var idx []int
			for _, n := range clause.names {
				i, ok := c.signalIdx[n]
				switch {
				case !ok:
					errs = errors.Join(errs, fmt.Errorf("condition: %s: %q is not in the signals catalog", clause.key, n))
				case r.Signals[i].Weight <= 0:
					errs = errors.Join(errs, fmt.Errorf("condition: %s: signal %q has no weight in this rule, so it can never be present", clause.key, n))
				}
				idx = append(idx, i)
			}
			if clause.all {
				r.Criteria = append(r.Criteria, criteria.AllOf{Signals: idx, Names: clause.names})
			} else {
				r.Criteria = append(r.Criteria, criteria.AnyOf{Signals: idx, Names: clause.names})
			}
		}
		if len(r.Criteria) == 0 {
			errs = errors.Join(errs, errors.New("condition: set at least one of min_score, min_distinct_signals, min_tactics, any_of, all_of"))
		}
	}

	info := ruleInfo{description: rc.Description, severity: rc.Severity}
	if _, ok := severities[rc.Severity]; !ok {
		errs = errors.Join(errs, fmt.Errorf("severity must be low, medium, high or critical, got %q", rc.Severity))
	}
	if rc.RiskScore == nil {
		errs = errors.Join(errs, errors.New("risk_score is required (0–100)"))
	} else {
		info.riskScore = *rc.RiskScore
		if info.riskScore < 0 || info.riskScore > 100 {
			errs = errors.Join(errs, errors.New("risk_score must be between 0 and 100"))
		}
	}
	for _, id := range rc.SupersededBy {
		j, ok := ids[id]
		switch {
		case !ok:
			errs = errors.Join(errs, fmt.Errorf("superseded_by: no rule with id %q", id))
		case j == index:
			errs = errors.Join(errs, errors.New("superseded_by: a rule cannot supersede itself"))
		default:
			r.SupersededBy = append(r.SupersededBy, j)
		}
	}
	var exc []condition.Condition
	for i, m := range rc.Exceptions {
		if len(m) == 0 {
			errs = errors.Join(errs, fmt.Errorf("exceptions[%d]: empty (it would except every event)", i))
			continue
		}
		cond, err := condition.FromMap(m)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("exceptions[%d]: %w", i, err))
			continue
		}
		exc = append(exc, cond)
	}
	return r, info, exc, errs
}

func ruleSignal(sc SignalConfig) engine.RuleSignal {
	rs := engine.RuleSignal{Weight: sc.weight()}
	if sc.Cap != nil {
		rs.Cap = *sc.Cap
	}
	return rs
}

func f64(v float64) *float64 { return &v }

func dur(d time.Duration) *duration.Duration {
	v := duration.Duration(d)
	return &v
}

// DefaultSignals is the built-in catalog: Cairn's own signal names (part of
// its interface) with weights that make one of them alone far too weak to
// alert, and the ATT&CK tactic each one is evidence of.
func DefaultSignals() map[string]SignalConfig {
	return map[string]SignalConfig{
		event.SignalNewBinaryOnHost:        {Weight: f64(10), Tactic: "TA0002", Label: "binary new on this host"},
		event.SignalNewBinaryInEnvironment: {Weight: f64(20), Tactic: "TA0002", Label: "binary new to the environment"},
		event.SignalNewIPForBinary:         {Weight: f64(10), Tactic: "TA0011", Label: "address this binary never reached before"},
		event.SignalNewExternalIP:          {Weight: f64(20), Tactic: "TA0011", Label: "external IP never seen before"},
		event.SignalNewDomain:              {Weight: f64(20), Tactic: "TA0011", Label: "domain never seen before"},
		// A known-malicious binary run: User Execution, narrowed to its
		// sub-technique Malicious File (threat.technique.subtechnique.*).
		event.SignalIntelMaliciousHash:  {Weight: f64(50), Tactic: "TA0002", Technique: "T1204.002", Label: "hash known as malicious"},
		event.SignalIntelSuspiciousHash: {Weight: f64(25), Tactic: "TA0002", Label: "hash known as suspicious"},
		event.SignalIntelBadIP:          {Weight: f64(40), Tactic: "TA0011", Technique: "T1071", Label: "IP on a threat feed"},
		event.SignalIntelBadDomain:      {Weight: f64(40), Tactic: "TA0011", Technique: "T1071", Label: "domain on a threat feed"},
	}
}

// Ids of the default rules.
const (
	RuleEarlyWarning     = "cairn-early-warning"
	RuleCompromisedHost  = "cairn-compromised-host"
	compromisedHostTitle = "Potentially Compromised Host"
)

// DefaultRules are the two reference rules: an early warning when two
// different steps of an intrusion show on one host, and the composite alert
// when enough evidence piles up. The early warning stands down while the
// composite alert is open, so a host under attack gets one alert.
func DefaultRules() []RuleConfig {
	return []RuleConfig{
		{
			ID:           RuleEarlyWarning,
			Name:         "Suspicious Host Activity",
			Description:  "Two different kinds of weak signal on one host within the window, covering two ATT&CK tactics (for example a new binary and a new external destination).",
			Window:       dur(time.Hour),
			Condition:    &ConditionConfig{MinDistinctSignals: 2, MinTactics: 2},
			Severity:     "low",
			RiskScore:    f64(21),
			SuppressFor:  dur(time.Hour),
			SupersededBy: []string{RuleCompromisedHost},
		},
		{
			ID:          RuleCompromisedHost,
			Name:        compromisedHostTitle,
			Description: "Weak signals on one host add up: new binaries, new external destinations and threat-intel matches within the window, across at least two ATT&CK tactics.",
			Window:      dur(time.Hour),
			Condition:   &ConditionConfig{MinScore: 100, MinDistinctSignals: 3, MinTactics: 2},
			Severity:    "high",
			RiskScore:   f64(73),
			SuppressFor: dur(time.Hour),
		},
	}
}

// defaultModifiers weigh signals raised by root processes more.
func defaultModifiers() []ModifierConfig {
	return []ModifierConfig{{Name: "root", When: map[string][]string{"user.id": {"0"}}, Multiplier: 1.5}}
}
