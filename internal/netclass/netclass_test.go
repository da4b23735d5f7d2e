package netclass

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultClassification(t *testing.T) {
	c, err := New(nil, nil)
	require.NoError(t, err)
	internal := []string{"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "169.254.169.254",
		"100.64.0.1", "100.127.255.254", "224.0.0.251", "239.255.255.250", "255.255.255.255", "0.0.0.0",
		"192.0.2.10", "198.51.100.7", "203.0.113.9", "198.18.0.1", "198.19.255.1",
		"::1", "::", "fe80::1", "fd00::1", "ff02::fb", "2001:db8::1", "::ffff:10.0.0.1", "3fff::1"}
	external := []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "45.77.141.38", "2606:4700::1111", "::ffff:8.8.4.4", "192.0.3.1"}
	for _, s := range internal {
		a, ok := ParseAddr(s)
		require.True(t, ok, s)
		assert.False(t, c.IsExternal(a), s)
	}
	for _, s := range external {
		a, ok := ParseAddr(s)
		require.True(t, ok, s)
		assert.True(t, c.IsExternal(a), s)
	}
	assert.False(t, c.IsExternal(netip.Addr{}))
}

func TestUserRanges(t *testing.T) {
	c, err := New([]string{"8.8.8.0/24", "1.1.1.1"}, []string{"10.99.0.0/16"})
	require.NoError(t, err)
	a, _ := ParseAddr("8.8.8.8")
	assert.False(t, c.IsExternal(a), "declared internal")
	a, _ = ParseAddr("1.1.1.1")
	assert.False(t, c.IsExternal(a), "single address declared internal")
	a, _ = ParseAddr("10.99.3.4")
	assert.True(t, c.IsExternal(a), "lab range declared external")
	a, _ = ParseAddr("10.98.3.4")
	assert.False(t, c.IsExternal(a))

	_, err = New([]string{"10.0.0.0/33"}, nil)
	assert.ErrorContains(t, err, "internal_networks")
	_, err = New(nil, []string{"not-an-ip"})
	assert.ErrorContains(t, err, "external_networks")
}

func TestParseAddr(t *testing.T) {
	for _, s := range []string{"[2001:db8::1]", "fe80::1%eth0", "::ffff:1.2.3.4", "1.2.3.4"} {
		_, ok := ParseAddr(s)
		assert.True(t, ok, s)
	}
	for _, s := range []string{"", "1.2.3", "example.com", "[", "1.2.3.4:80"} {
		_, ok := ParseAddr(s)
		assert.False(t, ok, s)
	}
	a, _ := ParseAddr("::ffff:1.2.3.4")
	assert.True(t, a.Is4())
}
