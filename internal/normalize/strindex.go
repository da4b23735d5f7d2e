package normalize

import (
	"encoding/binary"
	"math/bits"
)

// strIndex marks, for a whole line, where its strings end, so that the
// checking scanner finds the end of a string with a shift and a
// trailing-zero count instead of stepping through it. A Tetragon record is
// mostly strings (capability names, ids, image digests), and walking them
// a word at a time, with a mispredicted branch at the end of each, was
// half of normalising one.
//
// The masks come from one vector pass over the line (strindex_amd64.s,
// where the CPU has AVX2); elsewhere no index is built (ok is false) and
// the scanner steps through strings as before (stringEnd). Both paths give
// the same results: the tests run every input through both.
type strIndex struct {
	ok bool
	// One bit per byte of the line, 64 to a word: quote holds the quotes
	// that end or open a string (escaped ones removed), dirty the bytes
	// a string's content check must look at (backslashes, bytes below
	// 0x20).
	quote, dirty []uint64
	bs           []uint64 // every backslash
}

// spaces pads the last block of a line: no quote, no backslash, no
// control byte past the line's end.
var spaces = func() (s [64]byte) {
	for i := range s {
		s[i] = ' '
	}
	return s
}()

// maxIndexKeep bounds the index memory kept between lines, in words of
// each mask: a line of more than 2 MiB (768 KiB of masks) gets buffers of
// its own, dropped after it.
const maxIndexKeep = 1 << 15

// build indexes line; it does nothing (ok false) where no vector pass is
// available.
func (x *strIndex) build(line []byte) {
	x.ok = false
	if !haveMasks || len(line) == 0 {
		return
	}
	n := (len(line) + 63) / 64
	if cap(x.quote) < n || cap(x.quote) > maxIndexKeep && n <= maxIndexKeep {
		x.quote = make([]uint64, n)
		x.dirty = make([]uint64, n)
		x.bs = make([]uint64, n)
	}
	x.quote, x.dirty, x.bs = x.quote[:n], x.dirty[:n], x.bs[:n]
	whole := len(line) / 64
	if whole > 0 {
		masks(line[:whole*64], x.quote, x.bs, x.dirty)
	}
	if whole < n {
		pad := spaces
		copy(pad[:], line[whole*64:])
		masks(pad[:], x.quote[whole:], x.bs[whole:], x.dirty[whole:])
	}
	// A quote preceded by an odd run of backslashes is escaped. Runs are
	// rare outside escaped content, so a word with a backslash is walked
	// bit by bit; carry says the next word's first byte is escaped.
	carry := false
	for w, b := range x.bs {
		if b == 0 && !carry {
			continue
		}
		var esc uint64
		for k := 0; k < 64; k++ {
			bit := uint64(1) << k
			switch {
			case carry:
				esc |= bit
				carry = false
			case b&bit != 0:
				carry = true
			}
		}
		x.quote[w] &^= esc
	}
	x.ok = true
}

// next returns the index of the first string quote at or after i, or -1.
// Most strings end in the word they start in: that case is inlined.
func (x *strIndex) next(i int) int {
	w := i >> 6
	if w < len(x.quote) {
		if m := x.quote[w] >> (i & 63); m != 0 {
			return i + bits.TrailingZeros64(m)
		}
	}
	return x.nextAfter(w)
}

// nextAfter returns the index of the first string quote in the words
// after w, or -1.
func (x *strIndex) nextAfter(w int) int {
	for w++; w < len(x.quote); w++ {
		if m := x.quote[w]; m != 0 {
			return w<<6 + bits.TrailingZeros64(m)
		}
	}
	return -1
}

// anyDirty reports whether a byte in [lo, hi) is a backslash or below
// 0x20.
func (x *strIndex) anyDirty(lo, hi int) bool {
	for lo < hi {
		w, s := lo>>6, lo&63
		m := x.dirty[w] >> s
		if n := hi - lo; n < 64-s {
			m &= 1<<n - 1
		}
		if m != 0 {
			return true
		}
		lo = (w + 1) << 6
	}
	return false
}

// end returns the index just past the string opening at b[i], b being the
// indexed line; with check, it also checks the string's content (see
// stringEnd). The usual case, a string with nothing to check, takes next
// (inlined here) and no more.
func (x *strIndex) end(b []byte, i int, check bool) (int, error) {
	if x != nil && x.ok {
		if j := x.next(i + 1); j >= 0 && !(check && x.anyDirty(i+1, j)) {
			return j + 1, nil
		}
	}
	return x.endSlow(b, i, check)
}

func (x *strIndex) endSlow(b []byte, i int, check bool) (int, error) {
	if x == nil || !x.ok {
		return stringEnd(b, i, check)
	}
	j := x.next(i + 1)
	if j < 0 {
		return 0, syntaxErr(i, "unterminated string")
	}
	if check && x.anyDirty(i+1, j) && !validContent(b[i+1:j]) {
		return 0, syntaxErr(i, "invalid string")
	}
	return j + 1, nil
}

// validContent reports whether s, a string's content between its quotes,
// has no raw control character and only valid escapes. Eight bytes are
// tested at a time for a byte below 0x20 or a backslash; the lowest byte
// the test flags is a true match (borrows only spill upwards).
func validContent(s []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for i < len(s) {
		if i+8 <= len(s) {
			x := binary.LittleEndian.Uint64(s[i:])
			e := x ^ (lo * '\\')
			m := ((x-lo*0x20)&^x | (e-lo)&^e) & hi
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		}
		c := s[i]
		switch {
		case c < 0x20:
			return false
		case c != '\\':
			i++
			continue
		}
		if i+1 >= len(s) {
			return false
		}
		switch s[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if _, ok := hex4(s, i+2); !ok {
				return false
			}
			i += 6
		default:
			return false
		}
	}
	return true
}
