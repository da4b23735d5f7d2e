package correlateprocessor

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
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

	// DistinctRatio is what each further distinct raise of a signal (another
	// binary, destination, rule) weighs relative to the one before, unless
	// the signal sets its own ratio: w, w·r, w·r², … (default 0.5).
	DistinctRatio float64 `mapstructure:"distinct_ratio"`

	// Lateness is how far out of order (in event time) an event may arrive
	// and still be placed in its windows; later ones are dropped (counted).
	Lateness time.Duration `mapstructure:"lateness"`
	// MaxFuture is how far ahead of the collector's clock an event may be
	// dated and still be trusted. Beyond it the event is marked
	// cairn.time.skewed, correlated at its receipt time, and never moves a
	// host's clock or the sweep (default event.DefaultMaxFuture, 5m).
	MaxFuture time.Duration `mapstructure:"max_future"`
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

	// BaselineGroup names the internal/taint registry through which the
	// events of high and critical alerts are reported to the firstseen
	// processors of the same group (their option of the same name), so
	// that what those events taught the baseline is forgotten while the
	// alert is open. Default "": the group of every processor that does
	// not set one.
	BaselineGroup string `mapstructure:"baseline_group"`

	_ struct{}
}

// SignalConfig describes a signal, in the catalog or in a rule.
type SignalConfig struct {
	// Weight is added to a rule's score per occurrence; 0 ignores the signal.
	Weight *float64 `mapstructure:"weight"`
	// Cap bounds what the signal adds to one window; 0: no bound beyond the
	// diminishing series itself.
	Cap *float64 `mapstructure:"cap"`
	// Ratio overrides distinct_ratio for this signal: 0 counts its
	// strongest raise only, 1 adds every distinct raise in full (up to
	// the cap).
	Ratio *float64 `mapstructure:"ratio"`
	// Key lists the fields whose values tell raises of this signal apart
	// (each entry may be alternatives a|b, the first present counts),
	// when an event's cairn.signal_details gives no key. Default: derived
	// from the name (see keyKindOf).
	Key []string `mapstructure:"key"`
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

// ConditionConfig: every set clause must hold, or one of the alternatives
// in Or.
type ConditionConfig struct {
	MinScore           float64  `mapstructure:"min_score"`
	MinDistinctSignals int      `mapstructure:"min_distinct_signals"`
	MinTactics         int      `mapstructure:"min_tactics"`
	AnyOf              []string `mapstructure:"any_of"`
	AllOf              []string `mapstructure:"all_of"`
	// Or lists alternative conditions (each with the clauses above, not
	// nested further): the rule also fires when one of them holds.
	Or []ConditionConfig `mapstructure:"or"`

	_ struct{}
}

const (
	defaultEntity           = "host.name"
	defaultDistinctRatio    = 0.5
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

// maxSpan bounds every duration option (lateness, max_future, a rule's
// window and suppress_for): the engine adds and subtracts them to event
// times in Unix nanoseconds, and beyond a few centuries those sums wrap
// around int64 (state dropped at restore, windows swept at once).
const maxSpan = 3650 * 24 * time.Hour

// spanText is maxSpan as the messages give it.
const spanText = "3650d (87600h)"

// finite reports whether v is a number (not NaN, not ±Inf).
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// severities maps severity names to ECS event.severity numbers, on the scale
// Elastic's detection rules use for the same names.
var severities = map[string]int64{"low": 21, "medium": 47, "high": 73, "critical": 99}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every error names the offending option.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.Lateness < 0 || cfg.Lateness > maxSpan {
		errs = errors.Join(errs, fmt.Errorf("lateness must be between 0 and %s, got %s", spanText, cfg.Lateness))
	}
	if cfg.MaxFuture < 0 || cfg.MaxFuture > maxSpan {
		errs = errors.Join(errs, fmt.Errorf("max_future must be between 0 and %s, got %s", spanText, cfg.MaxFuture))
	}
	if !(cfg.DistinctRatio >= 0 && cfg.DistinctRatio <= 1) { // NaN too
		errs = errors.Join(errs, errors.New("distinct_ratio must be between 0 and 1"))
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
	// keys[i] is how raises of signal i without a detail key are told
	// apart.
	keys []keySource
}

// keySource says where the key of a raise comes from when its detail has
// none: configured fields, else a part of the evidence chosen by the
// signal's name.
type keySource struct {
	fields [][]*event.Field
	kind   keyKind
}

// keyKind is the part of an event's evidence that tells raises apart.
type keyKind uint8

const (
	keyNone   keyKind = iota
	keyBinary         // the hash, else the executable
	keyIP             // the destination address
	keyDomain         // the domain looked up or reached
	keyHash           // the hash (a feed matched it), else the executable
)

// keyKindOf derives a signal's key from its name, the convention of
// Cairn's signals: intel_*_hash the hash, *_ip* the destination address
// (new_ip_for_binary too: one destination reached by several new programs
// is one destination), *_domain the domain, *_binary* the binary. Other
// names have no derived key: their raises without a detail key are one.
func keyKindOf(name string) keyKind {
	switch {
	case strings.HasPrefix(name, "intel_") && strings.HasSuffix(name, "_hash"):
		return keyHash
	case strings.Contains(name, "_ip"):
		return keyIP
	case strings.HasSuffix(name, "_domain") || strings.Contains(name, "_domain_"):
		return keyDomain
	case strings.Contains(name, "_binary"):
		return keyBinary
	}
	return keyNone
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
		if w := catalog[name].weight(); !(w >= 0) || !finite(w) {
			errs = errors.Join(errs, fmt.Errorf("signals[%s]: weight must be a finite number, not negative", name))
		}
		if r := catalog[name].Ratio; r != nil && !(*r >= 0 && *r <= 1) {
			errs = errors.Join(errs, fmt.Errorf("signals[%s]: ratio must be between 0 and 1", name))
		}
		ks := keySource{kind: keyKindOf(name)}
		for _, k := range catalog[name].Key {
			alts := event.SplitAlternatives(k)
			if len(alts) == 0 {
				errs = errors.Join(errs, fmt.Errorf("signals[%s]: key: %q is not a field name or a list of alternatives a|b", name, k))
				continue
			}
			var fs []*event.Field
			for _, a := range alts {
				fs = append(fs, event.Lookup(a))
			}
			ks.fields = append(ks.fields, fs)
		}
		c.signalIdx[name] = len(c.engine.Signals)
		c.engine.Signals = append(c.engine.Signals, sig)
		c.keys = append(c.keys, ks)
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
		if !(m.Multiplier > 0) || !finite(m.Multiplier) {
			errs = errors.Join(errs, fmt.Errorf("%s: multiplier must be a positive finite number", where))
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
		r, info, exc, err := rc.compile(i, c, catalog, ids, cfg.DistinctRatio)
		if err != nil {
			errs = errors.Join(errs, prefixed("rules["+ruleName(rc, i)+"]", err))
		}
		c.engine.Rules = append(c.engine.Rules, r)
		c.rules = append(c.rules, info)
		c.exceptions = append(c.exceptions, exc)
	}
	c.engine.Lateness = int64(cfg.Lateness)
	c.engine.MaxFuture = int64(cfg.MaxFuture)
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
	if sc.Ratio != nil {
		out.Ratio = sc.Ratio
	}
	if sc.Key != nil {
		out.Key = sc.Key
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
	if sc.Cap != nil && (!(*sc.Cap >= 0) || !finite(*sc.Cap)) {
		errs = errors.Join(errs, errors.New("cap must be a finite number, not negative"))
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

func (rc RuleConfig) compile(index int, c *compiled, catalog map[string]SignalConfig, ids map[string]int, ratio float64) (*engine.Rule, ruleInfo, []condition.Condition, error) {
	var errs error
	r := &engine.Rule{Index: index, ID: rc.ID, Name: rc.Name, Window: int64(defaultWindow),
		Signals: make([]engine.RuleSignal, len(c.engine.Signals))}
	if rc.Name == "" {
		errs = errors.Join(errs, errors.New("name is required"))
	}
	if rc.Window != nil {
		r.Window = int64(rc.Window.D())
		if r.Window <= 0 || r.Window > int64(maxSpan) {
			errs = errors.Join(errs, fmt.Errorf("window must be positive and at most %s, got %s", spanText, rc.Window.D()))
			r.Window = int64(defaultWindow)
		}
	}
	r.SuppressFor = r.Window
	if rc.SuppressFor != nil {
		r.SuppressFor = int64(rc.SuppressFor.D())
		if r.SuppressFor < 0 || r.SuppressFor > int64(maxSpan) {
			errs = errors.Join(errs, fmt.Errorf("suppress_for must be between 0 and %s, got %s", spanText, rc.SuppressFor.D()))
			r.SuppressFor = 0
		}
	}

	// Weights: the rule's own list over the catalog, or the whole catalog.
	if rc.Signals == nil {
		for name, sc := range catalog {
			r.Signals[c.signalIdx[name]] = ruleSignal(sc, ratio)
		}
	} else {
		for name, sc := range rc.Signals {
			base, ok := catalog[name]
			if !ok {
				errs = errors.Join(errs, fmt.Errorf("signals: %q is not in the signals catalog", name))
				continue
			}
			merged := sc.over(base)
			if sc.Tactic != "" || sc.Technique != "" || sc.Key != nil {
				errs = errors.Join(errs, fmt.Errorf("signals[%s]: set tactic, technique and key in the signals catalog, not per rule", name))
			}
			if w := merged.weight(); !(w >= 0) || !finite(w) || (merged.Cap != nil && (!(*merged.Cap >= 0) || !finite(*merged.Cap))) {
				errs = errors.Join(errs, fmt.Errorf("signals[%s]: weight and cap must be finite numbers, not negative", name))
			}
			if merged.Ratio != nil && !(*merged.Ratio >= 0 && *merged.Ratio <= 1) {
				errs = errors.Join(errs, fmt.Errorf("signals[%s]: ratio must be between 0 and 1", name))
			}
			r.Signals[c.signalIdx[name]] = ruleSignal(merged, ratio)
		}
	}

	// Condition.
	if rc.Condition == nil {
		errs = errors.Join(errs, errors.New("condition is required"))
	} else {
		main, err := compileCondition(*rc.Condition, r, c)
		errs = errors.Join(errs, err)
		if len(rc.Condition.Or) == 0 {
			r.Criteria = main
		} else {
			// The condition's own clauses are one alternative (when it
			// has any), each entry of or another.
			either := criteria.Either{}
			if len(main) > 0 {
				either.Groups = append(either.Groups, main)
			}
			for i, alt := range rc.Condition.Or {
				if len(alt.Or) > 0 {
					errs = errors.Join(errs, fmt.Errorf("condition: or[%d]: alternatives do not nest", i))
				}
				g, err := compileCondition(alt, r, c)
				if err != nil {
					errs = errors.Join(errs, prefixed(fmt.Sprintf("or[%d]", i), err))
				}
				if len(g) == 0 {
					errs = errors.Join(errs, fmt.Errorf("condition: or[%d]: set at least one of min_score, min_distinct_signals, min_tactics, any_of, all_of", i))
					continue
				}
				either.Groups = append(either.Groups, g)
			}
			r.Criteria = []criteria.Criterion{either}
		}
		if len(main) == 0 && len(rc.Condition.Or) == 0 {
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
		if !(info.riskScore >= 0 && info.riskScore <= 100) { // NaN too
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

// compileCondition turns one condition's clauses (not its alternatives)
// into criteria.
func compileCondition(cc ConditionConfig, r *engine.Rule, c *compiled) ([]criteria.Criterion, error) {
	var errs error
	var out []criteria.Criterion
	if !(cc.MinScore >= 0) || !finite(cc.MinScore) || cc.MinDistinctSignals < 0 || cc.MinTactics < 0 {
		errs = errors.Join(errs, errors.New("condition: minimums must be finite numbers, not negative"))
	}
	if cc.MinScore > 0 {
		out = append(out, criteria.MinScore(cc.MinScore))
	}
	if cc.MinDistinctSignals > 0 {
		out = append(out, criteria.MinDistinct(cc.MinDistinctSignals))
	}
	if cc.MinTactics > 0 {
		out = append(out, criteria.MinTactics(cc.MinTactics))
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
			out = append(out, criteria.AllOf{Signals: idx, Names: clause.names})
		} else {
			out = append(out, criteria.AnyOf{Signals: idx, Names: clause.names})
		}
	}
	return out, errs
}

// ruleSignal is what a signal is worth to a rule; ratio is the default of
// distinct_ratio, for signals that set none.
func ruleSignal(sc SignalConfig, ratio float64) engine.RuleSignal {
	rs := engine.RuleSignal{Weight: sc.weight(), Ratio: ratio}
	if sc.Cap != nil {
		rs.Cap = *sc.Cap
	}
	if sc.Ratio != nil {
		rs.Ratio = *sc.Ratio
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
// alert, caps that keep one noisy kind from carrying an alert, and the
// ATT&CK tactic each one is evidence of. The README's table gives the
// reasons; the scenario tests and cmd/cairn's eval corpus hold them to it.
func DefaultSignals() map[string]SignalConfig {
	sc := func(weight, capacity float64, tactic, label string) SignalConfig {
		return SignalConfig{Weight: f64(weight), Cap: f64(capacity), Tactic: tactic, Label: label}
	}
	exec, c2 := "TA0002", "TA0011"
	signals := map[string]SignalConfig{
		// What is new. A few new binaries on one host (an intruder's
		// tools) count for up to three times one; the environment's new
		// binaries for one and a half: an install brings many.
		event.SignalNewBinaryOnHost:        sc(10, 30, exec, "binary new on this host"),
		event.SignalNewBinaryInEnvironment: sc(20, 30, exec, "binary new to the environment"),
		event.SignalNewIPForBinary:         sc(10, 20, c2, "address this binary never reached before"),
		event.SignalNewExternalIP:          sc(20, 40, c2, "external IP never seen before"),
		event.SignalNewDomain:              sc(20, 40, c2, "domain never seen before"),
		// What only few hosts know (firstseen's prevalence): half of new,
		// real evidence on the next host a tool or a C2 reaches.
		event.SignalRareBinaryInEnvironment: sc(10, 20, exec, "binary seen on few hosts"),
		event.SignalRareExternalIP:          sc(10, 20, c2, "external IP few hosts reached"),
		event.SignalRareDomain:              sc(10, 20, c2, "domain few hosts looked up"),
		event.SignalRareIPForBinary:         sc(5, 10, c2, "address this binary reached from few hosts"),
		// Threat intel. A known-malicious binary run: User Execution,
		// narrowed to its sub-technique Malicious File
		// (threat.technique.subtechnique.*); with any corroborating signal
		// it reaches the composite rule (DefaultRules).
		event.SignalIntelMaliciousHash:  {Weight: f64(50), Cap: f64(100), Tactic: exec, Technique: "T1204.002", Label: "hash known as malicious"},
		event.SignalIntelSuspiciousHash: sc(25, 50, exec, "hash known as suspicious"),
		event.SignalIntelBadIP:          {Weight: f64(40), Cap: f64(80), Tactic: c2, Technique: "T1071", Label: "IP on a threat feed"},
		event.SignalIntelBadDomain:      {Weight: f64(40), Cap: f64(80), Tactic: c2, Technique: "T1071", Label: "domain on a threat feed"},
		// Sigma rule matches, by the rule's level. A match's detail gives
		// the rule's own tactics, techniques and label (title and author);
		// Execution is the tactic of a rule tagged with none. A high rule
		// with one new destination of its process (20 + 10) reaches the
		// composite rule's score; a critical one, whose matches "border
		// certainty" (Sigma's levels), needs any corroboration.
		event.SignalSigmaLow:      sc(10, 20, exec, "Sigma rule (low)"),
		event.SignalSigmaMedium:   sc(25, 50, exec, "Sigma rule (medium)"),
		event.SignalSigmaHigh:     sc(70, 140, exec, "Sigma rule (high)"),
		event.SignalSigmaCritical: sc(100, 200, exec, "Sigma rule (critical)"),
		// Falco alerts (internal/normalize's falco format), by priority.
		// A detail gives the rule's ATT&CK tags and its name. Falco's rules
		// fire on one syscall with no baseline, and its default warning
		// and error rules fire on routine administration (a package
		// install writes below /etc), so each weighs one Sigma level less
		// than its name suggests: notice as low, warning as medium,
		// error between medium and high, critical as high (alone never an
		// alert; with one new destination, the composite score).
		event.SignalFalcoNotice:   sc(10, 20, exec, "Falco rule (notice)"),
		event.SignalFalcoWarning:  sc(25, 50, exec, "Falco rule (warning)"),
		event.SignalFalcoError:    sc(40, 80, exec, "Falco rule (error)"),
		event.SignalFalcoCritical: sc(70, 140, exec, "Falco rule (critical)"),
	}
	return signals
}

// Ids of the default rules.
const (
	RuleEarlyWarning     = "cairn-early-warning"
	RuleCompromisedHost  = "cairn-compromised-host"
	compromisedHostTitle = "Potentially Compromised Host"
)

// earlyWarningAnchors are the signals one of which the early warning needs
// besides a second tactic: a destination nobody reached, a threat-intel
// match, or a high-level behaviour rule. New binaries and the addresses of
// new binaries alone are what a build machine does all day, and a
// destination few hosts know is what the first hosts of a fleet-wide job
// (a backup to a new server) reach: both still count in the composite
// rule's score.
var earlyWarningAnchors = []string{
	event.SignalNewExternalIP, event.SignalNewDomain,
	event.SignalIntelMaliciousHash, event.SignalIntelSuspiciousHash, event.SignalIntelBadIP, event.SignalIntelBadDomain,
	event.SignalSigmaHigh, event.SignalSigmaCritical,
}

// DefaultRules are the two reference rules: an early warning when two
// different steps of an intrusion show on one host, and the composite alert
// when enough evidence piles up, or when a known-malicious binary (or a
// critical Sigma rule) is corroborated by any other signal. The early
// warning stands down while the composite alert is open, so a host under
// attack gets one alert.
func DefaultRules() []RuleConfig {
	return []RuleConfig{
		{
			ID:           RuleEarlyWarning,
			Name:         "Suspicious Host Activity",
			Description:  "Two different kinds of signal on one host within the window, covering two ATT&CK tactics, one of them a never-seen external destination, a threat-intel match or a high-level Sigma rule (for example a new binary reaching a new external IP).",
			Window:       dur(time.Hour),
			Condition:    &ConditionConfig{MinDistinctSignals: 2, MinTactics: 2, AnyOf: append([]string(nil), earlyWarningAnchors...)},
			Severity:     "low",
			RiskScore:    f64(21),
			SuppressFor:  dur(time.Hour),
			SupersededBy: []string{RuleCompromisedHost},
		},
		{
			ID:          RuleCompromisedHost,
			Name:        compromisedHostTitle,
			Description: "Signals on one host add up: new and rare binaries and destinations, threat-intel matches and Sigma rules within the window, across at least two ATT&CK tactics; or a known-malicious binary or a critical Sigma rule with any other signal.",
			Window:      dur(time.Hour),
			Condition: &ConditionConfig{MinScore: 100, MinDistinctSignals: 3, MinTactics: 2, Or: []ConditionConfig{
				{AllOf: []string{event.SignalIntelMaliciousHash}, MinDistinctSignals: 2},
				{AllOf: []string{event.SignalSigmaCritical}, MinDistinctSignals: 2},
			}},
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
