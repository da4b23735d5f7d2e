// Code in the shape mdatagen generates; written by hand because cmd/mdatagen
// is not available to this project. Keep in sync with ../../metadata.yaml.

package metadata

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"go.opentelemetry.io/collector/component"
)

func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer(ScopeName)
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                                 metric.Meter
	ProcessorCairnNormalizeRecords        metric.Int64Counter
	ProcessorCairnNormalizeRefusedRecords metric.Int64Counter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// Shutdown unregister all registered callbacks for async instruments.
func (builder *TelemetryBuilder) Shutdown() {}

// NewTelemetryBuilder provides a struct with methods to update all internal telemetry
// for a component
func NewTelemetryBuilder(settings component.TelemetrySettings, options ...TelemetryBuilderOption) (*TelemetryBuilder, error) {
	builder := TelemetryBuilder{}
	for _, op := range options {
		op.apply(&builder)
	}
	builder.meter = Meter(settings)
	var errs error
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := builder.meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = errors.Join(errs, e)
		return c
	}
	builder.ProcessorCairnNormalizeRecords = counter("otelcol_processor_cairn_normalize_records",
		"Number of log records seen, per format (tetragon, zeek, falco, sysmon, ecs; empty for skipped), type (the sensor's record type) and kind: normalized (attributes replaced by the ECS event), unknown (a sensor record of a type with no mapping, left unchanged), refused (left unchanged), skipped (no sensor record in the body, left unchanged). [Alpha]", "{record}")
	builder.ProcessorCairnNormalizeRefusedRecords = counter("otelcol_processor_cairn_normalize_refused_records",
		"Number of records left unchanged because their sensor record was refused, per reason: too_long, invalid_json, not_object, invalid_value, too_many_values. [Alpha]", "{record}")
	return &builder, errs
}
