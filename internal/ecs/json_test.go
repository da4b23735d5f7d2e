package ecs

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func isPlainSlow(s string, dot bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || dot && c == '.' {
			return false
		}
	}
	return true
}

// Every byte value at every position of strings of every length up to 17,
// so that each word-packing branch of isPlain meets each byte.
func TestIsPlainExhaustive(t *testing.T) {
	for n := 0; n <= 17; n++ {
		for pos := 0; pos < max(n, 1); pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				if n > 0 {
					b[pos] = byte(c)
				}
				s := string(b)
				for _, dot := range []bool{false, true} {
					require.Equal(t, isPlainSlow(s, dot), isPlain(s, dot), "%q dot=%v", s, dot)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	for range 100000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(0x1e + r.IntN(0x62)) // mostly printable, some not
		}
		s := string(b)
		require.Equal(t, isPlainSlow(s, true), isPlain(s, true), "%q", s)
	}
}

func TestAppendKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"name", `"name"`, true},
		{"", `""`, true},
		{"a.b", "", false},
		{"long.key.with.dots", "", false},
		{"é.x", "", false},
		{`q"x`, `"q\"x"`, true},
		{"line\nbreak", `"line\nbreak"`, true},
	} {
		got, ok := appendKey([]byte("prefix"), tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		if ok {
			assert.Equal(t, "prefix"+tc.want, string(got), tc.in)
		} else {
			assert.Equal(t, "prefix", string(got), "nothing written for %q", tc.in)
		}
	}
}
