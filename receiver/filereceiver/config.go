package filereceiver

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/cairnsec/cairn/internal/ingest"
)

// start_at values.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

// Bounds of the options.
const (
	minFingerprintBytes = 16
	maxFingerprintBytes = 1 << 20
	maxBatchEventsLimit = 1 << 20
	minPollInterval     = time.Millisecond
)

// DecodeConfig holds the decoding options, shared with `cairn replay`: it
// has exactly the fields of ingest.Options (with their option names), so
// that one converts to the other; IngestOptions does it.
type DecodeConfig struct {
	// MaxLineBytes: longer lines (not counting the line ending) are
	// malformed; at most this much of such a line is held in memory.
	MaxLineBytes int `mapstructure:"max_line_bytes"`
	// EventOriginal keeps the raw line in event.original.
	EventOriginal bool `mapstructure:"event_original"`
	// OnError: "send" a pipeline error record for a malformed line, or
	// "drop" it (counted either way).
	OnError string `mapstructure:"on_error"`
	// MaxValues: a document with more values (members and array elements,
	// at any depth) is malformed.
	MaxValues int `mapstructure:"max_values"`
	// Format: what a line holds, "ecs" (ECS documents), "tetragon",
	// "zeek", or "auto" (detected per record); native records are
	// normalised into ECS events (internal/normalize).
	Format string `mapstructure:"format"`
}

// Config is the cairn_file receiver's configuration.
type Config struct {
	// Include: glob patterns (Go's filepath.Match syntax) of the files to
	// read. Required.
	Include []string `mapstructure:"include"`
	// Exclude: glob patterns of matched files to leave out.
	Exclude []string `mapstructure:"exclude"`
	// StartAt: where a file found at start-up without a checkpoint is read
	// from, "beginning" or "end". Files that appear later are always read
	// from their beginning.
	StartAt string `mapstructure:"start_at"`
	// Storage is the ID of a storage extension (file_storage) keeping the
	// file checkpoints; without it positions are lost on restart.
	Storage *component.ID `mapstructure:"storage"`
	// PollInterval: how often the patterns are matched and idle files are
	// checked for new data.
	PollInterval time.Duration `mapstructure:"poll_interval"`

	// The decoding options, squashed into this section.
	DecodeConfig `mapstructure:",squash"`

	// MaxBatchEvents: at most this many records per ConsumeLogs call.
	MaxBatchEvents int `mapstructure:"max_batch_events"`
	// MaxConcurrentFiles bounds the files held open.
	MaxConcurrentFiles int `mapstructure:"max_concurrent_files"`
	// FingerprintBytes: a file is identified by its first
	// FingerprintBytes bytes, with its device and inode.
	FingerprintBytes int `mapstructure:"fingerprint_bytes"`
	// ForceFlushPeriod: an unterminated last line is emitted once the file
	// has not changed for this long; 0 waits for the line ending forever.
	ForceFlushPeriod time.Duration `mapstructure:"force_flush_period"`
	// IncludeFilePath adds log.file.path (ECS) to the resource of the
	// records read from each file.
	IncludeFilePath bool `mapstructure:"include_file_path"`
}

var _ component.Config = (*Config)(nil)

// IngestOptions returns the decoding options of a configuration, as
// `cairn replay` reads them from the same config section.
func IngestOptions(c *Config) ingest.Options {
	return ingest.Options(c.DecodeConfig)
}

// Validate checks the configuration; each error names its option.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Include) == 0 {
		errs = append(errs, errors.New("include must list at least one glob pattern"))
	}
	errs = append(errs, checkPatterns("include", c.Include)...)
	errs = append(errs, checkPatterns("exclude", c.Exclude)...)
	if c.StartAt != StartAtBeginning && c.StartAt != StartAtEnd {
		errs = append(errs, fmt.Errorf("start_at must be %q or %q, got %q", StartAtBeginning, StartAtEnd, c.StartAt))
	}
	if c.PollInterval < minPollInterval {
		errs = append(errs, fmt.Errorf("poll_interval must be at least %v, got %v", minPollInterval, c.PollInterval))
	}
	if err := IngestOptions(c).Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBatchEvents < 1 || c.MaxBatchEvents > maxBatchEventsLimit {
		errs = append(errs, fmt.Errorf("max_batch_events must be between 1 and %d, got %d", maxBatchEventsLimit, c.MaxBatchEvents))
	}
	if c.MaxConcurrentFiles < 1 {
		errs = append(errs, fmt.Errorf("max_concurrent_files must be at least 1, got %d", c.MaxConcurrentFiles))
	}
	if c.FingerprintBytes < minFingerprintBytes || c.FingerprintBytes > maxFingerprintBytes {
		errs = append(errs, fmt.Errorf("fingerprint_bytes must be between %d and %d, got %d", minFingerprintBytes, maxFingerprintBytes, c.FingerprintBytes))
	}
	if c.ForceFlushPeriod < 0 {
		errs = append(errs, fmt.Errorf("force_flush_period must not be negative (0 never flushes), got %v", c.ForceFlushPeriod))
	}
	return errors.Join(errs...)
}

func checkPatterns(option string, patterns []string) []error {
	var errs []error
	for _, p := range patterns {
		if p == "" {
			errs = append(errs, fmt.Errorf("%s: empty pattern", option))
			continue
		}
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s: bad pattern %q: %w", option, p, err))
		}
	}
	return errs
}
