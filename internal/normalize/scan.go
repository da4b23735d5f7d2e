package normalize

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/cairnsec/cairn/internal/ascii"
)

// A validating JSON scanner that builds nothing: the formats walk a record
// once, pull the members they map and skip the rest without allocating. A
// generic parser (fastjson, as the ECS decoder uses) builds a value for
// every member of a 2 KB Tetragon record, most of which (capabilities,
// namespaces, the parent's pod) no ECS field needs; skipping them is what
// keeps normalising within its budget of a couple of microseconds.
//
// The structure is checked strictly (RFC 8259): brackets, commas, member
// names, literals and the number grammar, at every depth. So is the content
// of every string that can reach the output (every value taken, every
// top-level value): valid escapes and no raw control characters, so a
// normalised document is always strictly valid JSON. The content of
// strings that are only stepped over is not checked, as fastjson, which
// the ECS decoder uses, does not check it either.
//
// The iterators (obj, arr) read a record in the pass that checks it; a
// Tetragon event, the bulk of its line, is walked once.

// maxDepth bounds nesting, as fastjson's MaxDepth does, so that a line the
// ECS decoder would accept is never refused here for its depth alone.
const maxDepth = 300

// bad is what the scanning functions return, instead of an index, for a
// syntax error. Where and why the line is not JSON is never reported (the
// record is refused whole, as the ECS decoder refuses it), so no error
// value is built: an index alone is cheaper to return for every string of
// a record.
const bad = -1

func skipWS(b []byte, i int) int {
	// Every JSON blank is at most ' ': one test settles the usual case,
	// a record written without blanks.
	for i < len(b) && b[i] <= ' ' {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string opening at b[i].
func skipString(b []byte, i int) int { return stringEnd(b, i, false) }

// stringEnd returns the index just past the string opening at b[i]; with
// check, it also checks the content: no raw control character, only valid
// escapes. Eight bytes are tested at a time for a quote, a backslash or
// (with check) a byte below 0x20: most strings of a record are short names
// and values, for which a word loop beats calling bytes.IndexByte. The
// lowest byte a test flags is a true match (borrows only spill upwards).
func stringEnd(b []byte, i int, check bool) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i++
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, e := x^(lo*'"'), x^(lo*'\\')
			m := ((q-lo)&^q | (e-lo)&^e) & hi
			if check {
				m |= (x - lo*0x20) &^ x & hi
			}
			if m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			return bad
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= len(b) {
				return bad
			}
			if !check {
				i += 2
				continue
			}
			n := escapeLen(b, i)
			if n == 0 {
				return bad
			}
			i += n
		case c < 0x20 && check:
			return bad
		default:
			i++
		}
	}
}

// skipNumber returns the index just past the number at b[i], checking the
// JSON number grammar.
func skipNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digitsEnd(b, i+1)
	default:
		return bad
	}
	if i < len(b) && b[i] == '.' {
		d := i + 1
		if i = digitsEnd(b, d); i == d {
			return bad
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		if i = digitsEnd(b, d); i == d {
			return bad
		}
	}
	return i
}

// digitsEnd returns the index of the first byte at or after i that is not
// an ASCII digit, testing eight bytes at a time.
func digitsEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := ascii.NonDigits(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return bad
	}
	return i + len(lit)
}

// skipValue returns the index just past the value that starts at b[i]
// (after blanks), at depth, checking it; strict also checks the content of
// its strings (see stringEnd).
func skipValue(x *strIndex, b []byte, i, depth int, strict bool) int {
	i = skipWS(b, i)
	if i >= len(b) {
		return bad
	}
	switch c := b[i]; c {
	case '"':
		return x.end(b, i, strict)
	case '{', '[':
		if depth >= maxDepth {
			return bad
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1
		}
		if c == '[' && !strict {
			// A list of strings with no blank between (a process's
			// capability sets, three lists of a dozen names each, are
			// most of what a Tetragon exec steps over): one string and
			// its comma at a time. Anything else goes on below, from
			// the element it stopped at.
			for i < len(b) && b[i] == '"' {
				e := x.quick(i)
				if e < 0 || e+1 >= len(b) {
					break
				}
				if b[e] == ']' {
					return e + 1
				}
				if b[e] != ',' || b[e+1] != '"' {
					break
				}
				i = e + 1
			}
		}
		for {
			if c == '{' {
				// A name and its colon with no blank between, the
				// usual case, are stepped over here.
				if e := x.quick(i); e >= 0 && !strict && i < len(b) && b[i] == '"' && e < len(b) && b[e] == ':' {
					i = e + 1
				} else if i = memberName(x, b, i, strict); i == bad {
					return bad
				}
			}
			// A string, the usual member, is stepped over here rather
			// than in a call of its own.
			if i < len(b) && b[i] == '"' {
				if e := x.quick(i); e >= 0 && !strict {
					i = e
				} else {
					i = x.end(b, i, strict)
				}
			} else {
				i = skipValue(x, b, i, depth+1, strict)
			}
			if i == bad {
				return bad
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return bad
			}
			if b[i] == closing {
				return i + 1
			}
			if b[i] != ',' {
				return bad
			}
			i = skipWS(b, i+1)
		}
	case 't':
		return skipLiteral(b, i, "true")
	case 'f':
		return skipLiteral(b, i, "false")
	case 'n':
		return skipLiteral(b, i, "null")
	default:
		return skipNumber(b, i)
	}
}

// memberName reads a member name and its colon at b[i], returning the
// index after the colon. (skipValue, its caller, has tried the usual case
// inline: a name ending in its word, its colon right after.)
func memberName(x *strIndex, b []byte, i int, strict bool) int {
	if i >= len(b) || b[i] != '"' {
		return bad
	}
	if i = x.end(b, i, strict); i == bad {
		return bad
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return bad
	}
	return i + 1
}

// val is the text of one checked JSON value.
type val []byte

func (v val) present() bool { return len(v) > 0 && v[0] != 'n' }
func (v val) isStr() bool   { return len(v) > 0 && v[0] == '"' }
func (v val) isObj() bool   { return len(v) > 0 && v[0] == '{' }
func (v val) isArr() bool   { return len(v) > 0 && v[0] == '[' }
func (v val) isNum() bool   { return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') }

// raw is a string's content as written, escapes included: valid inside a
// JSON string as it is.
func (v val) raw() []byte { return v[1 : len(v)-1] }

// str is a string's content unescaped: v's own bytes when there is
// nothing to unescape, else appended to *arena (the record's, reset for
// each record, so that unescaping allocates nothing once it has grown; an
// earlier result stays valid when a later one grows it).
func (v val) str(arena *[]byte) []byte {
	s, _ := v.text(arena)
	return s
}

// text is str, also reporting whether the content had no escape: then it
// holds no quote, backslash or control byte either (the string was
// checked), and is written into a JSON document as it is.
func (v val) text(arena *[]byte) (s []byte, clean bool) {
	r := v.raw()
	if bytes.IndexByte(r, '\\') < 0 {
		return r, true
	}
	if arena == nil {
		return unescape(nil, r), false
	}
	start := len(*arena)
	*arena = unescape(*arena, r)
	return (*arena)[start:len(*arena):len(*arena)], false
}

// uint reads an unsigned integer written as a number or, as protojson
// writes 64-bit integers, as a string of digits.
func (v val) uint() (uint64, bool) {
	b := []byte(v)
	if v.isStr() {
		b = v.raw()
	}
	return parseUint(b, 1<<64-1)
}

// parseUint reads decimal digits as a number of at most max: no sign, no
// spaces, no overflow.
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	if len(b) < 20 {
		// At most 19 digits cannot overflow: no test per digit.
		for _, c := range b {
			d := uint64(c - '0')
			if d > 9 {
				return 0, false
			}
			n = n*10 + d
		}
		if n > max {
			return 0, false
		}
		return n, true
	}
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 || d > max || n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// unescape appends the JSON string content r, unescaped, to dst. Invalid
// escapes are kept as written, as fastjson keeps them.
func unescape(dst, r []byte) []byte {
	for i := 0; i < len(r); i++ {
		c := r[i]
		if c != '\\' || i+1 >= len(r) {
			dst = append(dst, c)
			continue
		}
		i++
		switch r[i] {
		case '"', '\\', '/':
			dst = append(dst, r[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			x, ok := hex4(r, i+1)
			if !ok {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if x >= 0xD800 && x < 0xDC00 && i+2 < len(r) && r[i+1] == '\\' && r[i+2] == 'u' {
				if y, ok := hex4(r, i+3); ok && y >= 0xDC00 && y < 0xE000 {
					x = 0x10000 + (x-0xD800)<<10 + (y - 0xDC00)
					i += 6
				}
			}
			if x >= 0xD800 && x < 0xE000 {
				x = 0xFFFD
			}
			dst = utf8.AppendRune(dst, x)
		default:
			dst = append(dst, '\\', r[i])
		}
	}
	return dst
}

// escapeLen returns the length of the valid JSON escape at b[i] (a
// backslash with at least one byte after it), 0 if it is not one.
func escapeLen(b []byte, i int) int {
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if _, ok := hex4(b, i+2); ok {
			return 6
		}
	}
	return 0
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var x rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			x = x<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			x = x<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			x = x<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return x, true
}

// skipFast returns the index just past the value at b[i], which is known to
// be valid JSON (checked by skipValue): it only finds the end.
func skipFast(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// obj iterates the members of an object, walking each byte once: next
// stops at a member's value, which the caller takes with value (any value),
// or enters with object and then hands the exhausted child back with
// resume; a value left alone is skipped by the following next.
//
//	it := members(v)
//	for it.next() {
//		switch string(it.key()) {
//		case "pid":
//			pid = it.value()
//		case "pod":
//			c := it.object()
//			for c.next() { ... }
//			it.resume(&c)
//		}
//	}
//
// An iterator from members walks text known to be valid (a val). One from
// checkedMembers checks what it walks, so that a record is read and
// checked in the same pass; it stops at the first syntax error, and says so
// in failed (which resume hands up). Either way the caller iterates every
// iterator to its end.
type obj struct {
	b  []byte
	x  *strIndex // the line's index (checked iterators)
	i  int       // where the next member (or the closing brace) is looked for
	vs int       // start of the current member's value
	// ks, ke: the current member's raw name (escaped) is b[ks:ke]. Kept
	// as offsets, not as a slice: storing a pointer costs a write
	// barrier check, and a name is stored for every member walked.
	ks, ke int
	// depth is the object's own depth. The iterator is kept small (it is
	// made for every object walked, a dozen per record): flags rather
	// than fields of their own, no error value (a syntax error's offset
	// and reason are never reported, only that the line is not JSON).
	depth int32
	// taken: the current value was consumed (i is past it).
	taken bool
	// started: a member was read (a comma must come before the next).
	started bool
	checked bool
	failed  bool // a syntax error stopped the walk
}

// members iterates v, which must be an object (else there are none).
func members(v val) obj {
	if !v.isObj() {
		return obj{taken: true}
	}
	return obj{b: v, i: 1, taken: true}
}

// checkedMembers iterates, checking it, the object that opens at b[i], at
// depth.
func checkedMembers(x *strIndex, b []byte, i int, depth int32) obj {
	if depth >= maxDepth {
		return obj{taken: true, checked: true, failed: true}
	}
	return obj{b: b, i: i + 1, taken: true, checked: true, x: x, depth: depth}
}

// fail stops the walk at a syntax error.
func (o *obj) fail() {
	o.failed = true
	o.b = nil
}

func (o *obj) next() bool {
	if o.b == nil {
		return false
	}
	if o.checked {
		if !o.taken {
			var e int
			if o.b[o.vs] == '"' {
				if e = o.x.quick(o.vs); e < 0 {
					e = o.x.end(o.b, o.vs, false)
				}
			} else {
				e = skipValue(o.x, o.b, o.vs, int(o.depth)+1, false)
			}
			if e == bad {
				o.fail()
				return false
			}
			o.i = e
		}
		// Compact JSON, the usual line: the comma (after the first
		// member), the name, its colon and the value follow each other
		// with no blank between.
		b, i := o.b, o.i
		if o.started {
			i++
			if i > len(b) || b[i-1] != ',' {
				i = len(b) // (not compact, or not valid: as below)
			}
		}
		if i < len(b) && b[i] == '"' {
			if ke := o.x.quick(i); ke >= 0 && ke+1 < len(b) && b[ke] == ':' && b[ke+1] > ' ' {
				o.ks, o.ke, o.vs = i+1, ke-1, ke+1
				o.taken, o.started = false, true
				return true
			}
		}
		i = skipWS(b, o.i)
		switch {
		case i >= len(o.b):
			o.fail()
			return false
		case o.b[i] == '}':
			o.i = i + 1
			o.b = nil
			return false
		case o.started:
			if o.b[i] != ',' {
				o.fail()
				return false
			}
			i = skipWS(o.b, i+1)
		}
		if i >= len(o.b) || o.b[i] != '"' {
			o.fail()
			return false
		}
		ke := o.x.quick(i)
		if ke < 0 {
			ke = o.x.end(o.b, i, false)
		}
		if ke == bad {
			o.fail()
			return false
		}
		o.ks, o.ke = i+1, ke-1
		i = skipWS(o.b, ke)
		if i >= len(o.b) || o.b[i] != ':' {
			o.fail()
			return false
		}
		o.vs = skipWS(o.b, i+1)
		if o.vs >= len(o.b) {
			o.fail()
			return false
		}
		o.taken, o.started = false, true
		return true
	}
	if !o.taken {
		o.i = skipFast(o.b, o.vs)
	}
	i := skipWS(o.b, o.i)
	if i < len(o.b) && o.b[i] == ',' {
		i = skipWS(o.b, i+1)
	}
	if i >= len(o.b) || o.b[i] != '"' {
		o.i = i + 1 // past the closing brace
		o.b = nil
		return false
	}
	ke := skipString(o.b, i)
	o.ks, o.ke = i+1, ke-1
	i = skipWS(o.b, ke)
	o.vs = skipWS(o.b, i+1) // past ':'
	o.taken = false
	return true
}

// key is the current member's raw name (escaped).
func (o *obj) key() []byte { return o.b[o.ks:o.ke] }

// value takes the current member's value (nil after a syntax error).
func (o *obj) value() val {
	var e int
	if o.checked {
		if o.b[o.vs] == '"' {
			if e = o.x.quickChecked(o.vs); e < 0 {
				e = o.x.end(o.b, o.vs, true)
			}
		} else {
			e = skipValue(o.x, o.b, o.vs, int(o.depth)+1, true)
		}
		if e == bad {
			o.fail()
			return nil
		}
	} else {
		e = skipFast(o.b, o.vs)
	}
	o.i, o.taken = e, true
	return val(o.b[o.vs:e])
}

// isObject reports whether the current value is an object.
func (o *obj) isObject() bool { return o.b[o.vs] == '{' }

// object iterates the current value, which must be an object (see
// isObject); the exhausted child goes back with resume.
func (o *obj) object() obj {
	if o.checked {
		return checkedMembers(o.x, o.b, o.vs, o.depth+1)
	}
	return obj{b: o.b, i: o.vs + 1, taken: true}
}

// resume continues after a child from object that next has exhausted.
func (o *obj) resume(c *obj) {
	if c.failed {
		o.fail()
		return
	}
	o.i, o.taken = c.i, true
}

// arr iterates the elements of an array known to be valid JSON.
type arr struct {
	b   []byte
	i   int
	val val
}

func elements(v val) arr {
	if !v.isArr() {
		return arr{}
	}
	return arr{b: v, i: 1}
}

func (a *arr) next() bool {
	if a.b == nil {
		return false
	}
	i := skipWS(a.b, a.i)
	if i < len(a.b) && a.b[i] == ',' {
		i = skipWS(a.b, i+1)
	}
	if i >= len(a.b) || a.b[i] == ']' {
		a.b = nil
		return false
	}
	e := skipFast(a.b, i)
	a.val = val(a.b[i:e])
	a.i = e
	return true
}
