package criteria

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func tally(n int, score float64, tactics uint32, sigs ...int) *Tally {
	t := &Tally{}
	t.Reset(n)
	t.Score = score
	t.Tactics = tactics
	for _, s := range sigs {
		t.Add(s)
	}
	return t
}

func TestCriteria(t *testing.T) {
	tl := tally(70, 42, 0b101, 1, 3, 65)
	assert.Equal(t, 3, tl.Distinct())
	assert.Equal(t, 2, tl.TacticCount())
	assert.True(t, tl.Has(65))
	assert.False(t, tl.Has(64))
	assert.False(t, tl.Has(1000), "out of range is absent, not a panic")

	cases := []struct {
		c    Criterion
		want bool
	}{
		{MinScore(42), true},
		{MinScore(42.5), false},
		{MinDistinct(3), true},
		{MinDistinct(4), false},
		{MinTactics(2), true},
		{MinTactics(3), false},
		{AnyOf{Signals: []int{0, 2, 65}}, true},
		{AnyOf{Signals: []int{0, 2}}, false},
		{AnyOf{}, false},
		{AllOf{Signals: []int{1, 65}}, true},
		{AllOf{Signals: []int{1, 2}}, false},
		{AllOf{}, true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.c.Met(tl), c.c.String())
	}
	assert.True(t, All([]Criterion{MinScore(1), MinDistinct(1)}, tl))
	assert.False(t, All([]Criterion{MinScore(1), MinDistinct(9)}, tl))
	assert.Equal(t, "any of a, b", AnyOf{Names: []string{"a", "b"}}.String())
	assert.Equal(t, "all of a", AllOf{Names: []string{"a"}}.String())

	tl.Reset(3)
	assert.Zero(t, tl.Distinct())
	assert.Zero(t, tl.Score)
}

// Monotonicity is what the engine's window search relies on: adding a
// signal never unmeets a criterion.
func TestMonotone(t *testing.T) {
	cs := []Criterion{MinScore(10), MinDistinct(2), MinTactics(2), AnyOf{Signals: []int{1}}, AllOf{Signals: []int{0, 2}}}
	for mask := 0; mask < 8; mask++ {
		for add := 0; add < 3; add++ {
			small := tally(3, float64(mask), uint32(mask))
			big := tally(3, float64(mask)+5, uint32(mask)|1<<add)
			for s := 0; s < 3; s++ {
				if mask&(1<<s) != 0 {
					small.Add(s)
					big.Add(s)
				}
			}
			big.Add(add)
			for _, c := range cs {
				if c.Met(small) {
					assert.True(t, c.Met(big), "%s", c)
				}
			}
		}
	}
}

func TestEither(t *testing.T) {
	tl := tally(4, 90, 0b1, 0, 2)
	e := Either{Groups: [][]Criterion{
		{MinScore(100), MinTactics(2)},
		{AllOf{Signals: []int{2}, Names: []string{"intel"}}, MinDistinct(2)},
	}}
	assert.True(t, e.Met(tl), "the second group holds")
	assert.False(t, Either{Groups: e.Groups[:1]}.Met(tl))
	assert.False(t, Either{}.Met(tl), "no group, nothing holds")
	assert.Equal(t, "(score >= 100 and at least 2 ATT&CK tactics) or (all of intel and at least 2 distinct signals)", e.String())
}
