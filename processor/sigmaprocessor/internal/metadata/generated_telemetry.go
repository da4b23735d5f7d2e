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
	ProcessorSigmaEvents           metric.Int64Counter
	ProcessorSigmaMatchedEvents    metric.Int64Counter
	ProcessorSigmaMatches          metric.Int64Counter
	ProcessorSigmaEvalErrors       metric.Int64Counter
	ProcessorSigmaLoadErrors       metric.Int64Counter
	ProcessorSigmaFilesRefused     metric.Int64Counter
	ProcessorSigmaRulesLoaded      metric.Int64ObservableUpDownCounter
	ProcessorSigmaRulesUnsupported metric.Int64ObservableUpDownCounter
	ProcessorSigmaRulesSkipped     metric.Int64ObservableUpDownCounter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

func (builder *TelemetryBuilder) register(inst metric.Int64Observable, cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, &observerInt64{inst: inst, obs: o})
	}, inst)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterProcessorSigmaRulesLoadedCallback sets callback for observable ProcessorSigmaRulesLoaded metric.
func (builder *TelemetryBuilder) RegisterProcessorSigmaRulesLoadedCallback(cb metric.Int64Callback) error {
	return builder.register(builder.ProcessorSigmaRulesLoaded, cb)
}

// RegisterProcessorSigmaRulesUnsupportedCallback sets callback for observable ProcessorSigmaRulesUnsupported metric.
func (builder *TelemetryBuilder) RegisterProcessorSigmaRulesUnsupportedCallback(cb metric.Int64Callback) error {
	return builder.register(builder.ProcessorSigmaRulesUnsupported, cb)
}

// RegisterProcessorSigmaRulesSkippedCallback sets callback for observable ProcessorSigmaRulesSkipped metric.
func (builder *TelemetryBuilder) RegisterProcessorSigmaRulesSkippedCallback(cb metric.Int64Callback) error {
	return builder.register(builder.ProcessorSigmaRulesSkipped, cb)
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
	builder.ProcessorSigmaEvents = counter("otelcol_processor_sigma_events",
		"Number of events evaluated against Sigma rules. [Alpha]", "{event}")
	builder.ProcessorSigmaMatchedEvents = counter("otelcol_processor_sigma_matched_events",
		"Number of events that matched at least one Sigma rule. [Alpha]", "{event}")
	builder.ProcessorSigmaMatches = counter("otelcol_processor_sigma_matches",
		"Number of rule matches, per rule level. [Alpha]", "{match}")
	builder.ProcessorSigmaEvalErrors = counter("otelcol_processor_sigma_eval_errors",
		"Number of events whose evaluation failed (a bug caught); the event is passed on unchanged. [Alpha]", "{event}")
	builder.ProcessorSigmaLoadErrors = counter("otelcol_processor_sigma_load_errors",
		"Number of rule files, rule directories or rule sets that could not be loaded; at reload the previous rules stay in force. [Alpha]", "{error}")
	builder.ProcessorSigmaFilesRefused = counter("otelcol_processor_sigma_files_refused",
		"Entries of rules_dir refused by a safety check, per reason: not_regular_file, outside_rules_dir, broken_symlink, too_many_files. [Alpha]", "{file}")
	builder.ProcessorSigmaRulesLoaded, err = builder.meter.Int64ObservableUpDownCounter(
		"otelcol_processor_sigma_rules_loaded",
		metric.WithDescription("Number of Sigma rules loaded and evaluated, per level. [Alpha]"),
		metric.WithUnit("{rule}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorSigmaRulesUnsupported, err = builder.meter.Int64ObservableUpDownCounter(
		"otelcol_processor_sigma_rules_unsupported",
		metric.WithDescription("Number of rules (or documents) of the rule files that cannot run on Cairn's events, per reason: logsource, auditd_record, aggregation, correlation, keywords, modifier, field, regex, limit. [Alpha]"),
		metric.WithUnit("{rule}"),
	)
	errs = errors.Join(errs, err)
	builder.ProcessorSigmaRulesSkipped, err = builder.meter.Int64ObservableUpDownCounter(
		"otelcol_processor_sigma_rules_skipped",
		metric.WithDescription("Number of supported rules left out by the configuration, per reason: level, status, excluded, max_rules, overridden (a rules_dir rule with a curated rule's id). [Alpha]"),
		metric.WithUnit("{rule}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
