package ascii

import (
	"encoding/binary"
	"math/bits"
	"testing"
)

// Every byte value at every position of a word of digits (and of a word
// with a 0xFF below it, whose carry may flag what is above): all-digit
// words give zero, and the lowest flagged byte is the first non-digit.
func TestNonDigits(t *testing.T) {
	for _, fill := range []byte{'0', '9', 0xFF} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				var b [8]byte
				for i := range b {
					b[i] = '5'
				}
				if fill == 0xFF && pos > 0 {
					b[0] = 0xFF
				} else if fill != 0xFF {
					b[(pos+1)%8] = fill
				}
				b[pos] = byte(c)
				first := 8
				for i, v := range b {
					if v < '0' || v > '9' {
						first = i
						break
					}
				}
				m := NonDigits(binary.LittleEndian.Uint64(b[:]))
				if got := bits.TrailingZeros64(m) / 8; m == 0 && first != 8 || m != 0 && got != first {
					t.Fatalf("%q: first non-digit %d, mask %#x", b, first, m)
				}
			}
		}
	}
}
