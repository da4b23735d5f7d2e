package condition

import (
	"fmt"
	"slices"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/glob"
)

// oneOf matches a field against a set of values and globs.
type oneOf struct {
	field *event.Field
	// Few values (the usual case: "process", ["start","info"]) are compared
	// in a slice, which beats hashing the candidate; many go to a map.
	few      []string
	exact    map[string]struct{}
	patterns []string
}

const fewValues = 8

// OneOf matches events whose field equals one of values; values with '*' or
// '?' are globs.
func OneOf(field string, values []string) (Condition, error) {
	c := &oneOf{field: event.Lookup(field), exact: map[string]struct{}{}}
	for _, v := range values {
		if v == "" {
			return nil, fmt.Errorf("field %q: empty value", field)
		}
		if glob.IsPattern(v) {
			c.patterns = append(c.patterns, v)
		} else {
			c.exact[v] = struct{}{}
		}
	}
	if len(c.exact) <= fewValues {
		for _, v := range values {
			if _, ok := c.exact[v]; ok && !slices.Contains(c.few, v) {
				c.few = append(c.few, v)
			}
		}
		c.exact = nil
	}
	return c, nil
}

// Match implements Condition.
func (c *oneOf) Match(v *event.View) bool {
	val, ok := v.Get(c.field)
	if !ok {
		return false
	}
	return event.AnyEquals(val, c.matchString)
}

func (c *oneOf) matchString(s string) bool {
	for _, v := range c.few {
		if v == s {
			return true
		}
	}
	if _, ok := c.exact[s]; ok {
		return true
	}
	for _, p := range c.patterns {
		if glob.Match(p, s) {
			return true
		}
	}
	return false
}
