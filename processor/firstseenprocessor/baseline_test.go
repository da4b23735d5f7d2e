package firstseenprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/taint"
	"github.com/cairnsec/cairn/internal/testkit"
)

// withVerdict adds a threat.enrichments entry as the intel processor writes
// it, with the given verdict.
func withVerdict(e map[string]any, verdict string) map[string]any {
	e["threat"] = map[string]any{"enrichments": []any{map[string]any{
		"indicator": map[string]any{"type": "file", "file": map[string]any{"hash": map[string]any{"sha256": toolkitHash}}, "provider": "test feed"},
		"matched":   map[string]any{"atomic": toolkitHash, "field": "process.hash.sha256", "type": "indicator_match_rule"},
		"cairn":     map[string]any{"intel": map[string]any{"verdict": verdict}},
	}}}
	return e
}

// oldSemantics: known after the first host, no rare signals, so that what
// the baseline rules change shows on the second host directly.
func oldSemantics(t *testing.T) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.KnownAfterHosts, cfg.RareHosts, cfg.RareShare = 1, 0, 0
	cfg.BaselineGroup = t.Name() // the taint registry is process-wide
	return cfg
}

// TestMaliciousVerdictIsNotLearned: an event the intel stage found
// malicious is flagged as usual, but its terms never become baseline: the
// next host, and the same host again, still see them as new.
func TestMaliciousVerdictIsNotLearned(t *testing.T) {
	f := newFixture(t, oldSemantics(t), nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	learnFleet(t, f, fleetHosts(3)...)

	bad := func(host string, at time.Duration) []map[string]any {
		evs := infect(host, at)
		for _, e := range evs {
			withVerdict(e, "malicious")
		}
		return evs
	}
	assert.Equal(t, allNew, signalsOf(f.send(t, bad("host-00", 48*time.Hour)...)))
	assert.Equal(t, allNew, signalsOf(f.send(t, bad("host-01", 49*time.Hour)...)), "another host: nothing was learned")
	assert.Equal(t, allNew, signalsOf(f.send(t, bad("host-01", 50*time.Hour)...)), "the same host again")
	assert.Equal(t, int64(9), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_not_learned", map[string]string{"reason": "malicious_verdict"}))

	// A suspicious verdict is no reason to keep a term out.
	susp := infect("host-02", 51*time.Hour)
	for _, e := range susp {
		withVerdict(e, "suspicious")
	}
	assert.Equal(t, allNew, signalsOf(f.send(t, susp...)))
	assert.Equal(t, []string{"new_binary_on_host"}, signalsOf(f.send(t, infect("host-00", 52*time.Hour)...)), "learned from the suspicious events")
}

func ids(t *testing.T, out []pcommon.Map) []string {
	var all []string
	for _, m := range out {
		id, ok := testkit.Get(m, "event.id")
		require.True(t, ok)
		all = append(all, id.Str())
	}
	return all
}

// TestTaintForgetsAndBlocks: correlate publishes the events an open high
// alert is built from; at the next batch their terms leave the baseline
// and stay out until the alert's time, so a second infected host still
// sees them as new. Each host is flagged once for a blocked term.
func TestTaintForgetsAndBlocks(t *testing.T) {
	cfg := oldSemantics(t)
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	learnFleet(t, f, fleetHosts(5)...)
	reg := taint.Get(cfg.BaselineGroup)

	first := f.send(t, infect("host-00", 48*time.Hour)...)
	require.Equal(t, allNew, signalsOf(first))
	// The alert is open until 50h (event time).
	reg.Taint(append(ids(t, first), "no-such-event"), day0.Add(50*time.Hour))

	second := f.send(t, infect("host-01", 49*time.Hour)...)
	assert.Equal(t, allNew, signalsOf(second), "a second infected host sees the toolkit as new")
	assert.Equal(t, int64(5), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_taint", map[string]string{"outcome": "forgotten"}),
		"binary on host, binary, domain, IP, IP for binary")
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_taint", map[string]string{"outcome": "unknown"}))
	assert.Equal(t, int64(3), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_not_learned", map[string]string{"reason": "tainted"}))

	again := f.send(t, infect("host-01", 49*time.Hour+time.Minute)...)
	assert.Empty(t, signalsOf(again), "once per host while blocked")
	third := f.send(t, infect("host-02", 49*time.Hour+2*time.Minute)...)
	assert.Equal(t, allNew, signalsOf(third))

	// After the alert's time the terms are learned again as usual.
	fourth := f.send(t, infect("host-03", 51*time.Hour)...)
	assert.Equal(t, allNew, signalsOf(fourth), "not learned while blocked: new once more")
	fifth := f.send(t, infect("host-04", 52*time.Hour)...)
	assert.Equal(t, []string{"new_binary_on_host"}, signalsOf(fifth), "and learned from then on")
}

// TestTaintTakesBackAHostOnly: an event that added its host to a term
// other hosts had shown (the term stays) gives that host back: the count
// drops, so the term is not known any sooner.
func TestTaintTakesBackAHostOnly(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.BaselineGroup = t.Name()
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	hosts := fleetHosts(6)
	learnFleet(t, f, hosts...)
	// Two hosts use a rare tool; a third one, compromised, too.
	f.send(t, dnsAnswer(hosts[0], "tool.example.org", 48*time.Hour), dnsAnswer(hosts[1], "tool.example.org", 48*time.Hour))
	bad := f.send(t, dnsAnswer(hosts[2], "tool.example.org", 49*time.Hour))
	require.Equal(t, []string{"new_domain"}, testkit.Signals(bad[0]), "third host: not known yet")
	taint.Get(cfg.BaselineGroup).Taint(ids(t, bad), day0.Add(50*time.Hour))
	// Without the taint the term would be known now (three hosts).
	next := f.send(t, dnsAnswer(hosts[3], "tool.example.org", 49*time.Hour+time.Minute))
	assert.Equal(t, []string{"new_domain"}, testkit.Signals(next[0]), "two hosts had it, not three")
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_taint", map[string]string{"outcome": "forgotten"}))
	// Only the host was taken back: the term is held, not blocked.
	assert.Zero(t, f.fs.trackers[3].Blocked.Len())
}

// TestTaintRecordIsBounded: what events taught is kept for the last
// maxTeachings teachings; teachings pushed out while within the window
// are counted, and a taint of such an event finds nothing.
func TestTaintRecordIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("teaches 70,000 terms")
	}
	cfg := oldSemantics(t)
	cfg.Trackers = []TrackerConfig{{Name: "new_domain", Learning: durPtr(0), MaxTerms: 100_000}}
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	const total = maxTeachings + 4464
	var firstID string
	for start := 0; start < total; start += 10_000 {
		ld := plog.NewLogs()
		recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := start; i < min(start+10_000, total); i++ {
			r := recs.AppendEmpty()
			r.SetTimestamp(pcommon.NewTimestampFromTime(day0.Add(time.Duration(i) * time.Millisecond)))
			r.Attributes().PutStr("host.name", "a")
			r.Attributes().PutStr("dns.question.name", fmt.Sprintf("d%d.example", i))
		}
		require.NoError(t, f.proc.ConsumeLogs(context.Background(), ld))
		if start == 0 {
			id, ok := testkit.Get(f.sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes(), "event.id")
			require.True(t, ok)
			firstID = id.Str()
		}
	}
	assert.Equal(t, int64(total-maxTeachings), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_taint", map[string]string{"outcome": "fell_out"}))
	taint.Get(cfg.BaselineGroup).Taint([]string{firstID}, day0.Add(time.Hour))
	f.send(t, dnsAnswer("a", "x.example", time.Hour))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_taint", map[string]string{"outcome": "unknown"}))
}

// TestTaintSubscription: the processor drains its baseline_group from Start
// to Shutdown; with no reader left, correlate's marks are not kept.
func TestTaintSubscription(t *testing.T) {
	cfg := oldSemantics(t)
	reg := taint.Get(cfg.BaselineGroup)
	reg.Taint([]string{"before"}, day0)
	marks, _ := reg.Drain()
	assert.Empty(t, marks, "no reader before Start")

	f := newFixture(t, cfg, nil)
	reg.Taint([]string{"x"}, day0)
	f.send(t, dnsAnswer("a", "a.example", 0))
	marks, _ = reg.Drain()
	assert.Empty(t, marks, "drained by the batch")
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_taint", map[string]string{"outcome": "unknown"}))

	require.NoError(t, f.proc.Shutdown(context.Background()))
	reg.Taint([]string{"after"}, day0)
	marks, _ = reg.Drain()
	assert.Empty(t, marks, "unsubscribed at shutdown")
}

// TestTaintOfUntaggedEvent: an unflagged event without an event.id that
// taught a term (here: during learning) is known by its content id, the
// one every later stage gives it.
func TestTaintOfUntaggedEvent(t *testing.T) {
	cfg := oldSemantics(t)
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	out := f.send(t, dnsAnswer("a", "learned.example", 0))
	_, ok := testkit.Get(out[0], "event.id")
	require.False(t, ok, "learning: unflagged, no id written")
	// The id correlate would give it.
	ld := batch(t, dnsAnswer("a", "learned.example", 0))
	v := f.fs.view
	rec := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	v.Reset(ld.ResourceLogs().At(0).Resource(), rec)
	id := v.EnsureID()
	v.Release()
	taint.Get(cfg.BaselineGroup).Taint([]string{id}, day0.Add(72*time.Hour))
	later := f.send(t, dnsAnswer("b", "learned.example", 48*time.Hour))
	assert.Equal(t, []string{"new_domain"}, testkit.Signals(later[0]))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_taint", map[string]string{"outcome": "forgotten"}))
}
