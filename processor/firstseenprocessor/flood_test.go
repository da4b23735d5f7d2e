package firstseenprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/testkit"
)

// floodHosts sends n process starts, each from a made-up host name, at
// event time at, in batches of 10,000.
func floodHosts(t *testing.T, f *fixture, n int, at time.Duration) {
	t.Helper()
	ts := pcommon.NewTimestampFromTime(day0.Add(at))
	for start := 0; start < n; start += 10_000 {
		ld := plog.NewLogs()
		recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := start; i < min(start+10_000, n); i++ {
			r := recs.AppendEmpty()
			r.SetTimestamp(ts)
			a := r.Attributes()
			a.PutStr("host.name", fmt.Sprintf("made-up-%06d", i))
			a.PutStr("event.category", "process")
			a.PutStr("event.type", "start")
			a.PutStr("process.executable", "/bin/sh")
		}
		require.NoError(t, f.proc.ConsumeLogs(context.Background(), ld))
		f.sink.Reset()
	}
}

// TestFloodOfMadeUpHostNames is issue 12's flood, with its numbers: 100,001
// events with made-up host names (max_scopes is 100,000) used to push every
// real host out of the learning table, and the real hosts learned again:
// their compromise raised nothing. Hosts done learning now have a table of
// their own; the flood evicts only its own kind.
func TestFloodOfMadeUpHostNames(t *testing.T) {
	if testing.Short() {
		t.Skip("floods 100,001 host names")
	}
	f := newFixture(t, createDefaultConfig().(*Config), nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	real := fleetHosts(5)
	learnFleet(t, f, real...)
	f.send(t, procStart(real[0], "/usr/bin/vim", hash("vim"), 30*time.Hour)) // past learning

	floodHosts(t, f, 100_001, 40*time.Hour)
	f.sink.Reset()

	for i, h := range real {
		out := f.send(t, procStart(h, "/tmp/implant", hash("implant"), 41*time.Hour+time.Duration(i)*time.Minute))
		assert.Contains(t, testkit.Signals(out[0]), "new_binary_on_host", "%s is still past learning", h)
	}
	learning := testkit.Sum(t, f.tel, "otelcol_processor_firstseen_evictions", map[string]string{"tracker": "new_binary_on_host", "table": "scopes", "kind": "learning"})
	assert.Positive(t, learning, "made-up hosts pushed out made-up hosts")
	assert.Zero(t, testkit.Sum(t, f.tel, "otelcol_processor_firstseen_evictions", map[string]string{"table": "scopes", "kind": "done"}),
		"no host done learning was evicted")
	t.Logf("learning-scope evictions: %d", learning)
}

// TestLearningTablesSurviveRestart: both scope tables are kept through
// file_storage, so a restart neither restarts a host's learning nor ends
// it early.
func TestLearningTablesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &storageID
	cfg.FlushInterval = time.Hour
	run := func(events ...map[string]any) ([]pcommon.Map, *fixture) {
		ext := testkit.StartFileStorage(t, dir)
		f := newFixture(t, cfg, storagetest.NewStorageHost().WithExtension(storageID, ext))
		out := f.send(t, events...)
		require.NoError(t, f.proc.Shutdown(ctx))
		require.NoError(t, ext.Shutdown(ctx))
		return out, f
	}
	_, f := run(procStart("old", "/bin/a", hash("a"), 0), procStart("young", "/bin/a", hash("a"), 20*time.Hour),
		procStart("old", "/bin/b", hash("b"), 30*time.Hour)) // old graduates lazily; young still learns
	tr := f.fs.trackers[0]
	t.Logf("before restart: %d done, %d learning", tr.Scopes.Len(), tr.Learning.Len())

	out, f := run(procStart("old", "/bin/c", hash("c"), 31*time.Hour), procStart("young", "/bin/c", hash("c"), 31*time.Hour),
		procStart("young", "/bin/d", hash("d"), 45*time.Hour))
	assert.Equal(t, []string{"new_binary_on_host"}, testkit.Signals(out[0])[:1], "old: past learning")
	assert.Empty(t, testkit.Signals(out[1]), "young: learning since 20h, not restarted nor ended")
	assert.Contains(t, testkit.Signals(out[2]), "new_binary_on_host", "young: done at 44h")
	tr = f.fs.trackers[0]
	assert.Equal(t, 2, tr.Scopes.Len()+tr.Learning.Len())
}
