// Code in the shape mdatagen generates; written by hand because cmd/mdatagen
// is not available to this project. Keep in sync with ../../metadata.yaml.

package metadata

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
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
	mu                                  sync.Mutex
	registrations                       []metric.Registration
	ExporterCairnSearchDocsSent         metric.Int64Counter
	ExporterCairnSearchDocsDelivered    metric.Int64Counter
	ExporterCairnSearchDocsRetried      metric.Int64Counter
	ExporterCairnSearchDocsDeadLettered metric.Int64Counter
	ExporterCairnSearchDocsDropped      metric.Int64Counter
	ExporterCairnSearchDocsSkipped      metric.Int64Counter
	ExporterCairnSearchBulkLatency      metric.Float64Histogram
	ExporterCairnSearchSpoolBytes       metric.Int64ObservableGauge
	ExporterCairnSearchSpoolRecords     metric.Int64ObservableGauge
	ExporterCairnSearchSpoolOldestAge   metric.Float64ObservableGauge
	ExporterCairnSearchSpoolFull        metric.Int64Counter
	ExporterCairnSearchSpoolReplayed    metric.Int64Counter
}

// Observers hands the callback of RegisterCallback one observer per
// asynchronous instrument.
type Observers struct {
	SpoolBytes, SpoolRecords metric.Int64Observer
	SpoolOldestAge           metric.Float64Observer
}

// RegisterCallback sets one callback observing every asynchronous
// instrument, since they all read the same state (the spool's).
func (builder *TelemetryBuilder) RegisterCallback(cb func(ctx context.Context, o Observers) error) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, Observers{
			SpoolBytes:     &observerInt64{inst: builder.ExporterCairnSearchSpoolBytes, obs: o},
			SpoolRecords:   &observerInt64{inst: builder.ExporterCairnSearchSpoolRecords, obs: o},
			SpoolOldestAge: &observerFloat64{inst: builder.ExporterCairnSearchSpoolOldestAge, obs: o},
		})
	}, builder.ExporterCairnSearchSpoolBytes, builder.ExporterCairnSearchSpoolRecords, builder.ExporterCairnSearchSpoolOldestAge)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

type observerInt64 struct {
	embedded.Int64Observer
	inst metric.Int64Observable
	obs  metric.Observer
}

func (oi *observerInt64) Observe(value int64, opts ...metric.ObserveOption) {
	oi.obs.ObserveInt64(oi.inst, value, opts...)
}

type observerFloat64 struct {
	embedded.Float64Observer
	inst metric.Float64Observable
	obs  metric.Observer
}

func (of *observerFloat64) Observe(value float64, opts ...metric.ObserveOption) {
	of.obs.ObserveFloat64(of.inst, value, opts...)
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
func (builder *TelemetryBuilder) Shutdown() {
	builder.mu.Lock()
	defer builder.mu.Unlock()
	for _, reg := range builder.registrations {
		_ = reg.Unregister()
	}
	builder.registrations = nil
}

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
	builder.ExporterCairnSearchDocsSkipped, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_docs_skipped",
		metric.WithDescription("Number of documents not written to an offline file because the tail of the offline files of an earlier run already holds them (same _id; for alerts, same version), per reason: a batch sent again after a crash. [Alpha]"),
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
	builder.ExporterCairnSearchSpoolBytes, err = builder.meter.Int64ObservableGauge(
		"otelcol_exporter_cairn_search_spool_bytes",
		metric.WithDescription("Size of the spool's segment files. [Alpha]"),
		metric.WithUnit("By"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchSpoolRecords, err = builder.meter.Int64ObservableGauge(
		"otelcol_exporter_cairn_search_spool_records",
		metric.WithDescription("Number of batches (records) in the spool not yet acknowledged: written, and not every document of them delivered, dead-lettered or given up on. [Alpha]"),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchSpoolOldestAge, err = builder.meter.Float64ObservableGauge(
		"otelcol_exporter_cairn_search_spool_oldest_age",
		metric.WithDescription("Age of the oldest batch in the spool not yet acknowledged (0 when none is pending). [Alpha]"),
		metric.WithUnit("s"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchSpoolFull, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_spool_full",
		metric.WithDescription("Number of batches that found the spool full, per outcome: waited (written once space was freed), refused (the caller's context ended first: a retryable error was returned). [Alpha]"),
		metric.WithUnit("{batch}"),
	)
	errs = errors.Join(errs, err)
	builder.ExporterCairnSearchSpoolReplayed, err = builder.meter.Int64Counter(
		"otelcol_exporter_cairn_search_spool_replayed",
		metric.WithDescription("Number of batches (records) found not yet acknowledged in the spool at start-up, to be sent again. [Alpha]"),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
