package store

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHex8(t *testing.T) {
	r := newRand(9)
	for range 20000 {
		var b [4]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		s := hex.EncodeToString(b[:])
		switch r.IntN(3) {
		case 0:
			s = strings.ToUpper(s)
		case 1:
			s = randomCase(r, s)
		}
		w, ok := hex8(s)
		assert.True(t, ok, s)
		assert.Equal(t, binary.BigEndian.Uint32(b[:]), w, s)
	}
	// Every byte value in every position: only hex digits are accepted.
	for pos := range 8 {
		for c := range 256 {
			s := []byte("09afAF3c")
			s[pos] = byte(c)
			_, ok := hex8(string(s))
			assert.Equal(t, isHexDigit(byte(c)), ok, "%q at %d", c, pos)
		}
	}
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func TestHexEqual(t *testing.T) {
	r := newRand(10)
	for range 20000 {
		b := make([]byte, 4*(1+r.IntN(6)))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		s := hex.EncodeToString(b)
		assert.True(t, hexEqual(b, s), s)
		assert.True(t, hexEqual(b, strings.ToUpper(s)), s)
		assert.True(t, hexEqual(b, randomCase(r, s)), s)
		// Any other byte anywhere breaks the match.
		pos := r.IntN(len(s))
		other := []byte(s)
		for other[pos] == s[pos] || other[pos]|0x20 == s[pos]|0x20 && isHexDigit(other[pos]) {
			other[pos] = byte(r.Uint32())
		}
		assert.False(t, hexEqual(b, string(other)), "%q vs %q", other, s)
	}
	// Exhaustively: one position, every byte value.
	b := []byte{0x0a, 0x1b, 0x2c, 0x3d}
	s := "0a1b2c3d"
	for pos := range 8 {
		for c := range 256 {
			q := []byte(s)
			q[pos] = byte(c)
			want := c == int(s[pos]) || (isHexDigit(byte(c)) && byte(c)|0x20 == s[pos])
			assert.Equal(t, want, hexEqual(b, string(q)), "%q at %d", c, pos)
		}
	}
}
