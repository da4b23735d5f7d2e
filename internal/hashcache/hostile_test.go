package hashcache

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Statuses are compared as strings in these tests so that they also build
// against the package before the statuses they check existed.

// TestRewriteInPlaceRestoredMtime: a binary rewritten in place, at the same
// size, with its modification time set back, is hashed again. The key
// holds the status change time, which a user cannot set back.
func TestRewriteInPlaceRestoredMtime(t *testing.T) {
	c, err := New(Config{MaxEntries: 16, MaxFileSize: 1 << 20})
	require.NoError(t, err)
	defer c.Close()
	p := filepath.Join(t.TempDir(), "tool")
	benign := []byte("benign program bytes, version 1")
	require.NoError(t, os.WriteFile(p, benign, 0o755))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	s, _ := wait(t, c.Submit(open(t, p)))
	require.Equal(t, sumOf(benign), s)

	// The kernel's file times tick coarsely (a jiffy): let one pass so
	// that the rewrite is not stamped with the very same ctime.
	time.Sleep(50 * time.Millisecond)
	evil := []byte("EVIL program bytes, version 666")
	require.Len(t, evil, len(benign))
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(evil, 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	after, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, fi.ModTime(), after.ModTime(), "mtime restored")
	require.Equal(t, fi.Size(), after.Size())

	s, st := wait(t, c.Submit(open(t, p)))
	assert.Equal(t, "ok", string(st))
	assert.Equal(t, sumOf(evil), s, "the old sum was served for rewritten content")
}

// sparseCopy writes a copy of src grown to size with a hole (a sparse file
// occupying what src does on disk).
func sparseCopy(t testing.TB, src, dst string, size int64) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o755))
	require.NoError(t, os.Truncate(dst, size))
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(dst, &st))
	require.Less(t, st.Blocks*512, size/4, "the file system made the copy sparse")
}

// TestSparseFileNotRead: a 127 MiB sparse copy of /bin/true (a few KB on
// disk) is refused at once, before anything is read, instead of costing
// the budget (32 MiB/s, the receiver's default) four seconds; a small hole
// (alignment padding) is hashed like the zeros it reads as.
func TestSparseFileNotRead(t *testing.T) {
	c, err := New(Config{MaxEntries: 16, MaxFileSize: 128 << 20, BytesPerSecond: 32 << 20})
	require.NoError(t, err)
	defer c.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "true")
	sparseCopy(t, "/bin/true", p, 127<<20)
	start := time.Now()
	_, st := wait(t, c.Submit(open(t, p)))
	assert.Equal(t, "sparse", string(st))
	assert.Less(t, time.Since(start), time.Second)
	assert.Less(t, c.Stats().BytesRead, uint64(1<<20), "holes were read")

	q := filepath.Join(dir, "padded")
	head, tail := bytes.Repeat([]byte{1}, 4096), bytes.Repeat([]byte{2}, 4096)
	f, err := os.Create(q)
	require.NoError(t, err)
	_, err = f.Write(head)
	require.NoError(t, err)
	_, err = f.WriteAt(tail, 4096+(2<<20))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	want := append(append(append([]byte(nil), head...), make([]byte, 2<<20)...), tail...)
	s, st := wait(t, c.Submit(open(t, q)))
	assert.Equal(t, "ok", string(st))
	assert.Equal(t, sumOf(want), s)
}

func denseFile(t testing.TB, dir, name string, size int, fill byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte{fill}, size), 0o755))
	return p
}

// TestSmallFileNotBehindLargeOnes: files are hashed a chunk at a time in
// turn, so a small executable submitted after three large ones of the same
// owner is done long before them: here it gets a quarter of a 8 MiB/s
// budget (1 MiB: about half a second) instead of waiting six seconds.
func TestSmallFileNotBehindLargeOnes(t *testing.T) {
	c, err := New(Config{MaxEntries: 16, MaxFileSize: 64 << 20, BytesPerSecond: 8 << 20})
	require.NoError(t, err)
	defer c.Close()
	dir := t.TempDir()
	var big []*Future
	for i := range 3 {
		big = append(big, c.Submit(open(t, denseFile(t, dir, "big"+string(rune('a'+i)), 16<<20, byte(i+1)))))
	}
	small := denseFile(t, dir, "small", 1<<20, 9)
	start := time.Now()
	s, st := wait(t, c.Submit(open(t, small)))
	took := time.Since(start)
	assert.Equal(t, "ok", string(st))
	assert.Equal(t, sumOf(bytes.Repeat([]byte{9}, 1<<20)), s)
	assert.Less(t, took, 2*time.Second, "the small file waited behind the large ones")
	for _, f := range big {
		assert.False(t, f.Ready(), "the large files are still in progress")
	}
}

// TestOwnersShareTheBudget: one user's files, many and large, slow down
// only that user: root's executable is hashed within its turn, and the
// user cannot take more than its share of the queue.
func TestOwnersShareTheBudget(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to give files to another user")
	}
	const attacker = 4242
	c, err := New(Config{MaxEntries: 64, MaxFileSize: 64 << 20, BytesPerSecond: 8 << 20, QueueSize: 32})
	require.NoError(t, err)
	defer c.Close()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	var theirs []*Future
	full := 0
	for i := range 4 {
		p := denseFile(t, dir, "x"+string(rune('a'+i)), 16<<20, byte(i+1))
		require.NoError(t, os.Chown(p, attacker, attacker))
		f := c.Submit(open(t, p))
		if f.Ready() {
			if _, st, _ := f.Result(); string(st) == "queue_full" {
				full++
			}
		}
		theirs = append(theirs, f)
	}
	assert.Equal(t, 2, full, "one user holds at most max(2, queue_size/16) slots")
	mine := denseFile(t, dir, "sshd", 2<<20, 7)
	start := time.Now()
	_, st := wait(t, c.Submit(open(t, mine)))
	assert.Equal(t, "ok", string(st))
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "root's file waited behind another user's")
	assert.False(t, theirs[0].Ready())
}

// TestChangedWhileRead: a file rewritten while it is being read has no sum
// (the bytes read are no one version of it).
func TestChangedWhileRead(t *testing.T) {
	c, err := New(Config{MaxEntries: 16, MaxFileSize: 64 << 20, BytesPerSecond: 1 << 20})
	require.NoError(t, err)
	defer c.Close()
	p := denseFile(t, t.TempDir(), "moving", 2<<20, 1)
	fut := c.Submit(open(t, p))
	time.Sleep(300 * time.Millisecond)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(bytes.Repeat([]byte{2}, 1<<20), 1<<20)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	s, st := wait(t, fut)
	assert.Equal(t, "changed", string(st))
	assert.Empty(t, s)
	s, st = wait(t, c.Submit(open(t, p)))
	assert.Equal(t, "ok", string(st), "read again in full")
	assert.Equal(t, sumOf(append(bytes.Repeat([]byte{1}, 1<<20), bytes.Repeat([]byte{2}, 1<<20)...)), s)
}

// TestNotRegular: only regular files are hashed; opening a FIFO without
// O_NONBLOCK would have blocked until a writer came.
func TestNotRegular(t *testing.T) {
	c, err := New(Config{MaxEntries: 4})
	require.NoError(t, err)
	defer c.Close()
	p := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o644))
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	require.NoError(t, err)
	_, st := wait(t, c.Submit(f))
	assert.Equal(t, "not_regular", string(st))
}
