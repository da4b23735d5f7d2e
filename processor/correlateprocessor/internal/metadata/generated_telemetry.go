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
	meter                          metric.Meter
	mu                             sync.Mutex
	registrations                  []metric.Registration
	ProcessorCorrelateEvents       metric.Int64Counter
	ProcessorCorrelateSignals      metric.Int64Counter
	ProcessorCorrelateAlerts       metric.Int64Counter
	ProcessorCorrelateEntities     metric.Int64ObservableUpDownCounter
	ProcessorCorrelateEvictions    metric.Int64Counter
	ProcessorCorrelateDropped      metric.Int64Counter
	ProcessorCorrelateStateErrors  metric.Int64Counter
	ProcessorCorrelateTimeAdjusted metric.Int64Counter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterProcessorCorrelateEntitiesCallback sets callback for observable ProcessorCorrelateEntities metric.
func (builder *TelemetryBuilder) RegisterProcessorCorrelateEntitiesCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, &observerInt64{inst: builder.ProcessorCorrelateEntities, obs: o})
	}, builder.ProcessorCorrelateEntities)
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
	builder.ProcessorCorrelateEvents, err = builder.meter.Int64Counter(
		"otelcol_processor_correlate_events",
		metric.WithDescription("Number of events examined by the correlation rules. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorCorrelateSignals, err = builder.meter.Int64Counter(
		"otelcol_processor_correlate_signals",
		metric.WithDescription("Number of signals consumed, per signal. [Alpha]"),
		metric.WithUnit("{signal}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorCorrelateAlerts, err = builder.meter.Int64Counter(
		"otelcol_processor_correlate_alerts",
		metric.WithDescription("Number of alert records written (fired or updated) and of firings stood down for a superseding alert, per rule and action. [Alpha]"),
		metric.WithUnit("{alert}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorCorrelateEntities, err = builder.meter.Int64ObservableUpDownCounter(
		"otelcol_processor_correlate_entities",
		metric.WithDescription("Number of entities (hosts, by default) holding correlation state. [Alpha]"),
		metric.WithUnit("{entity}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorCorrelateEvictions, err = builder.meter.Int64Counter(
		"otelcol_processor_correlate_evictions",
		metric.WithDescription("Number of entities or signal observations evicted because max_entities or max_signals_per_entity was reached, per table. [Alpha]"),
		metric.WithUnit("{item}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorCorrelateDropped, err = builder.meter.Int64Counter(
		"otelcol_processor_correlate_dropped",
		metric.WithDescription("Number of events with signals that were not correlated (passed on unchanged), per reason: late, no_entity. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorCorrelateStateErrors, err = builder.meter.Int64Counter(
		"otelcol_processor_correlate_state_errors",
		metric.WithDescription("Number of failed state loads or writes through the storage extension. [Alpha]"),
		metric.WithUnit("{error}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorCorrelateTimeAdjusted, err = builder.meter.Int64Counter(
		"otelcol_processor_correlate_time_adjusted",
		metric.WithDescription("Number of times event time was not taken as given, per reason: skewed (an event dated beyond max_future, correlated at its receipt time), clock_back (an entity whose clock went back, followed), future_state (restored state dated beyond max_future, left out). [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
