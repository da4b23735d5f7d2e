package glob

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMatch(t *testing.T) {
	yes := [][2]string{
		{"*", ""}, {"*", "anything/at/all"}, {"/opt/*", "/opt/a/b/c"}, {"*.corp.example", "a.b.corp.example"},
		{"a?c", "abc"}, {"a*b*c", "aXXbYYc"}, {"exact", "exact"}, {"*x", "xxxx"},
	}
	no := [][2]string{
		{"a?c", "ac"}, {"/opt/*", "/usr/opt/a"}, {"*.corp.example", "corp.example"}, {"exact", "exactly"}, {"a*b", "acb-"},
	}
	for _, c := range yes {
		assert.True(t, Match(c[0], c[1]), "%q ~ %q", c[0], c[1])
	}
	for _, c := range no {
		assert.False(t, Match(c[0], c[1]), "%q !~ %q", c[0], c[1])
	}
	assert.True(t, IsPattern("a*"))
	assert.False(t, IsPattern("/usr/bin/ls"))
}

func FuzzMatch(f *testing.F) {
	f.Add("*a*b", "xxaxxb")
	f.Fuzz(func(t *testing.T, p, s string) {
		_ = Match(p, s)
		if !IsPattern(p) {
			assert.Equal(t, p == s, Match(p, s))
		}
	})
}
