package timestamp

import (
	"math"
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

func FuzzParseRFC3339(f *testing.F) {
	f.Add("2026-03-02T14:00:00.123Z")
	f.Add("2026-03-02T14:00:00+02:00")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseRFC3339String(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// Accepted forms are a subset of RFC 3339 that time.Parse also reads,
			// except lower-case t/z and fractions longer than nine digits.
			return
		}
		if want.UnixNano() != got {
			t.Fatalf("%q: got %d, time.Parse %d", s, got, want.UnixNano())
		}
	})
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
