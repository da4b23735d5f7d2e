package event

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/zeebo/xxh3"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The content id (event.id) of an event is defined here, once: View computes
// it from a record, and the line decoder (internal/ecs) computes the same
// value while it builds the record, which saves walking it again.
//
// Every leaf of the event (its dotted path and typed value) is hashed with
// XXH3-128 and the leaf hashes are added up, so the id depends neither on key
// order (collectors build attribute maps from Go maps, whose order varies run
// to run) nor on whether a document was sent nested or with dotted keys.
// Left out, so that neither enrichment nor options change an event's
// identity: Cairn's own output (cairn.* at the top), event.id itself and
// event.original (a copy of the content, kept on request). 128 bits, because
// at a billion events a 64-bit id would collide too likely for idempotent
// writes.
//
// A leaf is hashed as: the path ("process.args[1]", "a.b" for {"a":{"b":…}}),
// a zero byte, the pdata value type as one byte, then the value's text
// (AppendLeaf*). Resource attributes are hashed under the prefix "\xffr\x00"
// and the record Timestamp as "\xfft" followed by its 8 bytes, little endian.

// bigValue: longer strings are hashed on their own and only their digest
// enters the leaf, so one huge field does not grow the buffer for good.
const bigValue = 1024

// IDSum accumulates an event's content id from its leaves. The zero value
// is an empty sum.
type IDSum struct{ hi, lo uint64 }

// Add adds one leaf, as built by the AppendLeaf functions.
func (s *IDSum) Add(leaf []byte) {
	d := xxh3.Hash128(leaf)
	s.hi += d.Hi
	s.lo += d.Lo
}

// AddTimestamp adds the record Timestamp; scratch is reused for the bytes.
func (s *IDSum) AddTimestamp(scratch []byte, ts uint64) []byte {
	b := append(scratch[:0], 0xff, 't', byte(ts), byte(ts>>8), byte(ts>>16), byte(ts>>24), byte(ts>>32), byte(ts>>40), byte(ts>>48), byte(ts>>56))
	s.Add(b)
	return b[:0]
}

// AppendHex appends the id's 32 lowercase hex digits.
func (s IDSum) AppendHex(dst []byte) []byte { return appendHex(appendHex(dst, s.hi), s.lo) }

// IDExcludedTop reports whether a top-level key is left out of the id.
func IDExcludedTop(k string) bool {
	return k == "cairn" || strings.HasPrefix(k, "cairn.") || k == EventID.Name || k == "event.original"
}

// IDExcludedInEvent reports whether a member of the top-level "event" object
// is left out of the id.
func IDExcludedInEvent(k string) bool { return k == "id" || k == "original" }

// AppendLeafStr appends the type and value of a string leaf to b, which
// holds the leaf's path.
func AppendLeafStr(b []byte, s string) []byte {
	b = append(b, 0, byte(pcommon.ValueTypeStr))
	if len(s) > bigValue {
		d := xxh3.HashString128(s)
		return appendHex(appendHex(b, d.Hi), d.Lo)
	}
	return append(b, s...)
}

// AppendLeafStrBytes is AppendLeafStr for a string held in a byte slice.
func AppendLeafStrBytes(b []byte, s []byte) []byte {
	return AppendLeafStr(b, unsafe.String(unsafe.SliceData(s), len(s)))
}

// AppendLeafInt appends an integer leaf's type and value.
func AppendLeafInt(b []byte, i int64) []byte {
	return strconv.AppendInt(append(b, 0, byte(pcommon.ValueTypeInt)), i, 10)
}

// AppendLeafDouble appends a floating-point leaf's type and value.
func AppendLeafDouble(b []byte, f float64) []byte {
	return strconv.AppendFloat(append(b, 0, byte(pcommon.ValueTypeDouble)), f, 'g', -1, 64)
}

// AppendLeafBool appends a boolean leaf's type and value.
func AppendLeafBool(b []byte, v bool) []byte {
	return strconv.AppendBool(append(b, 0, byte(pcommon.ValueTypeBool)), v)
}

// AppendLeafEmpty appends the type of an empty leaf (a null array element).
func AppendLeafEmpty(b []byte) []byte { return append(b, 0, byte(pcommon.ValueTypeEmpty)) }

// AppendIndex appends the path segment of array element i: "[i]".
func AppendIndex(b []byte, i int) []byte {
	b = append(b, '[')
	if i < 10 {
		b = append(b, byte('0'+i))
	} else {
		b = strconv.AppendInt(b, int64(i), 10)
	}
	return append(b, ']')
}

// ResourcePrefix starts the path of every resource attribute's leaves.
const ResourcePrefix = "\xffr\x00"

// idHasher walks a record for View.
type idHasher struct {
	buf   []byte
	arena []byte
	sum   IDSum
}

func newIDHasher() idHasher { return idHasher{buf: make([]byte, 0, 512)} }

func (h *idHasher) compute(v *View) string {
	h.sum = IDSum{}
	b := h.buf[:0]
	b = h.walkMap(b, v.attrs, 0)
	if v.hasBody {
		b = h.walkMap(b, v.body, 0)
	} else if body := v.rec.Body(); body.Type() != pcommon.ValueTypeEmpty {
		b = append(b[:0], "message"...)
		b = h.leaf(b, body, body.Type())
	}
	b = append(b[:0], ResourcePrefix...)
	b = h.walkMap(b, v.res, len(b))
	b = h.sum.AddTimestamp(b, uint64(v.rec.Timestamp()))
	h.buf = b[:0]
	return h.id()
}

// id formats the sum. Ids are carved out of a shared arena: one allocation
// per ~128 events instead of one per event. Earlier ids stay valid when the
// arena is replaced because their bytes are never rewritten.
func (h *idHasher) id() string {
	if cap(h.arena)-len(h.arena) < 32 {
		h.arena = make([]byte, 0, 4096)
	}
	start := len(h.arena)
	h.arena = h.sum.AppendHex(h.arena)
	id := h.arena[start:]
	return unsafe.String(unsafe.SliceData(id), len(id))
}

const hexDigits = "0123456789abcdef"

func appendHex(dst []byte, x uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hexDigits[(x>>uint(i))&0xf])
	}
	return dst
}

// walkMap hashes the leaves of m; b holds the path so far (base bytes long,
// base 0 meaning the top of the record, where the exclusions apply).
func (h *idHasher) walkMap(b []byte, m pcommon.Map, base int) []byte {
	top := base == 0
	for k, val := range m.All() {
		if top && IDExcludedTop(k) {
			continue
		}
		n := len(b)
		if n > base {
			b = append(b, '.')
		}
		b = append(b, k...)
		typ := val.Type()
		switch {
		case top && typ == pcommon.ValueTypeMap && k == "event":
			p := len(b)
			for ek, ev := range val.Map().All() {
				if IDExcludedInEvent(ek) {
					continue
				}
				b = append(append(b, '.'), ek...)
				b = h.node(b, ev, ev.Type())
				b = b[:p]
			}
		default:
			b = h.node(b, val, typ)
		}
		b = b[:n]
	}
	return b
}

func (h *idHasher) node(b []byte, val pcommon.Value, typ pcommon.ValueType) []byte {
	switch typ {
	case pcommon.ValueTypeMap:
		// A nested map continues the dotted path: {"a":{"b":1}} hashes like {"a.b":1}.
		return h.walkMap(b, val.Map(), -1)
	case pcommon.ValueTypeSlice:
		// Array elements are leaves under path[i]: order matters in arrays.
		n := len(b)
		sl := val.Slice()
		for i := 0; i < sl.Len(); i++ {
			b = AppendIndex(b, i)
			e := sl.At(i)
			b = h.node(b, e, e.Type())
			b = b[:n]
		}
		return b
	}
	return h.leaf(b, val, typ)
}

// leaf hashes path + typed value; b holds the path and is returned as it was.
func (h *idHasher) leaf(b []byte, val pcommon.Value, typ pcommon.ValueType) []byte {
	n := len(b)
	switch typ {
	case pcommon.ValueTypeStr:
		b = AppendLeafStr(b, val.Str())
	case pcommon.ValueTypeInt:
		b = AppendLeafInt(b, val.Int())
	case pcommon.ValueTypeDouble:
		b = AppendLeafDouble(b, val.Double())
	case pcommon.ValueTypeBool:
		b = AppendLeafBool(b, val.Bool())
	case pcommon.ValueTypeBytes:
		b = append(b, 0, byte(typ))
		d := xxh3.Hash128(val.Bytes().AsRaw())
		b = appendHex(appendHex(b, d.Hi), d.Lo)
	default:
		b = append(b, 0, byte(typ))
	}
	h.sum.Add(b)
	return b[:n]
}
