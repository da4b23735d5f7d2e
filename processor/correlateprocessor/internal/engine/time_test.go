package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
)

// TestSkewedEventsDoNotMoveClocks: a skewed event (its receipt time in
// Time) is placed and counted, but neither moves the entity's clock nor
// the watermark, and is never late.
func TestSkewedEventsDoNotMoveClocks(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 0, sigExec)
	f.hit("b", 0, sigExec)
	skewed := &Event{Entity: "a", Time: at(time.Minute), Skewed: true, Hits: []Hit{{Signal: sigNet, Mult: 1}},
		Evidence: &Evidence{EventID: "s", Time: at(time.Minute)}}
	_, ok := f.e.Observe(skewed, nil)
	require.True(t, ok)
	latest, _ := f.e.Latest("a")
	assert.Equal(t, at(0), latest, "the entity's clock stays")
	assert.Equal(t, at(0), f.e.Watermark())
	// The skewed raise counts with the entity's next events.
	as := fired(f.hit("a", 30*time.Second, sigIntel))
	require.Len(t, as, 1)
	assert.Equal(t, 3, as[0].Tally.Distinct())

	// A skewed first event of an entity gives it no clock: its next real
	// event is not late.
	skewed = &Event{Entity: "c", Time: at(24 * time.Hour), Skewed: true, Hits: []Hit{{Signal: sigNet, Mult: 1}},
		Evidence: &Evidence{EventID: "s2", Time: at(24 * time.Hour)}}
	_, ok = f.e.Observe(skewed, nil)
	require.True(t, ok)
	_, ok = f.e.Observe(&Event{Entity: "c", Time: at(time.Second), Hits: []Hit{{Signal: sigExec, Mult: 1}},
		Evidence: &Evidence{EventID: "c1", Time: at(time.Second)}}, nil)
	assert.True(t, ok)
}

// TestClockGoesBack: events beyond the lateness are dropped, but when they
// keep coming (the host's clock went back), the entity's clock follows
// after clockBackAfter of them, so the host is not blind until its old
// time comes round again.
func TestClockGoesBack(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 24*time.Hour, sigExec)
	for i := 0; i < clockBackAfter-1; i++ {
		ev := &Event{Entity: "a", Time: at(time.Duration(i) * time.Second), Hits: []Hit{{Signal: sigNet, Mult: 1}}, Evidence: &Evidence{}}
		_, ok := f.e.Observe(ev, nil)
		assert.False(t, ok, "a straggler is late")
	}
	// An in-order event in between would reset the run; here the clock
	// went back for good.
	f.hit("a", 10*time.Second, sigNet)
	assert.Empty(t, fired(f.hit("a", 11*time.Second, sigIntel)),
		"the signal of the abandoned time line, a day ahead, does not make a third")
	as := fired(f.hit("a", 12*time.Second, sigExec2))
	require.Len(t, as, 1, "correlation resumed on the new clock")
	latest, _ := f.e.Latest("a")
	assert.Equal(t, at(12*time.Second), latest)
	assert.Equal(t, uint64(1), f.e.Stats().ClockBack)
	assert.Equal(t, uint64(clockBackAfter-1), f.e.Stats().Late)

	// Stragglers between in-order events stay late: the run restarts.
	f.hit("b", time.Hour, sigExec)
	for i := 0; i < 2*clockBackAfter; i++ {
		ev := &Event{Entity: "b", Time: at(0), Hits: []Hit{{Signal: sigNet, Mult: 1}}, Evidence: &Evidence{}}
		_, ok := f.e.Observe(ev, nil)
		assert.False(t, ok)
		if i%2 == 0 {
			f.hit("b", time.Hour+time.Duration(i)*time.Second, sigExec)
		}
	}
}

// TestClockBackLeavesTheOldTimeLine: an alert opened before a host's clock
// went back (a day ahead of the new clock) is not open on the new one: the
// new evidence does not update it across the day, it raises an alert of its
// own.
func TestClockBackLeavesTheOldTimeLine(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 24*time.Hour, sigExec)
	old := fired(f.hit("a", 24*time.Hour+time.Second, sigNet))
	require.Len(t, old, 1)
	for i := 0; i < clockBackAfter-1; i++ {
		ev := &Event{Entity: "a", Time: at(time.Duration(i) * time.Second), Hits: []Hit{{Signal: sigIntel, Mult: 1}}, Evidence: &Evidence{}}
		_, ok := f.e.Observe(ev, nil)
		require.False(t, ok)
	}
	out := f.hit("a", 10*time.Second, sigIntel)
	out = append(out, f.hit("a", 11*time.Second, sigExec2)...)
	for _, o := range out {
		assert.NotSame(t, old[0], o.Alert, "the alert of the abandoned time line takes no evidence from a day before it")
		assert.GreaterOrEqual(t, o.Alert.Start, at(0), "no evidence from the old time line")
		assert.Less(t, o.Alert.End, at(time.Hour))
	}
	require.Len(t, fired(out), 1, "the new evidence raises its own alert")
}

// TestWatermarkNeedsTwoEntities: one entity far ahead (within the
// tolerance, so not skewed) does not move the sweep's watermark.
func TestWatermarkNeedsTwoEntities(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 0, sigExec)
	assert.Zero(t, f.e.Watermark(), "one entity alone")
	f.hit("b", time.Minute, sigExec)
	assert.Equal(t, at(0), f.e.Watermark())
	f.hit("rogue", 100*24*time.Hour, sigExec)
	assert.Equal(t, at(time.Minute), f.e.Watermark(), "the rogue entity alone does not count")
	f.hit("a", 2*time.Minute, sigExec)
	assert.Equal(t, at(2*time.Minute), f.e.Watermark())
	f.hit("rogue", 200*24*time.Hour, sigExec)
	assert.Equal(t, at(2*time.Minute), f.e.Watermark())
}

// TestSweepKeepsActiveEntities: an entity with events since the last sweep
// is kept whatever its clock says (it may lag the others).
func TestSweepKeepsActiveEntities(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("lagging", 0, sigExec)
	assert.Zero(t, f.e.Sweep(at(5*time.Hour)), "active since the last sweep")
	f.hit("lagging", time.Minute, sigNet)
	assert.Zero(t, f.e.Sweep(at(5*time.Hour+time.Minute)))
	assert.Equal(t, 1, f.e.Sweep(at(5*time.Hour+2*time.Minute)), "idle for a whole sweep")
}

// TestRestorePoisonedState: state from a release that trusted every event
// time, after one event dated 2099: the entity's clock, the observation
// and the alert it fired are not brought back, so the host's events of
// today are neither late nor swallowed by an alert "open" until 2099.
func TestRestorePoisonedState(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	f := &feeder{t: t, e: newEngine(t, r)}
	now := at(24 * time.Hour)
	f.e.SetNow(func() int64 { return now })
	y2099 := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	data := fmt.Sprintf(`{"key":"web-03","latest":%d,"evidence":[{"id":"ok","t":%d},{"id":"future","t":%d}],`+
		`"obs":[{"t":%d,"s":"exec","m":1,"e":0},{"t":%d,"s":"net","m":1,"skip":["r"],"e":1}],`+
		`"alerts":[{"rule":"r","id":"x","start":%d,"end":%d,"fired":%d,"until":%d,"sums":{"net":10},"contributions":[{"s":"net","w":10,"e":1}]}]}`,
		y2099, at(23*time.Hour), y2099, at(23*time.Hour), y2099, y2099, y2099, y2099, y2099+int64(time.Hour))
	require.NoError(t, f.e.Restore([]byte(data)))
	latest, _ := f.e.Latest("web-03")
	assert.Equal(t, at(23*time.Hour), latest, "the clock comes from what is left")
	assert.Equal(t, uint64(1), f.e.Stats().Poisoned)
	as := fired(f.hit("web-03", 23*time.Hour+time.Minute, sigNet))
	require.Len(t, as, 1, "not late, and a new alert rather than an update of the 2099 one")
	assert.NotEqual(t, "x", as[0].ID)

	// Within the tolerance, state is kept as it is.
	f.e.cfg.MaxFuture = int64(time.Hour)
	data = fmt.Sprintf(`{"key":"h","latest":%d,"evidence":[{"id":"e","t":%d}],"obs":[{"t":%d,"s":"exec","m":1,"e":0}]}`,
		now+int64(time.Minute), now+int64(time.Minute), now+int64(time.Minute))
	require.NoError(t, f.e.Restore([]byte(data)))
	latest, _ = f.e.Latest("h")
	assert.Equal(t, now+int64(time.Minute), latest)
	assert.Equal(t, uint64(1), f.e.Stats().Poisoned)
}
