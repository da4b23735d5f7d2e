package ecs

import (
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// plainByte marks the bytes that go into a JSON string as they are; every
// byte >= 0x80 is false so that UTF-8 is checked on the slow path.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString writes s as a JSON string. Control characters, quote and
// backslash are escaped; so are U+2028 and U+2029, which JSON allows raw but
// JavaScript did not, and invalid UTF-8 becomes U+FFFD so the output is
// always valid UTF-8.
func appendString(dst []byte, s string) []byte {
	if isPlain(s, false) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	return appendEscaped(dst, s)
}

// appendKey writes the member name k, or reports false, writing nothing,
// when k contains a dot and so needs expanding. Doing both in one pass
// matters: keys are short and many.
func appendKey(dst []byte, k string) ([]byte, bool) {
	if isPlain(k, true) {
		dst = append(dst, '"')
		dst = append(dst, k...)
		return append(dst, '"'), true
	}
	if strings.IndexByte(k, '.') >= 0 {
		return dst, false
	}
	return appendEscaped(dst, k), true
}

// isPlain reports whether s is all printable ASCII without '"' or '\\' (and
// without '.' if dot is set), testing eight bytes at a time. Most keys and
// values are shorter than eight bytes, so those are packed into one word too,
// from overlapping loads, instead of being looped over.
func isPlain(s string, dot bool) bool {
	n := len(s)
	var x uint64
	switch {
	case n >= 8:
		for i := 0; i+8 <= n; i += 8 {
			if needsCare(load8(s, i), dot) {
				return false
			}
		}
		// The last eight bytes, overlapping, cover the tail.
		x = load8(s, n-8)
	case n >= 4:
		x = uint64(load4(s, 0)) | uint64(load4(s, n-4))<<32
	case n > 0:
		// Bytes 0, n/2 and n-1 cover every byte of a 1-3 byte string;
		// the rest is padded with a harmless 'a'.
		x = uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16 | 0x6161616161<<24
	default:
		return true
	}
	return !needsCare(x, dot)
}

func appendEscaped(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Step over runs that need nothing, eight bytes at a time.
		for i+8 <= len(s) && !needsCare(load8(s, i), false) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
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
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func load4(s string, i int) uint32 {
	_ = s[i+3]
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

func load8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// needsCare reports whether any of the eight bytes in x is non-ASCII, a
// control character, '"' or '\\', or '.' if dot is set. The (v-lo)&^v&hi
// terms are the classic "has a byte below n" and "has a zero byte" tests;
// they are exact once bytes >= 0x80 are caught by x&hi.
func needsCare(x uint64, dot bool) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	b := x ^ (lo * '\\')
	m := x | (x-lo*0x20)&^x | (q-lo)&^q | (b-lo)&^b
	if dot {
		d := x ^ (lo * '.')
		m |= (d - lo) &^ d
	}
	return m&hi != 0
}
