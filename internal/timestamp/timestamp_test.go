package timestamp

import (
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRFC3339MatchesTimeParse(t *testing.T) {
	for _, s := range []string{
		"2026-03-02T14:00:00Z", "2026-03-02T14:00:00.123Z", "2026-03-02T14:00:00.123456789Z",
		"2026-03-02T14:00:00.1234567891Z", "2026-03-02T14:00:00+02:00",
		"2026-03-02T14:00:00.5-07:30", "2024-02-29T00:00:00Z", "1970-01-01T00:00:01Z", "2262-01-01T00:00:00Z",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		assert.NoError(t, err, s)
		got, ok := ParseRFC3339String(s)
		assert.True(t, ok, s)
		assert.Equal(t, want.UnixNano(), got, s)
	}
}

func TestLowerCaseSeparators(t *testing.T) {
	// RFC 3339 allows lower-case t and z; time.Parse does not, this does.
	got, ok := ParseRFC3339String("2026-03-02t14:00:00z")
	assert.True(t, ok)
	assert.Equal(t, time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC).UnixNano(), got)
}

func TestParseRFC3339Rejects(t *testing.T) {
	for _, s := range []string{
		"", "2026-03-02", "2026-03-02 14:00:00Z", "2026-13-02T14:00:00Z", "2025-02-29T00:00:00Z",
		"2026-03-02T24:00:00Z", "2026-03-02T14:00:00", "2026-03-02T14:00:00.Z", "2026-03-02T14:00:00+2:00",
		"1969-12-31T23:59:59Z", "2263-01-01T00:00:00Z", "yesterday-at-noon-ish", "2026-03-02T14:00:00+24:00",
	} {
		_, ok := ParseRFC3339String(s)
		assert.False(t, ok, s)
	}
}

func TestEpochMillis(t *testing.T) {
	ns, ok := EpochMillis(true, 1772460000123, 0)
	assert.True(t, ok)
	assert.Equal(t, int64(1772460000123000000), ns)
	ns, ok = EpochMillis(false, 0, 1.5)
	assert.True(t, ok)
	assert.Equal(t, int64(1500000), ns)
	for _, c := range []struct {
		isInt bool
		i     int64
		f     float64
	}{{true, 0, 0}, {true, -1, 0}, {true, 1 << 62, 0}, {false, 0, -1}, {false, 0, 1e300}} {
		_, ok := EpochMillis(c.isInt, c.i, c.f)
		assert.False(t, ok, "%+v", c)
	}
}

// rfc3339Shape is the form ParseRFC3339 reads (RFC 3339's date-time).
var rfc3339Shape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

// reference is what ParseRFC3339 must return, from time.Parse: the same
// form, lower-case t and z allowed, digits past the ninth truncated, an
// offset of at most 23:59, a time from the Unix epoch to the end of int64
// nanoseconds.
func reference(s string) (int64, bool) {
	if !rfc3339Shape.MatchString(s) {
		return 0, false
	}
	s = s[:10] + "T" + s[11:]
	if z := len(s) - 1; s[z] == 'z' {
		s = s[:z] + "Z"
	}
	if s[19] == '.' {
		end := 20
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end > 29 {
			s = s[:29] + s[end:]
		}
	}
	if tz := s[len(s)-6:]; tz[0] == '+' || tz[0] == '-' {
		if tz[1:3] > "23" || tz[4:6] > "59" {
			return 0, false
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1969 || t.Year() > 2262 || t.Unix() < 0 || t.After(time.Unix(0, math.MaxInt64)) {
		return 0, false
	}
	return t.UnixNano(), true
}

// ParseRFC3339 against the reference, on what it accepts and on what it
// refuses: every byte position of the word-at-a-time checks matters.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{
		"2026-03-02T14:00:00.123Z", "2026-03-02T14:00:00+02:00", "2026-03-02t14:00:00z",
		"2026-03-02T14:00:00.1234567891234Z", "2026-03-02T14:00:00.Z", "2026-03-02T14:00:00,5Z",
		"2026/03/02T14:00:00Z", "2026-03-02T14-00:00Z", "2026-03-02T14:00-00Z", "2026-03-02X14:00:00Z",
		"2026-03-02T14:00:60Z", "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2026-0:-02T14:00:00Z",
		"2026-03-02T14:00:00+23:59", "2026-03-02T14:00:00-24:00", "1970-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseRFC3339String(s)
		want, wantOK := reference(s)
		if ok != wantOK || got != want {
			t.Fatalf("%q: got %d %v, reference %d %v", s, got, ok, want, wantOK)
		}
	})
}

// Each byte of the fixed part replaced by every other byte: the result
// agrees with the reference.
func TestParseRFC3339EveryByte(t *testing.T) {
	for _, base := range []string{"2026-03-02T14:05:09.123Z", "2024-02-29t23:59:59+05:30"} {
		for i := 0; i < len(base); i++ {
			for c := 0; c < 256; c++ {
				b := []byte(base)
				b[i] = byte(c)
				got, ok := ParseRFC3339(b)
				want, wantOK := reference(string(b))
				if ok != wantOK || got != want {
					t.Fatalf("%q: got %d %v, reference %d %v", b, got, ok, want, wantOK)
				}
			}
		}
	}
}

// Every day of the years accepted, at a few times of day and offsets,
// against time.Parse: the calendar arithmetic is Cairn's own.
func TestParseRFC3339EveryDay(t *testing.T) {
	for d := time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() <= 2262; d = d.AddDate(0, 0, 1) {
		for _, clock := range []string{"T00:00:00Z", "T23:59:59.999999999Z", "T12:34:56+05:30", "T00:00:01-11:00"} {
			s := d.Format("2006-01-02") + clock
			want, err := time.Parse(time.RFC3339Nano, s)
			require.NoError(t, err)
			got, ok := ParseRFC3339String(s)
			if want.Unix() < 0 || want.After(time.Unix(0, math.MaxInt64)) {
				require.False(t, ok, "%s is out of range", s)
				continue
			}
			require.True(t, ok, s)
			require.Equal(t, want.UnixNano(), got, s)
		}
	}
	for _, s := range []string{"1969-12-31T23:59:59Z", "2262-04-11T23:47:16.854775808Z", "2262-12-31T00:00:00Z"} {
		_, ok := ParseRFC3339String(s)
		assert.False(t, ok, "%s is out of range", s)
	}
}

func BenchmarkParseRFC3339(b *testing.B) {
	s := []byte("2022-02-01T18:01:56.411Z")
	for i := 0; i < b.N; i++ {
		if _, ok := ParseRFC3339(s); !ok {
			b.Fatal("refused")
		}
	}
}
