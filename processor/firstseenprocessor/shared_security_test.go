package firstseenprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/internal/redisconf"
	"github.com/cairnsec/cairn/internal/redistest"
	"github.com/cairnsec/cairn/internal/testkit"
)

// TestSharedWarnsPlainPassword: a password over plain TCP is logged once
// at start, naming the component and the setting (and not the password);
// with TLS, nothing is.
func TestSharedWarnsPlainPassword(t *testing.T) {
	warnings := func(tlsOn bool) []observer.LoggedEntry {
		core, logs := observer.New(zap.WarnLevel)
		cfg := fleetConfig(fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)), uniquePrefix(t))
		cfg.Redis.Password = "plain-s3cret"
		cfg.Redis.DialTimeout = 100 * time.Millisecond
		cfg.Redis.TLS.Insecure = !tlsOn
		newCollectorLog(t, cfg, zap.New(core))
		return logs.FilterField(zap.String("setting", "redis.tls.insecure")).All()
	}
	got := warnings(false)
	require.Len(t, got, 1, "once, at start")
	assert.Equal(t, zapcore.WarnLevel, got[0].Level)
	assert.Contains(t, got[0].Message, "plain TCP")
	assert.Equal(t, "firstseen", got[0].ContextMap()["component"])
	assert.NotContains(t, got[0].Message+fmt.Sprint(got[0].ContextMap()), "plain-s3cret")
	assert.Empty(t, warnings(true))
}

// fleetOnce runs two collectors with cfg over a small fleet and checks
// that every environment-new term is flagged exactly once, with Redis up
// throughout (no degraded event): the shared store works over this
// connection.
func fleetOnce(t *testing.T, cfg func() *Config) {
	t.Helper()
	g := fleetGen{hosts: 40, perHost: 10, seed: 7}
	parts := g.split(2)
	var all []map[string]any
	for _, p := range parts {
		all = append(all, p...)
	}
	f := newFlags()
	for k := range parts {
		newCollector(t, cfg()).process(t, parts[k], 50, f, nil)
	}
	assert.Equal(t, len(all), f.processed)
	assert.Zero(t, f.degraded, "Redis answered every batch")
	checkExactlyOnce(t, terms(all), f)
}

// degradedWith runs one batch with cfg and returns the log of why Redis
// did not answer; the batch must be degraded.
func degradedWith(t *testing.T, cfg *Config) string {
	t.Helper()
	core, logs := observer.New(zap.WarnLevel)
	cfg.Redis.DialTimeout = 2 * time.Second
	cfg.Redis.Timeout = 2 * time.Second
	c := newCollectorLog(t, cfg, zap.New(core))
	f := newFlags()
	c.process(t, fleetGen{hosts: 2, perHost: 5, seed: 3}.split(1)[0], 10, f, nil)
	assert.Positive(t, f.degraded, "the batch is decided locally")
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Message+" "+fmt.Sprint(e.ContextMap()))
	}
	return strings.Join(out, "\n")
}

// TestSharedTLS: the shared store over TLS (server certificate of a test
// CA, tls.ca_file, insecure: false) with a password: no warning, every
// batch answered, terms flagged exactly once fleet-wide. A collector that
// does not trust the CA does not talk to that server: its batches degrade
// and the log says it is the certificate.
func TestSharedTLS(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	srv := redistest.StartTLSServer(t, files, false, "--requirepass", "tls-s3cret")
	prefix := uniquePrefix(t)
	cfg := func() *Config {
		cfg := fleetConfig(srv.Addr(), prefix)
		cfg.Redis.Password = "tls-s3cret"
		cfg.Redis.TLS = configtls.ClientConfig{Insecure: false, Config: configtls.Config{CAFile: files.CA}}
		require.NoError(t, cfg.Validate())
		return cfg
	}
	assert.Empty(t, cfg().Redis.Warnings())
	fleetOnce(t, cfg)

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "tls-s3cret", TLSConfig: files.ClientTLS(t)})
	defer admin.Close()
	keys, err := admin.Keys(context.Background(), prefix+"*").Result()
	require.NoError(t, err)
	assert.NotEmpty(t, keys, "the terms are in the TLS server")

	untrusting := cfg()
	untrusting.Redis.TLS.CAFile = "" // the system's roots only
	assert.Contains(t, degradedWith(t, untrusting), "certificate signed by unknown authority")
}

// TestSharedMutualTLS: the server requires a client certificate of its
// CA (tls-auth-clients yes); the collector presents one
// (tls.cert_file/key_file) and the shared store works; without it the
// server refuses the collector.
func TestSharedMutualTLS(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	srv := redistest.StartTLSServer(t, files, true)
	prefix := uniquePrefix(t)
	cfg := func() *Config {
		cfg := fleetConfig(srv.Addr(), prefix)
		cfg.Redis.TLS = configtls.ClientConfig{Insecure: false, Config: configtls.Config{
			CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}}
		require.NoError(t, cfg.Validate())
		return cfg
	}
	fleetOnce(t, cfg)

	noCert := cfg()
	noCert.Redis.TLS.CertFile, noCert.Redis.TLS.KeyFile = "", ""
	assert.Contains(t, degradedWith(t, noCert), "certificate required")
}

// TestSharedACLUser: collectors logged in as their own ACL users, limited
// by the recommended rules (redisconf.ACLRules) to keys under cairn:, run
// the shared store with prevalence (every script it sends) without a
// failure. A wrong password degrades, and the log says WRONGPASS. What
// such a user cannot do is in sharedstore's TestACLUser.
func TestSharedACLUser(t *testing.T) {
	srv := redistest.StartServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	ctx := context.Background()
	for _, user := range []string{"cairn-agent-1", "cairn-agent-2"} {
		args := []any{"ACL", "SETUSER", user, "on", ">" + user + "-pw"}
		for _, r := range strings.Fields(redisconf.ACLRules) {
			args = append(args, r)
		}
		require.NoError(t, admin.Do(ctx, args...).Err())
	}
	// The default user off: only the agents' users remain.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "root", "on", ">root-pw", "~*", "&*", "+@all").Err())
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "default", "off").Err())

	prefix := "cairn:firstseen:" // inside ~cairn:*
	n := 0
	cfg := func() *Config {
		n++
		cfg := prevalenceConfig(srv.Addr(), prefix, 0)
		cfg.Redis.Username = fmt.Sprintf("cairn-agent-%d", n)
		cfg.Redis.Password = configopaque.String(cfg.Redis.Username + "-pw")
		return cfg
	}
	g := fleetGen{hosts: 40, perHost: 10, seed: 11}
	parts := g.split(2)
	f := newFlags()
	for k := range parts {
		newCollector(t, cfg()).process(t, parts[k], 50, f, nil)
	}
	assert.Zero(t, f.degraded, "every batch answered under the ACL")

	root := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "root", Password: "root-pw"})
	defer root.Close()
	keys, err := root.Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, prefix), k)
	}
	failures, err := root.Do(ctx, "ACL", "LOG").Slice()
	require.NoError(t, err)
	assert.Empty(t, failures, "no command was refused")

	wrong := prevalenceConfig(srv.Addr(), prefix, 0)
	wrong.Redis.Username, wrong.Redis.Password = "cairn-agent-1", "not-the-pw-42"
	log := degradedWith(t, wrong)
	assert.Contains(t, log, "WRONGPASS")
	assert.NotContains(t, log, "not-the-pw-42")
}

// TestDocsShowACL: the README and the Redis overlay recommend the ACL
// rules the tests use.
func TestDocsShowACL(t *testing.T) {
	for _, file := range []string{
		filepath.Join(testkit.RepoRoot(), "processor", "firstseenprocessor", "README.md"),
		filepath.Join(testkit.RepoRoot(), "deploy", "cairn-redis.yaml"),
	} {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.True(t, strings.Contains(string(b), redisconf.ACLRules), "%s does not show redisconf.ACLRules:\n%s", file, redisconf.ACLRules)
	}
}
