package condition

import "github.com/cairnsec/cairn/internal/event"

type exists struct{ field *event.Field }

// Exists matches events that carry the field under any of its names.
func Exists(field string) Condition { return exists{field: event.Lookup(field)} }

// Match implements Condition.
func (c exists) Match(v *event.View) bool {
	_, ok := v.Get(c.field)
	return ok
}
