package intelprocessor

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/dirwatch"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/feed"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/store"
)

// loadedFile is the last good contents of one feed file.
type loadedFile struct {
	format string
	store  *store.Store
}

// Reasons of refusals, beside dirwatch's and feed's LimitError ones.
const (
	reasonTotal = "total_indicators"
	reasonPanic = "parser_panic"
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
// refuses (see internal/dirwatch), is dropped.
type feeds struct {
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time

	mu      sync.Mutex // serialises refreshes
	loaded  map[string]*loadedFile
	tracker *dirwatch.Tracker
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
		loaded: map[string]*loadedFile{}, tracker: dirwatch.NewTracker(cfg.Settle), parse: feed.ParseOpen,
		onLoad: func(string, string, int) {}, onError: func(string, error) {},
		onRefused: func(string, string) {}, onSkipped: func(int, int) {}}
	f.current.Store(&snapshot{})
	return f
}

// listing is what a scan lists: the files named in feeds, and the entries
// of feeds_dir except hidden and temporary ones (an editor's or a
// downloader's work in progress, Kubernetes' ..data and timestamped
// directories) and READMEs. Entries may be links to regular files inside
// feeds_dir, as in a ConfigMap volume; directories are not descended into.
func (f *feeds) listing() dirwatch.Options {
	return dirwatch.Options{Dir: f.cfg.FeedsDir, DirOption: "feeds_dir", Files: f.cfg.Feeds,
		Skip: skipName, MaxFiles: f.cfg.Limits.MaxFiles}
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

// report logs and counts the refusals that started with the last scan.
// Files beyond max_files are summed up in one line: there may be
// thousands.
func (f *feeds) report(refused map[string]dirwatch.Refusal) {
	var tooMany []string
	for p, r := range refused {
		f.onRefused(p, r.Reason)
		if r.Reason == dirwatch.ReasonTooManyFiles {
			tooMany = append(tooMany, p)
			continue
		}
		f.logger.Warn("Feed file refused", zap.String("file", p), zap.String("reason", r.Reason), zap.String("detail", r.Detail))
	}
	if len(tooMany) > 0 {
		sort.Strings(tooMany)
		f.logger.Warn("Feed files ignored: more than limits.max_files", zap.Int("max_files", f.cfg.Limits.MaxFiles),
			zap.Int("ignored", len(tooMany)), zap.String("first_ignored", tooMany[0]))
	}
}

// refresh checks every file and swaps in a new snapshot when something
// changed. At start (initial), changed files are read at once.
func (f *feeds) refresh(initial bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := dirwatch.Scan(f.listing())
	if err != nil {
		return err
	}
	defer l.Close()
	ch := f.tracker.Update(l, initial, f.now())
	f.report(ch.NewRefusals)
	var errs []error
	for _, se := range l.Errors {
		f.onError(se.Path, se.Err)
		errs = append(errs, se.Err)
	}
	total := 0
	for _, lf := range f.loaded {
		total += lf.store.Len()
	}
	changed := false
	for _, ff := range ch.Ready {
		p := ff.Path
		old := f.loaded[p]
		oldLen := 0
		if old != nil {
			oldLen = old.store.Len()
		}
		lf, err := f.loadWithin(ff, l, total-oldLen)
		if err != nil {
			// The previous contents, if any, stay in force. The identity is
			// remembered so the same broken file is not read again and
			// again; a new write changes it.
			f.tracker.Failed(ff)
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
		f.tracker.Loaded(ff)
		f.loaded[p] = lf
		total += lf.store.Len() - oldLen
		changed = true
		f.onLoad(p, lf.format, lf.store.Len())
		f.logger.Info("Loaded feed", zap.String("file", p), zap.String("format", lf.format), zap.Int("indicators", lf.store.Len()))
	}
	// A file whose last version failed was never recorded as read, so the
	// tracker does not report it removed: drop what is left of it here.
	present := make(map[string]bool, len(l.Files))
	for _, ff := range l.Files {
		present[ff.Path] = true
	}
	for p := range f.loaded {
		if present[p] {
			continue
		}
		delete(f.loaded, p)
		f.tracker.Forget(p)
		changed = true
		if r, ok := ch.Refused[p]; ok {
			f.logger.Warn("Feed file dropped: refused", zap.String("file", p), zap.String("reason", r.Reason))
		} else {
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

// refuseReason is the metric reason of a load error that a limit or a
// safety check caused, "" for other errors (a file that does not parse).
func refuseReason(err error) string {
	if errors.Is(err, errParserPanic) {
		return reasonPanic
	}
	if errors.Is(err, errTotalIndicators) {
		return reasonTotal
	}
	var nr *dirwatch.NotRegularError
	if errors.As(err, &nr) {
		return dirwatch.ReasonNotRegular
	}
	return feed.LimitReason(err)
}

// errTotalIndicators marks a file refused because, with the other files,
// it would exceed limits.max_indicators.
var errTotalIndicators = errors.New("the indicators of all feeds would exceed limits.max_indicators")

// loadWithin loads a file within the limits, others being the indicators
// the other files hold.
func (f *feeds) loadWithin(ff dirwatch.File, l *dirwatch.Listing, others int) (*loadedFile, error) {
	lim := f.cfg.Limits
	fl := feed.Limits{MaxBytes: lim.MaxFileSizeMiB << 20, MaxIndicators: lim.MaxIndicatorsPerFile}
	left := lim.MaxIndicators - others
	byTotal := lim.MaxIndicators > 0 && (fl.MaxIndicators <= 0 || left < fl.MaxIndicators)
	if byTotal {
		if left <= 0 {
			return nil, fmt.Errorf("%s: %w (%d), which the other feeds hold already", ff.Path, errTotalIndicators, lim.MaxIndicators)
		}
		fl.MaxIndicators = left
	}
	lf, err := f.load(ff, l, fl)
	if byTotal && feed.LimitReason(err) == feed.ReasonTooManyIndicators {
		return nil, fmt.Errorf("%s: %w (%d): only %d are left beside the other feeds' %d", ff.Path, errTotalIndicators, lim.MaxIndicators, left, others)
	}
	return lf, err
}

func (f *feeds) load(ff dirwatch.File, l *dirwatch.Listing, lim feed.Limits) (lf *loadedFile, err error) {
	defer func() {
		if r := recover(); r != nil {
			f.logger.Error("Feed parser panicked; the file is refused", zap.String("file", ff.Path),
				zap.Any("panic", r), zap.Stack("stack"))
			lf, err = nil, fmt.Errorf("%s: %w: %v", ff.Path, errParserPanic, r)
		}
	}()
	file, fi, err := l.Open(ff)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ff.Path, err)
	}
	defer file.Close()
	b := store.NewBuilder()
	format, stats, err := f.parse(file, fi.Size(), ff.Path, lim, b.Add)
	if err != nil {
		return nil, err
	}
	if stats.Skipped > 0 {
		f.onSkipped(stats.Skipped-stats.Limited, stats.Limited)
		fields := []zap.Field{zap.String("file", ff.Path), zap.Int("skipped", stats.Skipped),
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
	return &loadedFile{format: name, store: b.Build()}, nil
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
