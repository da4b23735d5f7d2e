package criteria

import "strings"

// AllOf is met when every listed signal is present.
type AllOf struct {
	Signals []int
	Names   []string
}

// Met implements Criterion.
func (a AllOf) Met(t *Tally) bool {
	for _, s := range a.Signals {
		if !t.Has(s) {
			return false
		}
	}
	return true
}

func (a AllOf) String() string { return "all of " + strings.Join(a.Names, ", ") }
