package ecs

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// The stream functions write a record straight from its attributes, without
// building the merge tree. That is possible when there is nothing to merge,
// which is the common replay case: no resource attributes, no Map body, and
// no dotted or duplicate key at any depth (a decoded nested document has
// none). They must produce exactly what appendTree would; whenever they meet
// something that needs merging they give up, returning false, and Append
// starts over on the tree path. Each function returns the extended buffer
// even then, so that its growth is not lost.

// stream writes rec, whose resource has no attributes.
func (e *Encoder) stream(dst []byte, rec plog.LogRecord) ([]byte, bool) {
	body := rec.Body()
	bodyType := body.Type()
	if bodyType == pcommon.ValueTypeMap && body.Map().Len() > 0 {
		return dst, false
	}
	attrs := rec.Attributes()
	dst = append(dst, '{')
	sep := false
	if e.lockTS {
		dst = append(dst, `"@timestamp":`...)
		dst = e.times.appendTimestamp(dst, e.ts)
		sep = true
	} else if v, found := attrs.Get("@timestamp"); found {
		// Written first, as the tree path does, and skipped below.
		dst = append(dst, `"@timestamp":`...)
		var ok bool
		if dst, ok = e.streamValue(dst, v); !ok {
			return dst, false
		}
		sep = true
	}

	e.sev = rec.SeverityText()
	needLevel := e.sev != ""
	needTrace := !rec.TraceID().IsEmpty()
	needSpan := !rec.SpanID().IsEmpty()
	if needTrace {
		e.trace = rec.TraceID()
	}
	if needSpan {
		e.span = rec.SpanID()
	}
	haveMessage := false
	ok := true
	var seen uint64
	attrs.Range(func(k string, v pcommon.Value) bool {
		bit := keyBit(k)
		if seen&bit != 0 && repeated(attrs, k) {
			ok = false
			return false
		}
		seen |= bit
		if k == "@timestamp" {
			return true
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		if dst, ok = appendKey(dst, k); !ok {
			return false
		}
		dst = append(dst, ':')
		// A field the record adds goes inside an existing object of the
		// same name; a scalar there needs the tree's leaf/object rule.
		var extra *bool
		switch k {
		case "message":
			haveMessage = true
		case "log":
			extra = &needLevel
		case "trace":
			extra = &needTrace
		case "span":
			extra = &needSpan
		}
		if extra == nil || !*extra {
			dst, ok = e.streamValue(dst, v)
			return ok
		}
		if v.Type() != pcommon.ValueTypeMap {
			ok = false
			return false
		}
		*extra = false
		dst, ok = e.streamMap(dst, v.Map(), k)
		return ok
	})
	if !ok {
		return dst, false
	}

	if !haveMessage {
		switch bodyType {
		case pcommon.ValueTypeEmpty, pcommon.ValueTypeMap:
		case pcommon.ValueTypeStr:
			if body.Str() != "" {
				dst = appendSep(dst, sep, `"message":`)
				dst = appendString(dst, body.Str())
				sep = true
			}
		default:
			dst = appendSep(dst, sep, `"message":`)
			dst = e.writeBodyText(dst, body)
			sep = true
		}
	}
	if needLevel {
		dst = appendSep(dst, sep, `"log":{"level":`)
		dst = e.writeKind(dst, kindSeverity)
		dst = append(dst, '}')
		sep = true
	}
	if needTrace {
		dst = appendSep(dst, sep, `"trace":{"id":`)
		dst = e.writeKind(dst, kindTraceID)
		dst = append(dst, '}')
		sep = true
	}
	if needSpan {
		dst = appendSep(dst, sep, `"span":{"id":`)
		dst = e.writeKind(dst, kindSpanID)
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

func appendSep(dst []byte, sep bool, s string) []byte {
	if sep {
		dst = append(dst, ',')
	}
	return append(dst, s...)
}

// streamMap writes m as an object. When m is the root field "log", "trace"
// or "span" (named by parent; "" otherwise) it also adds the record's
// severity or ID as the last member unless m already has that member.
func (e *Encoder) streamMap(dst []byte, m pcommon.Map, parent string) ([]byte, bool) {
	var want string
	var kind uint8
	switch parent {
	case "log":
		want, kind = "level", kindSeverity
	case "trace":
		want, kind = "id", kindTraceID
	case "span":
		want, kind = "id", kindSpanID
	}
	dst = append(dst, '{')
	var seen uint64
	sep, ok := false, true
	m.Range(func(k string, v pcommon.Value) bool {
		bit := keyBit(k)
		if seen&bit != 0 && repeated(m, k) {
			ok = false
			return false
		}
		seen |= bit
		if k == want {
			want = ""
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		if dst, ok = appendKey(dst, k); !ok {
			return false
		}
		dst = append(dst, ':')
		dst, ok = e.streamValue(dst, v)
		return ok
	})
	if !ok {
		return dst, false
	}
	if want != "" {
		if sep {
			dst = append(dst, ',')
		}
		dst = appendString(dst, want)
		dst = append(dst, ':')
		dst = e.writeKind(dst, kind)
	}
	return append(dst, '}'), true
}

func (e *Encoder) streamValue(dst []byte, v pcommon.Value) ([]byte, bool) {
	switch t := v.Type(); t {
	default:
		return e.writeTyped(dst, v, t), true
	case pcommon.ValueTypeMap:
		return e.streamMap(dst, v.Map(), "")
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		dst = append(dst, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = e.streamValue(dst, s.At(i)); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	}
}

// keyBit maps a key to one bit of a 64-bit Bloom filter. Maps built through
// the pcommon API have unique keys, but ones read off the wire may repeat
// one, which the tree path merges; the filter spares the search for a repeat
// for nearly every key without storing any.
func keyBit(k string) uint64 {
	if len(k) == 0 {
		return 1
	}
	h := uint(len(k))*0x9e37 ^ uint(k[0])*0x85eb ^ uint(k[len(k)-1])*0xc2b3
	return 1 << ((h ^ h>>7) & 63)
}

// repeated reports whether m holds k more than once. It is called only when
// k's filter bit was already set, so it may be slow.
func repeated(m pcommon.Map, k string) bool {
	n := 0
	m.Range(func(key string, _ pcommon.Value) bool {
		if key == k {
			n++
		}
		return n < 2
	})
	return n > 1
}
