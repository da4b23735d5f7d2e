package online

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func cachedClient(tb testing.TB) (*Client, string) {
	c, err := New(Config{APIKey: testKey, Endpoint: "http://127.0.0.1:1"}, nil, nil)
	require.NoError(tb, err)
	hash := hashN(42)
	c.answered(hash, Result{SHA256: hash, Found: true, Malicious: 5, Total: 70, Name: "trojan.x"})
	tb.Cleanup(func() { _ = c.Shutdown(tb.Context()) })
	return c, hash
}

func TestCachedHitDoesNotAllocate(t *testing.T) {
	c, hash := cachedClient(t)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := c.Cached(hash); !ok {
			t.Fatal("miss")
		}
	})
	require.Zero(t, allocs)
}

func BenchmarkCachedHit(b *testing.B) {
	c, hash := cachedClient(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Cached(hash); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkCachedHitParallel(b *testing.B) {
	c, hash := cachedClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Cached(hash); !ok {
				b.Fatal("miss")
			}
		}
	})
}
