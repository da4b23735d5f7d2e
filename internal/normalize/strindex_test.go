package normalize

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refQuotes is what strIndex must find, byte by byte: every quote not
// escaped by an odd run of backslashes, and every backslash or byte below
// 0x20.
func refQuotes(b []byte) (quote, dirty []bool) {
	quote, dirty = make([]bool, len(b)), make([]bool, len(b))
	esc := false
	for i, c := range b {
		dirty[i] = c == '\\' || c < 0x20
		switch {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			quote[i] = true
		}
	}
	return quote, dirty
}

func checkIndex(t *testing.T, b []byte) {
	t.Helper()
	var x strIndex
	x.build(b)
	if len(b) == 0 {
		require.False(t, x.ok, "nothing to index")
		return
	}
	require.True(t, x.ok)
	quote, dirty := refQuotes(b)
	for i := range b {
		if got := x.quote[i>>6]>>(i&63)&1 == 1; got != quote[i] {
			t.Fatalf("quote at %d of %q: %v", i, b, got)
		}
		if got := x.dirty[i>>6]>>(i&63)&1 == 1; got != dirty[i] {
			t.Fatalf("dirty at %d of %q: %v", i, b, got)
		}
	}
	// next agrees with a linear search from every position.
	for i := 0; i <= len(b); i++ {
		want := -1
		for j := i; j < len(b); j++ {
			if quote[j] {
				want = j
				break
			}
		}
		if got := x.next(i); got != want {
			t.Fatalf("next(%d) of %q = %d, want %d", i, b, got, want)
		}
	}
	// end, and its inlined shortcuts where they answer, agree with the
	// byte-wise stringEnd on a string opening at every quote.
	for i := range b {
		if b[i] != '"' {
			continue
		}
		skip, checked := stringEnd(b, i, false), stringEnd(b, i, true)
		if got := x.end(b, i, false); got != skip {
			t.Fatalf("end(%d) of %q = %d, want %d", i, b, got, skip)
		}
		if got := x.end(b, i, true); got != checked {
			t.Fatalf("end(%d, check) of %q = %d, want %d", i, b, got, checked)
		}
		if got := x.quick(i); got >= 0 && got != skip {
			t.Fatalf("quick(%d) of %q = %d, want %d", i, b, got, skip)
		}
		if got := x.quickChecked(i); got >= 0 && got != checked {
			t.Fatalf("quickChecked(%d) of %q = %d, want %d", i, b, got, checked)
		}
	}
}

func TestStrIndexMasks(t *testing.T) {
	if !haveMasks {
		t.Skip("no vector pass on this CPU")
	}
	cases := [][]byte{
		[]byte(`"`),
		[]byte(`{"a":"b"}`),
		// Backslash runs of every parity, across the 64-byte word
		// boundaries, and at the very end.
		[]byte(strings.Repeat("x", 62) + `\"` + `"` + strings.Repeat(`\\`, 40) + `"\\\"` + "\x00\x1f\x7f\x80\xff"),
		[]byte(strings.Repeat("x", 63) + `\` + `"` + strings.Repeat("y", 64) + `\`),
		[]byte(strings.Repeat(`\`, 200) + `"`),
		[]byte(strings.Repeat(`\`, 201) + `"`),
		bytes.Repeat([]byte{'"'}, 130),
	}
	for _, c := range cases {
		checkIndex(t, c)
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{'"', '\\', 'a', ' ', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xfe, '{'}
	for n := 0; n < 2000; n++ {
		b := make([]byte, rng.Intn(300))
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		checkIndex(t, b)
	}
	// Long strings, across one word boundary or several.
	for n := 0; n < 500; n++ {
		b := make([]byte, rng.Intn(600))
		for i := range b {
			if b[i] = 'a'; rng.Intn(40) == 0 {
				b[i] = alphabet[rng.Intn(len(alphabet))]
			}
		}
		checkIndex(t, b)
	}
}

// A huge line gets buffers of its own, which the next ordinary line does
// not keep.
func TestStrIndexMemoryBounded(t *testing.T) {
	if !haveMasks {
		t.Skip("no vector pass on this CPU")
	}
	var x strIndex
	x.build(bytes.Repeat([]byte("a"), 64*(maxIndexKeep+10)))
	assert.Greater(t, cap(x.quote), maxIndexKeep)
	x.build([]byte(`{"a":1}`))
	assert.LessOrEqual(t, cap(x.quote), maxIndexKeep)
}

// allInputs is every line of every fixture and capture of the package.
func allInputs(t testing.TB) [][]byte {
	var out [][]byte
	for _, l := range tetragonLines(t) {
		out = append(out, l)
	}
	for _, dir := range []string{"testdata/zeek", "testdata/falco", "testdata/sysmon", "testdata/fuzz"} {
		require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || strings.HasSuffix(p, ".md") {
				return err
			}
			out = append(out, fileLines(t, p)...)
			return nil
		}))
	}
	return out
}

// withoutIndex runs f with the vector pass switched off, as on a CPU
// without it.
func withoutIndex(f func()) {
	saved := haveMasks
	haveMasks = false
	defer func() { haveMasks = saved }()
	f()
}

type result struct {
	out []byte
	o   Outcome
	err string
}

func run(n *Normalizer, line []byte) result {
	out, o, err := n.Record(line)
	r := result{out: append([]byte(nil), out...), o: o}
	if err != nil {
		r.err = err.Error()
	}
	return r
}

// The scanner gives the same documents, outcomes and errors with the
// index as without it, on every input of the package and on broken
// variants of them (each cut short, and each with one byte changed).
func TestStrIndexSameResults(t *testing.T) {
	if !haveMasks {
		t.Skip("no vector pass on this CPU")
	}
	var inputs [][]byte
	for _, l := range allInputs(t) {
		inputs = append(inputs, l)
		for _, cut := range []int{1, len(l) / 3, len(l) / 2, len(l) - 1} {
			if cut > 0 && cut < len(l) {
				inputs = append(inputs, l[:cut])
			}
		}
		for _, c := range []byte{'"', '\\', 0x01, '}', ','} {
			for _, at := range []int{len(l) / 5, len(l) / 2, 3 * len(l) / 4} {
				if at < len(l) {
					m := append([]byte(nil), l...)
					m[at] = c
					inputs = append(inputs, m)
				}
			}
		}
	}
	for _, format := range []string{FormatAuto, FormatTetragon, FormatFalco} {
		with, without := newNormalizer(t, format), newNormalizer(t, format)
		for _, l := range inputs {
			a := run(with, l)
			var b result
			withoutIndex(func() { b = run(without, l) })
			if !assert.Equal(t, b, a, "%s: %q", format, l) {
				return
			}
		}
	}
}

// parseUint agrees with strconv on digits, bounds and what it refuses.
func TestParseUint(t *testing.T) {
	for _, s := range []string{
		"", "0", "7", "00", "255", "256", "4294967295", "4294967296", "9999999999999999999",
		"18446744073709551615", "18446744073709551616", "99999999999999999999", "123456789012345678901",
		"-1", "+1", "1a", " 1", "1.0", "١",
	} {
		for _, max := range []uint64{255, 65535, 1<<32 - 1, 1<<63 - 1, 1<<64 - 1} {
			n, ok := parseUint([]byte(s), max)
			want, err := strconv.ParseUint(s, 10, 64)
			wantOK := err == nil && want <= max && s[0] != '+'
			if !wantOK {
				want = 0
			}
			assert.Equal(t, wantOK, ok, "%q max %d", s, max)
			assert.Equal(t, want, n, "%q max %d", s, max)
		}
	}
}

// digitsEnd agrees with a byte-by-byte count on every byte value, at every
// position of a word and across words.
func TestDigitsEnd(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 20; pos++ {
			for _, fill := range []byte{'0', '9', '5'} {
				b := bytes.Repeat([]byte{fill}, 20)
				b[pos] = byte(c)
				for start := 0; start < len(b); start++ {
					want := start
					for want < len(b) && b[want] >= '0' && b[want] <= '9' {
						want++
					}
					if got := digitsEnd(b, start); got != want {
						t.Fatalf("digitsEnd(%q, %d) = %d, want %d", b, start, got, want)
					}
				}
			}
		}
	}
}
