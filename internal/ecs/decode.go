package ecs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/timestamp"
)

// Errors of Decode, besides those of a field's value, for callers that sort
// refused documents by reason (errors.Is).
var (
	// ErrSyntax: the document is not valid JSON.
	ErrSyntax = errors.New("invalid JSON")
	// ErrNotObject: the document is valid JSON but not an object.
	ErrNotObject = errors.New("not an object")
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

	// While decoding with an id (DecodeID): the content id summed so far
	// (see internal/event), the dotted path of the value being decoded,
	// and whether the document's content could be summed on the way:
	// duplicate keys (the last one wins) make the record differ from what
	// was read, and then the caller must derive the id from the record.
	withID bool
	sum    event.IDSum
	path   []byte
	dup    bool
	hasID  bool
}

// Decode fills rec from doc: rec's attributes are replaced by the document's
// fields and rec's Timestamp is set from "@timestamp" when it parses (else
// to zero). The body and all other fields of rec are left as they are. The
// returned error says why doc was rejected; rec may then hold part of the
// document.
func (d *Decoder) Decode(doc []byte, rec plog.LogRecord) error {
	d.withID = false
	return d.decode(doc, rec)
}

// IDResult is what DecodeID found out about the document's event.id.
type IDResult struct {
	// Sum is the content id of the record (internal/event), valid when
	// Summed is true.
	Sum    event.IDSum
	Summed bool
	// HasID: the document carries an event.id of its own.
	HasID bool
}

// DecodeID is Decode that also works out the record's content id while it
// reads the document, which costs a fraction of walking the record again.
func (d *Decoder) DecodeID(doc []byte, rec plog.LogRecord) (IDResult, error) {
	d.withID = true
	d.sum = event.IDSum{}
	d.path = d.path[:0]
	d.dup = false
	d.hasID = false
	if err := d.decode(doc, rec); err != nil {
		return IDResult{}, err
	}
	d.path = d.sum.AddTimestamp(d.path, uint64(rec.Timestamp()))
	return IDResult{Sum: d.sum, Summed: !d.dup, HasID: d.hasID}, nil
}

func (d *Decoder) decode(doc []byte, rec plog.LogRecord) error {
	v, err := d.p.ParseBytes(doc)
	if err != nil {
		if isBlank(doc) {
			return fmt.Errorf("ecs: %w: empty document", ErrSyntax)
		}
		return fmt.Errorf("ecs: %w: %w", ErrSyntax, err)
	}
	if t := v.Type(); t != fastjson.TypeObject {
		return fmt.Errorf("ecs: document is a JSON %s, %w", t, ErrNotObject)
	}
	o, _ := v.Object()
	rec.SetTimestamp(0)
	attrs := rec.Attributes()
	attrs.Clear()
	d.err = nil
	d.fillObject(attrs, o, levelTop, rec)
	return d.err
}

// level says which object is being filled, for the content id's exclusions
// (see internal/event) and @timestamp.
type level uint8

const (
	levelTop   level = iota // the document
	levelEvent              // its "event" object
	levelOther
)

// fillObject fills the empty Map m from o. rec is set at the top level only.
func (d *Decoder) fillObject(m pcommon.Map, o *fastjson.Object, lvl level, rec plog.LogRecord) {
	n := o.Len()
	if lvl == levelEvent {
		n++ // room for the event.id a decoded event gets
	}
	m.EnsureCapacity(n)
	summing := d.withID
	members := 0
	base := len(d.path)
	o.Visit(func(k []byte, v *fastjson.Value) {
		if d.err != nil {
			return
		}
		k = cleanKey(k)
		ks := unsafe.String(unsafe.SliceData(k), len(k))
		if lvl == levelTop && ks == "@timestamp" && d.timestamp(v, rec) {
			return
		}
		if v.Type() != fastjson.TypeNull {
			members++
		}
		// Whether the member's leaves enter the content id.
		sum := summing
		switch {
		case lvl == levelTop && event.IDExcludedTop(ks):
			sum = false
			d.hasID = d.hasID || ks == event.EventID.Name && v.Type() == fastjson.TypeString
		case lvl == levelEvent && event.IDExcludedInEvent(ks):
			sum = false
			d.hasID = d.hasID || ks == "id" && v.Type() == fastjson.TypeString
		}
		child := levelOther
		if lvl == levelTop && ks == "event" {
			child = levelEvent
		}
		d.withID = sum
		if sum {
			if lvl != levelTop {
				d.path = append(d.path, '.')
			}
			d.path = append(d.path, k...)
		}
		d.put(m, k, v, child)
		d.withID = summing
		d.path = d.path[:base]
		if lvl == levelTop && d.err != nil {
			d.err = fmt.Errorf("ecs: field %q: %w", k, d.err)
		}
	})
	if summing && members != m.Len() {
		// A duplicate key: the record holds less than was summed.
		d.dup = true
	}
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
	// Zero would read back as "no timestamp", and a Timestamp cannot hold
	// a time before the epoch, so those stay attributes.
	if !ok || ns <= 0 {
		return false
	}
	rec.SetTimestamp(pcommon.Timestamp(ns))
	return true
}

// leaf adds the leaf whose path is d.path and whose type and value the
// caller appended to d.path[:n]; d.path is then cut back to n.
func (d *Decoder) leaf(n int) {
	d.sum.Add(d.path)
	d.path = d.path[:n]
}

// put stores v under key k in m. A null is left out, and like any later
// duplicate it wins over an earlier value of the same key (a null removes
// it). With an id, d.path holds the member's path; lvl is v's own level if
// it is an object.
func (d *Decoder) put(m pcommon.Map, k []byte, v *fastjson.Value, lvl level) {
	n := len(d.path)
	switch v.Type() {
	case fastjson.TypeNull:
		if _, found := m.Get(string(k)); found {
			// RemoveIf, unlike Remove, keeps the order of the others.
			m.RemoveIf(func(key string, _ pcommon.Value) bool { return key == string(k) })
		}
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		s := d.str(b)
		m.PutStr(d.str(k), s)
		if d.withID {
			d.path = event.AppendLeafStr(d.path, s)
			d.leaf(n)
		}
	case fastjson.TypeNumber:
		i, f, isInt := d.number(v)
		switch {
		case d.err != nil:
		case isInt:
			m.PutInt(d.str(k), i)
			if d.withID {
				d.path = event.AppendLeafInt(d.path, i)
				d.leaf(n)
			}
		default:
			m.PutDouble(d.str(k), f)
			if d.withID {
				d.path = event.AppendLeafDouble(d.path, f)
				d.leaf(n)
			}
		}
	case fastjson.TypeTrue, fastjson.TypeFalse:
		b := v.Type() == fastjson.TypeTrue
		m.PutBool(d.str(k), b)
		if d.withID {
			d.path = event.AppendLeafBool(d.path, b)
			d.leaf(n)
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		d.fillObject(m.PutEmptyMap(d.str(k)), o, lvl, plog.LogRecord{})
	case fastjson.TypeArray:
		a, _ := v.Array()
		d.fillSlice(m.PutEmptySlice(d.str(k)), a)
	}
}

// fillSlice fills the empty Slice s from a. A null element stays Empty so
// that the others keep their positions.
func (d *Decoder) fillSlice(s pcommon.Slice, a []*fastjson.Value) {
	s.EnsureCapacity(len(a))
	base := len(d.path)
	for i, v := range a {
		if d.err != nil {
			return
		}
		if d.withID {
			d.path = event.AppendIndex(d.path[:base], i)
		}
		d.set(s.AppendEmpty(), v)
	}
	d.path = d.path[:base]
}

// set stores v into the empty array element dst. With an id, d.path holds
// the element's path.
func (d *Decoder) set(dst pcommon.Value, v *fastjson.Value) {
	n := len(d.path)
	switch v.Type() {
	case fastjson.TypeNull:
		if d.withID {
			d.path = event.AppendLeafEmpty(d.path)
			d.leaf(n)
		}
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		s := d.str(b)
		dst.SetStr(s)
		if d.withID {
			d.path = event.AppendLeafStr(d.path, s)
			d.leaf(n)
		}
	case fastjson.TypeNumber:
		i, f, isInt := d.number(v)
		switch {
		case d.err != nil:
		case isInt:
			dst.SetInt(i)
			if d.withID {
				d.path = event.AppendLeafInt(d.path, i)
				d.leaf(n)
			}
		default:
			dst.SetDouble(f)
			if d.withID {
				d.path = event.AppendLeafDouble(d.path, f)
				d.leaf(n)
			}
		}
	case fastjson.TypeTrue, fastjson.TypeFalse:
		b := v.Type() == fastjson.TypeTrue
		dst.SetBool(b)
		if d.withID {
			d.path = event.AppendLeafBool(d.path, b)
			d.leaf(n)
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		d.fillObject(dst.SetEmptyMap(), o, levelOther, plog.LogRecord{})
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

// PutEventOriginal stores the raw document as event.original: inside the
// document's "event" object, created when missing. A scalar "event" (not
// ECS, but possible) keeps its place and the original goes under the flat
// key "event.original", which the Encoder nests as the object's sibling.
func PutEventOriginal(attrs pcommon.Map, line []byte) {
	ev, ok := attrs.Get("event")
	switch {
	case !ok:
		attrs.PutEmptyMap("event").PutStr("original", string(line))
	case ev.Type() == pcommon.ValueTypeMap:
		ev.Map().PutStr("original", string(line))
	default:
		attrs.PutStr("event.original", string(line))
	}
}

// cleanKey returns k with each byte that is not part of valid UTF-8 replaced
// by U+FFFD, as the Encoder writes it. Done on keys at decoding, not only on
// output, so that two keys that differ only in invalid bytes are one key in
// the record (a duplicate, the last one winning) rather than two members of
// the same name in the output.
func cleanKey(k []byte) []byte {
	for _, c := range k {
		if c >= utf8.RuneSelf {
			if utf8.Valid(k) {
				return k
			}
			out := make([]byte, 0, len(k)+8)
			for i := 0; i < len(k); {
				r, size := utf8.DecodeRune(k[i:])
				if r == utf8.RuneError && size == 1 {
					out = append(out, "\uFFFD"...)
				} else {
					out = append(out, k[i:i+size]...)
				}
				i += size
			}
			return out
		}
	}
	return k
}
