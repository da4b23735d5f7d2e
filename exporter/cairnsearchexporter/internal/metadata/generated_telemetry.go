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
	meter                               metric.Meter
	ExporterCairnSearchDocsSent         metric.Int64Counter
	ExporterCairnSearchDocsDelivered    metric.Int64Counter
	ExporterCairnSearchDocsRetried      metric.Int64Counter
	ExporterCairnSearchDocsDeadLettered metric.Int64Counter
	ExporterCairnSearchDocsDropped      metric.Int64Counter
	ExporterCairnSearchBulkLatency      metric.Float64Histogram
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
	var err, errs error
	builder.ExporterCairnSearchDocsSent, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_docs_sent",
		metric.WithDescription("Number of documents written into _bulk request bodies (or offline files), every attempt counted, dead-letter documents included. [Alpha]"),
		metric.WithUnit("{document}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchDocsDelivered, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_docs_delivered",
		metric.WithDescription("Number of documents the server stored or already held (409 on create, or a newer alert version), per result; offline files count as delivered once written. [Alpha]"),
		metric.WithUnit("{document}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchDocsRetried, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_docs_retried",
		metric.WithDescription("Number of documents handed back for a later attempt after a 429, a 5xx or a failed request, per reason. [Alpha]"),
		metric.WithUnit("{document}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchDocsDeadLettered, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_docs_dead_lettered",
		metric.WithDescription("Number of documents the server refused for good (mapping or parse errors) that were stored in the dead-letter data stream instead. [Alpha]"),
		metric.WithUnit("{document}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchDocsDropped, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_docs_dropped",
		metric.WithDescription("Number of documents given up on by the exporter, per reason (dead-letter write refused, dead-letter queue disabled, retries disabled). Stays 0 in a healthy setup. [Alpha]"),
		metric.WithUnit("{document}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchBulkLatency, err = builder.meter.Float64Histogram(
		"otelcol_exporter_cairn_search_bulk_latency",
		metric.WithDescription("Duration of _bulk requests (or offline file writes), per outcome. [Alpha]"),
		metric.WithUnit("ms"),
		metric.WithExplicitBucketBoundaries([]float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}...),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
