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

	// Limits bound what feed files may cost: they are read as untrusted
	// input.
	Limits LimitsConfig `mapstructure:"limits"`

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

// LimitsConfig bounds the feed files. A file over a limit is refused as a
// whole (logged, counted in otelcol_processor_intel_feed_refused) and the
// contents it had before, if any, stay in force.
type LimitsConfig struct {
	// MaxFileSizeMiB bounds the size of one feed file.
	MaxFileSizeMiB int64 `mapstructure:"max_file_size_mib"`
	// MaxIndicatorsPerFile bounds the indicators of one file.
	MaxIndicatorsPerFile int `mapstructure:"max_indicators_per_file"`
	// MaxIndicators bounds the indicators of all files together; a file
	// that would take the total over it is refused (files are loaded in
	// the order of their paths).
	MaxIndicators int `mapstructure:"max_indicators"`
	// MaxFiles bounds the feed files: every event is looked up in every
	// file's index. Files beyond it, in the order of their paths, are
	// ignored.
	MaxFiles int `mapstructure:"max_files"`

	_ struct{}
}

// maxFileSizeMiB keeps max_file_size_mib*MiB within an int64.
const maxFileSizeMiB = 1 << 40

// maxCount keeps counts within a 32-bit int and the store's row numbers.
const maxCount = 1<<31 - 1

// maxQueueSize bounds online.queue_size: far above any quota's worth of
// lookups, and small enough that the tables sized from it cannot overflow.
const maxQueueSize = 1_000_000

// maxCorroborating bounds the hosts remembered per hash; far above any
// sensible setting.
const maxCorroborating = 16

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

	// The fairness policy (see the README): whoever can run binaries, or
	// send events, can ask about any number of made-up hashes, and without
	// it they would fill the queue and spend the daily quota.

	// HostQueueSize bounds the lookups waiting for one host (host.name);
	// the queue serves hosts in turn.
	HostQueueSize int `mapstructure:"host_queue_size"`
	// HostRequestsPerDay bounds the requests made per UTC day for the
	// hashes of one host; negative disables it.
	HostRequestsPerDay int `mapstructure:"host_requests_per_day"`
	// CorroboratingHosts: a hash asked about by this many distinct hosts
	// is looked up before the hashes of single hosts; 0 disables it.
	CorroboratingHosts int `mapstructure:"corroborating_hosts"`
	// PrioritySignals: a hash whose event carries one of these signals (of
	// an earlier stage, in cairn.signals) goes before the host's other
	// hashes.
	PrioritySignals []string `mapstructure:"priority_signals"`

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
	errs = errors.Join(errs, cfg.Limits.validate())
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
		if o.QueueSize > maxQueueSize {
			// The lookup tables are sized from it (up to 4×): beyond
			// this their sizes overflow.
			errs = errors.Join(errs, fmt.Errorf("online.queue_size (%d) must be from 1 to %d", o.QueueSize, maxQueueSize))
		}
		if o.PositiveTTL <= 0 || o.NegativeTTL <= 0 {
			errs = errors.Join(errs, errors.New("online.positive_ttl and online.negative_ttl must be positive"))
		}
		if o.WaitBudget < 0 {
			errs = errors.Join(errs, errors.New("online.wait_budget must not be negative"))
		}
		if o.HostQueueSize <= 0 || o.HostQueueSize > o.QueueSize {
			errs = errors.Join(errs, fmt.Errorf("online.host_queue_size (%d) must be positive and at most online.queue_size (%d)", o.HostQueueSize, o.QueueSize))
		}
		switch {
		case o.HostRequestsPerDay == 0:
			errs = errors.Join(errs, errors.New("online.host_requests_per_day must be positive, or negative for no per-host cap"))
		case o.HostRequestsPerDay > 0 && o.RequestsPerDay > 0 && o.HostRequestsPerDay > o.RequestsPerDay:
			errs = errors.Join(errs, fmt.Errorf("online.host_requests_per_day (%d) must not exceed online.requests_per_day (%d)", o.HostRequestsPerDay, o.RequestsPerDay))
		}
		if o.CorroboratingHosts < 0 || o.CorroboratingHosts == 1 || o.CorroboratingHosts > maxCorroborating {
			errs = errors.Join(errs, fmt.Errorf("online.corroborating_hosts (%d) must be 0 (off) or from 2 to %d", o.CorroboratingHosts, maxCorroborating))
		}
		for i, s := range o.PrioritySignals {
			if s == "" {
				errs = errors.Join(errs, fmt.Errorf("online.priority_signals[%d]: empty signal name", i))
			}
		}
	}
	return errs
}

func (l LimitsConfig) validate() error {
	var errs error
	if l.MaxFileSizeMiB <= 0 || l.MaxFileSizeMiB > maxFileSizeMiB {
		errs = errors.Join(errs, fmt.Errorf("limits.max_file_size_mib (%d) must be from 1 to %d", l.MaxFileSizeMiB, int64(maxFileSizeMiB)))
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"max_indicators_per_file", l.MaxIndicatorsPerFile}, {"max_indicators", l.MaxIndicators}, {"max_files", l.MaxFiles}} {
		if c.v <= 0 || c.v > maxCount {
			errs = errors.Join(errs, fmt.Errorf("limits.%s (%d) must be from 1 to %d", c.name, c.v, maxCount))
		}
	}
	if l.MaxIndicatorsPerFile > l.MaxIndicators && l.MaxIndicators > 0 {
		errs = errors.Join(errs, fmt.Errorf("limits.max_indicators_per_file (%d) must not exceed limits.max_indicators (%d)", l.MaxIndicatorsPerFile, l.MaxIndicators))
	}
	return errs
}
