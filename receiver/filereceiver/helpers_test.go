package filereceiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/receiver/filereceiver/internal/metadata"
)

const (
	waitFor = 20 * time.Second
	tick    = 5 * time.Millisecond
)

// doc is one ECS line of file name with sequence number seq, padded to
// about 500 bytes like a real event.
func doc(name string, seq int) string {
	return fmt.Sprintf(`{"@timestamp":"2026-03-05T14:00:%02d.%03dZ","file":%q,"seq":%d,"event":{"kind":"event","category":["process"],"type":["start"]},"host":{"name":"web-03"},"process":{"pid":%d,"executable":"/usr/bin/example","args":["example","--flag","value"]},"pad":%q}`+"\n",
		seq%60, seq%1000, name, seq, 1000+seq, strings.Repeat("x", 200))
}

// docs returns the lines of seqs [from, to) of name.
func docs(name string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(doc(name, i))
	}
	return b.String()
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// item is one record received: its file and seq (seq -1 for a record
// without one, such as a pipeline error record).
type item struct {
	file string
	seq  int64
}

// recorder is the next consumer: it keeps every accepted batch, and can
// be told to fail or block first.
type recorder struct {
	mu      sync.Mutex
	batches []plog.Logs
	items   []item
	calls   int
	// hook runs before a batch is accepted; a non-nil error refuses it.
	hook func(ctx context.Context, call int, ld plog.Logs) error
}

func (c *recorder) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *recorder) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	c.mu.Lock()
	c.calls++
	call := c.calls
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, call, ld); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, ld)
	forEachRecord(ld, func(_ pcommon.Resource, rec plog.LogRecord) {
		c.items = append(c.items, itemOf(rec))
	})
	return nil
}

func itemOf(rec plog.LogRecord) item {
	it := item{seq: -1}
	if v, ok := rec.Attributes().Get("file"); ok {
		it.file = v.Str()
	}
	if v, ok := rec.Attributes().Get("seq"); ok && v.Type() == pcommon.ValueTypeInt {
		it.seq = v.Int()
	}
	return it
}

func forEachRecord(ld plog.Logs, fn func(res pcommon.Resource, rec plog.LogRecord)) {
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			recs := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				fn(rl.Resource(), recs.At(k))
			}
		}
	}
}

func (c *recorder) snapshot() []item {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]item(nil), c.items...)
}

func (c *recorder) records() []plog.LogRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []plog.LogRecord
	for _, ld := range c.batches {
		forEachRecord(ld, func(_ pcommon.Resource, rec plog.LogRecord) { out = append(out, rec) })
	}
	return out
}

// seqs returns the seqs received from file, in order.
func seqsOf(items []item, file string) []int64 {
	var out []int64
	for _, it := range items {
		if it.file == file {
			out = append(out, it.seq)
		}
	}
	return out
}

func (c *recorder) seqs(file string) []int64 { return seqsOf(c.snapshot(), file) }

func (c *recorder) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// waitSeqs waits until file's seqs [0, n) or more were received.
func (c *recorder) waitCount(t testing.TB, file string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(c.seqs(file)) >= n }, waitFor, tick,
		"waiting for %d records of %s", n, file)
}

// span returns [from, to) as int64s.
func span(from, to int) []int64 {
	out := make([]int64, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, int64(i))
	}
	return out
}

// requireExactly waits for file's records to be exactly want, in order,
// and checks that nothing more arrives by the time a later marker line of
// a second file has been read.
func (c *recorder) requireExactly(t testing.TB, file string, want []int64) {
	t.Helper()
	c.waitCount(t, file, len(want))
	require.Equal(t, want, c.seqs(file))
}

// env runs receivers on a directory, with an optional file_storage shared
// by the receivers it starts (one after the other).
type env struct {
	t       *testing.T
	dir     string
	stateID component.ID
	state   string // file_storage directory; "" without storage
	tel     *componenttest.Telemetry
}

func newEnv(t *testing.T, withStorage bool) *env {
	e := &env{t: t, dir: t.TempDir(), stateID: component.MustNewID("file_storage")}
	if withStorage {
		e.state = t.TempDir()
	}
	return e
}

func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

// config returns a configuration reading e.dir/pattern with short
// intervals.
func (e *env) config(patterns ...string) *Config {
	cfg := createDefaultConfig().(*Config)
	for _, p := range patterns {
		cfg.Include = append(cfg.Include, e.path(p))
	}
	cfg.StartAt = StartAtBeginning
	cfg.PollInterval = 10 * time.Millisecond
	cfg.ForceFlushPeriod = time.Minute
	if e.state != "" {
		id := e.stateID
		cfg.Storage = &id
	}
	require.NoError(e.t, cfg.Validate())
	return cfg
}

// running is a started receiver and its storage extension.
type running struct {
	r    *fileReceiver
	stop func() error
}

// start starts a receiver (and a file_storage on e.state) with fresh
// telemetry in e.tel; it is shut down at the end of the test unless
// stopped before.
func (e *env) start(cfg *Config, next consumer.Logs, tweak ...func(*fileReceiver)) *running {
	t := e.t
	t.Helper()
	e.tel = componenttest.NewTelemetry()
	tel := e.tel
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := settings()
	set.TelemetrySettings = e.tel.NewTelemetrySettings()
	set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	r, err := newReceiver(set, cfg, next)
	require.NoError(t, err)
	for _, f := range tweak {
		f(r)
	}
	host := component.Host(componenttest.NewNopHost())
	var stopExt func() error
	if e.state != "" {
		ext := testkit.StartFileStorage(t, e.state)
		host = storagetest.NewStorageHost().WithExtension(e.stateID, ext)
		stopExt = func() error { return ext.Shutdown(context.Background()) }
	}
	require.NoError(t, r.Start(context.Background(), host))
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			stopErr = r.Shutdown(context.Background())
			if stopExt != nil {
				if err := stopExt(); err != nil && stopErr == nil {
					stopErr = err
				}
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return &running{r: r, stop: stop}
}

// waitOpen waits until the receiver holds n files open (its first poll
// is done once the files present at start are).
func (rn *running) waitOpen(t testing.TB, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return rn.r.cnt.open.Load() == int64(n) }, waitFor, tick,
		"waiting for %d open files", n)
}

// sum reads a counter of the receiver's telemetry.
func (e *env) sum(name string, attrs map[string]string) int64 {
	return testkit.Sum(e.t, e.tel, name, attrs)
}

// settings are receiver settings with a fixed ID: the storage client, and
// so the checkpoints, belong to the component ID (NewNopSettings makes a
// new one each time).
func settings() receiver.Settings {
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	return set
}

// waitPolls waits until the receiver has polled n more times: whatever was
// on disk before the call has been looked at.
func (rn *running) waitPolls(t testing.TB, n int64) {
	t.Helper()
	from := rn.r.cnt.polls.Load()
	require.Eventually(t, func() bool { return rn.r.cnt.polls.Load() >= from+n }, waitFor, tick)
}
