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
	meter                              metric.Meter
	mu                                 sync.Mutex
	registrations                      []metric.Registration
	ReceiverCairnFileLines             metric.Int64ObservableCounter
	ReceiverCairnFileRecords           metric.Int64ObservableCounter
	ReceiverCairnFileMalformedLines    metric.Int64ObservableCounter
	ReceiverCairnFileDroppedRecords    metric.Int64ObservableCounter
	ReceiverCairnFileOpenFiles         metric.Int64ObservableGauge
	ReceiverCairnFileBytesRead         metric.Int64ObservableCounter
	ReceiverCairnFileConsumeRetries    metric.Int64ObservableCounter
	ReceiverCairnFileNormalizedRecords metric.Int64ObservableCounter
}

// Observers hands the callback of RegisterCallback one observer per
// instrument.
type Observers struct {
	Lines, Records, MalformedLines, DroppedRecords, OpenFiles, BytesRead, ConsumeRetries, NormalizedRecords metric.Int64Observer
}

// RegisterCallback sets one callback observing every asynchronous
// instrument, since they all read the same counters.
func (builder *TelemetryBuilder) RegisterCallback(cb func(ctx context.Context, o Observers) error) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx, Observers{
			Lines:             &observerInt64{inst: builder.ReceiverCairnFileLines, obs: o},
			Records:           &observerInt64{inst: builder.ReceiverCairnFileRecords, obs: o},
			MalformedLines:    &observerInt64{inst: builder.ReceiverCairnFileMalformedLines, obs: o},
			DroppedRecords:    &observerInt64{inst: builder.ReceiverCairnFileDroppedRecords, obs: o},
			OpenFiles:         &observerInt64{inst: builder.ReceiverCairnFileOpenFiles, obs: o},
			BytesRead:         &observerInt64{inst: builder.ReceiverCairnFileBytesRead, obs: o},
			ConsumeRetries:    &observerInt64{inst: builder.ReceiverCairnFileConsumeRetries, obs: o},
			NormalizedRecords: &observerInt64{inst: builder.ReceiverCairnFileNormalizedRecords, obs: o},
		})
	}, builder.ReceiverCairnFileLines, builder.ReceiverCairnFileRecords, builder.ReceiverCairnFileMalformedLines,
		builder.ReceiverCairnFileDroppedRecords, builder.ReceiverCairnFileOpenFiles, builder.ReceiverCairnFileBytesRead,
		builder.ReceiverCairnFileConsumeRetries, builder.ReceiverCairnFileNormalizedRecords)
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
	builder.registrations = nil
}

// NewTelemetryBuilder provides a struct with methods to update all internal telemetry
// for a component
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	builder := TelemetryBuilder{}
	builder.meter = Meter(settings)
	var err, errs error
	builder.ReceiverCairnFileLines, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_file_lines",
		metric.WithDescription("Number of lines read (complete lines, cut over-long lines and force-flushed last lines), blank lines included. [Alpha]"),
		metric.WithUnit("{line}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnFileRecords, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_file_records",
		metric.WithDescription("Number of records produced from lines, per kind: event (a decoded document), pipeline_error (a malformed line sent under on_error send). [Alpha]"),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnFileMalformedLines, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_file_malformed_lines",
		metric.WithDescription("Number of malformed lines, per reason: too_long, invalid_json, not_object, invalid_value. [Alpha]"),
		metric.WithUnit("{line}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnFileDroppedRecords, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_file_dropped_records",
		metric.WithDescription("Number of records dropped, per reason: permanent_error (the next consumer refused the batch with a permanent error). [Alpha]"),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnFileOpenFiles, err = builder.meter.Int64ObservableGauge(
		"otelcol_receiver_cairn_file_open_files",
		metric.WithDescription("Number of files held open. [Alpha]"),
		metric.WithUnit("{file}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnFileBytesRead, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_file_bytes_read",
		metric.WithDescription("Number of bytes read from files. [Alpha]"),
		metric.WithUnit("By"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnFileConsumeRetries, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_file_consume_retries",
		metric.WithDescription("Number of times a batch was handed to the next consumer again after a retryable error. [Alpha]"),
		metric.WithUnit("{retry}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnFileNormalizedRecords, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_file_normalized_records",
		metric.WithDescription("Number of records read with a format other than ecs, per format (tetragon, zeek, falco, sysmon, ecs), type (the sensor's record type; empty for ecs) and kind: normalized (mapped into an ECS event), unknown (a type with no mapping, passed through), refused (malformed), native (no sensor format claimed it: an ECS document). [Alpha]"),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
