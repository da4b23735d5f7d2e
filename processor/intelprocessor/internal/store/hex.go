package store

import "encoding/binary"

// badHex marks a non-hex byte in unhex. Digit values never have this bit,
// so OR-ing every looked-up value and testing it once validates a whole run
// of characters without a branch per character.
const badHex = 0x10

// unhex maps a byte to its hex digit value, accepting both cases, so event
// values need no lower-casing copy before decoding.
var unhex = func() (t [256]uint8) {
	for i := range t {
		t[i] = badHex
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c-'a') + 10
		t[c-'a'+'A'] = uint8(c-'a') + 10
	}
	return t
}()

// hexWord decodes s, at most 16 hex digits, into a big-endian word aligned
// to the left, so that words compare as the bytes they encode would.
func hexWord(s string) (uint64, bool) {
	var x uint64
	var bad uint8
	if len(s) >= 16 {
		// Two digits per step with the bounds check hoisted: this is the
		// hot path of every hash lookup.
		_ = s[15]
		for i := 0; i < 16; i += 2 {
			hi, lo := unhex[s[i]], unhex[s[i+1]]
			bad |= hi | lo
			x = x<<8 | uint64(hi)<<4 | uint64(lo)
		}
		return x, bad&badHex == 0
	}
	for i := 0; i < len(s); i++ {
		v := unhex[s[i]]
		bad |= v
		x = x<<4 | uint64(v)
	}
	return x << (64 - 4*uint(len(s))), bad&badHex == 0
}

// keyWord reads up to 8 bytes of a stored key as a big-endian word aligned
// to the left, the layout hexWord produces.
func keyWord(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	var x uint64
	for i, c := range b {
		x |= uint64(c) << (56 - 8*uint(i))
	}
	return x
}

// lowerHex is unhex for lower-case digits only, the form
// indicator.Normalize gives hashes: the builder decodes and checks that
// form in one branch-free pass (a per-character range test mispredicts on
// every switch between digits and letters, and cost more than the rest of
// Add).
var lowerHex = func() (t [256]uint8) {
	t = unhex
	for c := 'A'; c <= 'F'; c++ {
		t[c] = badHex
	}
	return t
}()

// decodeHex decodes the hex digits of src into dst (len(src) ==
// 2*len(dst)) with the digit table tab, and reports whether all were valid.
func decodeHex(dst []byte, src string, tab *[256]uint8) bool {
	var bad uint8
	for i := range dst {
		hi, lo := tab[src[2*i]], tab[src[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad&badHex == 0
}
