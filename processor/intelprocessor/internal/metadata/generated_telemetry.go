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
	meter                            metric.Meter
	mu                               sync.Mutex
	registrations                    []metric.Registration
	ProcessorIntelEvents             metric.Int64Counter
	ProcessorIntelMatchedEvents      metric.Int64Counter
	ProcessorIntelMatches            metric.Int64Counter
	ProcessorIntelAllowed            metric.Int64Counter
	ProcessorIntelFeedLoads          metric.Int64Counter
	ProcessorIntelFeedErrors         metric.Int64Counter
	ProcessorIntelFeedRefused        metric.Int64Counter
	ProcessorIntelFeedEntriesSkipped metric.Int64Counter
	ProcessorIntelIndicators         metric.Int64ObservableUpDownCounter
	ProcessorIntelOnlineLateRecords  metric.Int64Counter
	ProcessorIntelOnlineLateDropped  metric.Int64Counter
	ProcessorIntelOnlineLookups      metric.Int64ObservableCounter
	ProcessorIntelOnlineRefused      metric.Int64ObservableCounter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterProcessorIntelIndicatorsCallback sets callback for observable ProcessorIntelIndicators metric.
func (builder *TelemetryBuilder) RegisterProcessorIntelIndicatorsCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, &observerInt64{inst: builder.ProcessorIntelIndicators, obs: o})
	}, builder.ProcessorIntelIndicators)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterProcessorIntelOnlineLookupsCallback sets callback for observable ProcessorIntelOnlineLookups metric.
func (builder *TelemetryBuilder) RegisterProcessorIntelOnlineLookupsCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, &observerInt64{inst: builder.ProcessorIntelOnlineLookups, obs: o})
	}, builder.ProcessorIntelOnlineLookups)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterProcessorIntelOnlineRefusedCallback sets callback for observable ProcessorIntelOnlineRefused metric.
func (builder *TelemetryBuilder) RegisterProcessorIntelOnlineRefusedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, &observerInt64{inst: builder.ProcessorIntelOnlineRefused, obs: o})
	}, builder.ProcessorIntelOnlineRefused)
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

// Shutdown unregister all registered callbacks for async instruments.
func (builder *TelemetryBuilder) Shutdown() {
	builder.mu.Lock()
	defer builder.mu.Unlock()
	for _, reg := range builder.registrations {
		_ = reg.Unregister()
	}
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
	counter := func(name, desc, unit string) metric.Int64Counter {
		c, e := builder.meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = errors.Join(errs, e)
		return c
	}
	builder.ProcessorIntelEvents = counter("otelcol_processor_intel_events",
		"Number of events checked against threat intelligence. [Alpha]", "{event}")
	builder.ProcessorIntelMatchedEvents = counter("otelcol_processor_intel_matched_events",
		"Number of events with at least one indicator match. [Alpha]", "{event}")
	builder.ProcessorIntelMatches = counter("otelcol_processor_intel_matches",
		"Number of indicator matches written as enrichments, per type and verdict. [Alpha]", "{match}")
	builder.ProcessorIntelAllowed = counter("otelcol_processor_intel_allowed",
		"Number of event values whose bad verdicts an allow-list entry overrode. [Alpha]", "{value}")
	builder.ProcessorIntelFeedLoads = counter("otelcol_processor_intel_feed_loads",
		"Number of feed files loaded or reloaded, per format. [Alpha]", "{file}")
	builder.ProcessorIntelFeedErrors = counter("otelcol_processor_intel_feed_errors",
		"Number of feed files that could not be read; their previous contents stay in force. [Alpha]", "{file}")
	builder.ProcessorIntelFeedRefused = counter("otelcol_processor_intel_feed_refused",
		"Feed files, or new contents of them, refused by a limit or a safety check, per reason: file_too_large, too_many_indicators, total_indicators, too_many_files, json_too_deep, entry_too_large, not_regular_file, outside_feeds_dir, broken_symlink, parser_panic. [Alpha]", "{file}")
	builder.ProcessorIntelFeedEntriesSkipped = counter("otelcol_processor_intel_feed_entries_skipped",
		"Entries of loaded feed files that were skipped, per reason: malformed, or limit (refused by a safety limit, e.g. a STIX pattern nested too deep or a line too long). [Alpha]", "{entry}")
	builder.ProcessorIntelOnlineLateRecords = counter("otelcol_processor_intel_online_late_records",
		"Number of standalone enrichment records written for online answers that came after their event. [Alpha]", "{record}")
	builder.ProcessorIntelOnlineLateDropped = counter("otelcol_processor_intel_online_late_dropped",
		"Number of online answers not written as standalone records because their queue was full. [Alpha]", "{answer}")
	builder.ProcessorIntelOnlineLookups, err = builder.meter.Int64ObservableCounter(
		"otelcol_processor_intel_online_lookups",
		metric.WithDescription("Online lookups by outcome: cache_hit, cache_miss, found, not_found, quota_error, auth_error, outage_error, rejected_error, dropped (queue full), backoff. [Alpha]"),
		metric.WithUnit("{lookup}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorIntelOnlineRefused, err = builder.meter.Int64ObservableCounter(
		"otelcol_processor_intel_online_refused",
		metric.WithDescription("Online lookups not made, per reason: queue_full, host_queue_full (the host has host_queue_size lookups waiting), host_daily_cap (the hosts that asked used up host_requests_per_day), evicted (pushed out of the full queue for a host with fewer lookups waiting). [Alpha]"),
		metric.WithUnit("{lookup}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorIntelIndicators, err = builder.meter.Int64ObservableUpDownCounter(
		"otelcol_processor_intel_indicators",
		metric.WithDescription("Number of indicators loaded from feed files. [Alpha]"),
		metric.WithUnit("{indicator}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
