package normalizeprocessor

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/component"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/normalize"
)

// Config is the cairn_normalize processor's configuration.
type Config struct {
	// Format is what a record's body holds: a sensor's native record
	// (tetragon, zeek, falco, sysmon), auto to tell them apart record by
	// record, or ecs for an ECS document. With auto, a body no sensor
	// format claims (an ECS document included) is left unchanged.
	Format string `mapstructure:"format"`
	// KeepBody keeps the original body on a normalised record; by default
	// it is cleared, as the ECS attributes say all it said.
	KeepBody bool `mapstructure:"keep_body"`
	// MaxBodyBytes: a sensor record longer than this is refused (left
	// unchanged, counted as too_long).
	MaxBodyBytes int `mapstructure:"max_body_bytes"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// formats are the values of the format option.
var formats = []string{normalize.FormatAuto, normalize.FormatTetragon, normalize.FormatZeek,
	normalize.FormatFalco, normalize.FormatSysmon, normalize.FormatECS}

// minBodyBytes is the smallest max_body_bytes (internal/ingest's bound).
const minBodyBytes = 64

// Validate checks the configuration; errors name the offending option.
func (cfg *Config) Validate() error {
	var errs error
	known := false
	for _, f := range formats {
		known = known || cfg.Format == f
	}
	if !known {
		errs = errors.Join(errs, fmt.Errorf("format must be one of %s, got %q", strings.Join(formats, ", "), cfg.Format))
	}
	if cfg.MaxBodyBytes < minBodyBytes || cfg.MaxBodyBytes > ingest.MaxMaxLineBytes {
		errs = errors.Join(errs, fmt.Errorf("max_body_bytes must be between %d and %d, got %d", minBodyBytes, ingest.MaxMaxLineBytes, cfg.MaxBodyBytes))
	}
	return errs
}
