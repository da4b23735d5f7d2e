package firstseenprocessor

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/cairnsec/cairn/internal/condition"
	"github.com/cairnsec/cairn/internal/duration"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/netclass"
	"github.com/cairnsec/cairn/internal/redisconf"
	"github.com/cairnsec/cairn/internal/termstore"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/tracker"
)

// Config is the firstseen processor's configuration.
type Config struct {
	// Trackers to run. Omitted or empty: the five default trackers. An entry
	// named like a default tracker inherits every setting it leaves out.
	Trackers []TrackerConfig `mapstructure:"trackers"`

	// Storage is the ID of a storage extension (file_storage) that keeps the
	// baseline across restarts. Without it the baseline lives in memory only.
	Storage *component.ID `mapstructure:"storage"`
	// FlushInterval is how often changed terms are appended to storage.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// PersistGranularity: a known term's last-seen time is written again only
	// when it moved by at least this much, so steady traffic does not rewrite
	// the baseline. Must be well below every tracker's history.
	PersistGranularity time.Duration `mapstructure:"persist_granularity"`

	// InternalNetworks are extra CIDRs never counted as external.
	InternalNetworks []string `mapstructure:"internal_networks"`
	// ExternalNetworks are CIDRs counted as external even inside private or
	// special ranges (labs, partner networks).
	ExternalNetworks []string `mapstructure:"external_networks"`
	// EnvironmentField splits environment-scoped trackers per value of this
	// resource or record field (e.g. deployment.environment.name). Empty: one
	// environment.
	EnvironmentField string `mapstructure:"environment_field"`
	// MaxValueBytes: longer text values are counted as malformed and not tracked.
	MaxValueBytes int `mapstructure:"max_value_bytes"`
	// EventIDs says which events without an event.id get one here: "flagged"
	// (the events this processor changes; Cairn's outputs give every other
	// event the same content-derived id when they write it) or "all".
	EventIDs string `mapstructure:"event_ids"`

	// Store is where environment-scoped trackers keep their terms: "local"
	// (this collector's memory and storage extension) or "redis" (shared by
	// every collector using the same Redis and key prefix; see Redis).
	Store string `mapstructure:"store"`
	// Redis configures the shared store used with store: redis.
	Redis RedisConfig `mapstructure:"redis"`

	// KnownAfterHosts, RareHosts and RareShare are the prevalence defaults
	// of environment-scoped trackers (each may set its own): a term counts
	// as known only once seen on KnownAfterHosts distinct hosts; a known
	// term seen on at most RareHosts hosts, or RareShare of the hosts active
	// in the history, raises the tracker's rare signal on a further host.
	KnownAfterHosts int     `mapstructure:"known_after_hosts"`
	RareHosts       int     `mapstructure:"rare_hosts"`
	RareShare       float64 `mapstructure:"rare_share"`

	// MaxFuture is how far ahead of the collector's clock an event may be
	// dated: beyond it the event is marked cairn.time.skewed and learns and
	// ages with its receipt time, moving no clock.
	MaxFuture time.Duration `mapstructure:"max_future"`

	// BaselineGroup names the process-wide taint registry this processor
	// drains (internal/taint): the correlate processor with the same
	// baseline_group publishes the events its open alerts are built from,
	// and their terms are taken out of the baseline.
	BaselineGroup string `mapstructure:"baseline_group"`

	_ struct{}
}

// RedisConfig says how to reach the shared Redis (or Valkey) store; the
// options are shared with the correlate processor (internal/redisconf).
type RedisConfig = redisconf.Config

// TrackerConfig configures one tracker.
type TrackerConfig struct {
	// Name is the tracker's name, used as the signal name in cairn.signals.
	Name string `mapstructure:"name"`
	// Fields are 1–3 event fields whose combined value is the term. An entry
	// may list alternatives separated by "|": the first present one is used.
	Fields []string `mapstructure:"fields"`
	// Scope is "host" (new on this host.name) or "environment".
	Scope string `mapstructure:"scope"`
	// History: a term last seen longer ago than this is new again.
	History *duration.Duration `mapstructure:"history"`
	// Learning: while a scope is younger than this, terms are recorded but
	// not flagged. 0 disables.
	Learning *duration.Duration `mapstructure:"learning"`
	// When restricts the tracker to events whose fields have one of the
	// listed values (globs allowed).
	When map[string][]string `mapstructure:"when"`
	// Exclude lists terms never flagged: exact values, globs, or CIDRs for IP fields.
	Exclude []string `mapstructure:"exclude"`
	// OnlyExternal ignores IP values that are not external (see internal_networks).
	OnlyExternal *bool `mapstructure:"only_external"`
	// MaxTerms bounds the terms held; the least recently seen go first.
	MaxTerms int `mapstructure:"max_terms"`
	// MaxScopes bounds the scopes (hosts or environments) held.
	MaxScopes int `mapstructure:"max_scopes"`
	// Store overrides the processor's store for this tracker: "local" or
	// "redis". Empty: environment-scoped trackers use the processor's store,
	// host-scoped ones the local store (set "redis" for gateways, so that a
	// host's baseline follows it from one gateway to another).
	Store string `mapstructure:"store"`

	// Prevalence (environment scope only); unset: the processor's.
	KnownAfterHosts *int     `mapstructure:"known_after_hosts"`
	RareHosts       *int     `mapstructure:"rare_hosts"`
	RareShare       *float64 `mapstructure:"rare_share"`
	// RareSignal is the signal raised for a rare term. The default trackers
	// have theirs (rare_binary_in_environment, …); a tracker of your own
	// raises none unless it names one.
	RareSignal string `mapstructure:"rare_signal"`

	_ struct{}
}

const (
	defaultHistory    = 30 * 24 * time.Hour
	defaultLearning   = 24 * time.Hour
	defaultMaxTerms   = 200_000
	defaultMaxScopes  = 100_000
	defaultMaxValue   = 4096
	defaultFlush      = 10 * time.Second
	defaultPersistGrn = time.Hour

	eventIDsFlagged = "flagged"
	eventIDsAll     = "all"

	storeLocal = "local"
	storeRedis = "redis"

	defaultRedisPrefix = "cairn:firstseen:"

	defaultKnownAfterHosts = 3
	defaultRareHosts       = 5
	defaultRareShare       = 0.0
)

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; every error names the offending option.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.FlushInterval <= 0 {
		errs = errors.Join(errs, errors.New("flush_interval must be positive"))
	}
	if cfg.PersistGranularity <= 0 {
		errs = errors.Join(errs, errors.New("persist_granularity must be positive"))
	}
	if cfg.MaxValueBytes <= 0 {
		errs = errors.Join(errs, errors.New("max_value_bytes must be positive"))
	}
	if cfg.EventIDs != eventIDsFlagged && cfg.EventIDs != eventIDsAll {
		errs = errors.Join(errs, fmt.Errorf(`event_ids must be "flagged" or "all", got %q`, cfg.EventIDs))
	}
	if cfg.Store != storeLocal && cfg.Store != storeRedis {
		errs = errors.Join(errs, fmt.Errorf(`store must be "local" or "redis", got %q`, cfg.Store))
	}
	if cfg.KnownAfterHosts < 1 || cfg.KnownAfterHosts > termstore.MaxHosts {
		errs = errors.Join(errs, fmt.Errorf("known_after_hosts must be between 1 and %d", termstore.MaxHosts))
	}
	if cfg.RareHosts < 0 || cfg.RareHosts >= termstore.MaxHosts {
		errs = errors.Join(errs, fmt.Errorf("rare_hosts must be between 0 and %d", termstore.MaxHosts-1))
	}
	if !(cfg.RareShare >= 0 && cfg.RareShare <= 1) {
		errs = errors.Join(errs, errors.New("rare_share must be between 0 and 1"))
	}
	if cfg.MaxFuture <= 0 {
		errs = errors.Join(errs, errors.New("max_future must be positive"))
	}
	if _, err := netclass.New(cfg.InternalNetworks, cfg.ExternalNetworks); err != nil {
		errs = errors.Join(errs, err)
	}
	specs, err := cfg.specs()
	if err != nil {
		errs = errors.Join(errs, err)
	}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	for _, s := range specs {
		if cfg.PersistGranularity > 0 && s.History <= cfg.PersistGranularity {
			errs = errors.Join(errs, fmt.Errorf("trackers[%s]: history (%s) must be longer than persist_granularity (%s)", s.Name, s.History, cfg.PersistGranularity))
		}
		if s.RareSignal != "" && names[s.RareSignal] {
			// The rare signal would be read as that tracker's own.
			errs = errors.Join(errs, fmt.Errorf("trackers[%s]: rare_signal %q is a tracker name", s.Name, s.RareSignal))
		}
	}
	shared, err := cfg.sharedTrackers()
	if err != nil {
		errs = errors.Join(errs, err)
	}
	if len(shared) > 0 {
		errs = errors.Join(errs, cfg.Redis.Check())
	}
	return errs
}

// sharedTrackers says, per resolved tracker (in order), whether it keeps its
// terms in Redis.
func (cfg *Config) sharedTrackers() (map[string]bool, error) {
	list := cfg.Trackers
	if len(list) == 0 {
		list = DefaultTrackers()
	}
	var errs error
	out := map[string]bool{}
	for _, tc := range list {
		r := tc.inherit()
		switch r.Store {
		case "":
			if r.Scope == "environment" && cfg.Store == storeRedis {
				out[r.Name] = true
			}
		case storeLocal:
		case storeRedis:
			// Host-scoped trackers too, when asked: gateways that hand
			// hosts to each other keep the hosts' baselines this way.
			out[r.Name] = true
		default:
			errs = errors.Join(errs, fmt.Errorf(`trackers[%s]: store must be "local" or "redis", got %q`, r.Name, r.Store))
		}
	}
	return out, errs
}

// specs resolves defaults and inheritance into compiled tracker specs.
func (cfg *Config) specs() ([]tracker.Spec, error) {
	list := cfg.Trackers
	if len(list) == 0 {
		list = DefaultTrackers()
	}
	var errs error
	seen := map[string]bool{}
	out := make([]tracker.Spec, 0, len(list))
	for i, tc := range list {
		where := fmt.Sprintf("trackers[%d]", i)
		if tc.Name != "" {
			where = fmt.Sprintf("trackers[%s]", tc.Name)
		}
		if tc.Name == "" {
			errs = errors.Join(errs, fmt.Errorf("%s: name is required", where))
			continue
		}
		if seen[tc.Name] {
			errs = errors.Join(errs, fmt.Errorf("%s: duplicate tracker name", where))
			continue
		}
		seen[tc.Name] = true
		resolved := tc.inherit()
		spec, err := resolved.compile(cfg)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		out = append(out, spec)
	}
	return out, errs
}

// inherit fills what a tracker named like a default one leaves unset.
func (tc TrackerConfig) inherit() TrackerConfig {
	var base *TrackerConfig
	for _, d := range DefaultTrackers() {
		if d.Name == tc.Name {
			base = &d
			break
		}
	}
	if base == nil {
		return tc
	}
	out := *base
	if len(tc.Fields) > 0 {
		out.Fields = tc.Fields
	}
	if tc.Scope != "" {
		if tc.Scope != out.Scope {
			// Prevalence belongs to the environment scope: a default
			// tracker moved to host scope does not inherit its rare signal.
			out.RareSignal = ""
		}
		out.Scope = tc.Scope
	}
	if tc.History != nil {
		out.History = tc.History
	}
	if tc.Learning != nil {
		out.Learning = tc.Learning
	}
	if tc.When != nil {
		out.When = tc.When
	}
	if tc.Exclude != nil {
		out.Exclude = tc.Exclude
	}
	if tc.OnlyExternal != nil {
		out.OnlyExternal = tc.OnlyExternal
	}
	if tc.MaxTerms != 0 {
		out.MaxTerms = tc.MaxTerms
	}
	if tc.MaxScopes != 0 {
		out.MaxScopes = tc.MaxScopes
	}
	if tc.Store != "" {
		out.Store = tc.Store
	}
	if tc.KnownAfterHosts != nil {
		out.KnownAfterHosts = tc.KnownAfterHosts
	}
	if tc.RareHosts != nil {
		out.RareHosts = tc.RareHosts
	}
	if tc.RareShare != nil {
		out.RareShare = tc.RareShare
	}
	if tc.RareSignal != "" {
		out.RareSignal = tc.RareSignal
	}
	return out
}

func (tc TrackerConfig) compile(cfg *Config) (tracker.Spec, error) {
	var errs error
	spec := tracker.Spec{
		Name:             tc.Name,
		History:          defaultHistory,
		Learning:         defaultLearning,
		MaxTerms:         defaultMaxTerms,
		MaxScopes:        defaultMaxScopes,
		Exclude:          tc.Exclude,
		EnvironmentField: cfg.EnvironmentField,
	}
	if len(tc.Fields) == 0 || len(tc.Fields) > tracker.MaxFields {
		errs = errors.Join(errs, fmt.Errorf("fields must list 1 to %d fields", tracker.MaxFields))
	}
	for _, f := range tc.Fields {
		alts := event.SplitAlternatives(f)
		if len(alts) == 0 {
			errs = errors.Join(errs, fmt.Errorf("fields: empty field %q", f))
			continue
		}
		spec.Fields = append(spec.Fields, alts)
	}
	switch tc.Scope {
	case "host":
		spec.Scope = tracker.ScopeHost
		if tc.KnownAfterHosts != nil || tc.RareHosts != nil || tc.RareShare != nil || tc.RareSignal != "" {
			errs = errors.Join(errs, errors.New("known_after_hosts, rare_hosts, rare_share and rare_signal are for scope: environment"))
		}
	case "environment":
		spec.Scope = tracker.ScopeEnvironment
		spec.KnownAfterHosts, spec.RareHosts, spec.RareShare = cfg.KnownAfterHosts, cfg.RareHosts, cfg.RareShare
		if tc.KnownAfterHosts != nil {
			spec.KnownAfterHosts = *tc.KnownAfterHosts
		}
		if tc.RareHosts != nil {
			spec.RareHosts = *tc.RareHosts
		}
		if tc.RareShare != nil {
			spec.RareShare = *tc.RareShare
		}
		spec.RareSignal = tc.RareSignal
		if spec.RareSignal == tc.Name && tc.Name != "" {
			errs = errors.Join(errs, errors.New("rare_signal must differ from the tracker's name"))
		}
	case "":
		errs = errors.Join(errs, errors.New(`scope is required: "host" or "environment"`))
	default:
		errs = errors.Join(errs, fmt.Errorf(`scope must be "host" or "environment", got %q`, tc.Scope))
	}
	if tc.History != nil {
		spec.History = tc.History.D()
		if spec.History <= 0 {
			errs = errors.Join(errs, errors.New("history must be positive"))
		}
	}
	if tc.Learning != nil {
		spec.Learning = tc.Learning.D()
		if spec.Learning < 0 {
			errs = errors.Join(errs, errors.New("learning must not be negative"))
		}
	}
	if tc.MaxTerms != 0 {
		spec.MaxTerms = tc.MaxTerms
	}
	if tc.MaxScopes != 0 {
		spec.MaxScopes = tc.MaxScopes
	}
	// The stores take at most termstore.MaxCap entries (their index packs
	// an entry number into 32 bits): beyond it termstore.New panics, so
	// the bound is checked here, before any store is made.
	if spec.MaxTerms < 1 || spec.MaxTerms > termstore.MaxCap {
		errs = errors.Join(errs, fmt.Errorf("max_terms must be between 1 and %d, got %d", termstore.MaxCap, spec.MaxTerms))
	}
	if spec.MaxScopes < 1 || spec.MaxScopes > termstore.MaxCap {
		errs = errors.Join(errs, fmt.Errorf("max_scopes must be between 1 and %d, got %d", termstore.MaxCap, spec.MaxScopes))
	}
	if tc.OnlyExternal != nil {
		spec.OnlyExternal = *tc.OnlyExternal
	}
	when, err := condition.FromMap(tc.When)
	if err != nil {
		errs = errors.Join(errs, fmt.Errorf("when: %w", err))
	}
	spec.When = when
	spec.WhenKey = whenKey(tc.When)
	if errs != nil {
		return spec, errs
	}
	if _, err := tracker.New(spec); err != nil {
		return spec, err
	}
	return spec, nil
}

// whenKey renders a `when` map canonically.
func whenKey(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strings.Join(m[k], "\x00"))
		b.WriteByte('\n')
	}
	return b.String()
}

func boolPtr(b bool) *bool { return &b }

// DefaultTrackers returns the built-in trackers. Their names are part of
// Cairn's interface: correlation rules refer to them as signals.
func DefaultTrackers() []TrackerConfig {
	processStart := map[string][]string{
		"event.category": {"process"},
		"event.type":     {"start", "info"},
	}
	return []TrackerConfig{
		{
			Name:   event.SignalNewBinaryOnHost,
			Fields: []string{"process.hash.sha256|process.executable"},
			Scope:  "host",
			When:   processStart,
		},
		{
			Name:       event.SignalNewBinaryInEnvironment,
			Fields:     []string{"process.hash.sha256|process.executable"},
			Scope:      "environment",
			When:       processStart,
			RareSignal: event.SignalRareBinaryInEnvironment,
		},
		{
			Name:         event.SignalNewExternalIP,
			Fields:       []string{"destination.ip"},
			Scope:        "environment",
			OnlyExternal: boolPtr(true),
			RareSignal:   event.SignalRareExternalIP,
		},
		{
			Name:       event.SignalNewDomain,
			Fields:     []string{"dns.question.name|destination.domain"},
			Scope:      "environment",
			RareSignal: event.SignalRareDomain,
		},
		{
			Name:         event.SignalNewIPForBinary,
			Fields:       []string{"process.executable", "destination.ip"},
			Scope:        "environment",
			OnlyExternal: boolPtr(true),
			RareSignal:   event.SignalRareIPForBinary,
		},
	}
}
