package sigmaprocessor

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/dirwatch"
	"github.com/cairnsec/cairn/internal/sigma"
)

// defaultRules is Cairn's curated set (rules/README.md), copied byte for
// byte from SigmaHQ under the Detection Rule License 1.1 (rules/LICENSE*).
//
//go:embed rules/*.yml
var defaultRules embed.FS

// skipOverridden is the reason a curated rule is left out when rules_dir
// has a rule of the same id: the operator's copy wins.
const skipOverridden = "overridden"

// Bounds of rules_dir's listing: SigmaHQ's whole repository is some 3,000
// files a few levels deep.
const (
	maxRuleFiles = 20_000
	maxRuleDepth = 8
)

// loadedSet is the rules in force with what was left out, replaced whole
// when anything changes.
type loadedSet struct {
	set         *sigma.RuleSet
	byLevel     map[sigma.Level]int
	unsupported map[sigma.Reason]int
	skipped     map[string]int
}

// parsedFile is the last good contents of one rules_dir file.
type parsedFile struct {
	rules []*sigma.Rule
	unsup []sigma.Unsupported
}

// loader loads the curated set and rules_dir, and reloads rules_dir when
// it changes.
type loader struct {
	cfg    *Config
	logger *zap.Logger
	now    func() time.Time

	mu       sync.Mutex // serialises refreshes
	defaults *parsedFile
	files    map[string]*parsedFile
	tracker  *dirwatch.Tracker
	current  atomic.Pointer[loadedSet]

	// onLoadError and onRefused report to metrics.
	onLoadError func()
	onRefused   func(reason string)
}

func newLoader(cfg *Config, logger *zap.Logger) *loader {
	l := &loader{cfg: cfg, logger: logger, now: time.Now, files: map[string]*parsedFile{},
		tracker: dirwatch.NewTracker(cfg.Settle), onLoadError: func() {}, onRefused: func(string) {}}
	l.current.Store(&loadedSet{byLevel: map[sigma.Level]int{}, unsupported: map[sigma.Reason]int{}, skipped: map[string]int{}})
	return l
}

func (l *loader) rules() *loadedSet { return l.current.Load() }

// loadDefaults parses the curated set.
func loadDefaults() (*parsedFile, error) {
	pf := &parsedFile{}
	names, err := fs.Glob(defaultRules, "rules/*.yml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := defaultRules.ReadFile(name)
		if err != nil {
			return nil, err
		}
		rules, unsup, err := sigma.ParseFile("default:"+path.Base(name), data)
		if err != nil {
			return nil, err
		}
		pf.rules = append(pf.rules, rules...)
		pf.unsup = append(pf.unsup, unsup...)
	}
	return pf, nil
}

// skipRuleName leaves out what is not a rule file: only .yml and .yaml
// files are read, and not an editor's or a downloader's work in progress.
func skipRuleName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return strings.HasSuffix(name, "~") || (ext != ".yml" && ext != ".yaml")
}

// refresh loads what changed and swaps in a new set. At start (initial)
// any file, directory or set that cannot be loaded is an error naming it;
// later, errors are logged and counted, and the rules of a file whose new
// version fails, or the whole previous set when the new one cannot be
// built, stay in force.
func (l *loader) refresh(initial bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	fail := func(err error) {
		l.onLoadError()
		errs = append(errs, err)
		if !initial {
			l.logger.Warn("Sigma rules could not be loaded; the previous rules stay in force", zap.Error(err))
		}
	}
	changed := initial
	if l.cfg.DefaultRules && l.defaults == nil {
		d, err := loadDefaults()
		if err != nil {
			fail(fmt.Errorf("curated rule set: %w", err))
		} else {
			l.defaults = d
		}
	}
	if l.cfg.RulesDir != "" {
		c, err := l.scanDir(initial, fail)
		if err != nil {
			fail(err)
		}
		changed = changed || c
	}
	if !changed {
		return nil
	}
	if initial && len(errs) > 0 {
		return errors.Join(errs...)
	}
	ls, err := l.build()
	if err != nil {
		fail(err)
		if initial {
			return errors.Join(errs...)
		}
		return nil
	}
	l.current.Store(ls)
	l.logSet(ls)
	if initial && len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// scanDir reads the files of rules_dir that changed; it reports whether
// the rules changed.
func (l *loader) scanDir(initial bool, fail func(error)) (bool, error) {
	list, err := dirwatch.Scan(dirwatch.Options{Dir: l.cfg.RulesDir, DirOption: "rules_dir", Skip: skipRuleName,
		Recursive: true, MaxDepth: maxRuleDepth, MaxFiles: maxRuleFiles})
	if err != nil {
		return false, err
	}
	defer list.Close()
	ch := l.tracker.Update(list, initial, l.now())
	for p, r := range ch.NewRefusals {
		l.onRefused(r.Reason)
		l.logger.Warn("Rule file refused", zap.String("file", p), zap.String("reason", r.Reason), zap.String("detail", r.Detail))
	}
	for _, se := range list.Errors {
		fail(fmt.Errorf("%s: %w", se.Path, se.Err))
	}
	changed := false
	for _, f := range ch.Ready {
		pf, err := readRuleFile(list, f)
		if err != nil {
			l.tracker.Failed(f)
			fail(err)
			continue
		}
		l.tracker.Loaded(f)
		l.files[f.Path] = pf
		changed = true
		for _, u := range pf.unsup {
			l.logger.Info("Sigma rule not loaded: unsupported", zap.String("file", u.File), zap.String("id", u.ID),
				zap.String("title", u.Title), zap.String("reason", string(u.Reason)), zap.String("detail", u.Detail))
		}
	}
	present := make(map[string]bool, len(list.Files))
	for _, f := range list.Files {
		present[f.Path] = true
	}
	for p := range l.files {
		if !present[p] {
			delete(l.files, p)
			l.tracker.Forget(p)
			changed = true
			l.logger.Info("Rule file removed", zap.String("file", p))
		}
	}
	return changed, nil
}

func readRuleFile(list *dirwatch.Listing, f dirwatch.File) (*parsedFile, error) {
	file, _, err := list.Open(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	defer file.Close()
	// One byte more than a rule file may have tells a file that is too
	// large from one that is exactly at the bound.
	data, err := io.ReadAll(io.LimitReader(file, sigma.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	rules, unsup, err := sigma.ParseFile(f.Path, data)
	if err != nil {
		return nil, err
	}
	return &parsedFile{rules: rules, unsup: unsup}, nil
}

// build makes the set in force from the curated rules and the files.
func (l *loader) build() (*loadedSet, error) {
	ls := &loadedSet{byLevel: map[sigma.Level]int{}, unsupported: map[sigma.Reason]int{}, skipped: map[string]int{}}
	paths := make([]string, 0, len(l.files))
	for p := range l.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var dirRules []*sigma.Rule
	fromDir := map[string]bool{}
	for _, p := range paths {
		pf := l.files[p]
		for _, r := range pf.rules {
			if l.cfg.Statuses != nil && r.Status != "" && !contains(l.cfg.Statuses, r.Status) {
				ls.skipped[sigma.SkipStatus]++
				continue
			}
			dirRules = append(dirRules, r)
			fromDir[r.ID] = true
		}
		for _, u := range pf.unsup {
			ls.unsupported[u.Reason]++
		}
	}
	var rules []*sigma.Rule
	if l.cfg.DefaultRules && l.defaults != nil {
		for _, r := range l.defaults.rules {
			if fromDir[r.ID] {
				ls.skipped[skipOverridden]++
				continue
			}
			rules = append(rules, r)
		}
		for _, u := range l.defaults.unsup {
			ls.unsupported[u.Reason]++
		}
	}
	rules = append(rules, dirRules...)
	set, skipped, err := sigma.NewRuleSet(rules, l.cfg.options())
	if err != nil {
		return nil, err
	}
	for _, s := range skipped {
		ls.skipped[s.Reason]++
	}
	for _, r := range set.Rules() {
		ls.byLevel[r.Level]++
	}
	ls.set = set
	return ls, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (l *loader) logSet(ls *loadedSet) {
	fields := []zap.Field{zap.Int("rules", ls.set.Len())}
	for lv := sigma.LevelInformational; lv <= sigma.LevelCritical; lv++ {
		if n := ls.byLevel[lv]; n > 0 {
			fields = append(fields, zap.Int(lv.String(), n))
		}
	}
	if len(ls.unsupported) > 0 {
		fields = append(fields, zap.Any("unsupported", reasonCounts(ls.unsupported)))
	}
	if len(ls.skipped) > 0 {
		fields = append(fields, zap.Any("skipped", ls.skipped))
	}
	l.logger.Info("Sigma rules loaded", fields...)
}

func reasonCounts(m map[sigma.Reason]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}
