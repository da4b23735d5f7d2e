package cairnsearchexporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"
	"github.com/cairnsec/cairn/internal/document"
	"github.com/cairnsec/cairn/internal/searchtest"
	"github.com/cairnsec/cairn/internal/testkit"
)

// gauge reads the last value of a gauge (-1 when never recorded).
func gauge(t testing.TB, tel *componenttest.Telemetry, name string) float64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_exporter_cairn_search_" + name)
	if err != nil {
		return -1
	}
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		if len(d.DataPoints) == 1 {
			return float64(d.DataPoints[0].Value)
		}
	case metricdata.Gauge[float64]:
		if len(d.DataPoints) == 1 {
			return d.DataPoints[0].Value
		}
	}
	t.Fatalf("%s is not a gauge with one point: %T", name, m.Data)
	return 0
}

// rawExporter runs the exporter without exporterhelper, so that a test
// can abandon it as a killed process would be.
type rawExporter struct {
	*searchExporter
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
}

func startRaw(t testing.TB, cfg *Config) *rawExporter {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	core, logs := observer.New(zap.DebugLevel)
	set.Logger = zap.New(core)
	e, err := newExporter(cfg, set)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	return &rawExporter{searchExporter: e, tel: tel, logs: logs}
}

func (r *rawExporter) sum(t testing.TB, name string, attrs map[string]string) int64 {
	t.Helper()
	return testkit.Sum(t, r.tel, "otelcol_exporter_cairn_search_"+name, attrs)
}

// crash stops the exporter as a kill -9 would: its goroutines end where
// they are (an interrupted request is not acknowledged), no shutdown work
// runs (the acknowledged position is what the senders last wrote), and its
// files are released as the kernel would release them.
func (r *rawExporter) crash() {
	r.stop(errors.New("killed"))
	r.bg.Wait()
	if r.spool != nil {
		_ = r.spool.closeFiles()
	}
}

// withIDs gives each scenario line the event.id prefix-<i>.
func withIDs(t testing.TB, lines [][]byte, prefix string) [][]byte {
	t.Helper()
	out := make([][]byte, len(lines))
	for i, l := range lines {
		m := jsonNumber(t, l)
		ev, _ := m["event"].(map[string]any)
		if ev == nil {
			ev = map[string]any{}
			m["event"] = ev
		}
		ev["id"] = fmt.Sprintf("%s-%04d", prefix, i)
		out[i] = jsonDoc(t, m)
	}
	return out
}

// down takes the fake cluster off the network (connections refused),
// once it is serving: Down right after New can race with the server's
// start.
func down(t testing.TB, srv *searchtest.Server) {
	t.Helper()
	srv.Request(t, "GET", "/", "")
	srv.Down()
}

// requireOnce checks that every document was stored exactly once.
func requireOnce(t testing.TB, srv *searchtest.Server) {
	t.Helper()
	for key, n := range srv.Stores() {
		require.Equal(t, 1, n, "%s stored %d times", key, n)
	}
}

// TestSpoolRestartAfterCrash: a collector spooling through a partial
// outage is killed (no shutdown); a new one on the same directory resends
// what was not acknowledged, and the cluster ends up with every document
// exactly once (what the first one had stored answers 409).
func TestSpoolRestartAfterCrash(t *testing.T) {
	dir := t.TempDir()
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	var healthy atomic.Bool
	srv.ItemFault = func(index, id string, _ int) (int, string, string) {
		// Every third document of the odd batches fails until the
		// cluster recovers: those batches are partly stored.
		var b, i int
		if _, err := fmt.Sscanf(id, "ev-%04d", &i); err == nil {
			b = i / 100
		}
		if !healthy.Load() && b%2 == 1 && i%3 == 0 {
			return 503, "unavailable_shards_exception", "primary shard is not active"
		}
		return 0, "", ""
	}
	lines := withIDs(t, scenarioLines(t, 1000), "ev")
	cfg := withSpool(testConfig(srv.URL), dir)
	// One sender per failing batch, so that the others go through (a
	// batch that cannot complete holds its sender).
	cfg.Spool.Senders = 5
	r1 := startRaw(t, cfg)
	for i := 0; i < len(lines); i += 100 {
		require.NoError(t, r1.pushLogs(t.Context(), logsOf(t, lines[i:i+100]...)))
	}
	// The even batches are stored, the odd ones partly, and retried.
	wantRun1 := 0
	for i := range lines {
		if (i/100)%2 == 0 || i%3 != 0 {
			wantRun1++
		}
	}
	eventually(t, 20*time.Second, func() bool {
		return len(srv.Docs("logs-cairn.events-default")) == wantRun1 && r1.sum(t, "docs_retried", nil) > 200
	}, func() string {
		return fmt.Sprintf("%d of %d stored in run 1", len(srv.Docs("logs-cairn.events-default")), wantRun1)
	})
	r1.crash()

	healthy.Store(true)
	r2 := startRaw(t, cfg)
	eventually(t, 20*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == len(lines) }, func() string {
		return fmt.Sprintf("%d of %d stored after the restart", len(srv.Docs("logs-cairn.events-default")), len(lines))
	})
	eventually(t, 5*time.Second, func() bool {
		_, pending, _ := r2.spool.stats()
		return pending == 0
	}, func() string { return "records still pending" })
	require.NoError(t, r2.shutdown(t.Context()))

	requireOnce(t, srv)
	replayed := r2.sum(t, "spool_replayed", nil)
	assert.GreaterOrEqual(t, replayed, int64(5), "at least the five odd batches were pending")
	assert.LessOrEqual(t, replayed, int64(10))
	// Resent documents the first run had stored are answered 409. (Some
	// of the failing ones may have been stored by the first run's last
	// requests, which the server finished after the client was gone:
	// those are 409 too.)
	created := r2.sum(t, "docs_delivered", map[string]string{"result": "created"})
	exists := r2.sum(t, "docs_delivered", map[string]string{"result": "exists"})
	assert.Positive(t, exists)
	assert.LessOrEqual(t, created, int64(len(lines)-wantRun1))
	assert.Equal(t, replayed*100, created+exists, "each replayed document resolved once")
	assert.Zero(t, r1.sum(t, "docs_dropped", nil)+r2.sum(t, "docs_dropped", nil))
	t.Logf("run 1 stored %d of %d; run 2 replayed %d batches, %d documents already there",
		wantRun1, len(lines), replayed, r2.sum(t, "docs_delivered", map[string]string{"result": "exists"}))
}

// TestSpoolTornTailEndToEnd: a collector killed in the middle of an append
// leaves a partial record; the next one truncates it and delivers every
// complete batch, once.
func TestSpoolTornTailEndToEnd(t *testing.T) {
	dir := t.TempDir()
	srv := searchtest.New(t, searchtest.OpenSearch, "2.19.1")
	down(t, srv)
	cfg := withSpool(testConfig(srv.URL), dir)
	r1 := startRaw(t, cfg)
	lines := scenarioLines(t, 300)
	for i := 0; i < len(lines); i += 100 {
		require.NoError(t, r1.pushLogs(t.Context(), logsOf(t, lines[i:i+100]...)))
	}
	seg := segName(dir, r1.spool.wf.Load().seq)
	r1.crash()
	// The torn write: the first half of another record.
	rec, err := appendRecord(nil, encodeBatch(t, scenarioLines(t, 400)[300:]...), time.Now().UnixNano())
	require.NoError(t, err)
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(rec[:len(rec)/2])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	srv.Up(t)
	r2 := startRaw(t, cfg)
	assert.Equal(t, 1, r2.logs.FilterMessageSnippet("torn or damaged tail").Len())
	assert.EqualValues(t, 3, r2.sum(t, "spool_replayed", nil))
	eventually(t, 20*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == len(lines) }, func() string {
		return fmt.Sprintf("%d of %d", len(srv.Docs("logs-cairn.events-default")), len(lines))
	})
	require.NoError(t, r2.shutdown(t.Context()))
	requireOnce(t, srv)
}

// TestSpoolFull: with the cluster down the spool fills; ConsumeLogs then
// waits for space until its context ends and returns a retryable error
// (counted); one that waits long enough is written once the cluster is
// back. Nothing is lost: the refused batch is the caller's to resend.
func TestSpoolFull(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "9.1.3")
	down(t, srv)
	cfg := withSpool(testConfig(srv.URL), t.TempDir())
	cfg.Spool.MaxBytes = minSpoolMaxBytes
	h := startExporter(t, cfg, nil)
	lines := withIDs(t, scenarioLines(t, 3000), "full")
	const per = 200
	sent := 0
	var refused error
	for sent < len(lines) {
		ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
		err := h.exp.ConsumeLogs(ctx, logsOf(t, lines[sent:sent+per]...))
		cancel()
		if err != nil {
			refused = err
			break
		}
		sent += per
	}
	require.Error(t, refused, "1 MiB holds fewer than 3000 documents")
	require.Less(t, sent, len(lines))
	assert.False(t, consumererror.IsPermanent(refused), "retryable: %v", refused)
	assert.ErrorIs(t, refused, errSpoolFull)
	assert.ErrorIs(t, refused, context.DeadlineExceeded)
	assert.EqualValues(t, 1, h.sum(t, "spool_full", map[string]string{"outcome": "refused"}))
	assert.LessOrEqual(t, gauge(t, h.tel, "spool_bytes"), float64(minSpoolMaxBytes))
	assert.EqualValues(t, sent/per, gauge(t, h.tel, "spool_records"))

	// The caller resends the refused batch, without a deadline: it
	// waits until the cluster is back and frees space.
	done := make(chan error, 1)
	go func() { done <- h.exp.ConsumeLogs(context.Background(), logsOf(t, lines[sent:sent+per]...)) }()
	select {
	case err := <-done:
		t.Fatalf("ConsumeLogs returned while the spool was full: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	srv.Up(t)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("ConsumeLogs still waiting after the cluster came back")
	}
	sent += per
	for ; sent < len(lines); sent += per {
		h.consume(t, logsOf(t, lines[sent:sent+per]...))
	}
	eventually(t, 20*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == len(lines) }, func() string {
		return fmt.Sprintf("%d of %d", len(srv.Docs("logs-cairn.events-default")), len(lines))
	})
	eventually(t, 5*time.Second, func() bool { return gauge(t, h.tel, "spool_records") == 0 }, func() string { return "records pending" })
	assert.Zero(t, gauge(t, h.tel, "spool_oldest_age"))
	h.stop(t)
	requireOnce(t, srv)
	// The resent batch waited; later ones may have too, while the senders
	// caught up.
	assert.GreaterOrEqual(t, h.sum(t, "spool_full", map[string]string{"outcome": "waited"}), int64(1))
	assert.EqualValues(t, 1, h.sum(t, "spool_full", map[string]string{"outcome": "refused"}))
}

// TestSpoolStorms: 429 answers to whole requests and to most items, then
// 503s, with the spool: ConsumeLogs never waits for the cluster, every
// document is stored once, and the spool empties.
func TestSpoolStorms(t *testing.T) {
	srv := searchtest.New(t, searchtest.OpenSearch, "3.2.0")
	var bulks atomic.Int32
	srv.Hook = func(r *http.Request, _ int) (int, string) {
		if r.URL.Path == "/_bulk" && bulks.Add(1) <= 6 {
			return 429, `{"error":{"type":"rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}`
		}
		return 0, ""
	}
	srv.ItemFault = func(index, id string, attempt int) (int, string, string) {
		switch {
		case attempt <= 2 && id[len(id)-1] != '9':
			return 429, "rejected_execution_exception", "rejected execution of bulk"
		case attempt == 3 && id[len(id)-1] < '5':
			return 503, "unavailable_shards_exception", "primary shard is not active"
		}
		return 0, "", ""
	}
	cfg := withSpool(testConfig(srv.URL), t.TempDir())
	cfg.Spool.Senders = 3
	h := startExporter(t, cfg, nil)
	lines := withIDs(t, scenarioLines(t, 2000), "storm")
	t0 := time.Now()
	for i := 0; i < len(lines); i += 250 {
		h.consume(t, logsOf(t, lines[i:i+250]...))
	}
	consumed := time.Since(t0)
	eventually(t, 30*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == len(lines) }, func() string {
		return fmt.Sprintf("%d of %d", len(srv.Docs("logs-cairn.events-default")), len(lines))
	})
	eventually(t, 5*time.Second, func() bool { return gauge(t, h.tel, "spool_records") == 0 }, func() string { return "records pending" })
	h.stop(t)
	requireOnce(t, srv)
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "too_many_requests"}))
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "server_error"}))
	assert.Zero(t, h.sum(t, "docs_dropped", nil))
	t.Logf("8 batches spooled in %s; delivered through the storm", consumed)
}

// TestSpoolShutdownKeepsPending: shutdown stops the senders promptly, in
// the middle of their retries; the next start sends what was pending.
func TestSpoolShutdownKeepsPending(t *testing.T) {
	dir := t.TempDir()
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	srv.Hook = func(r *http.Request, _ int) (int, string) {
		if r.URL.Path == "/_bulk" {
			return 503, `{"error":{"type":"cluster_block_exception","reason":"blocked"},"status":503}`
		}
		return 0, ""
	}
	cfg := withSpool(testConfig(srv.URL), dir)
	h := startExporter(t, cfg, nil)
	lines := scenarioLines(t, 400)
	for i := 0; i < len(lines); i += 100 {
		h.consume(t, logsOf(t, lines[i:i+100]...))
	}
	eventually(t, 10*time.Second, func() bool { return h.sum(t, "docs_retried", nil) > 400 }, func() string { return "no retries yet" })
	t0 := time.Now()
	h.stop(t)
	assert.Less(t, time.Since(t0), 2*time.Second, "shutdown is prompt")

	srv.Lock(func() { srv.Hook = nil })
	h2 := startExporter(t, cfg, nil)
	assert.EqualValues(t, 4, h2.sum(t, "spool_replayed", nil))
	eventually(t, 20*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == len(lines) }, func() string {
		return fmt.Sprintf("%d of %d", len(srv.Docs("logs-cairn.events-default")), len(lines))
	})
	h2.stop(t)
	requireOnce(t, srv)
}

// TestSpoolPermanentFailures: a record whose documents are given up on
// (the dead-letter stream refuses, or retry_on_failure's max_elapsed_time
// passes) is acknowledged, counted as dropped, and does not hold up the
// spool.
func TestSpoolPermanentFailures(t *testing.T) {
	t.Run("dead letter refused", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.ItemFault = func(index, _ string, _ int) (int, string, string) {
			if strings.HasPrefix(index, "logs-cairn.dlq") {
				return 400, "illegal_argument_exception", "no"
			}
			return 0, "", ""
		}
		h := startExporter(t, withSpool(testConfig(srv.URL), t.TempDir()), nil)
		bad := jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-ip"}, "source": map[string]any{"ip": "not-an-ip"}})
		h.consume(t, logsOf(t, append(scenarioLines(t, 3), bad)...))
		h.consume(t, logsOf(t, scenarioLines(t, 6)[3:]...))
		eventually(t, 10*time.Second, func() bool { return gauge(t, h.tel, "spool_records") == 0 }, func() string { return "records pending" })
		h.stop(t)
		assert.EqualValues(t, 1, h.sum(t, "docs_dropped", map[string]string{"reason": "dead_letter_refused"}))
		assert.Len(t, srv.Docs("logs-cairn.events-default"), 6)
	})
	t.Run("retries exhausted", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.ItemFault = func(_, id string, _ int) (int, string, string) {
			if id == "x-0001" {
				return 503, "unavailable_shards_exception", "primary shard is not active"
			}
			return 0, "", ""
		}
		cfg := withSpool(testConfig(srv.URL), t.TempDir())
		cfg.BackOffConfig.MaxElapsedTime = 100 * time.Millisecond
		h := startExporter(t, cfg, nil)
		h.consume(t, logsOf(t, withIDs(t, scenarioLines(t, 3), "x")...))
		eventually(t, 10*time.Second, func() bool { return gauge(t, h.tel, "spool_records") == 0 }, func() string { return "records pending" })
		h.stop(t)
		assert.EqualValues(t, 1, h.sum(t, "docs_dropped", map[string]string{"reason": "retries_exhausted"}))
		assert.Len(t, srv.Docs("logs-cairn.events-default"), 2)
	})
}

// TestSynchronousDelivery: without a spool, ConsumeLogs returns only once
// the cluster has answered for every document (after retries), so a
// receiver that moves its checkpoint after ConsumeLogs loses nothing.
func TestSynchronousDelivery(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	release := make(chan struct{})
	var bulks atomic.Int32
	srv.Hook = func(r *http.Request, _ int) (int, string) {
		if r.URL.Path != "/_bulk" {
			return 0, ""
		}
		switch bulks.Add(1) {
		case 1:
			<-release // the cluster is slow to answer the first request
		case 2:
			return 503, `{"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"},"status":503}`
		}
		return 0, ""
	}
	srv.ItemFault = func(_, id string, attempt int) (int, string, string) {
		if attempt == 1 && strings.HasSuffix(id, "7") {
			return 429, "es_rejected_execution_exception", "rejected execution"
		}
		return 0, "", ""
	}
	cfg := testConfig(srv.URL)
	h := startExporter(t, cfg, nil)
	lines := withIDs(t, scenarioLines(t, 300), "sync")
	done := make(chan error, 1)
	go func() { done <- h.exp.ConsumeLogs(context.Background(), logsOf(t, lines...)) }()
	select {
	case err := <-done:
		t.Fatalf("ConsumeLogs returned before the cluster answered: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	assert.Empty(t, srv.Docs("logs-cairn.events-*"))
	close(release)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ConsumeLogs did not return")
	}
	// At return, not eventually: every document is already stored.
	assert.Len(t, srv.Docs("logs-cairn.events-default"), len(lines))
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "too_many_requests"}))
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "server_error"}))
	h.stop(t)
	requireOnce(t, srv)
}

// TestSynchronousFailures: what ConsumeLogs returns when delivery cannot
// complete. Retries disabled: a permanent error (the documents are given
// up on). max_elapsed_time passed, or the exporter shutting down: a
// retryable error, nothing dropped (the caller still holds the batch).
func TestSynchronousFailures(t *testing.T) {
	unavailable := func(r *http.Request, _ int) (int, string) {
		if r.URL.Path == "/_bulk" {
			return 503, `{"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"},"status":503}`
		}
		return 0, ""
	}
	t.Run("retries disabled", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.Hook = unavailable
		cfg := testConfig(srv.URL)
		cfg.BackOffConfig.Enabled = false
		h := startExporter(t, cfg, nil)
		err := h.exp.ConsumeLogs(t.Context(), logsOf(t, scenarioLines(t, 5)...))
		require.Error(t, err)
		assert.True(t, consumererror.IsPermanent(err), "%v", err)
		h.stop(t)
		assert.EqualValues(t, 5, h.sum(t, "docs_dropped", map[string]string{"reason": "retries_disabled"}))
	})
	t.Run("max elapsed time", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.Hook = unavailable
		cfg := testConfig(srv.URL)
		cfg.BackOffConfig.MaxElapsedTime = 100 * time.Millisecond
		h := startExporter(t, cfg, nil)
		err := h.exp.ConsumeLogs(t.Context(), logsOf(t, scenarioLines(t, 5)...))
		require.Error(t, err)
		assert.False(t, consumererror.IsPermanent(err), "%v", err)
		assert.ErrorIs(t, err, errRetriesExhausted)
		h.stop(t)
		assert.Zero(t, h.sum(t, "docs_dropped", nil))
	})
	t.Run("shutdown", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.Hook = unavailable
		h := startExporter(t, testConfig(srv.URL), nil)
		done := make(chan error, 1)
		go func() { done <- h.exp.ConsumeLogs(context.Background(), logsOf(t, scenarioLines(t, 5)...)) }()
		eventually(t, 5*time.Second, func() bool { return h.sum(t, "docs_retried", nil) >= 10 }, func() string { return "no retries" })
		h.stop(t)
		select {
		case err := <-done:
			require.Error(t, err)
			assert.False(t, consumererror.IsPermanent(err), "%v", err)
			assert.ErrorIs(t, err, errShuttingDown)
		case <-time.After(5 * time.Second):
			t.Fatal("ConsumeLogs still running after shutdown")
		}
		assert.Zero(t, h.sum(t, "docs_dropped", nil))
	})
	t.Run("context", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.Hook = unavailable
		h := startExporter(t, testConfig(srv.URL), nil)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := h.exp.ConsumeLogs(ctx, logsOf(t, scenarioLines(t, 5)...))
		require.Error(t, err)
		assert.False(t, consumererror.IsPermanent(err), "%v", err)
		h.stop(t)
	})
}

// TestOfflineWritesBeforeReturning: offline mode queues nothing by
// default: when ConsumeLogs returns, the batch is in the current file, for
// both offline::sync values.
func TestOfflineWritesBeforeReturning(t *testing.T) {
	for _, sync := range []string{SyncNone, SyncBatch} {
		t.Run(sync, func(t *testing.T) {
			dir := t.TempDir()
			cfg := createDefaultConfig().(*Config)
			cfg.Offline = OfflineConfig{Directory: dir, MaxFileBytes: 1 << 20, Sync: sync}
			require.False(t, cfg.QueueBatchConfig.HasValue(), "no sending_queue by default")
			h := startExporter(t, cfg, nil)
			lines := scenarioLines(t, 600)
			var want int64
			for i := 0; i < len(lines); i += 200 {
				b := encodeBatch(t, lines[i:i+200]...)
				want += int64(len(b.buf))
				h.consume(t, logsOf(t, lines[i:i+200]...))
				var got int64
				files, err := offlineFiles(dir)
				require.NoError(t, err)
				for _, f := range files {
					st, err := os.Stat(f)
					require.NoError(t, err)
					got += st.Size()
				}
				assert.Equal(t, want, got, "batch %d in the files when ConsumeLogs returned", i/200)
			}
			h.stop(t)
			assert.EqualValues(t, len(lines), h.sum(t, "docs_delivered", map[string]string{"result": "written"}))
			// A write after shutdown is refused, not written to a new file.
			files, err := offlineFiles(dir)
			require.NoError(t, err)
			assert.ErrorIs(t, h.exp.ConsumeLogs(t.Context(), logsOf(t, lines[:1]...)), errSinkClosed)
			files2, err := offlineFiles(dir)
			require.NoError(t, err)
			assert.Equal(t, files, files2)
		})
	}
}

// TestDocumentsEndToEnd checks what reaches the cluster through each
// delivery path, against the scenario lines it came from: @timestamp is
// the event's own time (not when it was read or sent), integers stay
// integers, no message copy of the line is added, and every document
// carries ecs.version, event.ingested and an event.dataset equal to its
// data_stream.dataset.
func TestDocumentsEndToEnd(t *testing.T) {
	lines := scenarioLines(t, 1500)
	wantTS := map[string]int{}
	wantPID := map[string]int{}
	for _, l := range lines {
		m := jsonNumber(t, l)
		require.Nil(t, m["message"], "the scenario has no message field")
		wantTS[str(m["@timestamp"])]++
		if pid := nested(m, "process.pid"); pid != nil {
			wantPID[str(pid)]++
		}
	}
	for _, mode := range []string{"synchronous", "spool"} {
		t.Run(mode, func(t *testing.T) {
			srv := searchtest.New(t, searchtest.Elasticsearch, "9.1.3")
			cfg := testConfig(srv.URL)
			if mode == "spool" {
				withSpool(cfg, t.TempDir())
			}
			start := time.Now().Add(-time.Second)
			h := startExporter(t, cfg, nil)
			for i := 0; i < len(lines); i += 500 {
				h.consume(t, logsOf(t, lines[i:i+500]...))
			}
			eventually(t, 20*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == len(lines) }, func() string {
				return fmt.Sprintf("%d of %d", len(srv.Docs("logs-cairn.events-default")), len(lines))
			})
			h.stop(t)
			gotTS := map[string]int{}
			gotPID := map[string]int{}
			for _, d := range srv.Docs("logs-cairn.events-default") {
				m := jsonNumber(t, d.Raw)
				gotTS[str(m["@timestamp"])]++
				if pid := nested(m, "process.pid"); pid != nil {
					gotPID[str(pid)]++
					assert.NotContains(t, str(pid), ".", "process.pid stays an integer: %s", d.Raw)
				}
				assert.Nil(t, m["message"], "no message added: %s", d.Raw)
				assert.Equal(t, document.ECSVersion, str(nested(m, "ecs.version")))
				ing, err := time.Parse(time.RFC3339Nano, str(nested(m, "event.ingested")))
				if assert.NoError(t, err, "event.ingested") {
					assert.False(t, ing.Before(start), "event.ingested %s is the export time", ing)
				}
				assert.Equal(t, str(nested(m, "data_stream.dataset")), str(nested(m, "event.dataset")))
				assert.Equal(t, "cairn.events", str(nested(m, "data_stream.dataset")))
			}
			// The same @timestamps and pids as the input, each as often.
			assert.Equal(t, wantTS, gotTS)
			assert.Equal(t, wantPID, gotPID)
			assert.Contains(t, string(srv.Docs("logs-cairn.events-default")[0].Raw), `"@timestamp":"2026-03-0`)
		})
	}
}

// TestSpoolGauges: the gauges follow the spool (bytes, pending batches,
// age of the oldest) while the cluster is away.
func TestSpoolGauges(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	down(t, srv)
	dir := t.TempDir()
	h := startExporter(t, withSpool(testConfig(srv.URL), dir), nil)
	h.consume(t, logsOf(t, scenarioLines(t, 50)...))
	h.consume(t, logsOf(t, scenarioLines(t, 100)[50:]...))
	time.Sleep(1100 * time.Millisecond)
	assert.EqualValues(t, 2, gauge(t, h.tel, "spool_records"))
	assert.GreaterOrEqual(t, gauge(t, h.tel, "spool_oldest_age"), 1.0)
	var size int64
	for _, f := range segmentFiles(t, dir) {
		st, err := os.Stat(f)
		require.NoError(t, err)
		size += st.Size()
	}
	assert.EqualValues(t, size, gauge(t, h.tel, "spool_bytes"))
	srv.Up(t)
	eventually(t, 10*time.Second, func() bool { return gauge(t, h.tel, "spool_records") == 0 }, func() string { return "pending" })
	assert.Zero(t, gauge(t, h.tel, "spool_oldest_age"))
	h.stop(t)
	_, err := os.Stat(filepath.Join(dir, spoolAckName))
	require.NoError(t, err)
}

// TestConsumeLogsEmpty: an empty batch is accepted in every mode without
// touching the cluster or the files.
func TestConsumeLogsEmpty(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	down(t, srv)
	dir := t.TempDir()
	h := startExporter(t, withSpool(testConfig(srv.URL), dir), nil)
	h.consume(t, plog.NewLogs())
	assert.EqualValues(t, 0, gauge(t, h.tel, "spool_records"))
	h.stop(t)
}
