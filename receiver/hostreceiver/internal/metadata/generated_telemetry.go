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
	ReceiverCairnHostEvents       metric.Int64ObservableCounter
	ReceiverCairnHostPartial      metric.Int64ObservableCounter
	ReceiverCairnHostDropped      metric.Int64ObservableCounter
	ReceiverCairnHostHashes       metric.Int64ObservableCounter
	ReceiverCairnHostDNSUnmatched metric.Int64ObservableCounter
}

// RegisterCallback sets one callback observing every asynchronous
// instrument, since they all read the same counters.
func (builder *TelemetryBuilder) RegisterCallback(cb func(ctx context.Context, events, partial, dropped, hashes, dnsUnmatched metric.Int64Observer) error) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return cb(ctx,
			&observerInt64{inst: builder.ReceiverCairnHostEvents, obs: o},
			&observerInt64{inst: builder.ReceiverCairnHostPartial, obs: o},
			&observerInt64{inst: builder.ReceiverCairnHostDropped, obs: o},
			&observerInt64{inst: builder.ReceiverCairnHostHashes, obs: o},
			&observerInt64{inst: builder.ReceiverCairnHostDNSUnmatched, obs: o})
	}, builder.ReceiverCairnHostEvents, builder.ReceiverCairnHostPartial, builder.ReceiverCairnHostDropped,
		builder.ReceiverCairnHostHashes, builder.ReceiverCairnHostDNSUnmatched)
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
	builder.ReceiverCairnHostEvents, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_host_events",
		metric.WithDescription("Number of events emitted, per source: process (starts and inventory), process_end, connection, dns, audit. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnHostPartial, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_host_partial_processes",
		metric.WithDescription("Number of process events marked partial: the process exited before /proc could be read. [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnHostDropped, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_host_dropped",
		metric.WithDescription("Number of events lost or left out, per reason: kernel_overrun (proc connector buffer), enrich_behind, queue_full, consumer_refused, audit_lost (sequence gaps, lines too long), audit_other_host (lines of other hosts' auditd), end_untracked (process ends not reported: too many processes awaiting their end). [Alpha]"),
		metric.WithUnit("{event}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnHostHashes, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_host_hashes",
		metric.WithDescription("Number of executable hash requests, per result: cache_hit, hashed, too_large, sparse, not_regular, changed, queue_full, error. [Alpha]"),
		metric.WithUnit("{request}"),
	)
	errs = errors.Join(errs, err)
	builder.ReceiverCairnHostDNSUnmatched, err = builder.meter.Int64ObservableCounter(
		"otelcol_receiver_cairn_host_dns_unmatched",
		metric.WithDescription("Number of DNS answers received that answered no query this host sent (spoofed, too late, or for a query forgotten): not reported, not used for destination.domain. [Alpha]"),
		metric.WithUnit("{answer}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
