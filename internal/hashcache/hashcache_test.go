package hashcache

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func wait(t *testing.T, f *Future) (string, Status) {
	t.Helper()
	select {
	case <-f.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("hash did not complete")
	}
	s, st, _ := f.Result()
	return s, st
}

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	return f
}

func TestHashCachedAndRehashedOnReplace(t *testing.T) {
	c, err := New(Config{MaxEntries: 16, MaxFileSize: 1 << 20})
	require.NoError(t, err)
	defer c.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "bin")
	one := []byte("first content")
	require.NoError(t, os.WriteFile(p, one, 0o755))

	s, st := wait(t, c.Submit(open(t, p)))
	assert.Equal(t, OK, st)
	assert.Equal(t, sumOf(one), s)
	f := c.Submit(open(t, p))
	assert.True(t, f.Ready(), "second request is a cache hit")
	s, _ = wait(t, f)
	assert.Equal(t, sumOf(one), s)
	assert.Equal(t, uint64(1), c.Stats().Hashed)

	// Replace by rename: a new inode, hashed again.
	two := []byte("second, different content")
	tmp := filepath.Join(dir, "bin.new")
	require.NoError(t, os.WriteFile(tmp, two, 0o755))
	require.NoError(t, os.Rename(tmp, p))
	s, st = wait(t, c.Submit(open(t, p)))
	assert.Equal(t, OK, st)
	assert.Equal(t, sumOf(two), s)
	assert.Equal(t, uint64(2), c.Stats().Hashed)

	// Rewritten in place with the same size: the mtime changes the key.
	three := []byte("second, DIFFERENT content")
	require.NoError(t, os.WriteFile(p, three, 0o755))
	future := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(p, future, future))
	s, _ = wait(t, c.Submit(open(t, p)))
	assert.Equal(t, sumOf(three), s)
}

func TestTooLargeAndDeleted(t *testing.T) {
	c, err := New(Config{MaxEntries: 4, MaxFileSize: 10})
	require.NoError(t, err)
	defer c.Close()
	p := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(p, make([]byte, 11), 0o644))
	f := c.Submit(open(t, p))
	_, st := wait(t, f)
	assert.Equal(t, TooLarge, st)

	// An open file stays hashable after it is deleted.
	small := []byte("tiny")
	q := filepath.Join(t.TempDir(), "gone")
	require.NoError(t, os.WriteFile(q, small, 0o644))
	fh := open(t, q)
	require.NoError(t, os.Remove(q))
	s, st := wait(t, c.Submit(fh))
	assert.Equal(t, OK, st)
	assert.Equal(t, sumOf(small), s)
}

func TestBudgetAndQueue(t *testing.T) {
	// 1 MiB at 2 MiB/s with a 256 KiB burst: about 0.4 s.
	c, err := New(Config{MaxEntries: 4, BytesPerSecond: 2 << 20, QueueSize: 1})
	require.NoError(t, err)
	defer c.Close()
	dir := t.TempDir()
	var paths []string
	for i := 0; i < 4; i++ {
		p := filepath.Join(dir, string(rune('a'+i)))
		b := make([]byte, 1<<20)
		b[0] = byte(i)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		paths = append(paths, p)
	}
	start := time.Now()
	first := c.Submit(open(t, paths[0]))
	// Identical concurrent requests share the work.
	dup := c.Submit(open(t, paths[0]))
	var futs []*Future
	for _, p := range paths[1:] {
		futs = append(futs, c.Submit(open(t, p)))
	}
	wait(t, first)
	wait(t, dup)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "budget respected")
	full := 0
	for _, f := range futs {
		if _, st := wait(t, f); st == QueueFull {
			full++
		}
	}
	assert.GreaterOrEqual(t, full, 1, "a full queue refuses work instead of blocking")
	assert.Equal(t, c.Stats().QueueFull, uint64(full))
}

func TestCloseCompletesPending(t *testing.T) {
	c, err := New(Config{MaxEntries: 4, BytesPerSecond: 1, QueueSize: 8})
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "x")
	require.NoError(t, os.WriteFile(p, make([]byte, 1<<20), 0o644))
	f := c.Submit(open(t, p))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Close() }()
	_, st := wait(t, f)
	assert.Equal(t, Closed, st)
	wg.Wait()
}
