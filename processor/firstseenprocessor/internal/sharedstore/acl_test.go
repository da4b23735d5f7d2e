package sharedstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/redisconf"
	"github.com/cairnsec/cairn/internal/redistest"
)

// aclServer starts a redis-server with a user limited by
// redisconf.ACLRules (the rules the documentation recommends) and returns
// its address and an administrator client (the default user).
func aclServer(t *testing.T, user, password string) (string, *redis.Client) {
	t.Helper()
	srv := redistest.StartServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = admin.Close() })
	args := []any{"ACL", "SETUSER", user, "reset", "on", ">" + password}
	for _, r := range strings.Fields(redisconf.ACLRules) {
		args = append(args, r)
	}
	require.NoError(t, admin.Do(context.Background(), args...).Err())
	return srv.Addr(), admin
}

func userStore(t *testing.T, addr, user, password string) *Store {
	c, cluster := redisconf.NewClient(redisconf.ClientConfig{Addr: addr, Username: user, Password: password,
		DialTimeout: 2 * time.Second, IOTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return New(c, cluster)
}

// TestACLUser: a collector's own ACL user with the recommended rules runs
// every script of the store (terms, scopes, prevalence, forget, active),
// loads them, and recovers from a flushed script cache (EVAL); it cannot
// touch a key outside cairn:*, nor run anything else; a wrong password is
// refused with WRONGPASS.
func TestACLUser(t *testing.T) {
	addr, admin := aclServer(t, "cairn-agent-1", "agent-pw")
	s := userStore(t, addr, "cairn-agent-1", "agent-pw")
	ctx := context.Background()
	p := "cairn:firstseen:new_domain:d1:"

	require.NoError(t, s.Ping(ctx))
	require.NoError(t, s.LoadScripts(ctx))
	terms := &Group{TTL: time.Hour, Ops: []Op{{Key: p + "t:1", TS: 100}}}
	scopes := &Group{Scopes: true, TTL: time.Hour, Ops: []Op{{Key: p + "s:1", TS: 50}}}
	prev := &Group{Kind: Prevalence, TTL: time.Hour, HostCap: 3, History: 3600,
		Ops: []Op{{Key: p + "t:2", TS: 100, Host: 1, Learn: true}}}
	active := &Group{Kind: Active, Key: "cairn:firstseen:hosts:00000001", TTL: time.Hour, MinTS: 10,
		Ops: []Op{{Host: 1, TS: 100}}}
	require.NoError(t, s.Exec(ctx, []*Group{terms, scopes, prev, active}))
	assert.True(t, terms.Ops[0].Done && scopes.Ops[0].Done && prev.Ops[0].Done)
	assert.Equal(t, int64(1), active.Count)
	forget := &Group{Kind: Forget, TTL: time.Hour, Ops: []Op{{Key: p + "t:2", Host: 1}}}
	require.NoError(t, s.Exec(ctx, []*Group{forget}))
	assert.Zero(t, admin.Exists(ctx, p+"t:2").Val(), "forget deleted the term (DEL)")

	// A flushed script cache: NOSCRIPT, then EVAL with the source.
	require.NoError(t, admin.ScriptFlush(ctx).Err())
	terms = &Group{TTL: time.Hour, Ops: []Op{{Key: p + "t:1", TS: 200}}}
	require.NoError(t, s.Exec(ctx, []*Group{terms}))
	assert.Equal(t, uint32(100), terms.Ops[0].Stored)

	// Outside the prefix: refused, directly and through the scripts.
	c := s.Client()
	noperm := func(err error, what string) {
		t.Helper()
		if assert.Error(t, err, what) {
			assert.Contains(t, err.Error(), "NOPERM", what)
		}
	}
	require.NoError(t, admin.Set(ctx, "other:secret", "x", 0).Err())
	noperm(c.Get(ctx, "other:secret").Err(), "GET outside the prefix")
	noperm(c.Set(ctx, "other:key", "x", 0).Err(), "SET outside the prefix")
	noperm(c.Del(ctx, "other:secret").Err(), "DEL outside the prefix")
	g := &Group{TTL: time.Hour, Ops: []Op{{Key: "other:t:1", TS: 1}}}
	noperm(s.Exec(ctx, []*Group{g}), "a script on a key outside the prefix")
	noperm(c.FlushAll(ctx).Err(), "FLUSHALL")
	noperm(c.Keys(ctx, "*").Err(), "KEYS")
	noperm(c.ConfigSet(ctx, "requirepass", "x").Err(), "CONFIG SET")
	noperm(c.Do(ctx, "ACL", "SETUSER", "cairn-agent-1", "+@all").Err(), "ACL SETUSER")
	err := c.Eval(ctx, "return redis.call('FLUSHALL')", nil).Err()
	require.Error(t, err, "a script calling a command outside the rules")
	assert.Contains(t, err.Error(), "can't run this command")
	assert.Equal(t, "x", admin.Get(ctx, "other:secret").Val(), "the other key is untouched")
	assert.Zero(t, admin.Exists(ctx, "other:key", "other:t:1").Val())

	// A wrong password.
	bad := userStore(t, addr, "cairn-agent-1", "not-the-pw-42")
	err = bad.Ping(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WRONGPASS")
	assert.NotContains(t, err.Error(), "not-the-pw-42", "the password is not in the error")
	err = bad.Exec(ctx, []*Group{{TTL: time.Hour, Ops: []Op{{Key: p + "t:9", TS: 1}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WRONGPASS")
}
