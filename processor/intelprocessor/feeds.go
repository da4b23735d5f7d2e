package intelprocessor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/feed"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/store"
)

// loadedFile is the last good contents of one feed file.
type loadedFile struct {
	size   int64
	mtime  time.Time
	format string
	store  *store.Store
}

// fileState tracks a file whose size or modification time changed: it is
// read once they stop changing (see Config.Settle).
type fileState struct {
	size    int64
	mtime   time.Time
	stableT time.Time
}

// snapshot is what lookups use; it is replaced whole, never changed, so
// readers need no lock.
type snapshot struct {
	stores []*store.Store
	total  int
	// counts are the indicators of each type over all stores.
	counts [indicator.Domain + 1]int
}

// feeds loads feed files and reloads them when they change. A file that
// fails to parse is reported and its previous contents stay in force; a
// file that disappears is dropped.
type feeds struct {
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time

	mu      sync.Mutex // serialises refreshes
	loaded  map[string]*loadedFile
	pending map[string]fileState
	current atomic.Pointer[snapshot]

	// onLoad and onError report to metrics.
	onLoad  func(path, format string, indicators int)
	onError func(path string, err error)
}

func newFeeds(cfg *Config, logger *zap.Logger) *feeds {
	f := &feeds{cfg: cfg, logger: logger, now: time.Now,
		loaded: map[string]*loadedFile{}, pending: map[string]fileState{},
		onLoad: func(string, string, int) {}, onError: func(string, error) {}}
	f.current.Store(&snapshot{})
	return f
}

// list returns the feed files: those named in feeds, and the regular files
// of feeds_dir except hidden and temporary ones (an editor's or a
// downloader's work in progress).
func (f *feeds) list() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range f.cfg.Feeds {
		add(p)
	}
	if f.cfg.FeedsDir != "" {
		entries, err := os.ReadDir(f.cfg.FeedsDir)
		if err != nil {
			return nil, fmt.Errorf("feeds_dir: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || skipName(name) {
				continue
			}
			add(filepath.Join(f.cfg.FeedsDir, name))
		}
	}
	sort.Strings(out)
	return out, nil
}

func skipName(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.HasPrefix(name, "README") {
		return true
	}
	for _, suf := range []string{".tmp", ".part", ".partial", ".swp", ".md"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// refresh checks every file and swaps in a new snapshot when something
// changed. At start (initial), changed files are read at once.
func (f *feeds) refresh(initial bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	paths, err := f.list()
	if err != nil {
		return err
	}
	changed := false
	present := map[string]bool{}
	var errs []error
	for _, p := range paths {
		present[p] = true
		st, err := os.Stat(p)
		if err != nil {
			f.onError(p, err)
			errs = append(errs, err)
			continue
		}
		old := f.loaded[p]
		if old != nil && old.size == st.Size() && old.mtime.Equal(st.ModTime()) {
			delete(f.pending, p)
			continue
		}
		if !initial && f.cfg.Settle > 0 {
			ps, ok := f.pending[p]
			now := f.now()
			if !ok || ps.size != st.Size() || !ps.mtime.Equal(st.ModTime()) {
				f.pending[p] = fileState{size: st.Size(), mtime: st.ModTime(), stableT: now}
				continue
			}
			if now.Sub(ps.stableT) < f.cfg.Settle {
				continue
			}
		}
		delete(f.pending, p)
		lf, err := f.load(p, st)
		if err != nil {
			// The previous contents, if any, stay in force. Remember the
			// size and time so the same broken file is not read again and
			// again; a new write will change them.
			f.onError(p, err)
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			if old != nil {
				old.size, old.mtime = st.Size(), st.ModTime()
				f.logger.Warn("Feed file could not be read; keeping its previous contents", zap.String("file", p), zap.Error(err))
			} else {
				f.logger.Warn("Feed file could not be read", zap.String("file", p), zap.Error(err))
			}
			continue
		}
		f.loaded[p] = lf
		changed = true
		f.onLoad(p, lf.format, lf.store.Len())
		f.logger.Info("Loaded feed", zap.String("file", p), zap.String("format", lf.format), zap.Int("indicators", lf.store.Len()))
	}
	for p := range f.loaded {
		if !present[p] {
			delete(f.loaded, p)
			changed = true
			f.logger.Info("Feed file removed", zap.String("file", p))
		}
	}
	if changed || initial {
		f.swap()
	}
	if initial && len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

func (f *feeds) load(path string, st os.FileInfo) (*loadedFile, error) {
	b := store.NewBuilder()
	format, stats, err := feed.ParseFile(path, func(ind indicator.Indicator) error {
		return b.Add(ind)
	})
	if err != nil {
		return nil, err
	}
	if stats.Skipped > 0 {
		f.logger.Warn("Feed entries skipped", zap.String("file", path), zap.Int("skipped", stats.Skipped),
			zap.String("first_problem", firstProblem(stats)))
	}
	name := ""
	if format != nil {
		name = format.Name()
	}
	return &loadedFile{size: st.Size(), mtime: st.ModTime(), format: name, store: b.Build()}, nil
}

func firstProblem(s feed.Stats) string {
	if len(s.Problems) == 0 {
		return ""
	}
	p := s.Problems[0]
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
	}
	return p.Reason
}

func (f *feeds) swap() {
	snap := &snapshot{}
	paths := make([]string, 0, len(f.loaded))
	for p := range f.loaded {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s := f.loaded[p].store
		if s.Len() == 0 {
			continue
		}
		snap.stores = append(snap.stores, s)
		snap.total += s.Len()
		for t := range snap.counts {
			snap.counts[t] += s.Count(indicator.Type(t))
		}
	}
	f.current.Store(snap)
}

func (f *feeds) snapshot() *snapshot { return f.current.Load() }
