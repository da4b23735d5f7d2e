package store

import (
	"encoding/binary"
	"math/bits"
)

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
	switch len(s) {
	case 16:
		hi, ok1 := hex8(s[:8])
		lo, ok2 := hex8(s[8:16])
		return uint64(hi)<<32 | uint64(lo), ok1 && ok2
	case 8:
		v, ok := hex8(s)
		return uint64(v) << 32, ok
	}
	var x uint64
	var bad uint8
	for i := 0; i < len(s); i++ {
		v := unhex[s[i]]
		bad |= v
		x = x<<4 | uint64(v)
	}
	return x << (64 - 4*uint(len(s))), bad&badHex == 0
}

const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// atLeast sets the top bit of each byte of x that is >= c, for bytes
// below 0x80 (the caller rejects others).
func atLeast(x uint64, c uint8) uint64 {
	return ((x | lanes80) - uint64(c)*lanes01) & lanes80
}

// hex8 decodes 8 hex digits of either case into 32 bits, all 8 bytes at
// once in one word (SWAR). A table lookup per digit cost 14 ns for the 16
// digits every lookup decodes; this is a handful of word operations and no
// data-dependent branches.
func hex8(s string) (uint32, bool) {
	_ = s[7]
	// The compiler merges these byte loads into one 8-byte load.
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56

	digit := atLeast(x, '0') &^ atLeast(x, '9'+1)
	upper := atLeast(x, 'A') &^ atLeast(x, 'F'+1)
	lower := atLeast(x, 'a') &^ atLeast(x, 'f'+1)
	ok := (digit|upper|lower)&^x == lanes80

	// '0'-'9' are 0x30-0x39 and letters 0x41-0x46 or 0x61-0x66: the low
	// nibble is the value, plus 9 when bit 6 marks a letter.
	v := x&0x0f0f0f0f0f0f0f0f + (x>>6&lanes01)*9
	// Byte 2j (first digit) becomes the high nibble of byte j.
	v = (v&0x000f000f000f000f)<<4 | (v>>8)&0x000f000f000f000f
	v = (v | v>>8) & 0x0000ffff0000ffff
	v = (v | v>>16) & 0xffffffff
	return bits.ReverseBytes32(uint32(v)), ok
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
