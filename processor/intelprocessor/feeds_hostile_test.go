//go:build unix

package intelprocessor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/internal/dirwatch"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/feed"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

const otherHash = "1111111111111111111111111111111111111111111111111111111111111111"

// configMapVolume lays dir out as the kubelet does for a ConfigMap volume:
// the files are in a timestamped hidden directory, ..data links to it and
// each file is a link through ..data.
type configMapVolume struct {
	t   *testing.T
	dir string
	gen string // current timestamped directory
}

func newConfigMapVolume(t *testing.T, files map[string]string) *configMapVolume {
	v := &configMapVolume{t: t, dir: t.TempDir()}
	v.gen = v.writeGeneration("..2026_01_01_00_00_00.123456789", files)
	require.NoError(t, os.Symlink(v.gen, filepath.Join(v.dir, "..data")))
	for name := range files {
		require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)))
	}
	return v
}

func (v *configMapVolume) writeGeneration(name string, files map[string]string) string {
	require.NoError(v.t, os.Mkdir(filepath.Join(v.dir, name), 0o755))
	for f, content := range files {
		require.NoError(v.t, os.WriteFile(filepath.Join(v.dir, name, f), []byte(content), 0o644))
	}
	return name
}

// update swaps ..data to a new generation in one rename, as the kubelet
// does, and removes the old one. The new files get the modification time of
// the old ones: the swap must be seen without it.
func (v *configMapVolume) update(name string, files map[string]string) {
	old := v.gen
	v.gen = v.writeGeneration(name, files)
	for f := range files {
		st, err := os.Stat(filepath.Join(v.dir, old, f))
		require.NoError(v.t, err)
		require.NoError(v.t, os.Chtimes(filepath.Join(v.dir, v.gen, f), st.ModTime(), st.ModTime()))
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	require.NoError(v.t, os.Symlink(v.gen, tmp))
	require.NoError(v.t, os.Rename(tmp, filepath.Join(v.dir, "..data")))
	require.NoError(v.t, os.RemoveAll(filepath.Join(v.dir, old)))
}

// TestConfigMapVolume: a ConfigMap mounted as feeds_dir holds nothing but
// symbolic links and hidden directories, and the directory scan kept only
// regular files, so such feeds were ignored without a word.
func TestConfigMapVolume(t *testing.T) {
	v := newConfigMapVolume(t, map[string]string{
		"blocklist.csv": gsNetcat + ",malicious\n",
		"allow.csv":     "allowed.example,benign\n",
	})
	cfg := feedsConfig(v.dir)
	cfg.Settle = time.Minute
	f := newFixture(t, cfg)
	clock := time.Now()
	f.p.feeds.now = func() time.Time { return clock }

	out := f.send(t, procStart(gsNetcat))
	assert.Equal(t, []string{"intel_malicious_hash"}, testkit.Signals(out[0]))
	e := enrichments(t, out[0])
	require.Len(t, e, 1)
	assert.Equal(t, "blocklist.csv", e[0]["indicator"].(map[string]any)["provider"], "named after the link, not the timestamped file")
	assert.Equal(t, int64(2), counter(t, f.tel, "otelcol_processor_intel_feed_loads"), "the two files, not ..data or the generation")
	assert.Zero(t, counter(t, f.tel, "otelcol_processor_intel_feed_refused"))

	// An update: same names, same sizes, same modification times; only
	// the ..data link moved.
	v.update("..2026_01_01_00_05_00.987654321", map[string]string{
		"blocklist.csv": otherHash + ",malicious\n",
		"allow.csv":     "allowed.example,benign\n",
	})
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1, "settling: the old contents are still in force")
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Empty(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), "the update replaced the old contents")
	assert.Equal(t, []string{"intel_malicious_hash"}, testkit.Signals(f.send(t, procStart(otherHash))[0]))

	// Nothing changed since: nothing is read again.
	loads := counter(t, f.tel, "otelcol_processor_intel_feed_loads")
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.feeds.refresh(false))
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Equal(t, loads, counter(t, f.tel, "otelcol_processor_intel_feed_loads"))

	// A key removed from the ConfigMap: its link goes with the next
	// generation.
	v.update("..2026_01_01_00_10_00.000000001", map[string]string{"allow.csv": "allowed.example,benign\n"})
	require.NoError(t, os.Remove(filepath.Join(v.dir, "blocklist.csv")))
	require.NoError(t, f.p.feeds.refresh(false))
	assert.Empty(t, testkit.Signals(f.send(t, procStart(otherHash))[0]))
}

// TestConfigMapReloadLoop: the same through the reload loop, with the
// default settle shortened.
func TestConfigMapReloadLoop(t *testing.T) {
	v := newConfigMapVolume(t, map[string]string{"blocklist.csv": gsNetcat + ",malicious\n"})
	cfg := feedsConfig(v.dir)
	cfg.ReloadInterval = 10 * time.Millisecond
	cfg.Settle = 20 * time.Millisecond
	f := newFixture(t, cfg)
	assert.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1)
	v.update("..2026_01_01_00_05_00.987654321", map[string]string{"blocklist.csv": otherHash + ",malicious\n"})
	require.Eventually(t, func() bool {
		return len(testkit.Signals(f.send(t, procStart(otherHash))[0])) == 1
	}, 10*time.Second, 10*time.Millisecond, "the ConfigMap update was never loaded")
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs
}

// refusedLog returns the reason logged for file, "" if none was.
func refusedLog(logs *observer.ObservedLogs, file string) (reason string, n int) {
	for _, e := range logs.FilterMessage("Feed file refused").All() {
		if e.ContextMap()["file"] == file {
			reason, n = e.ContextMap()["reason"].(string), n+1
		}
	}
	return reason, n
}

func TestSymlinksAndSpecialFiles(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "feeds")
	require.NoError(t, os.Mkdir(dir, 0o755))
	outside := filepath.Join(base, "secret.csv")
	require.NoError(t, os.WriteFile(outside, []byte(otherHash+",malicious\n"), 0o600))
	writeFeed(t, dir, "good.csv", gsNetcat+",malicious\n")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "data"), 0o755))
	writeFeed(t, filepath.Join(dir, "data"), "inner.csv", "inner.example,malicious\n")
	link := func(target, name string) {
		require.NoError(t, os.Symlink(target, filepath.Join(dir, name)))
	}
	link("../secret.csv", "relative-escape.csv")
	link(outside, "absolute-escape.csv")
	link("data/../../secret.csv", "dotdot-escape.csv")
	link(filepath.Join(dir, "data", "inner.csv"), "absolute-inside.csv") // allowed: it stays inside
	link("data/missing.csv", "dangling.csv")
	link("loop.csv", "loop.csv")
	link("data", "dirlink")
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.csv"), 0o600))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "data", "pipe"), 0o600))
	link("data/pipe", "pipelink.csv")

	logger, logs := observed()
	started := make(chan *fixture, 1)
	go func() { started <- newFixtureLogger(t, feedsConfig(dir), logger) }()
	var f *fixture
	select {
	case f = <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("start blocked on a feed file")
	}

	out := f.send(t, procStart(gsNetcat), procStart(otherHash),
		map[string]any{"@timestamp": evTime.Format(time.RFC3339), "dns.question.name": "inner.example"})
	assert.Len(t, testkit.Signals(out[0]), 1, "the regular file loads")
	assert.Empty(t, testkit.Signals(out[1]), "nothing from outside feeds_dir")
	assert.Equal(t, []string{"intel_bad_domain"}, testkit.Signals(out[2]), "a link inside feeds_dir loads")

	for file, want := range map[string]string{
		"relative-escape.csv": "outside_feeds_dir",
		"absolute-escape.csv": "outside_feeds_dir",
		"dotdot-escape.csv":   "outside_feeds_dir",
		"dangling.csv":        "broken_symlink",
		"pipe.csv":            "not_regular_file",
		"pipelink.csv":        "not_regular_file",
	} {
		reason, n := refusedLog(logs, filepath.Join(dir, file))
		assert.Equal(t, want, reason, file)
		assert.Equal(t, 1, n, file)
	}
	assert.Equal(t, int64(3), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "outside_feeds_dir"}))
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "not_regular_file"}))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "broken_symlink"}))
	assert.Equal(t, int64(1), counter(t, f.tel, "otelcol_processor_intel_feed_errors"), "the link loop cannot be resolved")
	for _, e := range logs.All() {
		assert.NotContains(t, fmt.Sprint(e.ContextMap()["file"]), "dirlink", "a link to a directory is like a directory: not a feed")
	}

	// Refusals are logged and counted when they start, not on every scan.
	require.NoError(t, f.p.feeds.refresh(false))
	require.NoError(t, f.p.feeds.refresh(false))
	_, n := refusedLog(logs, filepath.Join(dir, "pipe.csv"))
	assert.Equal(t, 1, n)
	assert.Equal(t, int64(6), counter(t, f.tel, "otelcol_processor_intel_feed_refused"))

	// A file that becomes a link out of the directory is dropped with a
	// reason.
	require.NoError(t, os.Remove(filepath.Join(dir, "good.csv")))
	link("../secret.csv", "good.csv")
	require.NoError(t, f.p.feeds.refresh(false))
	out = f.send(t, procStart(gsNetcat), procStart(otherHash))
	assert.Empty(t, testkit.Signals(out[0]))
	assert.Empty(t, testkit.Signals(out[1]))
	reason, _ := refusedLog(logs, filepath.Join(dir, "good.csv"))
	assert.Equal(t, "outside_feeds_dir", reason)
	assert.Len(t, logs.FilterMessage("Feed file dropped: refused").All(), 1)
}

// TestConfiguredFIFODoesNotBlock: a FIFO named in feeds was opened for
// reading, which waits for a writer: the collector never finished starting.
func TestConfiguredFIFODoesNotBlock(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "feed.csv")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	good := writeFeed(t, t.TempDir(), "good.csv", gsNetcat+",malicious\n")
	cfg := createDefaultConfig().(*Config)
	cfg.ReloadInterval = 0
	cfg.Feeds = []string{fifo, good}
	logger, logs := observed()
	started := make(chan *fixture, 1)
	go func() { started <- newFixtureLogger(t, cfg, logger) }()
	select {
	case f := <-started:
		assert.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1)
		reason, _ := refusedLog(logs, fifo)
		assert.Equal(t, "not_regular_file", reason)
	case <-time.After(20 * time.Second):
		t.Fatal("start blocked on a FIFO")
	}
}

// TestFileSwappedForFIFOAfterTheScan: the type is checked on the opened
// file, so a regular file replaced by a FIFO between the scan and the open
// is refused at once rather than blocking the load.
func TestFileSwappedForFIFOAfterTheScan(t *testing.T) {
	dir := t.TempDir()
	f := newFeeds(feedsConfig(dir), zap.NewNop())
	writeFeed(t, dir, "swapped.csv", gsNetcat+",malicious\n")
	l, err := dirwatch.Scan(f.listing())
	require.NoError(t, err)
	defer l.Close()
	require.Len(t, l.Files, 1)
	require.NoError(t, os.Remove(filepath.Join(dir, "swapped.csv")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "swapped.csv"), 0o600))
	done := make(chan error, 1)
	go func() {
		_, err := f.load(l.Files[0], l, feed.Limits{})
		done <- err
	}()
	select {
	case err := <-done:
		assert.Equal(t, "not_regular_file", refuseReason(err), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("load blocked on a FIFO")
	}
}

// deepSTIX is a bundle with one good indicator and one whose pattern is a
// few million parentheses deep, which overflowed the parser's stack: a
// fatal error at start and on every reload.
func deepSTIX(t *testing.T) string {
	deep := strings.Repeat("(", 2_000_000) + "[domain-name:value = 'deep.example']" + strings.Repeat(")", 2_000_000)
	objects, err := json.Marshal([]any{
		map[string]any{"type": "indicator", "id": "indicator--deep", "pattern": deep},
		map[string]any{"type": "indicator", "id": "indicator--nested", "pattern": strings.Repeat("(", 100) + "[domain-name:value = 'nested.example']" + strings.Repeat(")", 100)},
		map[string]any{"type": "indicator", "id": "indicator--good", "pattern": "[domain-name:value = 'good.example']"},
	})
	require.NoError(t, err)
	// "type" first, as producers write it: the format is told from the
	// first 64 KiB.
	return `{"type": "bundle", "id": "bundle--1", "objects": ` + string(objects) + `}`
}

func TestHostileSTIXLoadsWhatItCan(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, "bundle.json", deepSTIX(t))
	writeFeed(t, dir, "list.csv", gsNetcat+",malicious\n")
	logger, logs := observed()
	f := newFixtureLogger(t, feedsConfig(dir), logger)
	dns := func(name string) map[string]any {
		return map[string]any{"@timestamp": evTime.Format(time.RFC3339), "dns.question.name": name}
	}
	out := f.send(t, dns("good.example"), dns("deep.example"), dns("nested.example"), procStart(gsNetcat))
	assert.Len(t, testkit.Signals(out[0]), 1, "the rest of the bundle loads")
	assert.Empty(t, testkit.Signals(out[1]))
	assert.Empty(t, testkit.Signals(out[2]))
	assert.Len(t, testkit.Signals(out[3]), 1, "and the other files")
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_entries_skipped", map[string]string{"reason": "limit"}))
	skipped := logs.FilterMessage("Feed entries skipped").All()
	require.Len(t, skipped, 1)
	ctx := skipped[0].ContextMap()
	assert.Equal(t, filepath.Join(dir, "bundle.json"), ctx["file"])
	assert.Equal(t, int64(2), ctx["refused_by_limits"])
	assert.Contains(t, ctx["first_refused"], "indicator--deep: pattern refused")
}

func TestFeedLimits(t *testing.T) {
	t.Run("max_files", func(t *testing.T) {
		dir := t.TempDir()
		writeFeed(t, dir, "a.csv", "a.example,malicious\n")
		writeFeed(t, dir, "b.csv", "b.example,malicious\n")
		writeFeed(t, dir, "c.csv", "c.example,malicious\n")
		cfg := feedsConfig(dir)
		cfg.Limits.MaxFiles = 2
		logger, logs := observed()
		f := newFixtureLogger(t, cfg, logger)
		assert.Equal(t, 2, len(f.p.feeds.snapshot().stores))
		assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "too_many_files"}))
		ignored := logs.FilterMessage("Feed files ignored: more than limits.max_files").All()
		require.Len(t, ignored, 1)
		assert.Equal(t, filepath.Join(dir, "c.csv"), ignored[0].ContextMap()["first_ignored"])
	})

	t.Run("max_indicators over all files", func(t *testing.T) {
		dir := t.TempDir()
		writeFeed(t, dir, "a.csv", "a1.example,malicious\na2.example,malicious\na3.example,malicious\n")
		writeFeed(t, dir, "b.csv", "b1.example,malicious\nb2.example,malicious\nb3.example,malicious\n")
		cfg := feedsConfig(dir)
		cfg.Limits.MaxIndicatorsPerFile = 4
		cfg.Limits.MaxIndicators = 5
		require.NoError(t, cfg.Validate())
		f := newFixture(t, cfg)
		assert.Equal(t, 3, f.p.feeds.snapshot().total, "a.csv loads, b.csv would exceed the total")
		assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "total_indicators"}))
	})

	t.Run("a new version over a limit keeps the old contents", func(t *testing.T) {
		dir := t.TempDir()
		path := writeFeed(t, dir, "list.csv", gsNetcat+",malicious\n")
		cfg := feedsConfig(dir)
		cfg.Settle = 0
		cfg.Limits.MaxFileSizeMiB = 1
		cfg.Limits.MaxIndicatorsPerFile = 2
		logger, logs := observed()
		f := newFixtureLogger(t, cfg, logger)
		require.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1)

		require.NoError(t, os.WriteFile(path, []byte(gsNetcat+",malicious\n"+strings.Repeat("# padding line\n", 80_000)), 0o600))
		require.NoError(t, f.p.feeds.refresh(false))
		assert.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1, "kept")
		assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "file_too_large"}))

		require.NoError(t, os.WriteFile(path, []byte("a.example,malicious\nb.example,malicious\nc.example,malicious\n"), 0o600))
		require.NoError(t, f.p.feeds.refresh(false))
		assert.Len(t, testkit.Signals(f.send(t, procStart(gsNetcat))[0]), 1, "kept")
		assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "too_many_indicators"}))
		warn := logs.FilterMessage("Feed file could not be read; keeping its previous contents").All()
		require.Len(t, warn, 2)
		assert.Equal(t, path, warn[1].ContextMap()["file"])
		assert.Equal(t, "too_many_indicators", warn[1].ContextMap()["reason"])

		// The refused version is not read again until it changes.
		require.NoError(t, f.p.feeds.refresh(false))
		assert.Len(t, logs.FilterMessage("Feed file could not be read; keeping its previous contents").All(), 2)
	})
}

// TestParserPanicRefusesTheFile: a parser bug that a file triggers costs
// that file, not the collector.
func TestParserPanicRefusesTheFile(t *testing.T) {
	dir := t.TempDir()
	writeFeed(t, dir, "a.csv", gsNetcat+",malicious\n")
	writeFeed(t, dir, "b.csv", otherHash+",malicious\n")
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processorSettings()
	set.TelemetrySettings = tel.NewTelemetrySettings()
	logger, logs := observed()
	set.Logger = logger
	pl, p, err := newLogsProcessor(context.Background(), set, feedsConfig(dir), consumertest.NewNop())
	require.NoError(t, err)
	p.feeds.parse = func(r io.Reader, size int64, path string, lim feed.Limits, emit func(indicator.Indicator) error) (feed.Format, feed.Stats, error) {
		if filepath.Base(path) == "a.csv" {
			var m map[string]int
			m["boom"]++ // a nil map write: the kind of bug a parser could have
		}
		return feed.ParseOpen(r, size, path, lim, emit)
	}
	require.NoError(t, pl.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, pl.Shutdown(context.Background())) })
	assert.Equal(t, 1, p.feeds.snapshot().total)
	assert.Equal(t, int64(1), testkit.Sum(t, tel, "otelcol_processor_intel_feed_refused", map[string]string{"reason": "parser_panic"}))
	require.Len(t, logs.FilterMessage("Feed parser panicked; the file is refused").All(), 1)
}
