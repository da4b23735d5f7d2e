package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
)

// Signals of the test catalog: exec (tactic 3), exec2 (tactic 3), net
// (tactic 11), intel (tactic 3).
const (
	sigExec = iota
	sigExec2
	sigNet
	sigIntel
)

var base = time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC).UnixNano()

func at(d time.Duration) int64 { return base + int64(d) }

func testSignals() []Signal {
	return []Signal{
		{Name: "exec", Tactic: 3},
		{Name: "exec2", Tactic: 3},
		{Name: "net", Tactic: 11},
		{Name: "intel", Tactic: 3},
	}
}

func rule(idx int, id string, window time.Duration, weights []float64, cs ...criteria.Criterion) *Rule {
	r := &Rule{Index: idx, ID: id, Name: id, Window: int64(window), SuppressFor: int64(window), Criteria: cs}
	for _, w := range weights {
		r.Signals = append(r.Signals, RuleSignal{Weight: w})
	}
	return r
}

func newEngine(t testing.TB, rules ...*Rule) *Engine {
	t.Helper()
	e, err := New(Config{Signals: testSignals(), Rules: rules, Lateness: int64(5 * time.Minute), TrackChanges: true,
		MaxEntities: 100, MaxObservations: 16, MaxContributions: 8})
	require.NoError(t, err)
	return e
}

type feeder struct {
	t *testing.T
	e *Engine
	n int
}

// hit feeds one event of entity h at time d with the given signals (weight
// multiplier 1) and returns the outcomes.
func (f *feeder) hit(h string, d time.Duration, sigs ...int) []Outcome {
	return f.hitMult(h, d, 1, 0, sigs...)
}

func (f *feeder) hitMult(h string, d time.Duration, mult float64, except uint64, sigs ...int) []Outcome {
	return f.event(h, d, mult, except, 0, sigs...)
}

// hitKey feeds one event whose raises carry key.
func (f *feeder) hitKey(h string, d time.Duration, key uint64, sigs ...int) []Outcome {
	return f.event(h, d, 1, 0, key, sigs...)
}

func (f *feeder) event(h string, d time.Duration, mult float64, except, key uint64, sigs ...int) []Outcome {
	f.n++
	ev := &Event{Entity: h, Time: at(d), Except: except, Evidence: &Evidence{EventID: string(rune('a' + f.n%26)), Time: at(d)}}
	for _, s := range sigs {
		ev.Hits = append(ev.Hits, Hit{Signal: s, Mult: mult, Key: key})
	}
	out, _ := f.e.Observe(ev, nil)
	return out
}

func fired(out []Outcome) []*Alert {
	var as []*Alert
	for _, o := range out {
		if o.Action == Fired {
			as = append(as, o.Alert)
		}
	}
	return as
}

func TestFiresWhenCriteriaMet(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 20, 30, 50}, criteria.MinScore(60), criteria.MinTactics(2))
	f := &feeder{t: t, e: newEngine(t, r)}
	assert.Empty(t, f.hit("web-03", 0, sigExec))
	assert.Empty(t, f.hit("web-03", 40*time.Second, sigExec2, sigIntel), "score 80 but one tactic")
	out := f.hit("web-03", 41*time.Second, sigNet)
	as := fired(out)
	require.Len(t, as, 1)
	a := as[0]
	assert.Equal(t, 110.0, a.Tally.Score)
	assert.Equal(t, 2, a.Tally.TacticCount())
	assert.Equal(t, at(41*time.Second), a.Fired)
	assert.Equal(t, at(0), a.Start)
	assert.Equal(t, at(41*time.Second), a.End)
	assert.Len(t, a.Contributions, 4)
	assert.Equal(t, AlertID("r", "web-03", at(0)), a.ID)
	assert.Len(t, a.ID, 32)
	// Another entity has its own state.
	assert.Empty(t, f.hit("web-04", 41*time.Second, sigNet))
}

func TestWindowEdges(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 0, sigExec)
	assert.Len(t, fired(f.hit("a", time.Hour, sigNet)), 1, "exactly one window apart is inside")

	f.hit("b", 0, sigExec)
	assert.Empty(t, fired(f.hit("b", time.Hour+time.Nanosecond, sigNet)), "one nanosecond beyond is outside")
}

func TestNoStackingFromRepeats(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinScore(25))
	f := &feeder{t: t, e: newEngine(t, r)}
	for i := 0; i < 500; i++ {
		assert.Empty(t, f.hit("a", time.Duration(i)*time.Second, sigNet))
	}
	// A stronger occurrence raises the signal to its own weight, no more.
	assert.Empty(t, f.hitMult("a", 600*time.Second, 2, 0, sigNet), "20 < 25")
	assert.Len(t, fired(f.hit("a", 601*time.Second, sigExec)), 1)
	ent, _ := f.e.entities.peek("a")
	assert.LessOrEqual(t, len(ent.obs), 16, "bounded")
}

// TestCapAllowsSumUpToCap: with ratio 1, distinct raises add in full up
// to the cap (what a cap alone did before raises had keys).
func TestCapAllowsSumUpToCap(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinScore(25))
	r.Signals[sigNet].Cap = 30
	r.Signals[sigNet].Ratio = 1
	f := &feeder{t: t, e: newEngine(t, r)}
	assert.Empty(t, f.hitKey("a", 0, 1, sigNet))
	assert.Empty(t, f.hitKey("a", time.Second, 2, sigNet))
	as := fired(f.hitKey("a", 2*time.Second, 3, sigNet))
	require.Len(t, as, 1)
	assert.Equal(t, 30.0, as[0].Tally.Score)
	out := f.hitKey("a", 3*time.Second, 4, sigNet)
	require.Len(t, out, 1)
	assert.Equal(t, Updated, out[0].Action)
	assert.Equal(t, 30.0, out[0].Alert.Tally.Score, "capped at 30")
	assert.Equal(t, 0.0, out[0].Alert.Contributions[3].Weight)
}

func TestOutOfOrderWithinLateness(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 10*time.Minute, sigExec)
	f.hit("a", 12*time.Minute, sigNet)
	// Arrives after the 12-minute event but happened before both, within lateness.
	as := fired(f.hit("a", 9*time.Minute, sigIntel))
	require.Len(t, as, 1)
	assert.Equal(t, at(9*time.Minute), as[0].Start)
	assert.Equal(t, at(12*time.Minute), as[0].End)
	assert.Equal(t, at(9*time.Minute), as[0].Fired, "the deciding event is the late one")

	// A late event whose only complete window starts at itself: the window
	// from an earlier observation misses the later evidence.
	f.hit("b", 40*time.Minute, sigExec)
	f.hit("b", 101*time.Minute, sigIntel)
	assert.Empty(t, f.hit("b", 102*time.Minute, sigExec2), "[42m,102m] has two signals")
	as = fired(f.hit("b", 97*time.Minute, sigNet))
	require.Len(t, as, 1, "[97m,157m] holds net, intel and exec2")
	assert.Equal(t, at(97*time.Minute), as[0].Start)
	assert.Equal(t, at(102*time.Minute), as[0].End)
	assert.Equal(t, 3, as[0].Tally.Distinct(), "exec at 40m is outside that window")
}

func TestBeyondLatenessDropped(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 30*time.Minute, sigExec)
	ev := &Event{Entity: "a", Time: at(24 * time.Minute), Hits: []Hit{{Signal: sigNet, Mult: 1}}, Evidence: &Evidence{}}
	out, ok := f.e.Observe(ev, nil)
	assert.False(t, ok)
	assert.Empty(t, out)
	assert.Equal(t, uint64(1), f.e.Stats().Late)
}

func TestSuppressionAndUpdate(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	r.SuppressFor = int64(30 * time.Minute)
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 0, sigExec)
	first := fired(f.hit("a", time.Minute, sigNet))[0]

	out := f.hit("a", 10*time.Minute, sigIntel)
	require.Len(t, out, 1)
	assert.Equal(t, Updated, out[0].Action)
	assert.Same(t, first, out[0].Alert)
	assert.Len(t, first.Contributions, 3)
	assert.Equal(t, at(10*time.Minute), first.End)

	// After suppression: evidence already in the alert does not fire again...
	assert.Empty(t, f.hit("a", 32*time.Minute, sigExec))
	// ...but new evidence that meets the rule with it opens a new alert.
	as := fired(f.hit("a", 33*time.Minute, sigNet))
	require.Len(t, as, 1)
	assert.NotEqual(t, first.ID, as[0].ID)
	assert.Equal(t, at(32*time.Minute), as[0].Start)
}

func TestSupersededBy(t *testing.T) {
	// The superseded rule comes first in the configuration: evaluation
	// order, not configuration order, must put the superseding one first.
	low := rule(0, "low", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	high := rule(1, "high", time.Hour, []float64{10, 10, 10, 50}, criteria.MinScore(60))
	low.SupersededBy = []int{1}
	f := &feeder{t: t, e: newEngine(t, low, high)}

	f.hit("a", 0, sigExec)
	out := f.hit("a", time.Second, sigNet, sigIntel) // meets both
	require.Len(t, out, 2)
	assert.Equal(t, Fired, out[0].Action)
	assert.Equal(t, "high", out[0].Rule.ID)
	assert.Equal(t, Superseded, out[1].Action)
	assert.Equal(t, "low", out[1].Rule.ID)

	// Another host: low first, then high; both exist (early warning, then escalation).
	as := fired(f.hit("b", 0, sigExec, sigNet))
	require.Len(t, as, 1)
	assert.Equal(t, "low", as[0].Rule.ID)
	out = f.hit("b", time.Minute, sigIntel)
	require.Len(t, out, 2)
	assert.Equal(t, Fired, out[0].Action)
	assert.Equal(t, "high", out[0].Rule.ID)
	assert.Equal(t, Updated, out[1].Action, "the open early warning takes the evidence too")
}

func TestSupersedeCycle(t *testing.T) {
	a := rule(0, "a", time.Hour, []float64{1, 1, 1, 1}, criteria.MinScore(1))
	b := rule(1, "b", time.Hour, []float64{1, 1, 1, 1}, criteria.MinScore(1))
	a.SupersededBy = []int{1}
	b.SupersededBy = []int{0}
	_, err := New(Config{Signals: testSignals(), Rules: []*Rule{a, b}, MaxEntities: 1, MaxObservations: 1, MaxContributions: 1})
	assert.ErrorContains(t, err, "cycle")
}

func TestExceptions(t *testing.T) {
	r0 := rule(0, "r0", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	r1 := rule(1, "r1", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	f := &feeder{t: t, e: newEngine(t, r0, r1)}
	f.hitMult("scanner", 0, 1, 1<<0, sigExec)
	out := f.hitMult("scanner", time.Second, 1, 1<<0, sigNet)
	require.Len(t, out, 1, "r0 excepts the events; r1 does not")
	assert.Equal(t, "r1", out[0].Rule.ID)
}

func TestModifiersWeigh(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinScore(30))
	f := &feeder{t: t, e: newEngine(t, r)}
	assert.Empty(t, f.hit("a", 0, sigExec, sigNet))
	assert.Len(t, fired(f.hitMult("b", 0, 1.5, 0, sigExec, sigNet)), 1)
}

func TestBounds(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	e, err := New(Config{Signals: testSignals(), Rules: []*Rule{r}, Lateness: int64(time.Hour),
		MaxEntities: 3, MaxObservations: 4, MaxContributions: 2, TrackChanges: true})
	require.NoError(t, err)
	f := &feeder{t: t, e: e}
	f.hit("a", 0, sigIntel)
	f.hit("a", time.Second, sigExec)
	for i := 0; i < 50; i++ {
		f.hit("a", time.Duration(2+i)*time.Second, sigNet) // a flood
	}
	ent, _ := e.entities.peek("a")
	assert.Len(t, ent.obs, 4)
	assert.Equal(t, uint64(48), e.Stats().ObservationEvictions)
	// The rare signals survived the flood: the rule still sees them.
	as := ent.alerts
	require.Len(t, as, 1)
	assert.Equal(t, 3, as[0].Tally.Distinct())
	assert.Len(t, as[0].Contributions, 2)
	assert.Positive(t, as[0].Omitted)

	// New entities with one event each: they evict one another, not "a",
	// which holds an alert.
	for _, h := range []string{"b", "c", "d", "e"} {
		f.hit(h, 0, sigExec)
	}
	assert.Equal(t, 3, e.Len())
	assert.Equal(t, uint64(2), e.Stats().EntityEvictions)
	_, removed := e.TakeDirty()
	assert.ElementsMatch(t, []string{"b", "c"}, removed)
	_, held := e.entities.peek("a")
	assert.True(t, held)
}

func TestSweep(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("quiet", 0, sigExec)
	f.hit("alerted", 0, sigExec)
	fired(f.hit("alerted", 50*time.Minute, sigNet))
	assert.Zero(t, f.e.Sweep(at(time.Hour)))
	assert.Equal(t, 1, f.e.Sweep(at(66*time.Minute)), "quiet is beyond window+lateness")
	assert.Equal(t, 1, f.e.Len(), "alerted keeps its open alert")
	assert.Zero(t, f.e.Sweep(at(50*time.Minute+time.Hour+5*time.Minute)), "the alert may still take a late event")
	assert.Equal(t, 1, f.e.Sweep(at(50*time.Minute+time.Hour+6*time.Minute)))
	assert.Zero(t, f.e.Len())
	assert.Zero(t, f.e.Stats().EntityEvictions, "sweeping is not eviction")
}

func TestEncodeRestore(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 0, sigExec)
	f.hit("a", time.Second, sigNet)
	a := fired(f.hit("a", 2*time.Second, sigIntel))[0]
	f.hit("a", 3*time.Second, sigExec2)
	changed, _ := f.e.TakeDirty()
	require.Len(t, changed, 1)
	data, err := f.e.Encode(changed[0])
	require.NoError(t, err)

	g := &feeder{t: t, e: newEngine(t, rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3)))}
	require.NoError(t, g.e.Restore(data))
	out := g.hit("a", 4*time.Second, sigNet)
	require.Len(t, out, 1)
	assert.Equal(t, Updated, out[0].Action)
	b := out[0].Alert
	assert.Equal(t, a.ID, b.ID)
	assert.Equal(t, a.Tally.Score, b.Tally.Score)
	assert.Len(t, b.Contributions, 5)
	assert.Equal(t, a.Contributions[0].Evidence.EventID, b.Contributions[0].Evidence.EventID)

	// Under a configuration without the rule, the alert is dropped and the
	// observations stay.
	h := &feeder{t: t, e: newEngine(t, rule(0, "other", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(9)))}
	require.NoError(t, h.e.Restore(data))
	ent, _ := h.e.entities.peek("a")
	assert.Empty(t, ent.alerts)
	assert.Len(t, ent.obs, 4)

	assert.Error(t, g.e.Restore([]byte("{")))
	assert.Error(t, g.e.Restore([]byte(`{"key":"x","obs":[{"t":1,"s":"exec","e":3}]}`)))
	assert.Error(t, g.e.Restore([]byte(`{}`)))
}
