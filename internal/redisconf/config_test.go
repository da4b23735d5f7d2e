package redisconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWarnings(t *testing.T) {
	c := Default("cairn:")
	c.Endpoint = "redis:6379"
	assert.Empty(t, c.Warnings(), "no credentials, nothing to leak")

	c.Password = "secret"
	w := c.Warnings()
	if assert.Len(t, w, 1) {
		assert.Contains(t, w[0], "plain TCP")
		assert.NotContains(t, w[0], "secret", "never the password itself")
	}

	c.TLS.Insecure = false
	assert.Empty(t, c.Warnings(), "TLS on")

	c.TLS.Insecure = true
	c.Password = ""
	c.Sentinel.PasswordFile = "/run/secrets/sentinel"
	assert.Len(t, c.Warnings(), 1)
}
