package ecs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/valyala/fastjson"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/timestamp"
)

// slabSize is the size of the blocks decoded strings are copied into. Large
// enough that a slab serves dozens of typical documents, small enough that a
// few long-lived records do not pin much memory.
const slabSize = 32 << 10

// Decoder turns ECS JSON documents into log records. Not safe for concurrent
// use; reuse it.
//
// It wraps a reusable fastjson.Parser, whose buffers grow to the largest
// document seen and are kept for the next one.
type Decoder struct {
	p fastjson.Parser
	// slab holds copies of decoded strings. Bytes below used belong to
	// strings already handed out and are never written again. The slice is
	// only ever replaced, not resliced, so that the copy into it stores no
	// pointer: while the GC runs every pointer store costs a write barrier.
	slab []byte
	used int
	num  []byte
	err  error
}

// Decode fills rec from doc: rec's attributes are replaced by the document's
// fields and rec's Timestamp is set from "@timestamp" when it parses. The body
// and all other fields of rec are left as they are. The returned error says
// why doc was rejected; rec may then hold part of the document.
func (d *Decoder) Decode(doc []byte, rec plog.LogRecord) error {
	v, err := d.p.ParseBytes(doc)
	if err != nil {
		if isBlank(doc) {
			return errors.New("ecs: empty document")
		}
		return fmt.Errorf("ecs: invalid JSON: %w", err)
	}
	if t := v.Type(); t != fastjson.TypeObject {
		return fmt.Errorf("ecs: document is a JSON %s, not an object", t)
	}
	o, _ := v.Object()
	attrs := rec.Attributes()
	attrs.Clear()
	attrs.EnsureCapacity(o.Len())
	d.err = nil
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		if string(k) == "@timestamp" && d.timestamp(v, rec) {
			return
		}
		d.put(attrs, k, v)
		if d.err != nil {
			d.err = fmt.Errorf("ecs: field %q: %w", k, d.err)
		}
	})
	return d.err
}

// timestamp sets rec's Timestamp from an @timestamp value and reports whether
// it did; otherwise the value is kept as an ordinary attribute.
func (d *Decoder) timestamp(v *fastjson.Value, rec plog.LogRecord) bool {
	var ns int64
	var ok bool
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		ns, ok = timestamp.ParseRFC3339(b)
	case fastjson.TypeNumber:
		i, f, isInt, valid := parseNumber(d.numberText(v))
		if valid {
			ns, ok = timestamp.EpochMillis(isInt, i, f)
		}
	}
	// Zero would read back as "no timestamp", so the epoch itself stays an
	// attribute.
	if !ok || ns == 0 {
		return false
	}
	rec.SetTimestamp(pcommon.Timestamp(ns))
	return true
}

// put stores v under key k in m. A null is left out, and like any later
// duplicate it wins over an earlier value of the same key.
func (d *Decoder) put(m pcommon.Map, k []byte, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeNull:
		if _, found := m.Get(string(k)); found {
			// RemoveIf, unlike Remove, keeps the order of the others.
			m.RemoveIf(func(key string, _ pcommon.Value) bool { return key == string(k) })
		}
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		m.PutStr(d.str(k), d.str(b))
	case fastjson.TypeNumber:
		i, f, isInt := d.number(v)
		switch {
		case d.err != nil:
		case isInt:
			m.PutInt(d.str(k), i)
		default:
			m.PutDouble(d.str(k), f)
		}
	case fastjson.TypeTrue:
		m.PutBool(d.str(k), true)
	case fastjson.TypeFalse:
		m.PutBool(d.str(k), false)
	case fastjson.TypeObject:
		o, _ := v.Object()
		d.fillMap(m.PutEmptyMap(d.str(k)), o)
	case fastjson.TypeArray:
		a, _ := v.Array()
		d.fillSlice(m.PutEmptySlice(d.str(k)), a)
	}
}

func (d *Decoder) fillMap(m pcommon.Map, o *fastjson.Object) {
	m.EnsureCapacity(o.Len())
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err == nil {
			d.put(m, k, v)
		}
	})
}

func (d *Decoder) fillSlice(s pcommon.Slice, a []*fastjson.Value) {
	s.EnsureCapacity(len(a))
	for _, v := range a {
		if d.err != nil {
			return
		}
		d.set(s.AppendEmpty(), v)
	}
}

// set stores v into an array element; null stays Empty so that the other
// elements keep their positions.
func (d *Decoder) set(dst pcommon.Value, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeNull:
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		dst.SetStr(d.str(b))
	case fastjson.TypeNumber:
		i, f, isInt := d.number(v)
		switch {
		case d.err != nil:
		case isInt:
			dst.SetInt(i)
		default:
			dst.SetDouble(f)
		}
	case fastjson.TypeTrue:
		dst.SetBool(true)
	case fastjson.TypeFalse:
		dst.SetBool(false)
	case fastjson.TypeObject:
		o, _ := v.Object()
		d.fillMap(dst.SetEmptyMap(), o)
	case fastjson.TypeArray:
		a, _ := v.Array()
		d.fillSlice(dst.SetEmptySlice(), a)
	}
}

// number converts a JSON number, recording in d.err why it cannot. A number
// beyond float64's range is refused rather than stored as an infinity, which
// the Encoder could only write as null.
func (d *Decoder) number(v *fastjson.Value) (i int64, f float64, isInt bool) {
	text := d.numberText(v)
	i, f, isInt, ok := parseNumber(text)
	switch {
	case !ok:
		d.err = fmt.Errorf("invalid number %q", text)
	case !isInt && math.IsInf(f, 0):
		d.err = fmt.Errorf("number %q is out of range", text)
	}
	return i, f, isInt
}

// numberText returns a number's text as written, which fastjson gives only
// through MarshalTo. d.num is stored back only when it had to grow: while the
// GC runs every pointer store into the heap costs a write barrier.
func (d *Decoder) numberText(v *fastjson.Value) []byte {
	text := v.MarshalTo(d.num[:0])
	if cap(text) > cap(d.num) {
		d.num = text
	}
	return text
}

// str copies b out of the parser's buffer, which the next Parse overwrites.
func (d *Decoder) str(b []byte) string {
	n := len(b)
	if n == 0 {
		return ""
	}
	if n > slabSize/8 {
		return string(b)
	}
	if len(d.slab)-d.used < n {
		d.slab = make([]byte, slabSize)
		d.used = 0
	}
	s := d.slab[d.used : d.used+n]
	copy(s, b)
	d.used += n
	return unsafe.String(&s[0], n)
}

// parseNumber checks b against the JSON number grammar, which fastjson does
// not fully enforce, and converts it. Integral text that fits int64 is an
// Int; anything with a fraction or exponent, or too large, is a Double.
func parseNumber(b []byte) (i int64, f float64, isInt, ok bool) {
	p := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		p++
	}
	switch {
	case p < len(b) && b[p] == '0':
		p++
	case p < len(b) && b[p] >= '1' && b[p] <= '9':
		for p < len(b) && b[p] >= '0' && b[p] <= '9' {
			p++
		}
	default:
		return 0, 0, false, false
	}
	integral := p == len(b)
	if p < len(b) && b[p] == '.' {
		p++
		start := p
		for p < len(b) && b[p] >= '0' && b[p] <= '9' {
			p++
		}
		if p == start {
			return 0, 0, false, false
		}
	}
	if p < len(b) && (b[p] == 'e' || b[p] == 'E') {
		p++
		if p < len(b) && (b[p] == '+' || b[p] == '-') {
			p++
		}
		start := p
		for p < len(b) && b[p] >= '0' && b[p] <= '9' {
			p++
		}
		if p == start {
			return 0, 0, false, false
		}
	}
	if p != len(b) {
		return 0, 0, false, false
	}
	if integral {
		digits := b
		if neg {
			digits = b[1:]
		}
		if len(digits) <= 18 {
			// Cannot overflow: at most 18 digits.
			var u int64
			for _, c := range digits {
				u = u*10 + int64(c-'0')
			}
			if neg {
				u = -u
			}
			return u, 0, true, true
		}
		if n, err := strconv.ParseInt(unsafe.String(&b[0], len(b)), 10, 64); err == nil {
			return n, 0, true, true
		}
	}
	// The grammar is already checked, so the only possible error is
	// overflow, for which ParseFloat returns ±Inf; the caller decides.
	f, _ = strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	return 0, f, false, true
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
