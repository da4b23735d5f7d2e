package sigmaprocessor

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/cairnsec/cairn/internal/sigma"
)

// Config is the sigma processor's configuration.
type Config struct {
	// RulesDir loads every .yml/.yaml Sigma rule under a directory
	// (subdirectories included, as SigmaHQ's tree is laid out), reloaded
	// when files change. "" for none.
	RulesDir string `mapstructure:"rules_dir"`
	// DefaultRules loads Cairn's curated set of SigmaHQ Linux rules
	// (rules/README.md), embedded in the collector.
	DefaultRules bool `mapstructure:"default_rules"`
	// MinLevel drops rules below this level: informational, low, medium,
	// high or critical.
	MinLevel string `mapstructure:"min_level"`
	// Statuses keeps only rules_dir rules whose status is listed (rules
	// without a status are kept). The curated set is chosen rule by rule
	// and is not filtered by status.
	Statuses []string `mapstructure:"statuses"`
	// Exclude drops rules by id, from either source.
	Exclude []string `mapstructure:"exclude"`
	// MaxRules bounds the rules loaded; rules beyond it, in load order
	// (curated set first, then rules_dir files by path), are left out and
	// reported.
	MaxRules int `mapstructure:"max_rules"`
	// ReloadInterval is how often rules_dir is checked for changes; 0
	// disables reloading.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// Settle: a changed file is read only once it stayed the same this
	// long, so that a half-written rule is not read.
	Settle time.Duration `mapstructure:"settle"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// statuses a rule may have (specification, Status).
var knownStatuses = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}

// maxMaxRules keeps max_rules within what an evaluator's candidate sets
// and a collector's memory are sized for.
const maxMaxRules = 100_000

// Validate checks the configuration; errors name the offending option.
func (cfg *Config) Validate() error {
	var errs error
	if !cfg.DefaultRules && cfg.RulesDir == "" {
		errs = errors.Join(errs, errors.New("no rules: set rules_dir or default_rules"))
	}
	if _, ok := sigma.ParseLevel(cfg.MinLevel); !ok {
		errs = errors.Join(errs, fmt.Errorf("min_level %q must be one of informational, low, medium, high, critical", cfg.MinLevel))
	}
	for i, s := range cfg.Statuses {
		if !knownStatuses[s] {
			errs = errors.Join(errs, fmt.Errorf("statuses[%d]: %q is not a Sigma status (stable, test, experimental, deprecated, unsupported)", i, s))
		}
	}
	for i, id := range cfg.Exclude {
		if id == "" {
			errs = errors.Join(errs, fmt.Errorf("exclude[%d]: empty rule id", i))
		}
	}
	if cfg.MaxRules <= 0 || cfg.MaxRules > maxMaxRules {
		errs = errors.Join(errs, fmt.Errorf("max_rules (%d) must be from 1 to %d", cfg.MaxRules, maxMaxRules))
	}
	if cfg.ReloadInterval < 0 {
		errs = errors.Join(errs, errors.New("reload_interval must not be negative"))
	}
	if cfg.Settle < 0 {
		errs = errors.Join(errs, errors.New("settle must not be negative"))
	}
	return errs
}

func (cfg *Config) options() sigma.Options {
	level, _ := sigma.ParseLevel(cfg.MinLevel)
	return sigma.Options{MinLevel: level, Exclude: cfg.Exclude, MaxRules: cfg.MaxRules}
}
