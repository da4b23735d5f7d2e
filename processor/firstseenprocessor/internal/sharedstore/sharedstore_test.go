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

func TestPrevalenceScript(t *testing.T) {
	s, p := newStore(t)
	ctx := context.Background()
	key := p + "term"
	run := func(ts, host uint32, learn bool) Op {
		t.Helper()
		g := &Group{Kind: Prevalence, TTL: time.Hour, HostCap: 3, History: 1000, Ops: []Op{{Key: key, TS: ts, Host: host, Learn: learn}}}
		require.NoError(t, s.Exec(ctx, []*Group{g}))
		require.True(t, g.Ops[0].Done)
		return g.Ops[0]
	}
	get := func() string { v, _ := s.Client().Get(ctx, key).Result(); return v }

	op := run(100, 7, false)
	assert.Equal(t, uint32(0), op.Stored, "absent")
	assert.Empty(t, get(), "a look records nothing")
	op = run(100, 7, true)
	assert.Equal(t, Op{Key: key, TS: 100, Host: 7, Learn: true, Done: true}, op)
	assert.Equal(t, "100:00000007", get())
	op = run(110, 7, true)
	assert.Equal(t, 1, op.Hosts)
	assert.True(t, op.Had)
	assert.Equal(t, uint32(100), op.Stored)
	op = run(105, 0xabcdef01, true)
	assert.Equal(t, 1, op.Hosts)
	assert.False(t, op.Had)
	assert.Equal(t, "110:00000007,abcdef01", get(), "the later time kept, the host added")
	op = run(120, 9, false)
	assert.Equal(t, 2, op.Hosts)
	assert.Equal(t, "110:00000007,abcdef01", get())
	// The third host fills the bound: saturated.
	run(120, 9, true)
	assert.Equal(t, "120:*", get())
	op = run(130, 7, true)
	assert.Equal(t, 3, op.Hosts)
	assert.False(t, op.Had, "a saturated set no longer knows its hosts")
	ttl, err := s.Client().PTTL(ctx, key).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 5)
	// Past the history the term is new again: its set starts over.
	op = run(2000, 5, true)
	assert.Equal(t, uint32(130), op.Stored)
	assert.Zero(t, op.Hosts)
	assert.Equal(t, "2000:00000005", get())

	// A value from before host sets: known everywhere.
	require.NoError(t, s.Client().Set(ctx, key, "500", time.Hour).Err())
	op = run(600, 1, true)
	assert.Equal(t, uint32(500), op.Stored)
	assert.Equal(t, 3, op.Hosts)
	assert.Equal(t, "600:*", get())
	// And the plain term script reads the new format, keeping the hosts.
	g := &Group{TTL: time.Hour, Ops: []Op{{Key: key, TS: 700}}}
	require.NoError(t, s.Exec(ctx, []*Group{g}))
	assert.Equal(t, uint32(600), g.Ops[0].Stored)
	assert.Equal(t, "700:*", get())
}

func TestForgetScript(t *testing.T) {
	s, p := newStore(t)
	ctx := context.Background()
	c := s.Client()
	require.NoError(t, c.Set(ctx, p+"a", "100:00000001,00000002", time.Hour).Err())
	require.NoError(t, c.Set(ctx, p+"b", "100:00000001", time.Hour).Err())
	require.NoError(t, c.Set(ctx, p+"c", "100:*", time.Hour).Err())
	require.NoError(t, c.Set(ctx, p+"d", "100", time.Hour).Err())
	g := &Group{Kind: Forget, Ops: []Op{{Key: p + "a", Host: 1}, {Key: p + "b", Host: 1}, {Key: p + "c", Host: 1}, {Key: p + "d", Host: 1}, {Key: p + "e", Host: 1}}}
	require.NoError(t, s.Exec(ctx, []*Group{g}))
	for _, op := range g.Ops {
		assert.True(t, op.Done)
	}
	v, _ := c.Get(ctx, p+"a").Result()
	assert.Equal(t, "100:00000002", v)
	ttl, _ := c.PTTL(ctx, p+"a").Result()
	assert.Greater(t, ttl, 50*time.Minute, "the TTL is kept")
	n, _ := c.Exists(ctx, p+"b").Result()
	assert.Zero(t, n, "a term left without hosts is deleted")
	v, _ = c.Get(ctx, p+"c").Result()
	assert.Equal(t, "100:*", v, "saturated: hosts unknown, left alone")
	v, _ = c.Get(ctx, p+"d").Result()
	assert.Equal(t, "100", v)
}

func TestActiveScript(t *testing.T) {
	s, p := newStore(t)
	ctx := context.Background()
	g := &Group{Kind: Active, Key: p + "hosts", TTL: time.Hour, MinTS: 100,
		Ops: []Op{{Host: 1, TS: 150}, {Host: 2, TS: 150}, {Host: 3, TS: 50}}}
	require.NoError(t, s.Exec(ctx, []*Group{g}))
	assert.True(t, g.CountDone)
	assert.Equal(t, int64(2), g.Count, "host 3 is older than the window")
	// Later times win; the window moves; an empty group still counts.
	g = &Group{Kind: Active, Key: p + "hosts", TTL: time.Hour, MinTS: 160, Ops: []Op{{Host: 1, TS: 200}, {Host: 1, TS: 120}}}
	require.NoError(t, s.Exec(ctx, []*Group{g}))
	assert.Equal(t, int64(1), g.Count)
	g = &Group{Kind: Active, Key: p + "hosts", TTL: time.Hour, MinTS: 160}
	before := s.RoundTrips()
	require.NoError(t, s.Exec(ctx, []*Group{g}))
	assert.Equal(t, int64(1), g.Count)
	assert.Equal(t, before+1, s.RoundTrips())
}
