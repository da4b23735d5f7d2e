//go:build unix

package dirwatch

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func paths(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

func TestScanRecursiveSkipsAndRefuses(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "rules")
	write(t, filepath.Join(dir, "a.yml"), "a")
	write(t, filepath.Join(dir, "README.md"), "docs")
	write(t, filepath.Join(dir, ".hidden.yml"), "h")
	write(t, filepath.Join(dir, "sub", "b.yml"), "b")
	write(t, filepath.Join(dir, "sub", "deeper", "c.yml"), "c")
	write(t, filepath.Join(dir, ".git", "d.yml"), "hidden directory")
	write(t, filepath.Join(base, "outside.yml"), "secret")
	require.NoError(t, os.Symlink("../outside.yml", filepath.Join(dir, "escape.yml")))
	require.NoError(t, os.Symlink("sub", filepath.Join(dir, "loop")))
	require.NoError(t, os.Symlink("missing.yml", filepath.Join(dir, "dangling.yml")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "sub", "pipe.yml"), 0o600))

	o := Options{Dir: dir, DirOption: "rules_dir", Recursive: true, MaxDepth: 1,
		Skip: func(n string) bool { return filepath.Ext(n) == ".md" }}
	l, err := Scan(o)
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, []string{filepath.Join(dir, "a.yml"), filepath.Join(dir, "sub", "b.yml")}, paths(l.Files),
		"deeper is beyond MaxDepth; hidden names, skipped names and links to directories are not listed")
	assert.Equal(t, map[string]Refusal{
		filepath.Join(dir, "escape.yml"):      {"outside_rules_dir", "symbolic link to " + filepath.Join(base, "outside.yml") + ", outside rules_dir"},
		filepath.Join(dir, "dangling.yml"):    {ReasonBrokenSymlink, "symbolic link to a file that does not exist"},
		filepath.Join(dir, "sub", "pipe.yml"): {ReasonNotRegular, "a named pipe, not a regular file"},
	}, l.Refused)

	o.MaxDepth = 2
	l2, err := Scan(o)
	require.NoError(t, err)
	defer l2.Close()
	assert.Contains(t, paths(l2.Files), filepath.Join(dir, "sub", "deeper", "c.yml"))

	o.Recursive = false
	l3, err := Scan(o)
	require.NoError(t, err)
	defer l3.Close()
	assert.Equal(t, []string{filepath.Join(dir, "a.yml")}, paths(l3.Files))

	o.MaxFiles = 1
	o.Recursive = true
	l4, err := Scan(o)
	require.NoError(t, err)
	defer l4.Close()
	assert.Len(t, l4.Files, 1)
	assert.Equal(t, ReasonTooManyFiles, l4.Refused[filepath.Join(dir, "sub", "b.yml")].Reason)

	_, err = Scan(Options{Dir: filepath.Join(base, "nope"), DirOption: "rules_dir"})
	assert.ErrorContains(t, err, "rules_dir")
}

func TestOpenRefusesAFileSwappedForAFIFO(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "x.yml"), "x")
	l, err := Scan(Options{Dir: dir, DirOption: "rules_dir"})
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, os.Remove(filepath.Join(dir, "x.yml")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "x.yml"), 0o600))
	done := make(chan error, 1)
	go func() {
		f, _, err := l.Open(l.Files[0])
		if f != nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		var nr *NotRegularError
		assert.True(t, errors.As(err, &nr), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("open blocked on a FIFO")
	}
}

func TestConfiguredFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	write(t, good, "g")
	fifo := filepath.Join(dir, "fifo.yml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	l, err := Scan(Options{Files: []string{good, good, fifo, filepath.Join(dir, "missing.yml")}})
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, []string{good}, paths(l.Files), "listed once")
	assert.Equal(t, ReasonNotRegular, l.Refused[fifo].Reason)
	require.Len(t, l.Errors, 1)
	f, _, err := l.Open(l.Files[0])
	require.NoError(t, err)
	f.Close()
}

func TestTracker(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yml")
	write(t, a, "one")
	o := Options{Dir: dir, DirOption: "rules_dir"}
	tr := NewTracker(time.Minute)
	now := time.Unix(1_000_000, 0)
	scan := func(initial bool) Changes {
		l, err := Scan(o)
		require.NoError(t, err)
		defer l.Close()
		return tr.Update(l, initial, now)
	}

	ch := scan(true)
	require.Equal(t, []string{a}, paths(ch.Ready), "at start, at once")
	tr.Loaded(ch.Ready[0])
	assert.Empty(t, scan(false).Ready, "unchanged")

	// A rewrite that keeps the size and puts the modification time back is
	// still a change (inode change time).
	st, err := os.Stat(a)
	require.NoError(t, err)
	write(t, a, "two")
	require.NoError(t, os.Chtimes(a, st.ModTime(), st.ModTime()))
	assert.Empty(t, scan(false).Ready, "settling")
	now = now.Add(30 * time.Second)
	assert.Empty(t, scan(false).Ready, "still settling")
	now = now.Add(31 * time.Second)
	ch = scan(false)
	require.Len(t, ch.Ready, 1, "settled")

	// A version that failed is not read again; a new one is.
	tr.Failed(ch.Ready[0])
	now = now.Add(time.Hour)
	assert.Empty(t, scan(false).Ready)
	write(t, a, "three!")
	scan(false)
	now = now.Add(2 * time.Minute)
	ch = scan(false)
	require.Len(t, ch.Ready, 1)
	tr.Loaded(ch.Ready[0])

	// Gone: reported once.
	require.NoError(t, os.Remove(a))
	ch = scan(false)
	assert.Equal(t, []string{a}, ch.Removed)
	assert.Empty(t, scan(false).Removed)

	// Refusals are new once.
	require.NoError(t, os.Symlink("missing", filepath.Join(dir, "b.yml")))
	ch = scan(false)
	assert.Len(t, ch.NewRefusals, 1)
	assert.Len(t, ch.Refused, 1)
	ch = scan(false)
	assert.Empty(t, ch.NewRefusals)
	assert.Len(t, ch.Refused, 1)
}

// TestConfigMapSwap: a ConfigMap update moves the ..data link to a new
// directory; the file's path, size and modification time stay the same.
func TestConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	gen1 := filepath.Join(dir, "..2026_01_01_00_00_00.1")
	write(t, filepath.Join(gen1, "r.yml"), "rule one")
	require.NoError(t, os.Symlink(filepath.Base(gen1), filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink(filepath.Join("..data", "r.yml"), filepath.Join(dir, "r.yml")))
	o := Options{Dir: dir, DirOption: "rules_dir"}
	tr := NewTracker(0)
	l, err := Scan(o)
	require.NoError(t, err)
	ch := tr.Update(l, true, time.Now())
	require.Equal(t, []string{filepath.Join(dir, "r.yml")}, paths(ch.Ready), "..data and the generation are hidden")
	f, _, err := l.Open(ch.Ready[0])
	require.NoError(t, err)
	f.Close()
	tr.Loaded(ch.Ready[0])
	l.Close()

	st, err := os.Stat(filepath.Join(gen1, "r.yml"))
	require.NoError(t, err)
	gen2 := filepath.Join(dir, "..2026_01_01_00_05_00.2")
	write(t, filepath.Join(gen2, "r.yml"), "rule two")
	require.NoError(t, os.Chtimes(filepath.Join(gen2, "r.yml"), st.ModTime(), st.ModTime()))
	require.NoError(t, os.Symlink(filepath.Base(gen2), filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	require.NoError(t, os.RemoveAll(gen1))
	l, err = Scan(o)
	require.NoError(t, err)
	defer l.Close()
	ch = tr.Update(l, false, time.Now())
	require.Len(t, ch.Ready, 1, "the swap is a change")
	f, _, err = l.Open(ch.Ready[0])
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, 16)
	n, _ := f.Read(b)
	assert.Equal(t, "rule two", string(b[:n]))
}
