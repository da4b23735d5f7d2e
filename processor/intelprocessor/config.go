package intelprocessor

import (
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Config is the intel processor's configuration.
type Config struct {
	// FeedsDir loads every feed file in a directory (format detected from
	// content). A missing directory is an error at start, an empty one is not.
	FeedsDir string `mapstructure:"feeds_dir"`
	// Feeds are individual feed files.
	Feeds []string `mapstructure:"feeds"`
	// ReloadInterval is how often feed files are checked for changes.
	// 0 disables reloading.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// Settle: a changed file is read only once its size and modification
	// time stayed the same this long, so a half-written file is not read.
	Settle time.Duration `mapstructure:"settle"`

	// Fields are the event fields checked, per indicator kind.
	Fields FieldsConfig `mapstructure:"fields"`

	// Online configures the optional VirusTotal-compatible lookup of hashes.
	Online OnlineConfig `mapstructure:"online"`

	_ struct{}
}

// FieldsConfig lists the event fields checked against feeds.
type FieldsConfig struct {
	// Hashes: fields holding sha256, sha1 or md5 hex digests (type from the
	// field name's last segment, else from the length).
	Hashes []string `mapstructure:"hashes"`
	// IPs: fields holding IP addresses.
	IPs []string `mapstructure:"ips"`
	// Domains: fields holding DNS names.
	Domains []string `mapstructure:"domains"`

	_ struct{}
}

// OnlineConfig configures lookups of binary hashes in a VirusTotal API v3
// compatible service.
type OnlineConfig struct {
	Enabled  bool   `mapstructure:"enabled"`
	Endpoint string `mapstructure:"endpoint"`
	// APIKeyEnv names an environment variable holding the API key.
	APIKeyEnv string `mapstructure:"api_key_env"`
	// APIKeyFile is a file holding the API key.
	APIKeyFile        string `mapstructure:"api_key_file"`
	RequestsPerMinute int    `mapstructure:"requests_per_minute"`
	// RequestsPerDay caps requests per UTC day (the service's daily quota);
	// negative disables the cap.
	RequestsPerDay int           `mapstructure:"requests_per_day"`
	Timeout        time.Duration `mapstructure:"timeout"`
	QueueSize      int           `mapstructure:"queue_size"`
	CacheSize      int           `mapstructure:"cache_size"`
	PositiveTTL    time.Duration `mapstructure:"positive_ttl"`
	NegativeTTL    time.Duration `mapstructure:"negative_ttl"`
	// WaitBudget is how long an event may be held waiting for an answer;
	// 0 passes events on at once (answers then reach later sightings and a
	// standalone enrichment record).
	WaitBudget time.Duration `mapstructure:"wait_budget"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; errors name the offending option.
func (cfg *Config) Validate() error {
	var errs error
	if cfg.FeedsDir == "" && len(cfg.Feeds) == 0 && !cfg.Online.Enabled {
		errs = errors.Join(errs, errors.New("nothing to match against: set feeds_dir, feeds or online.enabled"))
	}
	for i, f := range cfg.Feeds {
		if f == "" {
			errs = errors.Join(errs, fmt.Errorf("feeds[%d]: empty path", i))
		}
	}
	if cfg.ReloadInterval < 0 {
		errs = errors.Join(errs, errors.New("reload_interval must not be negative"))
	}
	if cfg.Settle < 0 {
		errs = errors.Join(errs, errors.New("settle must not be negative"))
	}
	if len(cfg.Fields.Hashes)+len(cfg.Fields.IPs)+len(cfg.Fields.Domains) == 0 {
		errs = errors.Join(errs, errors.New("fields: at least one field must be checked"))
	}
	for _, group := range [][]string{cfg.Fields.Hashes, cfg.Fields.IPs, cfg.Fields.Domains} {
		for _, f := range group {
			if f == "" {
				errs = errors.Join(errs, errors.New("fields: empty field name"))
			}
		}
	}
	if o := cfg.Online; o.Enabled {
		if o.Endpoint == "" {
			errs = errors.Join(errs, errors.New("online.endpoint is required"))
		}
		if (o.APIKeyEnv == "") == (o.APIKeyFile == "") {
			errs = errors.Join(errs, errors.New("online: set exactly one of api_key_env and api_key_file"))
		}
		if o.APIKeyEnv != "" {
			if _, ok := os.LookupEnv(o.APIKeyEnv); !ok {
				errs = errors.Join(errs, fmt.Errorf("online.api_key_env: environment variable %s is not set", o.APIKeyEnv))
			}
		}
		if o.RequestsPerMinute <= 0 {
			errs = errors.Join(errs, errors.New("online.requests_per_minute must be positive"))
		}
		if o.RequestsPerDay == 0 {
			errs = errors.Join(errs, errors.New("online.requests_per_day must be positive, or negative for no cap"))
		}
		if o.Timeout <= 0 {
			errs = errors.Join(errs, errors.New("online.timeout must be positive"))
		}
		if o.QueueSize <= 0 || o.CacheSize <= 0 {
			errs = errors.Join(errs, errors.New("online.queue_size and online.cache_size must be positive"))
		}
		if o.PositiveTTL <= 0 || o.NegativeTTL <= 0 {
			errs = errors.Join(errs, errors.New("online.positive_ttl and online.negative_ttl must be positive"))
		}
		if o.WaitBudget < 0 {
			errs = errors.Join(errs, errors.New("online.wait_budget must not be negative"))
		}
	}
	return errs
}
