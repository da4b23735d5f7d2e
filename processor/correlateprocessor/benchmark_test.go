package correlateprocessor

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

func newBenchProcessor(b *testing.B, cfg *Config) *correlate {
	p, err := newCorrelate(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(b, err)
	return p
}

// lastEvents is a batch of the scenario's last n events: ordinary host
// telemetry as sensors send it, without signals.
func lastEvents(b *testing.B, n int) plog.Logs {
	var buf bytes.Buffer
	_, err := scenario.Generate(scenario.Default(), &buf)
	require.NoError(b, err)
	all, err := ecs.DecodeNDJSON(&buf)
	require.NoError(b, err)
	src := all.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	out := plog.NewLogs()
	recs := out.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := src.Len() - n; i < src.Len(); i++ {
		src.At(i).CopyTo(recs.AppendEmpty())
	}
	return out
}

// BenchmarkProcessLogs is the cost on events without signals, the vast
// majority: the target is 200 ns per event.
func BenchmarkProcessLogs(b *testing.B) {
	const batchSize = 1000
	p := newBenchProcessor(b, createDefaultConfig().(*Config))
	batch := lastEvents(b, batchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, err := p.processLogs(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/event")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkProcessLogsWithSignals: 1 event in 20 carries a signal, one
// kind per host (as a rollout gives), on 5,000 rotating hosts, so entities
// and windows are exercised without alerts being written. WithDetails: the
// signal is a Sigma match with its detail (key, label, tactics,
// techniques), as the sigma processor writes it.
func BenchmarkProcessLogsWithSignals(b *testing.B) {
	benchmarkSignals(b, false)
}

func BenchmarkProcessLogsWithDetails(b *testing.B) {
	benchmarkSignals(b, true)
}

func benchmarkSignals(b *testing.B, details bool) {
	const batchSize = 1000
	p := newBenchProcessor(b, createDefaultConfig().(*Config))
	template := lastEvents(b, batchSize)
	work := plog.NewLogs()
	names := []string{"new_binary_on_host", "new_external_ip", "new_domain"}
	if details {
		names = []string{event.SignalSigmaLow, event.SignalSigmaMedium, event.SignalSigmaHigh}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		template.CopyTo(work)
		recs := work.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < batchSize; i += 20 {
			a := recs.At(i).Attributes()
			host := (n*batchSize + i) % 5000
			c := a.PutEmptyMap("cairn")
			c.PutEmptySlice("signals").AppendEmpty().SetStr(names[host%3])
			if details {
				d := c.PutEmptySlice("signal_details").AppendEmpty().SetEmptyMap()
				d.PutStr("signal", names[host%3])
				d.PutStr("key", "sigma:312b42b1-bded-4441-8b58-163a3af58775")
				d.PutStr("label", `Sigma rule "Potentially Suspicious Execution From Tmp Folder" by Joseliyo Sanchez, @Joseliyo_Jstnk`)
				d.PutEmptySlice("tactics").AppendEmpty().SetStr("TA0005")
				d.PutEmptySlice("techniques").AppendEmpty().SetStr("T1036")
			}
			a.PutEmptyMap("host").PutStr("name", fmt.Sprintf("h%d", host))
		}
		b.StartTimer()
		if _, err := p.processLogs(context.Background(), work); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/event")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMemoryPerEntity reports the heap held per entity. "typical" is a
// host with the signals of an ordinary day, below every rule (a new IP, the
// binary's new address, a new domain); "alerted" a host whose signals
// opened an alert, which keeps their evidence; "full" a host at
// max_signals_per_entity. The target is 2 KB per entity held.
func BenchmarkMemoryPerEntity(b *testing.B) {
	full := make([]string, defaultMaxSignals)
	for i := range full {
		full[i] = "new_external_ip"
	}
	for _, c := range []struct {
		name    string
		signals []string
	}{
		{"typical", []string{"new_external_ip", "new_ip_for_binary", "new_domain"}},
		{"alerted", []string{"new_binary_on_host", "new_external_ip", "new_domain"}},
		// The IP is on a feed: the evidence keeps that event's enrichment.
		{"enriched", []string{"intel_bad_ip", "new_external_ip", "new_domain"}},
		{"full", full},
	} {
		b.Run(c.name, func(b *testing.B) {
			const entities = 20_000
			for n := 0; n < b.N; n++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				p := newBenchProcessor(b, createDefaultConfig().(*Config))
				fillEntities(b, p, entities, c.signals)
				runtime.GC()
				runtime.ReadMemStats(&after)
				if p.eng.Len() != entities {
					b.Fatalf("held %d entities", p.eng.Len())
				}
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/entities, "bytes/entity")
				runtime.KeepAlive(p)
			}
		})
	}
}

// fillEntities gives each of n hosts one event per signal name, shaped like
// Cairn's own (process, destination, user, signal), a minute apart.
func fillEntities(b *testing.B, p *correlate, n int, signals []string) {
	base := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	for e, sig := range signals {
		ld := plog.NewLogs()
		recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for h := 0; h < n; h++ {
			r := recs.AppendEmpty()
			a := r.Attributes()
			a.PutStr("@timestamp", base.Add(time.Duration(e)*time.Minute).Format(time.RFC3339))
			a.PutStr("host.name", fmt.Sprintf("host-%05d.prod.example.com", h))
			a.PutStr("process.executable", "/usr/local/bin/node_exporter")
			a.PutStr("user.name", "prometheus")
			a.PutStr("destination.ip", fmt.Sprintf("45.%d.%d.%d", e, h/256%256, h%256))
			a.PutInt("destination.port", 443)
			a.PutEmptySlice("cairn.signals").AppendEmpty().SetStr(sig)
			if sig == event.SignalIntelBadIP {
				ip := fmt.Sprintf("45.%d.%d.%d", e, h/256%256, h%256)
				enr := event.Enrichment{
					Indicator: event.Indicator{Type: event.IndicatorTypeIPv4, IP: ip, Provider: "abuse.ch ThreatFox", Confidence: "High"},
					Matched:   event.Matched{Atomic: ip, Field: "destination.ip", Type: event.MatchTypeIndicatorMatchRule, Occurred: base},
					Verdict:   "malicious",
				}
				enr.PutTo(a.PutEmptySlice("threat.enrichments").AppendEmpty().SetEmptyMap())
			}
		}
		if _, err := p.processLogs(context.Background(), ld); err != nil {
			b.Fatal(err)
		}
	}
}
