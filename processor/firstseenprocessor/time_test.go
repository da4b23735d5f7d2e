package firstseenprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/tracker"
)

// clockAt makes the processor's clock (the collector's wall clock, against
// which event times are checked) read day0+*at.
func clockAt(f *fixture, at *time.Duration) {
	f.fs.mu.Lock()
	f.fs.now = func() time.Time { return day0.Add(*at) }
	f.fs.mu.Unlock()
}

var year2099 = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

// at2099 re-dates an event to 2099 (a bad RTC at boot).
func at2099(e map[string]any, off time.Duration) map[string]any {
	e["@timestamp"] = year2099.Add(off).Format(time.RFC3339Nano)
	return e
}

// TestClockJumpTo2099 is issue 12's case: a host whose clock read 2099 at
// boot (a bad RTC, fixed by NTP minutes later) must have its later events
// flagged normally once its learning day is over. Before the time rule, the
// 2099 events set the host's (and the environment's) learning start to 2099;
// the first new term after NTP moved it to that term's time, so the host
// (and every environment tracker) learned again and the compromise a day
// later raised nothing. The terms of the 2099 events were also pinned as
// seen in 2099, so they could never age out.
func TestClockJumpTo2099(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	now := time.Minute
	clockAt(f, &now)

	// Boot: the RTC says 2099.
	f.send(t,
		at2099(procStart("web-03", "/sbin/init", hash("init"), 0), 0),
		at2099(procStart("web-03", "/usr/sbin/sshd", hash("sshd"), 0), time.Second),
		at2099(procStart("web-03", "/usr/sbin/cron", hash("cron"), 0), 2*time.Second),
	)
	// NTP fixed the clock: a day of ordinary, known activity.
	for h := time.Duration(0); h < 24; h++ {
		now = h*time.Hour + 5*time.Minute
		out := f.send(t, procStart("web-03", "/usr/sbin/cron", hash("cron"), now))
		assert.Empty(t, testkit.Signals(out[0]), "known binary at %s", now)
	}
	// A day later the host is compromised.
	now = 25 * time.Hour
	out := f.send(t, procStart("web-03", "/tmp/.x/implant", hash("implant"), now))
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment"}, testkit.Signals(out[0]),
		"a host whose clock once read 2099 is past learning a day after it was first seen")

	// A binary seen only in the 2099 boot events is new again once its
	// history (30d from when those events were received) is over.
	now = 32 * 24 * time.Hour
	out = f.send(t, procStart("web-03", "/sbin/init", hash("init"), now))
	assert.Equal(t, []string{"new_binary_on_host", "new_binary_in_environment"}, testkit.Signals(out[0]),
		"terms of future-dated events age from their receipt time")
}

// TestSkewedEventIsMarked: an event dated beyond max_future is marked
// cairn.time.skewed (once: a mark already there is kept as it is), gets an
// id like any event this processor changes, and is counted.
func TestSkewedEventIsMarked(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxFuture = 10 * time.Minute
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	now := time.Hour
	clockAt(f, &now)

	out := f.send(t,
		procStart("a", "/bin/x", hash("x"), now+9*time.Minute),  // within the tolerance
		procStart("a", "/bin/y", hash("y"), now+11*time.Minute), // beyond it
		map[string]any{"cairn.time.skewed": "upstream", "host.name": "a", // marked upstream
			"@timestamp": year2099.Format(time.RFC3339)},
	)
	_, ok := testkit.Get(out[0], "cairn.time.skewed")
	assert.False(t, ok)
	flag, ok := testkit.Get(out[1], "cairn.time.skewed")
	require.True(t, ok)
	assert.True(t, flag.Bool())
	id, ok := testkit.Get(out[1], "event.id")
	require.True(t, ok)
	assert.Len(t, id.Str(), 32)
	mark, _ := testkit.Get(out[2], "cairn.time.skewed")
	assert.Equal(t, "upstream", mark.Str(), "a mark already there is left alone")
	_, ok = testkit.Get(out[2], "event.id")
	assert.False(t, ok, "and the event, unchanged, gets no id here")
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_skewed", nil))
}

// TestSkewedEventUsesReceiptTime: the receipt time is the record's
// observed time when it has one (else the collector's clock).
func TestSkewedEventUsesReceiptTime(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Trackers = []TrackerConfig{{Name: "new_domain", History: durPtr(48 * time.Hour), Learning: durPtr(0)}}
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	now := time.Hour
	clockAt(f, &now)
	ld := batch(t, at2099(dnsAnswer("a", "pinned.example", 0), 0))
	rec := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	rec.SetObservedTimestamp(pcommon.NewTimestampFromTime(day0.Add(30 * time.Minute)))
	require.NoError(t, f.proc.ConsumeLogs(context.Background(), ld))
	ts, ok := f.fs.trackers[0].Terms.Lookup(termOf(t, f.fs, 0, dnsAnswer("a", "pinned.example", 0)))
	require.True(t, ok)
	assert.Equal(t, tracker.EventSeconds(day0.Add(30*time.Minute)), ts, "learned at its receipt time")

	// 48h after receipt plus a second: new again (it would be known until
	// 2099 if its own time had been taken).
	now = 49 * time.Hour
	out := f.send(t, dnsAnswer("a", "pinned.example", 48*time.Hour+31*time.Minute))
	assert.Equal(t, []string{"new_domain"}, testkit.Signals(out[0]))
}

// TestSkewedEventsMoveNoClock: the processor's clock (which decides which
// learning scopes are done and which hosts are active) follows trusted
// event times only.
func TestSkewedEventsMoveNoClock(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.RareShare = 0.01 // active hosts are counted
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	now := time.Hour
	clockAt(f, &now)
	f.send(t, procStart("a", "/bin/x", hash("x"), 30*time.Minute))
	clock := f.fs.env.Clock
	assert.Equal(t, tracker.EventSeconds(day0.Add(30*time.Minute)), clock)
	f.send(t, at2099(procStart("b", "/bin/x", hash("x"), 0), 0))
	assert.Equal(t, clock, f.fs.env.Clock, "a 2099 event does not move the clock")
	n := f.fs.active.Count(f.fs.env.Env32())
	assert.Equal(t, 1, n, "nor makes its host active")
	// A host learning since 30m: a 2099 event must not make it done.
	assert.Zero(t, f.fs.trackers[0].Scopes.Len())
}

// termOf is the fingerprint tracker i gives an event's term.
func termOf(t *testing.T, fs *firstSeen, i int, e map[string]any) uint64 {
	t.Helper()
	ld := batch(t, e)
	v := fs.view
	v.Reset(ld.ResourceLogs().At(0).Resource(), ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0))
	defer v.Release()
	fs.env.Event++
	term, _, res := fs.trackers[i].Term(v, &fs.env)
	require.Equal(t, tracker.Located, res)
	return term
}
