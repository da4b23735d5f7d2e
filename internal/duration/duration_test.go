package duration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	cases := map[string]time.Duration{
		"0":     0,
		"30d":   30 * 24 * time.Hour,
		"1w":    7 * 24 * time.Hour,
		"1w2d":  9 * 24 * time.Hour,
		"2d12h": 60 * time.Hour,
		"36h":   36 * time.Hour,
		"90s":   90 * time.Second,
		"1.5h":  90 * time.Minute,
		"-1d":   -24 * time.Hour,
	}
	for in, want := range cases {
		got, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got.D(), in)
	}
	for _, bad := range []string{"", "d", "30", "3x", "1dd", "99999999999999999999d"} {
		_, err := Parse(bad)
		assert.Error(t, err, bad)
	}
}

func TestText(t *testing.T) {
	var d Duration
	require.NoError(t, d.UnmarshalText([]byte("30d")))
	b, err := d.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "30d", string(b))
	assert.Equal(t, "1h30m0s", Duration(90*time.Minute).String())
	assert.Error(t, d.UnmarshalText([]byte("soon")))
}
