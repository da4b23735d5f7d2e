package store

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHexWord(t *testing.T) {
	r := newRand(9)
	for range 20000 {
		var b [8]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		s := hex.EncodeToString(b[:])
		if r.IntN(2) == 0 {
			s = strings.ToUpper(s)
		} else if r.IntN(2) == 0 {
			s = randomCase(r, s)
		}
		for _, n := range []int{16, 8, 4, 1} {
			w, ok := hexWord(s[:n])
			assert.True(t, ok, s[:n])
			assert.Equal(t, keyWord(b[:n/2+n%2])>>(64-4*uint(n))<<(64-4*uint(n)), w, s[:n])
		}
	}
	// Every byte value in every position: only hex digits are accepted.
	for pos := range 16 {
		for c := range 256 {
			s := []byte("0123456789abcdef")
			s[pos] = byte(c)
			_, ok := hexWord(string(s))
			_, ok8 := hexWord(string(s[pos&^7 : pos&^7+8]))
			valid := strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) && c < 0x80
			assert.Equal(t, valid, ok, "%q at %d", c, pos)
			assert.Equal(t, valid, ok8, "%q at %d", c, pos)
		}
	}
}
