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
	x.quote, x.dirty, x.bs = x.quote[:0], x.dirty[:0], x.bs[:0]
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
	backslash := false
	if whole > 0 {
		backslash = masks(line[:whole*64], x.quote, x.bs, x.dirty)
	}
	if whole < n {
		pad := spaces
		copy(pad[:], line[whole*64:])
		backslash = masks(pad[:], x.quote[whole:], x.bs[whole:], x.dirty[whole:]) || backslash
	}
	x.ok = true
	if !backslash {
		return // no quote is escaped
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

// quickChecked is quick for a string whose content is checked (a value
// taken): -1 also when the content has a byte to check.
func (x *strIndex) quickChecked(i int) int {
	k := i + 1
	if w, s := k>>6, k&63; w < len(x.quote) && w < len(x.dirty) {
		if m := x.quote[w] >> s; m != 0 {
			n := bits.TrailingZeros64(m)
			if x.dirty[w]>>s&(1<<n-1) == 0 {
				return k + n + 1
			}
		}
	}
	return -1
}

// end returns the index just past the string opening at b[i], b being the
// indexed line, or bad; with check, it also checks the string's content
// (see stringEnd). Where a string is only stepped over, quick is tried
// first. The string's words are walked once, both masks at a time: a
// value's content is checked in the same step that finds its end.
func (x *strIndex) end(b []byte, i int, check bool) int {
	if !x.ok {
		return stringEnd(b, i, check)
	}
	k := i + 1
	w, s := k>>6, k&63
	if w >= len(x.quote) || w >= len(x.dirty) {
		return bad
	}
	m, d := x.quote[w]>>s, uint64(0)
	if check {
		d = x.dirty[w] >> s
	}
	for m == 0 {
		// No quote in the rest of the word: a byte to check there is
		// inside the string.
		if d != 0 {
			return x.endDirty(b, i)
		}
		if w++; w >= len(x.quote) || w >= len(x.dirty) {
			return bad
		}
		s = 0
		m = x.quote[w]
		if check {
			d = x.dirty[w]
		}
	}
	n := bits.TrailingZeros64(m)
	if d&(1<<n-1) != 0 {
		return x.endDirty(b, i)
	}
	return w<<6 + s + n + 1
}

// endDirty is end with check for a string whose content has a byte to
// check (a backslash or a control byte).
func (x *strIndex) endDirty(b []byte, i int) int {
	j := x.next(i + 1)
	if j < 0 || !validContent(b[i+1:j]) {
		return bad
	}
	return j + 1
}

// quick is end's usual case, small enough to be inlined where a string is
// stepped over (some 250 times in a Tetragon exec): the index past the
// string opening at i when it ends in the word it starts in or the next
// (not the line's last), else -1, and end settles it.
func (x *strIndex) quick(i int) int {
	k := i + 1
	if w := k >> 6; w+1 < len(x.quote) { // (no words when !x.ok)
		if m := x.quote[w] >> (k & 63); m != 0 {
			return k + bits.TrailingZeros64(m) + 1
		}
		if m := x.quote[w+1]; m != 0 {
			return (w+1)<<6 + bits.TrailingZeros64(m) + 1
		}
	}
	return -1
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
		n := escapeLen(s, i)
		if n == 0 {
			return false
		}
		i += n
	}
	return true
}
