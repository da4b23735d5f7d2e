package hostreceiver

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

func attrs(k, v string) metric.ObserveOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(k, v)))
}

var (
	srcProcess    = attrs("source", "process")
	srcProcessEnd = attrs("source", "process_end")
	srcConnection = attrs("source", "connection")
	srcDNS        = attrs("source", "dns")
	srcAudit      = attrs("source", "audit")

	dropOverrun  = attrs("reason", "kernel_overrun")
	dropEnrich   = attrs("reason", "enrich_behind")
	dropQueue    = attrs("reason", "queue_full")
	dropConsumer = attrs("reason", "consumer_refused")
	dropAudit    = attrs("reason", "audit_lost")
	dropEnd      = attrs("reason", "end_untracked")
	dropOther    = attrs("reason", "audit_other_host")

	hashHit      = attrs("result", "cache_hit")
	hashHashed   = attrs("result", "hashed")
	hashTooLarge = attrs("result", "too_large")
	hashQueue    = attrs("result", "queue_full")
	hashError    = attrs("result", "error")
	hashSparse   = attrs("result", "sparse")
	hashNotReg   = attrs("result", "not_regular")
	hashChanged  = attrs("result", "changed")
)

// registerTelemetry publishes the receiver's counters as collector
// metrics, read when the metrics are collected rather than on every event.
func (r *hostReceiver) registerTelemetry() error {
	tb, err := metadata.NewTelemetryBuilder(r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	err = tb.RegisterCallback(func(_ context.Context, events, partial, dropped, hashes, dnsUnmatched metric.Int64Observer) error {
		s := r.Stats()
		events.Observe(int64(s.ProcessEvents), srcProcess)
		events.Observe(int64(s.ProcessEndEvents), srcProcessEnd)
		events.Observe(int64(s.ConnectionEvents), srcConnection)
		events.Observe(int64(s.DNSEvents), srcDNS)
		events.Observe(int64(s.AuditEvents), srcAudit)
		partial.Observe(int64(s.PartialProcesses))
		dropped.Observe(int64(s.KernelOverruns), dropOverrun)
		dropped.Observe(int64(s.EnrichDropped), dropEnrich)
		dropped.Observe(int64(s.QueueDropped), dropQueue)
		dropped.Observe(int64(s.ConsumeErrors), dropConsumer)
		dropped.Observe(int64(s.AuditLost), dropAudit)
		dropped.Observe(int64(s.EndsUntracked), dropEnd)
		dropped.Observe(int64(s.AuditOtherHost), dropOther)
		hashes.Observe(int64(s.Hash.Hits), hashHit)
		hashes.Observe(int64(s.Hash.Hashed), hashHashed)
		hashes.Observe(int64(s.Hash.TooLarge), hashTooLarge)
		hashes.Observe(int64(s.Hash.QueueFull), hashQueue)
		hashes.Observe(int64(s.Hash.Errors), hashError)
		hashes.Observe(int64(s.Hash.Sparse), hashSparse)
		hashes.Observe(int64(s.Hash.NotRegular), hashNotReg)
		hashes.Observe(int64(s.Hash.Changed), hashChanged)
		dnsUnmatched.Observe(int64(s.DNSUnmatched))
		return nil
	})
	if err != nil {
		tb.Shutdown()
		return err
	}
	r.telemetry = tb
	return nil
}
