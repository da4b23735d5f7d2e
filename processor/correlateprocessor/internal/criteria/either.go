package criteria

import "strings"

// Either is met when every criterion of at least one of its groups is met:
// a rule's condition with alternatives ("score 100 across two tactics, or a
// known-malicious binary with any corroboration"). Monotone like its
// members.
type Either struct {
	Groups [][]Criterion
}

// Met implements Criterion.
func (e Either) Met(t *Tally) bool {
	for _, g := range e.Groups {
		if All(g, t) {
			return true
		}
	}
	return false
}

func (e Either) String() string {
	parts := make([]string, len(e.Groups))
	for i, g := range e.Groups {
		names := make([]string, len(g))
		for j, c := range g {
			names[j] = c.String()
		}
		parts[i] = "(" + strings.Join(names, " and ") + ")"
	}
	return strings.Join(parts, " or ")
}
