package sharedstore

import (
	"github.com/cairnsec/cairn/internal/redisconf"

	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/redistest"
)

func newStore(t *testing.T) (*Store, string) {
	addr := redistest.Addr(t)
	c, cluster := redisconf.NewClient(redisconf.ClientConfig{Addr: addr, DialTimeout: time.Second, IOTimeout: time.Second})
	require.False(t, cluster)
	t.Cleanup(func() { _ = c.Close() })
	prefix := fmt.Sprintf("cairntest:sharedstore:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return New(c, false), prefix
}

func TestTermAndScopeSemantics(t *testing.T) {
	s, p := newStore(t)
	ctx := context.Background()
	run := func(scopes bool, key string, ts uint32) uint32 {
		g := &Group{Scopes: scopes, TTL: time.Hour, Ops: []Op{{Key: p + key, TS: ts}}}
		require.NoError(t, s.Exec(ctx, []*Group{g}))
		require.True(t, g.Ops[0].Done)
		return g.Ops[0].Stored
	}
	assert.Equal(t, uint32(0), run(false, "t", 100), "absent")
	assert.Equal(t, uint32(100), run(false, "t", 50), "earlier event: previous time, not lowered")
	assert.Equal(t, uint32(100), run(false, "t", 200), "later event: previous time, then raised")
	assert.Equal(t, uint32(200), run(false, "t", 150))
	ttl, err := s.Client().PTTL(ctx, p+"t").Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 5, "history as TTL")

	assert.Equal(t, uint32(500), run(true, "s", 500), "scope: stored first time")
	assert.Equal(t, uint32(400), run(true, "s", 400), "earlier first event wins")
	assert.Equal(t, uint32(400), run(true, "s", 900))
}

// TestExactlyOneNew: many clients racing on the same keys; each key is
// reported absent to exactly one of them.
func TestExactlyOneNew(t *testing.T) {
	s, p := newStore(t)
	const workers, keys = 8, 2000
	var absent [keys]atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < keys; start += 250 {
				g := &Group{TTL: time.Hour}
				for k := start; k < start+250; k++ {
					// Each worker sends the keys in a different order.
					kk := start + (k-start+w*37)%250
					g.Ops = append(g.Ops, Op{Key: fmt.Sprintf("%sk%d", p, kk), TS: uint32(1000 + w)})
				}
				if err := s.Exec(context.Background(), []*Group{g}); err != nil {
					t.Error(err)
					return
				}
				for _, op := range g.Ops {
					if op.Stored == 0 {
						var k int
						_, _ = fmt.Sscanf(op.Key[len(p):], "k%d", &k)
						absent[k].Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	for k := range absent {
		require.Equal(t, int32(1), absent[k].Load(), "key %d", k)
	}
}

// TestScriptCacheFlushed: after SCRIPT FLUSH (or a restart) EVALSHA gets
// NOSCRIPT; Exec retries those calls with EVAL, once, without side effects.
func TestScriptCacheFlushed(t *testing.T) {
	s, p := newStore(t)
	ctx := context.Background()
	require.NoError(t, s.Client().ScriptFlush(ctx).Err())
	g := &Group{TTL: time.Hour, Ops: []Op{{Key: p + "a", TS: 10}, {Key: p + "b", TS: 10}}}
	before := s.RoundTrips()
	require.NoError(t, s.Exec(ctx, []*Group{g}))
	assert.Equal(t, before+2, s.RoundTrips())
	for _, op := range g.Ops {
		assert.True(t, op.Done)
		assert.Equal(t, uint32(0), op.Stored)
	}
	// Loaded now: one round trip again.
	g = &Group{TTL: time.Hour, Ops: []Op{{Key: p + "a", TS: 20}}}
	require.NoError(t, s.Exec(ctx, []*Group{g}))
	assert.Equal(t, before+3, s.RoundTrips())
	assert.Equal(t, uint32(10), g.Ops[0].Stored)
}

func TestChunking(t *testing.T) {
	s, p := newStore(t)
	g := &Group{TTL: time.Minute}
	for i := 0; i < 3*ChunkKeys+7; i++ {
		g.Ops = append(g.Ops, Op{Key: fmt.Sprintf("%sc%d", p, i), TS: 5})
	}
	before := s.RoundTrips()
	require.NoError(t, s.Exec(context.Background(), []*Group{g}))
	assert.Equal(t, before+1, s.RoundTrips(), "one pipeline whatever the number of chunks")
	for _, op := range g.Ops {
		require.True(t, op.Done)
	}
	n, err := s.Client().(*redis.Client).Exists(context.Background(), g.Ops[0].Key, g.Ops[len(g.Ops)-1].Key).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}

func TestUnreachable(t *testing.T) {
	c, _ := redisconf.NewClient(redisconf.ClientConfig{Addr: fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)), DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	s := New(c, false)
	g := &Group{TTL: time.Minute, Ops: []Op{{Key: "x", TS: 1}}}
	err := s.Exec(context.Background(), []*Group{g})
	require.Error(t, err)
	assert.False(t, g.Ops[0].Done)
}
