package firstseenprocessor

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/metadata"
)

// scenarioLogs decodes the default scenario into one batch.
func scenarioLogs(b *testing.B) plog.Logs {
	var buf bytes.Buffer
	_, err := scenario.Generate(scenario.Default(), &buf)
	require.NoError(b, err)
	ld, err := ecs.DecodeNDJSON(&buf)
	require.NoError(b, err)
	return ld
}

// BenchmarkProcessLogs measures the default trackers on a realistic mix: a
// batch of 1000 scenario events of which 95% show known terms and 5% new
// ones (fresh domains, IPs and hashes every iteration). Events arrive
// without event.id, as from a sensor, so id derivation is included.
func BenchmarkProcessLogs(b *testing.B) {
	const batchSize = 1000
	const fresh = batchSize / 20
	all := scenarioLogs(b)
	p, err := newFirstSeen(processortest.NewNopSettings(metadata.Type), createDefaultConfig().(*Config))
	require.NoError(b, err)
	_ = consumertest.NewNop()

	// Learn the whole scenario once (keeping a pristine copy for templates).
	template := plog.NewLogs()
	all.CopyTo(template)
	_, err = p.processLogs(context.Background(), all)
	require.NoError(b, err)

	src := template.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	batch := plog.NewLogs()
	recs := batch.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	// Take events from the last day: all of them known by now.
	start := src.Len() - batchSize
	for i := 0; i < batchSize; i++ {
		src.At(start + i).CopyTo(recs.AppendEmpty())
	}
	// One working copy, restored between iterations only where processing
	// wrote (the flagged events): copying the whole batch each time would
	// charge the processor with the garbage collection of the benchmark's
	// own copies.
	work := plog.NewLogs()
	batch.CopyTo(work)
	wr := work.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		for i := 0; i < fresh; i++ {
			a := wr.At(i * 20).Attributes()
			a.Remove("cairn")
			if e, ok := a.Get("event"); ok && e.Type() == pcommon.ValueTypeMap {
				e.Map().Remove("id")
			}
			// Make one term of this event new; nested ECS maps as decoded.
			if d, ok := a.Get("dns"); ok {
				d.Map().PutEmptyMap("question").PutStr("name", fmt.Sprintf("n%d-%d.example.com", n, i))
			} else if d, ok := a.Get("destination"); ok {
				d.Map().PutStr("ip", fmt.Sprintf("45.%d.%d.%d", (n>>8)&255, n&255, i))
			} else if pr, ok := a.Get("process"); ok {
				pr.Map().PutEmptyMap("hash").PutStr("sha256", fmt.Sprintf("%064x", n*batchSize+i))
			}
		}
		b.StartTimer()
		if _, err := p.processLogs(context.Background(), work); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N*batchSize)
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkMemoryPerTerm fills one tracker with terms through the processor
// and reports the store's bytes per term: new_domain with the default
// prevalence (host sets of up to 6 hosts). hosts=1: a million terms each
// seen on one host (a flood of one-off domains: the inline first host
// only); hosts=5: 200,000 terms each seen on five hosts, the most a
// default set holds before it saturates (a 7-slot slab per term).
func BenchmarkMemoryPerTerm(b *testing.B) {
	for _, tc := range []struct{ terms, hosts int }{{1_000_000, 1}, {200_000, 5}} {
		b.Run(fmt.Sprintf("hosts=%d", tc.hosts), func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				cfg := createDefaultConfig().(*Config)
				cfg.Trackers = []TrackerConfig{{Name: "new_domain", MaxTerms: tc.terms, Learning: durPtr(0)}}
				p, err := newFirstSeen(processortest.NewNopSettings(metadata.Type), cfg)
				require.NoError(b, err)
				for h := range tc.hosts {
					for i := 0; i < tc.terms; i += 10000 {
						ld := plog.NewLogs()
						recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
						for j := i; j < i+10000; j++ {
							r := recs.AppendEmpty()
							r.Attributes().PutStr("event.id", "x")
							r.Attributes().PutStr("host.name", fmt.Sprintf("h%d", h))
							r.Attributes().PutStr("dns.question.name", fmt.Sprintf("d%d.example.com", j))
						}
						_, _ = p.processLogs(context.Background(), ld)
					}
				}
				tr := p.trackers[0]
				if tr.Terms.Len() != tc.terms {
					b.Fatalf("held %d terms", tr.Terms.Len())
				}
				if k, _ := tr.Terms.HostCount(termOfDomain(b, p, "d0.example.com")); k != tc.hosts {
					b.Fatalf("term seen on %d hosts, want %d", k, tc.hosts)
				}
				b.ReportMetric(float64(tr.Terms.MemoryBytes())/float64(tc.terms), "bytes/term")
			}
		})
	}
}

// termOfDomain is the new_domain fingerprint of a domain (tracker 0).
func termOfDomain(b *testing.B, p *firstSeen, name string) uint64 {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	r := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	r.Attributes().PutStr("dns.question.name", name)
	p.view.Reset(rl.Resource(), r)
	defer p.view.Release()
	p.env.Event++
	term, _, _ := p.trackers[0].Term(p.view, &p.env)
	return term
}
