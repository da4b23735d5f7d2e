package engine

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
)

// TestDistinctRaisesDiminish: raises of one signal with the same key count
// once at their strongest; distinct keys add w, w·r, w·r², …, up to the
// cap; unkeyed raises are one raise.
func TestDistinctRaisesDiminish(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinScore(1000))
	r.Signals[sigExec].Ratio = 0.5
	r.Signals[sigExec].Cap = 18
	r.Signals[sigNet].Ratio = 0.5
	f := &feeder{t: t, e: newEngine(t, r)}
	score := func() float64 {
		ent, _ := f.e.entities.peek("a")
		require.True(t, f.e.windowMet(ent, r, 1, at(-time.Hour), at(time.Hour)) == false)
		return f.e.scratch.window.Tally.Score
	}
	f.hitKey("a", 0, 1, sigExec)
	assert.Equal(t, 10.0, score())
	f.hitKey("a", time.Second, 1, sigExec)
	assert.Equal(t, 10.0, score(), "the same key again adds nothing")
	f.hitKey("a", 2*time.Second, 2, sigExec)
	assert.Equal(t, 15.0, score(), "a second binary adds half")
	f.hitKey("a", 3*time.Second, 3, sigExec)
	assert.Equal(t, 17.5, score(), "a third a quarter")
	f.hitKey("a", 4*time.Second, 4, sigExec)
	assert.Equal(t, 18.0, score(), "up to the cap")

	// Stronger raises go first, wherever they arrive: 20 + 10/2 + 10/4 for
	// the uncapped signal.
	f.hitKey("a", 5*time.Second, 7, sigNet)
	f.hitKey("a", 6*time.Second, 8, sigNet)
	f.event("a", 7*time.Second, 2, 0, 9, sigNet)
	assert.Equal(t, 18+27.5, score())
	// Unkeyed raises: one raise, its strongest.
	f.hit("a", 8*time.Second, sigIntel)
	f.hit("a", 9*time.Second, sigIntel)
	assert.Equal(t, 18+27.5+10.0, score(), "two unkeyed raises are one")
}

// TestAlertContributionsAddUp: an alert's contributions are what each
// raise added when it came, and add up to the score, whatever the order of
// strong and weak raises.
func TestAlertContributionsAddUp(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 0, 20, 0}, criteria.MinScore(30))
	r.Signals[sigExec].Ratio = 0.5
	r.Signals[sigNet].Ratio = 0.5
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hitKey("a", 0, 1, sigExec)
	f.event("a", time.Second, 1.5, 0, 2, sigExec) // 15 over 10: 15 + 5
	as := fired(f.hitKey("a", 2*time.Second, 3, sigNet))
	require.Len(t, as, 1)
	a := as[0]
	assert.Equal(t, 40.0, a.Tally.Score)
	var weights []float64
	for _, c := range a.Contributions {
		weights = append(weights, c.Weight)
	}
	assert.Equal(t, []float64{10, 10, 20}, weights, "the second raise lifts the total from 10 to 20")

	out := f.hitKey("a", 3*time.Second, 4, sigNet)
	require.Len(t, out, 1)
	assert.Equal(t, 50.0, out[0].Alert.Tally.Score, "a second destination adds half")
	out = f.hitKey("a", 4*time.Second, 3, sigNet)
	assert.Equal(t, 50.0, out[0].Alert.Tally.Score, "the first destination again adds nothing")
	assert.Equal(t, 0.0, out[0].Alert.Contributions[len(out[0].Alert.Contributions)-1].Weight)
}

// TestSheetBounds: a signal keeps at most MaxKeys raises; a weaker one
// beyond adds nothing, a stronger one replaces the weakest.
func TestSheetBounds(t *testing.T) {
	var s sheet
	for k := uint64(1); k <= MaxKeys+4; k++ {
		s.raise(0, k, 1)
	}
	assert.Len(t, s, MaxKeys)
	assert.False(t, s.raise(0, 99, 1))
	assert.True(t, s.raise(0, 100, 2))
	assert.Len(t, s, MaxKeys)
	assert.InDelta(t, 2+(1-math.Pow(0.5, MaxKeys-1)), s.total(0, 0.5, 0), 1e-12)
	assert.Equal(t, 2.0, s.total(0, 0, 0), "ratio 0: the strongest only")
	assert.Equal(t, 2.0+MaxKeys-1, s.total(0, 1, 0), "ratio 1: every one in full")
	assert.Equal(t, 5.0, s.total(0, 1, 5), "capped")
	assert.Zero(t, s.total(1, 0.5, 0), "other signals are apart")
}

// TestDetailTactics: a raise's detail replaces the catalog's tactic for
// that raise, in the rule's tactic count and the alert.
func TestDetailTactics(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinTactics(3))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 0, sigExec) // tactic 3
	// One raise whose detail names tactics 5 and 8 instead of exec's 3.
	ev := &Event{Entity: "a", Time: at(time.Second), Hits: []Hit{{Signal: sigExec2, Mult: 1, Key: 7, Detail: 1}},
		Evidence: &Evidence{EventID: "d", Time: at(time.Second), Details: []Detail{{Label: Intern("Sigma rule \"X\" by Y"), Tactics: 1<<5 | 1<<8}}}}
	out, ok := f.e.Observe(ev, nil)
	require.True(t, ok)
	as := fired(out)
	require.Len(t, as, 1, "tactics 3, 5 and 8")
	assert.Equal(t, uint32(1<<3|1<<5|1<<8), as[0].Tally.Tactics)
	c := as[0].Contributions[1]
	require.NotNil(t, c.Detail())
	assert.Equal(t, "Sigma rule \"X\" by Y", c.Detail().Label.String())
	assert.Nil(t, as[0].Contributions[0].Detail())
}

// TestOutcomeAdded: a firing lists every evidence it counts, once, even
// beyond the contributions it lists; an update the event's own.
func TestOutcomeAdded(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(4))
	e, err := New(Config{Signals: testSignals(), Rules: []*Rule{r}, Lateness: int64(time.Minute),
		MaxEntities: 10, MaxObservations: 16, MaxContributions: 2})
	require.NoError(t, err)
	f := &feeder{t: t, e: e}
	f.hit("a", 0, sigExec, sigExec2)
	f.hit("a", time.Second, sigNet)
	out := f.hit("a", 2*time.Second, sigIntel)
	require.Len(t, out, 1)
	assert.Len(t, out[0].Alert.Contributions, 2)
	require.Len(t, out[0].Added, 3, "three events, one of them with two raises")
	assert.Equal(t, at(0), out[0].Added[0].Time)
	out = f.hit("a", 3*time.Second, sigNet)
	require.Len(t, out, 1)
	assert.Equal(t, Updated, out[0].Action)
	require.Len(t, out[0].Added, 1)
	assert.Equal(t, at(3*time.Second), out[0].Added[0].Time)
}
