// Code in the shape mdatagen generates; written by hand because cmd/mdatagen
// is not available to this project. Keep in sync with ../../metadata.yaml.

package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	Type      = component.MustNewType("cairn_normalize")
	ScopeName = "github.com/cairnsec/cairn/processor/normalizeprocessor"
)

const (
	LogsStability = component.StabilityLevelAlpha
)
