package firstseenprocessor

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"

	"github.com/cairnsec/cairn/internal/duration"
)

type durationT = duration.Duration

func attributeKey(k string) attribute.Key { return attribute.Key(k) }

// getPath reads a field written flat or nested (writes follow the record's shape).
func getPath(m pcommon.Map, path string) (pcommon.Value, bool) {
	if v, ok := m.Get(path); ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if v, ok := m.Get(path[:i]); ok && v.Type() == pcommon.ValueTypeMap {
			if r, ok := getPath(v.Map(), path[i+1:]); ok {
				return r, true
			}
		}
	}
	return pcommon.Value{}, false
}
