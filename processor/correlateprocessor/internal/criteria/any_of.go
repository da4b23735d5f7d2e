package criteria

import "strings"

// AnyOf is met when at least one of the listed signals is present.
type AnyOf struct {
	Signals []int
	Names   []string
}

// Met implements Criterion.
func (a AnyOf) Met(t *Tally) bool {
	for _, s := range a.Signals {
		if t.Has(s) {
			return true
		}
	}
	return false
}

func (a AnyOf) String() string { return "any of " + strings.Join(a.Names, ", ") }
