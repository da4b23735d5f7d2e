package normalize

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/cairnsec/cairn/internal/ecs"
)

// writer builds one ECS document. An object opened and left empty (a
// section with nothing to say: no container, no parent) leaves nothing
// behind: open writes its name and brace at once, and close takes them back
// if no member followed. (Writing objects only once a member comes, as an
// earlier version did, cost a test for pending objects in every member.)
// Keys are the formats' constant ASCII names and are written as they are.
type writer struct {
	b     []byte
	stack []frame
	// members: the current object has a member (the next needs a comma).
	members bool
	// tf caches the date and time of the last second formatted.
	tf ecs.TimeFormatter
}

type frame struct {
	pos  int  // where the object's name (or brace) starts in b
	had  bool // the enclosing object's members before this one opened
	keep bool // written even when empty (the root, array elements)
}

func (w *writer) reset(dst []byte) {
	w.b = append(dst[:0], '{')
	w.stack = append(w.stack[:0], frame{keep: true})
	w.members = false
}

// finish closes every open object and returns the document.
func (w *writer) finish() []byte {
	for len(w.stack) > 0 {
		w.close()
	}
	return w.b
}

// open starts the object key inside the current one.
func (w *writer) open(key string) {
	w.stack = append(w.stack, frame{pos: len(w.b), had: w.members})
	b := w.b
	if w.members {
		b = append(b, ',', '"')
	} else {
		b = append(b, '"')
	}
	b = append(b, key...)
	w.b = append(b, '"', ':', '{')
	w.members = false
}

// close ends the current object, taking it back if it stayed empty.
func (w *writer) close() {
	f := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	if w.members || f.keep {
		w.b = append(w.b, '}')
		w.members = true
		return
	}
	w.b = w.b[:f.pos]
	w.members = f.had
}

// member writes the name of a new member of the current object. (It runs
// for every member of every document: the buffer is worked on in a local,
// which the compiler keeps in registers.)
func (w *writer) member(key string) {
	b := w.b
	if w.members {
		b = append(b, ',', '"')
	} else {
		b = append(b, '"')
	}
	w.members = true
	b = append(b, key...)
	w.b = append(b, '"', ':')
}

// memberName is member for a name read from the input, escaped.
func (w *writer) memberName(name []byte) {
	w.member("")
	w.b = w.b[:len(w.b)-3] // the empty name member wrote
	w.b = appendString(w.b, name)
	w.b = append(w.b, ':')
}

// rawStr writes a string member from raw JSON string content (escapes as
// written in the input, which are valid as they are).
func (w *writer) rawStr(key string, raw []byte) {
	w.member(key)
	w.b = append(w.b, '"')
	w.b = append(w.b, raw...)
	w.b = append(w.b, '"')
}

// str writes a string member, escaping it.
func (w *writer) str(key string, s []byte) {
	w.member(key)
	w.b = appendString(w.b, s)
}

// text writes a string member, escaping it unless clean says it needs
// no escaping (see val.text).
func (w *writer) text(key string, s []byte, clean bool) {
	w.member(key)
	w.b = appendText(w.b, s, clean)
}

// appendText is appendString, or a plain copy between quotes where clean
// says s needs no escaping (see val.text).
func appendText(dst, s []byte, clean bool) []byte {
	if !clean {
		return appendString(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func (w *writer) conststr(key, s string) {
	w.member(key)
	w.b = append(w.b, '"')
	w.b = append(w.b, s...)
	w.b = append(w.b, '"')
}

// strVal writes a JSON string val as it is.
func (w *writer) strVal(key string, v val) {
	w.member(key)
	w.b = append(w.b, v...)
}

func (w *writer) int(key string, n int64) {
	w.member(key)
	w.b = strconv.AppendInt(w.b, n, 10)
}

func (w *writer) uint(key string, n uint64) {
	w.member(key)
	w.b = strconv.AppendUint(w.b, n, 10)
}

// uintVal writes v, an unsigned integer checked by the format (a JSON
// number, or protojson's string of digits), as a number. A JSON number is
// already canonical decimal (the grammar allows no leading zero, no sign
// here): its text is copied rather than parsed and formatted again.
func (w *writer) uintVal(key string, v val) {
	if v.isNum() {
		w.member(key)
		w.b = append(w.b, v...)
		return
	}
	n, _ := v.uint()
	w.uint(key, n)
}

// uintStrVal is uintVal written as a decimal string (see uintStr).
func (w *writer) uintStrVal(key string, v val) {
	if v.isNum() {
		w.member(key)
		w.b = append(w.b, '"')
		w.b = append(w.b, v...)
		w.b = append(w.b, '"')
		return
	}
	n, _ := v.uint()
	w.uintStr(key, n)
}

// uintStr writes n as a decimal string (ECS ids such as user.id are
// keywords).
func (w *writer) uintStr(key string, n uint64) {
	w.member(key)
	w.b = append(w.b, '"')
	w.b = strconv.AppendUint(w.b, n, 10)
	w.b = append(w.b, '"')
}

func (w *writer) bool(key string, b bool) {
	w.member(key)
	w.b = strconv.AppendBool(w.b, b)
}

// time writes Unix nanoseconds as RFC 3339 UTC, as Cairn writes @timestamp
// (three fractional digits, nine when there is something below the
// millisecond).
func (w *writer) time(key string, ns int64) {
	w.member(key)
	w.b = w.tf.Append(w.b, ns)
}

// eventHead opens the event object with its usual members, written in one
// go (every normalised document has them; writing them member by member was
// a tenth of the writing): kind event, category, type, action when not
// empty, module and dataset. The caller may add members, then closes it.
func (w *writer) eventHead(category, action, module, dataset string, types ...string) {
	w.member("event")
	b := append(w.b, `{"kind":"event","category":["`...)
	b = append(b, category...)
	b = append(b, `"],"type":`...)
	b = appendConstStrs(b, types)
	if action != "" {
		b = append(b, `,"action":"`...)
		b = append(b, action...)
		b = append(b, '"')
	}
	b = append(b, `,"module":"`...)
	b = append(b, module...)
	b = append(b, `","dataset":"`...)
	b = append(b, dataset...)
	w.b = append(b, '"')
	w.stack = append(w.stack, frame{keep: true})
	w.members = true
}

// strElems writes the array member key of the string elements of v (a
// checked JSON array), as they are, at most max of them; nothing when
// there are none.
func (w *writer) strElems(key string, v val, max int) {
	n := 0
	for it := elements(v); n < max && it.next(); {
		if !it.val.isStr() {
			continue
		}
		if n == 0 {
			w.beginArr(key)
		}
		w.sep(n == 0)
		w.b = append(w.b, it.val...)
		n++
	}
	if n > 0 {
		w.endArr()
	}
}

// constStrs writes an array of constant strings.
func (w *writer) constStrs(key string, s ...string) {
	w.member(key)
	w.b = appendConstStrs(w.b, s)
}

// appendConstStrs appends a JSON array of constant strings (written as
// they are: the formats' ASCII names).
func appendConstStrs(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, x := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, x...)
		b = append(b, '"')
	}
	return append(b, ']')
}

// Arrays built element by element: beginArr, then elements, then endArr.
func (w *writer) beginArr(key string) {
	w.member(key)
	w.b = append(w.b, '[')
}

func (w *writer) sep(first bool) {
	if !first {
		w.b = append(w.b, ',')
	}
}

func (w *writer) endArr() { w.b = append(w.b, ']') }

// Array elements that are objects: beginElem opens one (written at once,
// since the array already is), endElem closes it.
func (w *writer) beginElem(first bool) {
	w.sep(first)
	w.b = append(w.b, '{')
	w.stack = append(w.stack, frame{keep: true})
	w.members = false
}

func (w *writer) endElem() { w.close() }

// appendString writes s as a JSON string: quote, backslash and control
// characters are escaped; other bytes, UTF-8 or not, go as they are (the
// ECS decoder treats them as it treats the same bytes in a native line).
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs escaping.
		if i+8 <= len(s) {
			const lo, hi = 0x0101010101010101, 0x8080808080808080
			x := binary.LittleEndian.Uint64(s[i:])
			q := x ^ (lo * '"')
			e := x ^ (lo * '\\')
			if ((x-lo*0x20)&^x|(q-lo)&^q|(e-lo)&^e)&hi == 0 {
				i += 8
				continue
			}
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// network writes the network object: transport, type (ipv4 or ipv6, from
// ip when valid) and direction; empty values are left out.
func (w *writer) network(transport string, ip netip.Addr, direction string) {
	w.open("network")
	if transport != "" {
		w.conststr("transport", transport)
	}
	if ip.IsValid() {
		if ip.Is4() || ip.Is4In6() {
			w.conststr("type", "ipv4")
		} else {
			w.conststr("type", "ipv6")
		}
	}
	if direction != "" {
		w.conststr("direction", direction)
	}
	w.close()
}
