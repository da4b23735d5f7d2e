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
	meter                         metric.Meter
	mu                            sync.Mutex
	registrations                 []metric.Registration
	ProcessorFirstseenEvents      metric.Int64Counter
	ProcessorFirstseenSignals     metric.Int64Counter
	ProcessorFirstseenLearning    metric.Int64Counter
	ProcessorFirstseenMalformed   metric.Int64Counter
	ProcessorFirstseenEvictions   metric.Int64Counter
	ProcessorFirstseenTerms       metric.Int64ObservableUpDownCounter
	ProcessorFirstseenStateErrors metric.Int64Counter
	ProcessorFirstseenDegraded    metric.Int64Counter
	ProcessorFirstseenShared      metric.Int64Counter
	ProcessorFirstseenReconciled  metric.Int64Counter
	ProcessorFirstseenRare        metric.Int64Counter
	ProcessorFirstseenSkewed      metric.Int64Counter
	ProcessorFirstseenNotLearned  metric.Int64Counter
	ProcessorFirstseenTaint       metric.Int64Counter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterProcessorFirstseenTermsCallback sets callback for observable ProcessorFirstseenTerms metric.
func (builder *TelemetryBuilder) RegisterProcessorFirstseenTermsCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, &observerInt64{inst: builder.ProcessorFirstseenTerms, obs: o})
	}, builder.ProcessorFirstseenTerms)
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
	builder.ProcessorFirstseenEvents, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_events",
		metric.WithDescription("Number of events examined by the first-seen trackers. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenSignals, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_signals",
		metric.WithDescription("Number of events flagged as showing a first-seen term, per tracker. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenLearning, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_learning",
		metric.WithDescription("Number of new terms recorded but not flagged because their scope was still learning, per tracker. [Alpha]"),
		metric.WithUnit("{term}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenMalformed, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_malformed",
		metric.WithDescription("Number of field values that could not be used as a term (the event passes on), per tracker and reason. [Alpha]"),
		metric.WithUnit("{value}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenEvictions, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_evictions",
		metric.WithDescription("Number of terms, scopes or blocks evicted because a tracker reached a bound, per tracker, table (terms, scopes, blocked) and, for scopes, kind (learning, done). [Alpha]"),
		metric.WithUnit("{term}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenTerms, err = builder.meter.Int64ObservableUpDownCounter(
		"otelcol_processor_firstseen_terms",
		metric.WithDescription("Number of terms held in memory, per tracker. [Alpha]"),
		metric.WithUnit("{term}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenStateErrors, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_state_errors",
		metric.WithDescription("Number of failed state loads or writes through the storage extension. [Alpha]"),
		metric.WithUnit("{error}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenDegraded, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_degraded",
		metric.WithDescription("Number of events whose verdict of a tracker with a shared store was taken from the local store because the shared store did not answer in time, per tracker. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenShared, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_shared_requests",
		metric.WithDescription("Number of batches that needed the shared store, per result (ok, failed, skipped while unavailable). [Alpha]"),
		metric.WithUnit("{batch}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenReconciled, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_reconciled",
		metric.WithDescription("Number of terms decided locally while the shared store was unavailable and written to it afterwards, per tracker and outcome (recorded, known, dropped). [Alpha]"),
		metric.WithUnit("{term}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenRare, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_rare",
		metric.WithDescription("Number of events that raised a tracker's rare signal (a known term seen on few hosts, on a further host), per tracker. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenSkewed, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_skewed",
		metric.WithDescription("Number of events dated further ahead of the collector's clock than max_future, decided at their receipt time. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenNotLearned, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_not_learned",
		metric.WithDescription("Number of events whose terms were kept out of the baseline, per reason (malicious_verdict, tainted). [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorFirstseenTaint, err = builder.meter.Int64Counter(
		"otelcol_processor_firstseen_taint",
		metric.WithDescription("Taint marks and what became of them, per outcome (forgotten: terms or hosts taken back; unknown: marked events that taught nothing here; fell_out: records of what an event taught, dropped for room within the window; dropped: marks the registry dropped for room). [Alpha]"),
		metric.WithUnit("{item}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
