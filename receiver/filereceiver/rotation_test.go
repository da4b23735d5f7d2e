package filereceiver

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writer appends lines of one file name to a path from its own goroutine,
// while the receiver reads; the test goroutine only waits for it.
type writer struct {
	t    *testing.T
	path string
	f    *os.File
	seq  int
}

func newWriter(t *testing.T, path string) *writer {
	w := &writer{t: t, path: path}
	w.reopen()
	return w
}

func (w *writer) reopen() {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(err)
	}
	w.f = f
}

// write appends n lines, one write each.
func (w *writer) write(n int) error {
	for range n {
		if _, err := w.f.WriteString(doc("app", w.seq)); err != nil {
			return err
		}
		w.seq++
	}
	return nil
}

// until polls cond for the writer goroutine (which must not call require).
func until(cond func() bool) error {
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out")
		}
		time.Sleep(tick)
	}
	return nil
}

// requireOnce checks that seqs are exactly [0, n), each once, in any order
// between files.
func requireOnce(t *testing.T, rec *recorder, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(rec.seqs("app")) >= n }, waitFor, tick, "got %d of %d", len(rec.seqs("app")), n)
	got := rec.seqs("app")
	slices.Sort(got)
	require.Equal(t, span(0, n), got, "every line exactly once")
}

// TestRenameRotation: the file is renamed and a new one created at its
// path while lines are written; the old file is read to its end (through
// the open handle when the new name is not matched) and the new one from
// its start: no line lost or duplicated.
func TestRenameRotation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern string
	}{
		{"out_of_pattern", "app.log"},
		{"within_pattern", "app.log*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			path := e.path("app.log")
			w := newWriter(t, path)
			rec := new(recorder)
			cfg := e.config(tc.pattern)
			cfg.ForceFlushPeriod = 100 * time.Millisecond // lines are written whole
			rn := e.start(cfg, rec)
			const gens, perGen = 6, 300
			done := make(chan error, 1)
			go func() {
				done <- func() error {
					for g := range gens {
						first := w.seq
						if err := w.write(perGen / 2); err != nil {
							return err
						}
						// The receiver has this file open before it is
						// renamed (a file renamed out of the patterns
						// before it was ever seen cannot be read).
						if err := until(func() bool { return slices.Contains(rec.seqs("app"), int64(first)) }); err != nil {
							return err
						}
						if err := w.write(perGen / 2); err != nil {
							return err
						}
						if err := os.Rename(path, fmt.Sprintf("%s.%d", path, g)); err != nil {
							return err
						}
						// A line written to the old file after the rename,
						// before the writer reopens.
						if err := w.write(1); err != nil {
							return err
						}
						if err := w.f.Close(); err != nil {
							return err
						}
						w.reopen()
					}
					return w.f.Close()
				}()
			}()
			require.NoError(t, <-done)
			requireOnce(t, rec, gens*(perGen+1))
			if tc.pattern == "app.log" {
				// The old files are closed once read (and the new,
				// empty, one is not opened before it has content).
				rn.waitOpen(t, 0)
			}
		})
	}
}

// TestCopyTruncate: logrotate's copytruncate while lines are written. The
// truncated file is read again from 0; a copy matched by the patterns
// continues from where the original was left (not from its start), and
// is not read while the original still has the same content.
func TestCopyTruncate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern string
	}{
		{"copy_out_of_pattern", "app.log"},
		{"copy_within_pattern", "app.log*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			path := e.path("app.log")
			w := newWriter(t, path)
			rec := new(recorder)
			cfg := e.config(tc.pattern)
			cfg.ForceFlushPeriod = 100 * time.Millisecond // lines are written whole
			e.start(cfg, rec)
			const gens, perGen = 6, 300
			done := make(chan error, 1)
			go func() {
				done <- func() error {
					for g := range gens {
						first := w.seq
						if err := w.write(perGen / 2); err != nil {
							return err
						}
						if err := until(func() bool { return slices.Contains(rec.seqs("app"), int64(first)) }); err != nil {
							return fmt.Errorf("generation %d: line %d never arrived: %w", g, first, err)
						}
						if err := w.write(perGen / 2); err != nil {
							return err
						}
						if tc.pattern == "app.log" {
							// A copy outside the patterns is never read:
							// lines not read before the truncation would
							// be lost (as with filelog), so wait for them.
							last := int64(w.seq - 1)
							if err := until(func() bool { return slices.Contains(rec.seqs("app"), last) }); err != nil {
								return err
							}
						}
						content, err := os.ReadFile(path)
						if err != nil {
							return err
						}
						if err := os.WriteFile(fmt.Sprintf("%s.%d", path, g), content, 0o644); err != nil {
							return err
						}
						if err := os.Truncate(path, 0); err != nil {
							return err
						}
					}
					return w.f.Close()
				}()
			}()
			require.NoError(t, <-done)
			requireOnce(t, rec, gens*perGen)
			assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))
		})
	}
}

// TestCopyBeforeTruncate: a copy of a file being read (copytruncate, seen
// between the copy and the truncation) is not read while the original has
// the same content; after the truncation it continues where the original
// was left, which here is its end.
func TestCopyBeforeTruncate(t *testing.T) {
	e := newEnv(t, false)
	path := e.path("app.log")
	appendFile(t, path, docs("app", 0, 100))
	rec := new(recorder)
	rn := e.start(e.config("app.log*"), rec)
	rec.requireExactly(t, "app", span(0, 100))
	appendFile(t, path, docs("app", 100, 150))
	content, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path+".1", content, 0o644))
	rn.waitPolls(t, 3)
	rec.requireExactly(t, "app", span(0, 150))
	assert.Equal(t, int64(1), rn.r.cnt.open.Load(), "the copy is not opened")

	require.NoError(t, os.Truncate(path, 0))
	appendFile(t, path, docs("app", 150, 200))
	rec.requireExactly(t, "app", span(0, 200))
	rn.waitPolls(t, 3)
	assert.Equal(t, span(0, 200), rec.seqs("app"))
}

// TestTruncatedAndRewritten: a file truncated and written again beyond the
// old offset between two reads is read again from its start, not from the
// middle of its new content.
func TestTruncatedAndRewritten(t *testing.T) {
	e := newEnv(t, false)
	path := e.path("app.log")
	appendFile(t, path, docs("app", 0, 10))
	rec := new(recorder)
	e.start(e.config("app.log"), rec)
	rec.requireExactly(t, "app", span(0, 10))
	// One write replaces the whole file with longer content.
	require.NoError(t, os.WriteFile(path, []byte(docs("app", 100, 130)), 0o644))
	rec.requireExactly(t, "app", append(span(0, 10), span(100, 130)...))
	assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))
}

// TestDeletedFile: a deleted file is closed once read; a new file at its
// path is read from its start.
func TestDeletedFile(t *testing.T) {
	e := newEnv(t, false)
	path := e.path("app.log")
	appendFile(t, path, docs("app", 0, 10))
	rec := new(recorder)
	cfg := e.config("app.log")
	cfg.ForceFlushPeriod = 100 * time.Millisecond
	rn := e.start(cfg, rec)
	rec.requireExactly(t, "app", span(0, 10))
	require.NoError(t, os.Remove(path))
	rn.waitOpen(t, 0)
	appendFile(t, path, docs("app", 10, 15))
	rec.requireExactly(t, "app", span(0, 15))
	rn.waitOpen(t, 1)
}

// TestDeletedWhileUnread: lines written before the file is deleted are
// still read through the open handle.
func TestDeletedWhileUnread(t *testing.T) {
	e := newEnv(t, false)
	path := e.path("app.log")
	w := newWriter(t, path)
	rec := new(recorder)
	cfg := e.config("app.log")
	cfg.ForceFlushPeriod = 100 * time.Millisecond
	rn := e.start(cfg, rec)
	require.NoError(t, w.write(5))
	rec.waitCount(t, "app", 1)
	require.NoError(t, w.write(500))
	require.NoError(t, os.Remove(path))
	require.NoError(t, w.f.Close())
	rec.requireExactly(t, "app", span(0, 505))
	rn.waitOpen(t, 0)
}
