package intelprocessor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// fileID is what tells that a feed file changed. Size and modification
// time are not enough: a Kubernetes ConfigMap volume updates a file by
// swapping the ..data symbolic link to a new timestamped directory, so the
// path stays the same and the new file's modification time may too; the
// resolved target and the inode change. The change time catches a rewrite
// in place that restores the modification time.
type fileID struct {
	target   string // the path with every symbolic link resolved
	dev, ino uint64
	size     int64
	mtimeNS  int64
	ctimeNS  int64
}

func idOf(target string, fi os.FileInfo) fileID {
	id := fileID{target: target, size: fi.Size(), mtimeNS: fi.ModTime().UnixNano()}
	statID(&id, fi)
	return id
}

// loadedFile is the last good contents of one feed file.
type loadedFile struct {
	id     fileID
	format string
	store  *store.Store
}

// fileState tracks a file whose identity changed: it is read once it stops
// changing (see Config.Settle).
type fileState struct {
	id      fileID
	stableT time.Time
}

// feedFile is one file to load.
type feedFile struct {
	// path names the file in logs: feeds_dir joined with its name, or a
	// path from feeds.
	path string
	// open is its name relative to feeds_dir, opened through the
	// directory's os.Root; "" for a file from feeds, opened by path.
	open string
	id   fileID
}

// refusal is why a directory entry or a configured path is not loaded.
type refusal struct {
	reason string // metric attribute
	detail string
}

// Reasons of refusals made while listing, beside feed's LimitError ones.
const (
	reasonOutside       = "outside_feeds_dir"
	reasonBrokenSymlink = "broken_symlink"
	reasonTooManyFiles  = "too_many_files"
	reasonTotal         = "total_indicators"
	reasonPanic         = "parser_panic"
)

// errParserPanic marks a parser that panicked: a bug, but one that a feed
// file may trigger, so it refuses the file instead of taking the collector
// down.
var errParserPanic = errors.New("feed parser panicked")

// snapshot is what lookups use; it is replaced whole, never changed, so
// readers need no lock.
type snapshot struct {
	stores []*store.Store
	total  int
	// counts are the indicators of each type over all stores.
	counts [indicator.Domain + 1]int
}

// feeds loads feed files and reloads them when they change. A file that
// fails to parse, or exceeds a limit, is reported and its previous
// contents stay in force; a file that disappears, or that the listing
// refuses (see scan), is dropped.
type feeds struct {
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time

	mu      sync.Mutex // serialises refreshes
	loaded  map[string]*loadedFile
	pending map[string]fileState
	// failed holds the identity of files whose last read failed, so the
	// same broken or oversized file is not read again and again; a new
	// version has a new identity.
	failed map[string]fileID
	// refused holds the listing's current refusals, each logged and
	// counted once, when it starts.
	refused map[string]refusal
	current atomic.Pointer[snapshot]

	// parse is feed.ParseOpen; tests replace it.
	parse func(r io.Reader, size int64, path string, lim feed.Limits, emit func(indicator.Indicator) error) (feed.Format, feed.Stats, error)

	// onLoad, onError, onRefused and onSkipped report to metrics.
	onLoad    func(path, format string, indicators int)
	onError   func(path string, err error)
	onRefused func(path, reason string)
	onSkipped func(malformed, limited int)
}

func newFeeds(cfg *Config, logger *zap.Logger) *feeds {
	f := &feeds{cfg: cfg, logger: logger, now: time.Now,
		loaded: map[string]*loadedFile{}, pending: map[string]fileState{},
		failed: map[string]fileID{}, refused: map[string]refusal{}, parse: feed.ParseOpen,
		onLoad: func(string, string, int) {}, onError: func(string, error) {},
		onRefused: func(string, string) {}, onSkipped: func(int, int) {}}
	f.current.Store(&snapshot{})
	return f
}

// scanErr is a file that could not even be looked at.
type scanErr struct {
	path string
	err  error
}

// scan lists the feed files with their identities: the files named in
// feeds, and the entries of feeds_dir except hidden and temporary ones (an
// editor's or a downloader's work in progress, Kubernetes' ..data and
// timestamped directories). An entry may be a symbolic link to a regular
// file inside feeds_dir, as in a ConfigMap volume (x.csv -> ..data/x.csv,
// ..data -> ..2026_01_01_00_00_00.123456789); links that lead out of it,
// and anything that is not a regular file (a FIFO would block the read, a
// device never end), are refused. Directories are not descended into.
//
// The returned root, if not nil, is feeds_dir opened as an os.Root, for
// opening the files it lists; the caller closes it.
func (f *feeds) scan() (files []feedFile, refused map[string]refusal, errs []scanErr, root *os.Root, err error) {
	refused = map[string]refusal{}
	seen := map[string]bool{}
	for _, p := range f.cfg.Feeds {
		if seen[p] {
			continue
		}
		seen[p] = true
		// A file named in the configuration may be a link anywhere: the
		// operator chose it. It must still be a regular file.
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, scanErr{p, err})
			continue
		}
		if !fi.Mode().IsRegular() {
			refused[p] = refusal{feed.ReasonNotRegular, "a " + feed.TypeName(fi.Mode()) + ", not a regular file"}
			continue
		}
		target := p
		if t, err := filepath.EvalSymlinks(p); err == nil {
			target = t
		}
		files = append(files, feedFile{path: p, id: idOf(target, fi)})
	}
	if dir := f.cfg.FeedsDir; dir != "" {
		if root, err = os.OpenRoot(dir); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("feeds_dir: %w", err)
		}
		realDir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			realDir = dir
		}
		entries, err := fs.ReadDir(root.FS(), ".")
		if err != nil {
			root.Close()
			return nil, nil, nil, nil, fmt.Errorf("feeds_dir: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			full := filepath.Join(dir, name)
			if skipName(name) || seen[full] {
				continue
			}
			seen[full] = true
			ff, ref, serr := statEntry(root, realDir, full, name, e.Type())
			switch {
			case serr != nil:
				errs = append(errs, scanErr{full, serr})
			case ref != nil:
				refused[full] = *ref
			case ff != nil:
				files = append(files, *ff)
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	if max := f.cfg.Limits.MaxFiles; max > 0 && len(files) > max {
		for _, ff := range files[max:] {
			refused[ff.path] = refusal{reasonTooManyFiles, fmt.Sprintf("more than limits.max_files (%d) feed files", max)}
		}
		files = files[:max]
	}
	return files, refused, errs, root, nil
}

// statEntry looks at one entry of feeds_dir: a file to load, a refusal, an
// error, or nothing (a directory, or a link to one).
func statEntry(root *os.Root, realDir, full, name string, typ fs.FileMode) (*feedFile, *refusal, error) {
	open, target := name, full
	switch {
	case typ.IsDir():
		return nil, nil, nil
	case typ&fs.ModeSymlink != 0:
		resolved, err := filepath.EvalSymlinks(full)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &refusal{reasonBrokenSymlink, "symbolic link to a file that does not exist"}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		rel, err := filepath.Rel(realDir, resolved)
		if err != nil || !local(rel) {
			return nil, &refusal{reasonOutside, "symbolic link to " + resolved + ", outside feeds_dir"}, nil
		}
		// The file is opened by its resolved name, through the root: a
		// link swapped after this check still cannot lead outside, and a
		// link written with an absolute path inside feeds_dir (which
		// os.Root does not follow) is read all the same.
		open, target = rel, resolved
	case !typ.IsRegular():
		return nil, &refusal{feed.ReasonNotRegular, "a " + feed.TypeName(typ) + ", not a regular file"}, nil
	}
	fi, err := root.Stat(open)
	if errors.Is(err, fs.ErrNotExist) {
		// Gone since the listing: not there.
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case fi.IsDir():
		return nil, nil, nil
	case !fi.Mode().IsRegular():
		return nil, &refusal{feed.ReasonNotRegular, "symbolic link to a " + feed.TypeName(fi.Mode()) + ", not a regular file"}, nil
	}
	return &feedFile{path: full, open: open, id: idOf(target, fi)}, nil, nil
}

// local reports whether a relative path stays inside its base. Names that
// merely start with ".." (Kubernetes' ..data) do.
func local(rel string) bool {
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
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

// report logs and counts the refusals that are new since the last scan,
// and forgets the ones that ended. Files beyond max_files are summed up in
// one line: there may be thousands.
func (f *feeds) report(refused map[string]refusal) {
	var tooMany []string
	for p, r := range refused {
		if old, ok := f.refused[p]; ok && old == r {
			continue
		}
		f.onRefused(p, r.reason)
		if r.reason == reasonTooManyFiles {
			tooMany = append(tooMany, p)
			continue
		}
		f.logger.Warn("Feed file refused", zap.String("file", p), zap.String("reason", r.reason), zap.String("detail", r.detail))
	}
	if len(tooMany) > 0 {
		sort.Strings(tooMany)
		f.logger.Warn("Feed files ignored: more than limits.max_files", zap.Int("max_files", f.cfg.Limits.MaxFiles),
			zap.Int("ignored", len(tooMany)), zap.String("first_ignored", tooMany[0]))
	}
	f.refused = refused
}

// refresh checks every file and swaps in a new snapshot when something
// changed. At start (initial), changed files are read at once.
func (f *feeds) refresh(initial bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	files, refused, scanErrs, root, err := f.scan()
	if err != nil {
		return err
	}
	if root != nil {
		defer root.Close()
	}
	f.report(refused)
	var errs []error
	for _, se := range scanErrs {
		f.onError(se.path, se.err)
		errs = append(errs, se.err)
	}
	total := 0
	for _, lf := range f.loaded {
		total += lf.store.Len()
	}
	changed := false
	present := map[string]bool{}
	for _, ff := range files {
		p := ff.path
		present[p] = true
		old := f.loaded[p]
		if old != nil && old.id == ff.id {
			delete(f.pending, p)
			delete(f.failed, p)
			continue
		}
		if id, ok := f.failed[p]; ok && id == ff.id {
			delete(f.pending, p)
			continue
		}
		if !initial && f.cfg.Settle > 0 {
			ps, ok := f.pending[p]
			now := f.now()
			if !ok || ps.id != ff.id {
				f.pending[p] = fileState{id: ff.id, stableT: now}
				continue
			}
			if now.Sub(ps.stableT) < f.cfg.Settle {
				continue
			}
		}
		delete(f.pending, p)
		oldLen := 0
		if old != nil {
			oldLen = old.store.Len()
		}
		lf, err := f.loadWithin(ff, root, total-oldLen)
		if err != nil {
			// The previous contents, if any, stay in force. The identity is
			// remembered so the same broken file is not read again and
			// again; a new write changes it.
			f.failed[p] = ff.id
			f.onError(p, err)
			errs = append(errs, err)
			fields := []zap.Field{zap.String("file", p), zap.Error(err)}
			if reason := refuseReason(err); reason != "" {
				f.onRefused(p, reason)
				fields = append(fields, zap.String("reason", reason))
			}
			if old != nil {
				f.logger.Warn("Feed file could not be read; keeping its previous contents", fields...)
			} else {
				f.logger.Warn("Feed file could not be read", fields...)
			}
			continue
		}
		delete(f.failed, p)
		f.loaded[p] = lf
		total += lf.store.Len() - oldLen
		changed = true
		f.onLoad(p, lf.format, lf.store.Len())
		f.logger.Info("Loaded feed", zap.String("file", p), zap.String("format", lf.format), zap.Int("indicators", lf.store.Len()))
	}
	for p := range f.loaded {
		if !present[p] {
			delete(f.loaded, p)
			changed = true
			if r, ok := refused[p]; ok {
				f.logger.Warn("Feed file dropped: refused", zap.String("file", p), zap.String("reason", r.reason))
			} else {
				f.logger.Info("Feed file removed", zap.String("file", p))
			}
		}
	}
	for p := range f.failed {
		if !present[p] {
			delete(f.failed, p)
		}
	}
	for p := range f.pending {
		if !present[p] {
			delete(f.pending, p)
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

// refuseReason is the metric reason of a load error that a limit or a
// safety check caused, "" for other errors (a file that does not parse).
func refuseReason(err error) string {
	if errors.Is(err, errParserPanic) {
		return reasonPanic
	}
	if errors.Is(err, errTotalIndicators) {
		return reasonTotal
	}
	return feed.LimitReason(err)
}

// errTotalIndicators marks a file refused because, with the other files,
// it would exceed limits.max_indicators.
var errTotalIndicators = errors.New("the indicators of all feeds would exceed limits.max_indicators")

// loadWithin loads a file within the limits, others being the indicators
// the other files hold.
func (f *feeds) loadWithin(ff feedFile, root *os.Root, others int) (*loadedFile, error) {
	lim := f.cfg.Limits
	fl := feed.Limits{MaxBytes: lim.MaxFileSizeMiB << 20, MaxIndicators: lim.MaxIndicatorsPerFile}
	left := lim.MaxIndicators - others
	byTotal := lim.MaxIndicators > 0 && (fl.MaxIndicators <= 0 || left < fl.MaxIndicators)
	if byTotal {
		if left <= 0 {
			return nil, fmt.Errorf("%s: %w (%d), which the other feeds hold already", ff.path, errTotalIndicators, lim.MaxIndicators)
		}
		fl.MaxIndicators = left
	}
	lf, err := f.load(ff, root, fl)
	if byTotal && feed.LimitReason(err) == feed.ReasonTooManyIndicators {
		return nil, fmt.Errorf("%s: %w (%d): only %d are left beside the other feeds' %d", ff.path, errTotalIndicators, lim.MaxIndicators, left, others)
	}
	return lf, err
}

func (f *feeds) load(ff feedFile, root *os.Root, lim feed.Limits) (lf *loadedFile, err error) {
	defer func() {
		if r := recover(); r != nil {
			f.logger.Error("Feed parser panicked; the file is refused", zap.String("file", ff.path),
				zap.Any("panic", r), zap.Stack("stack"))
			lf, err = nil, fmt.Errorf("%s: %w: %v", ff.path, errParserPanic, r)
		}
	}()
	var file *os.File
	var fi os.FileInfo
	if ff.open != "" {
		file, fi, err = feed.OpenRegular(root, ff.open)
	} else {
		file, fi, err = feed.OpenRegular(nil, ff.path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ff.path, err)
	}
	defer file.Close()
	b := store.NewBuilder()
	format, stats, err := f.parse(file, fi.Size(), ff.path, lim, b.Add)
	if err != nil {
		return nil, err
	}
	if stats.Skipped > 0 {
		f.onSkipped(stats.Skipped-stats.Limited, stats.Limited)
		fields := []zap.Field{zap.String("file", ff.path), zap.Int("skipped", stats.Skipped),
			zap.String("first_problem", firstProblem(stats))}
		if stats.Limited > 0 {
			fields = append(fields, zap.Int("refused_by_limits", stats.Limited),
				zap.String("first_refused", stats.FirstLimited.String()))
		}
		f.logger.Warn("Feed entries skipped", fields...)
	}
	name := ""
	if format != nil {
		name = format.Name()
	}
	return &loadedFile{id: ff.id, format: name, store: b.Build()}, nil
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
