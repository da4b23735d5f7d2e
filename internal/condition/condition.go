// Package condition holds the event predicates used in configuration
// (`when:` of first-seen trackers, rule exceptions), one kind per file behind
// the Condition interface, compiled once at start so matching allocates
// nothing.
package condition

import (
	"fmt"
	"sort"

	"github.com/cairnsec/cairn/internal/event"
)

// Condition is a predicate on an event.
type Condition interface {
	Match(v *event.View) bool
}

// All matches when every condition matches; an empty All matches everything.
type All []Condition

// Match implements Condition.
func (a All) Match(v *event.View) bool {
	for _, c := range a {
		if !c.Match(v) {
			return false
		}
	}
	return true
}

// FromMap compiles the map form used in configuration: every field must have
// one of its listed values (exact or glob; an array field matches when any
// element does). An empty list means the field must merely be present.
// Keys are sorted so that evaluation order, and errors, are deterministic.
func FromMap(m map[string][]string) (Condition, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(All, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("empty field name")
		}
		if len(m[k]) == 0 {
			out = append(out, Exists(k))
			continue
		}
		c, err := OneOf(k, m[k])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
