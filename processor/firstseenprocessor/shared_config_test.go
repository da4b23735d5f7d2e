package firstseenprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/internal/redistest"
)

func TestRedisConfig(t *testing.T) {
	cfg, err := loadConfig(t, "redis")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "redis", cfg.Store)
	assert.Equal(t, "cairn", cfg.Redis.Sentinel.MasterName)
	assert.Equal(t, []string{"sentinel-1:26379", "sentinel-2:26379"}, cfg.Redis.Sentinel.Addresses)
	assert.Equal(t, "fleet-a:", cfg.Redis.KeyPrefix)
	assert.Equal(t, 50*time.Millisecond, cfg.Redis.Timeout)
	assert.False(t, cfg.Redis.TLS.Insecure)
	shared, err := cfg.sharedTrackers()
	require.NoError(t, err)
	// new_domain opted out; the host-scoped tracker stays local.
	assert.Equal(t, map[string]bool{"new_external_ip": true}, shared)
	// Secrets are opaque: they never print.
	assert.NotContains(t, cfg.Redis.Password.String(), "hunter2")
}

func TestRedisConfigErrors(t *testing.T) {
	base := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Store = storeRedis
		cfg.Redis.Endpoint = "localhost:6379"
		return cfg
	}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"store":         {func(c *Config) { c.Store = "memcached" }, `store must be "local" or "redis"`},
		"no address":    {func(c *Config) { c.Redis.Endpoint = "" }, "redis: set endpoint, sentinel or cluster"},
		"two modes":     {func(c *Config) { c.Redis.Cluster.Addresses = []string{"a:1"} }, "exclusive"},
		"sentinel":      {func(c *Config) { c.Redis.Endpoint = ""; c.Redis.Sentinel.MasterName = "m" }, "master_name and addresses are both required"},
		"cluster db":    {func(c *Config) { c.Redis.Endpoint = ""; c.Redis.Cluster.Addresses = []string{"a:1"}; c.Redis.DB = 2 }, "only database 0"},
		"password x2":   {func(c *Config) { c.Redis.Password = "a"; c.Redis.PasswordFile = "/f" }, "password and password_file are exclusive"},
		"timeout":       {func(c *Config) { c.Redis.Timeout = 0 }, "redis.timeout must be positive"},
		"prefix":        {func(c *Config) { c.Redis.KeyPrefix = "" }, "redis.key_prefix must not be empty"},
		"tracker store": {func(c *Config) { c.Trackers = []TrackerConfig{{Name: "new_domain", Store: "x"}} }, `trackers[new_domain]: store must be`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := base()
			tc.mod(cfg)
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// A local store needs no Redis settings at all.
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, cfg.Validate())
	// Nor does store: redis when no tracker is environment-scoped.
	cfg.Store = storeRedis
	cfg.Trackers = []TrackerConfig{{Name: "new_binary_on_host"}}
	require.NoError(t, cfg.Validate())
	// A host-scoped tracker may ask for Redis explicitly (gateways).
	cfg.Trackers = []TrackerConfig{{Name: "new_binary_on_host", Store: "redis"}}
	shared, err := cfg.sharedTrackers()
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"new_binary_on_host": true}, shared)
	require.ErrorContains(t, cfg.Validate(), "redis: set endpoint")
}

// TestRedisPasswordFile: the password is read from the file, and neither it
// nor the inline one ever reaches the logs, even when authentication fails.
func TestRedisPasswordFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(file, []byte("file-s3cret\n"), 0o600))
	rc := createDefaultConfig().(*Config).Redis
	rc.PasswordFile = file
	cc, err := rc.ClientConfig(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "file-s3cret", cc.Password)

	rc.PasswordFile = filepath.Join(dir, "missing")
	_, err = rc.ClientConfig(context.Background())
	require.ErrorContains(t, err, "redis.password_file")

	// A server that refuses the password: the batch degrades, the log says
	// why, and the secret is nowhere in it.
	srv := redistest.StartServer(t, "--requirepass", "correct-horse")
	core, logs := observer.New(zap.DebugLevel)
	cfg := fleetConfig(srv.Addr(), uniquePrefix(t))
	cfg.Redis.PasswordFile = file
	c := newCollectorLog(t, cfg, zap.New(core))
	f := newFlags()
	c.process(t, fleetGen{hosts: 5, perHost: 6, seed: 9}.split(1)[0], 10, f, nil)
	assert.Positive(t, f.degraded, "a refused password degrades, it does not fail the batch")
	require.NotZero(t, logs.Len())
	for _, e := range logs.All() {
		text := e.Message + fmt.Sprint(e.ContextMap())
		assert.NotContains(t, text, "s3cret")
		assert.NotContains(t, text, "correct-horse")
	}
	why := logs.FilterMessageSnippet("did not answer").All()
	require.NotEmpty(t, why)
	assert.Contains(t, fmt.Sprint(why[0].ContextMap()), "WRONGPASS", "the log says why")
	assert.Equal(t, 1, logs.FilterField(zap.String("setting", "redis.tls.insecure")).Len(),
		"and warns, once, that the password goes over plain TCP")
}
