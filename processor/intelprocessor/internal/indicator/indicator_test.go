package indicator

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize(t *testing.T) {
	h := strings.Repeat("AB", 32)
	got, err := Normalize(SHA256, " "+h+" ")
	require.NoError(t, err)
	assert.Equal(t, strings.ToLower(h), got)
	_, err = Normalize(SHA256, h[:63])
	assert.Error(t, err)
	_, err = Normalize(MD5, strings.Repeat("g", 32))
	assert.Error(t, err)
	got, err = Normalize(IP, "::ffff:1.2.3.4")
	require.NoError(t, err)
	assert.Equal(t, "1.2.3.4", got)
	got, err = Normalize(IP, "[2001:DB8::1]")
	require.NoError(t, err)
	assert.Equal(t, "2001:db8::1", got)
	_, err = Normalize(IP, "1.2.3")
	assert.Error(t, err)
	got, err = Normalize(Domain, "L.GS.THC.ORG.")
	require.NoError(t, err)
	assert.Equal(t, "l.gs.thc.org", got)
	_, err = Normalize(Domain, "http://x/")
	assert.Error(t, err)
	_, err = Normalize(Unknown, "x")
	assert.Error(t, err)
}

func TestVerdictsAndTypes(t *testing.T) {
	for in, want := range map[string]Verdict{"Malicious": Malicious, "allow": Benign, "suspicious": Suspicious, " bad ": Malicious} {
		v, err := ParseVerdict(in)
		require.NoError(t, err)
		assert.Equal(t, want, v)
	}
	_, err := ParseVerdict("maybe")
	assert.Error(t, err)
	assert.Equal(t, "file", SHA1.ECSType())
	assert.Equal(t, "domain-name", Domain.ECSType())
	assert.Equal(t, "ipv4-addr", IP.ECSType())
	assert.Equal(t, SHA256, HashType(strings.Repeat("a", 64)))
	assert.Equal(t, Unknown, HashType("abc"))
	assert.Equal(t, "malicious", Malicious.String())
}

func TestValidAt(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	i := Indicator{ValidFrom: from, ValidUntil: from.Add(24 * time.Hour)}
	assert.False(t, i.ValidAt(from.Add(-time.Second)))
	assert.True(t, i.ValidAt(from))
	assert.False(t, i.ValidAt(from.Add(24*time.Hour)))
	assert.True(t, (&Indicator{}).ValidAt(from))
}
