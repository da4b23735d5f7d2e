package correlateprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/internal/redisconf"
	"github.com/cairnsec/cairn/internal/redistest"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// TestSharedStateWarnsPlainPassword: with store: redis, a password over
// plain TCP is logged once at start, naming the component and the setting.
func TestSharedStateWarnsPlainPassword(t *testing.T) {
	cfg := redisConfig(t, fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)))
	cfg.Redis.Password = "plain-s3cret"
	core, logs := observer.New(zap.WarnLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	pl, _, err := newLogsProcessor(context.Background(), set, cfg, &consumertest.LogsSink{})
	require.NoError(t, err)
	require.NoError(t, pl.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, pl.Shutdown(context.Background()))
	got := logs.FilterField(zap.String("setting", "redis.tls.insecure")).All()
	require.Len(t, got, 1)
	assert.Contains(t, got[0].Message, "plain TCP")
	assert.Equal(t, "correlate", got[0].ContextMap()["component"])
	assert.NotContains(t, got[0].Message, "plain-s3cret")
}

// TestSharedStateACLUser: two gateways logged in as their own ACL users
// limited by redisconf.ACLRules share correlation state (B continues A's
// window) without a refused command.
func TestSharedStateACLUser(t *testing.T) {
	srv := redistest.StartServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	ctx := context.Background()
	for _, user := range []string{"gw-a", "gw-b"} {
		args := []any{"ACL", "SETUSER", user, "on", ">" + user + "-pw"}
		for _, r := range strings.Fields(redisconf.ACLRules) {
			args = append(args, r)
		}
		require.NoError(t, admin.Do(ctx, args...).Err())
	}
	as := func(user string) *harness {
		cfg := redisConfig(t, srv.Addr())
		cfg.Redis.KeyPrefix = "cairn:correlate:" // the default, inside ~cairn:*
		cfg.Redis.Username = user
		cfg.Redis.Password = configopaque.String(user + "-pw")
		return newHarness(t, cfg)
	}
	a, b := as("gw-a"), as("gw-b")
	assert.Empty(t, alertsIn(a.send(attackStart)))
	require.Len(t, alertsIn(b.send(beacon)), 1, "B continues the window A started")
	assert.Zero(t, testkit.Sum(t, a.tel, "otelcol_processor_correlate_state_errors", nil))
	assert.Zero(t, testkit.Sum(t, b.tel, "otelcol_processor_correlate_state_errors", nil))
	denied, err := admin.Do(ctx, "ACL", "LOG").Slice()
	require.NoError(t, err)
	assert.Empty(t, denied, "no command was refused")
}
