package store

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

// hex8 decodes the 8 hex digits s[:8], in either case, into a big-endian
// word: the fingerprint every hash lookup starts with.
func hex8(s string) (uint32, bool) {
	_ = s[7]
	v0, v1, v2, v3 := unhex[s[0]], unhex[s[1]], unhex[s[2]], unhex[s[3]]
	v4, v5, v6, v7 := unhex[s[4]], unhex[s[5]], unhex[s[6]], unhex[s[7]]
	x := uint32(v0)<<28 | uint32(v1)<<24 | uint32(v2)<<20 | uint32(v3)<<16 |
		uint32(v4)<<12 | uint32(v5)<<8 | uint32(v6)<<4 | uint32(v7)
	return x, (v0|v1|v2|v3|v4|v5|v6|v7)&badHex == 0
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

// hexPair holds the two lower-case hex digits of each byte value, the
// first digit in the low byte (string order once loaded little-endian).
var hexPair = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = uint16(digits[i>>4]) | uint16(digits[i&15])<<8
	}
	return t
}()

// hexEqual reports whether s is the hex encoding of b, in either case
// (len(b) a multiple of 4). It encodes b, rather than decoding s, and
// compares case-folded text 8 digits at a time: the work of every hit, kept
// inline (a helper per 8 digits was not inlined, and took 70 ns for a
// SHA-256).
func hexEqual(b []byte, s string) bool {
	if len(s) != 2*len(b) {
		return false
	}
	// Setting bit 5 folds 'A'-'F' onto 'a'-'f', and leaves digits as they
	// are; it also folds the controls 0x10-0x19 onto digits, which the
	// second term rejects: every digit and letter has bit 5 or 6 set.
	const bit5 = 0x2020202020202020
	var diff uint64
	for j := 0; j+4 <= len(b); j += 4 {
		c, t := b[j:j+4:j+4], s[2*j:2*j+8]
		q := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		a := uint64(hexPair[c[0]]) | uint64(hexPair[c[1]])<<16 | uint64(hexPair[c[2]])<<32 | uint64(hexPair[c[3]])<<48
		diff |= ((q | bit5) ^ a) | (^(q | q>>1) & bit5)
	}
	return diff == 0
}
