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
	if len(e.inj) > 64 {
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

	haveMessage := false
	ok := true
	// done has bit i once injection i is written.
	var done uint64
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
		if k == "message" {
			haveMessage = true
		}
		// Fields the encoder adds go inside an existing object of the
		// same name; a scalar there needs the tree's leaf/object rule.
		mask := e.injectionsInto(k)
		if mask == 0 {
			dst, ok = e.streamValue(dst, v)
			return ok
		}
		if v.Type() != pcommon.ValueTypeMap {
			ok = false
			return false
		}
		done |= mask
		dst, ok = e.streamMap(dst, v.Map(), mask)
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
	// The objects the document lacks, created in the order of their first
	// injection, as the tree path does.
	for i := range e.inj {
		if done&(1<<i) != 0 {
			continue
		}
		obj := e.inj[i].obj
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendString(dst, obj)
		dst = append(dst, ':', '{')
		first := true
		for j := i; j < len(e.inj); j++ {
			if e.inj[j].obj != obj || done&(1<<j) != 0 {
				continue
			}
			done |= 1 << j
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = e.writeInjection(dst, j, true)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), true
}

// injectionsInto returns the bits of the injections into the top-level
// object k.
func (e *Encoder) injectionsInto(k string) uint64 {
	var mask uint64
	for i := range e.inj {
		if e.inj[i].obj == k {
			mask |= 1 << i
		}
	}
	return mask
}

// writeInjection writes injection i's value, after its key when withKey.
func (e *Encoder) writeInjection(dst []byte, i int, withKey bool) []byte {
	in := &e.inj[i]
	if withKey {
		dst = appendString(dst, in.key)
		dst = append(dst, ':')
	}
	if in.kind == kindInjected {
		return appendString(dst, in.val)
	}
	return e.writeKind(dst, in.kind)
}

func appendSep(dst []byte, sep bool, s string) []byte {
	if sep {
		dst = append(dst, ',')
	}
	return append(dst, s...)
}

// streamMap writes m as an object. mask has the injections into m (a
// top-level object): each replaces the member of its name (override) or is
// added as a last member unless m has that member.
func (e *Encoder) streamMap(dst []byte, m pcommon.Map, mask uint64) ([]byte, bool) {
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
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		if dst, ok = appendKey(dst, k); !ok {
			return false
		}
		dst = append(dst, ':')
		if mask != 0 {
			for i := range e.inj {
				if mask&(1<<i) != 0 && e.inj[i].key == k {
					mask &^= 1 << i
					if e.inj[i].override {
						dst = e.writeInjection(dst, i, false)
						return true
					}
				}
			}
		}
		dst, ok = e.streamValue(dst, v)
		return ok
	})
	if !ok {
		return dst, false
	}
	for i := range e.inj {
		if mask&(1<<i) == 0 {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = e.writeInjection(dst, i, true)
	}
	return append(dst, '}'), true
}

func (e *Encoder) streamValue(dst []byte, v pcommon.Value) ([]byte, bool) {
	switch t := v.Type(); t {
	default:
		return e.writeTyped(dst, v, t), true
	case pcommon.ValueTypeMap:
		return e.streamMap(dst, v.Map(), 0)
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
