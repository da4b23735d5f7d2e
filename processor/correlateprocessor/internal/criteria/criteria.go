// Package criteria holds the conditions of a correlation rule, one kind per
// file behind the Criterion interface. A rule fires when all of its criteria
// are met by the Tally of the signals in one window (or of an open alert).
//
// Every criterion is monotone: adding signals to a tally never turns a met
// criterion into an unmet one. The engine relies on that to evaluate only the
// largest windows around an event.
package criteria

import "math/bits"

// Tally sums up a set of signal observations for one rule: the score after
// weights, modifiers and per-signal caps, which signals are present and
// which ATT&CK tactics they cover.
type Tally struct {
	Score float64
	// present is a bitset over signal indices of the rule's catalog.
	present []uint64
	// Tactics is a bitmask over attack.Tactic.Index.
	Tactics uint32
}

// Reset empties the tally for a catalog of n signals, keeping its memory.
func (t *Tally) Reset(n int) {
	t.Score = 0
	t.Tactics = 0
	words := (n + 63) / 64
	if cap(t.present) < words {
		t.present = make([]uint64, words)
	}
	t.present = t.present[:words]
	clear(t.present)
}

// Add records that signal sig is present.
func (t *Tally) Add(sig int) { t.present[sig/64] |= 1 << (sig % 64) }

// Has reports whether signal sig is present.
func (t *Tally) Has(sig int) bool {
	w := sig / 64
	return w < len(t.present) && t.present[w]&(1<<(sig%64)) != 0
}

// Distinct is the number of different signals present.
func (t *Tally) Distinct() int {
	n := 0
	for _, w := range t.present {
		n += bits.OnesCount64(w)
	}
	return n
}

// TacticCount is the number of different tactics covered.
func (t *Tally) TacticCount() int { return bits.OnesCount32(t.Tactics) }

// Criterion is one condition of a rule.
type Criterion interface {
	Met(t *Tally) bool
	// String describes the criterion for logs and documentation.
	String() string
}

// All reports whether every criterion is met.
func All(cs []Criterion, t *Tally) bool {
	for _, c := range cs {
		if !c.Met(t) {
			return false
		}
	}
	return true
}
