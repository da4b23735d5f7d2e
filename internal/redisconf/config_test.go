package redisconf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
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

	c.TLS.InsecureSkipVerify = true
	if w := c.Warnings(); assert.Len(t, w, 1) {
		assert.Contains(t, w[0], "insecure_skip_verify")
	}
	c.TLS.InsecureSkipVerify = false

	c.TLS.Insecure = true
	c.TLS.CAFile = "/etc/cairn/redis-ca.pem"
	assert.False(t, c.PlainTCP(), "a CA turns TLS on, as configtls does")
	assert.Empty(t, c.Warnings())
	c.TLS.CAFile = ""
	assert.True(t, c.PlainTCP())

	c.TLS.Insecure = true
	c.Password = ""
	c.Sentinel.PasswordFile = "/run/secrets/sentinel"
	assert.Len(t, c.Warnings(), 1)
}

// TestLogWarnings: each warning is logged once at Warn, with the component
// and the setting, and never the password.
func TestLogWarnings(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	c := Default("cairn:")
	c.Endpoint = "redis:6379"
	c.Password = "hunter2"
	c.Sentinel.Password = "hunter3"
	c.LogWarnings(zap.New(core), "firstseen")
	entries := logs.All()
	if assert.Len(t, entries, 2) {
		for _, e := range entries {
			assert.Equal(t, zapcore.WarnLevel, e.Level)
			assert.Contains(t, e.Message, "plain TCP")
			assert.Equal(t, "firstseen", e.ContextMap()["component"])
			assert.Equal(t, "redis.tls.insecure", e.ContextMap()["setting"])
			assert.NotContains(t, e.Message, "hunter")
		}
	}

	core, logs = observer.New(zap.DebugLevel)
	c.TLS.Insecure = false
	c.LogWarnings(zap.New(core), "firstseen")
	assert.Zero(t, logs.Len(), "credentials over TLS: nothing to say")
	c.LogWarnings(nil, "firstseen") // no logger: no panic
}
