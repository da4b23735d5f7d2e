package event

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// lookup finds path in m as a flat key, as nested maps, or any mix:
// "a.b.c" matches {"a.b.c"}, {"a":{"b.c"}}, {"a.b":{"c"}} and {"a":{"b":{"c"}}}.
// A flat key wins, then the shortest prefix that is a map. It uses
// Map.Get (a plain loop inside pdata) rather than iterating with a closure,
// which measured several times slower, and does not allocate.
func lookup(m pcommon.Map, path string) (pcommon.Value, bool) {
	if v, ok := m.Get(path); ok && v.Type() != pcommon.ValueTypeEmpty {
		return v, true
	}
	for i := 1; i < len(path)-1; i++ {
		if path[i] != '.' {
			continue
		}
		v, ok := m.Get(path[:i])
		if !ok || v.Type() != pcommon.ValueTypeMap {
			continue
		}
		if r, ok := lookup(v.Map(), path[i+1:]); ok {
			return r, true
		}
	}
	return pcommon.Value{}, false
}

// Find looks path up in m the way event fields are looked up (flat, nested
// or mixed keys), for objects inside arrays such as the entries of
// threat.enrichments.
func Find(m pcommon.Map, path string) (pcommon.Value, bool) { return lookup(m, path) }
