package filereceiver

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/receiver/filereceiver/internal/metadata"
)

// TestCheckpointRestart: a restarted receiver reads only the lines added
// while it was stopped, whatever start_at says, including for a file that
// was shorter than fingerprint_bytes when it stopped and grew past it.
func TestCheckpointRestart(t *testing.T) {
	e := newEnv(t, true)
	path := e.path("app.log")
	appendFile(t, path, doc("app", 0))
	cfg := e.config("app.log")
	cfg.StartAt = StartAtEnd

	rec := new(recorder)
	rn := e.start(cfg, rec)
	rn.waitOpen(t, 1)
	appendFile(t, path, doc("app", 1))
	rec.requireExactly(t, "app", span(1, 2))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Less(t, fi.Size(), int64(cfg.FingerprintBytes), "the file is shorter than its fingerprint when stopped")
	require.NoError(t, rn.stop())

	appendFile(t, path, docs("app", 2, 20))
	rec = new(recorder)
	rn = e.start(cfg, rec)
	rec.requireExactly(t, "app", span(2, 20))
	require.NoError(t, rn.stop())

	// start_at: beginning does not override a checkpoint either.
	appendFile(t, path, docs("app", 20, 30))
	cfg.StartAt = StartAtBeginning
	rec = new(recorder)
	rn = e.start(cfg, rec)
	rec.requireExactly(t, "app", span(20, 30))
	// A file whose content was replaced while stopped (same inode, other
	// first bytes) is read from its start.
	require.NoError(t, rn.stop())
	require.NoError(t, os.WriteFile(path, []byte(docs("app", 100, 140)), 0o644))
	rec = new(recorder)
	e.start(cfg, rec)
	rec.requireExactly(t, "app", span(100, 140))
}

// TestCheckpointFollowsRename: a file renamed (within the patterns) while
// the receiver was stopped is found by its inode and first bytes.
func TestCheckpointFollowsRename(t *testing.T) {
	e := newEnv(t, true)
	appendFile(t, e.path("a.log"), docs("app", 0, 5))
	cfg := e.config("*.log")
	rec := new(recorder)
	rn := e.start(cfg, rec)
	rec.requireExactly(t, "app", span(0, 5))
	require.NoError(t, rn.stop())

	require.NoError(t, os.Rename(e.path("a.log"), e.path("b.log")))
	appendFile(t, e.path("b.log"), docs("app", 5, 9))
	rec = new(recorder)
	e.start(cfg, rec)
	rec.requireExactly(t, "app", span(5, 9))
}

// TestCheckpointFollowsCopy: copied to a new file (new inode) while the
// receiver was stopped and the original removed, a file is continued
// from its checkpoint.
func TestCheckpointFollowsCopy(t *testing.T) {
	e := newEnv(t, true)
	appendFile(t, e.path("a.log"), docs("app", 0, 5))
	cfg := e.config("*.log")
	rec := new(recorder)
	rn := e.start(cfg, rec)
	rec.requireExactly(t, "app", span(0, 5))
	require.NoError(t, rn.stop())

	content, err := os.ReadFile(e.path("a.log"))
	require.NoError(t, err)
	require.NoError(t, os.Remove(e.path("a.log")))
	require.NoError(t, os.WriteFile(e.path("c.log"), append(content, docs("app", 5, 8)...), 0o644))
	rec = new(recorder)
	e.start(cfg, rec)
	rec.requireExactly(t, "app", span(5, 8))
}

const killHelperEnv = "CAIRN_FILE_KILL_HELPER"

func killConfig(dir string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Include = []string{filepath.Join(dir, "app.log")}
	cfg.StartAt = StartAtBeginning
	cfg.PollInterval = 10 * time.Millisecond
	cfg.MaxBatchEvents = 50
	id := component.MustNewID("file_storage")
	cfg.Storage = &id
	return cfg
}

// readDelivered returns the seqs a killed helper process appended to
// dir/delivered, a line each (none before it wrote the file).
func readDelivered(t *testing.T, dir string) []int64 {
	f, err := os.Open(filepath.Join(dir, "delivered"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, err := strconv.ParseInt(sc.Text(), 10, 64)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

// TestKillHelper is the collector process that TestKillRestart kills: it
// reads dir/app.log and appends the seq of every record it delivers to
// dir/delivered, one write per batch, until it is killed.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		t.Skip("the process TestKillRestart runs and kills")
	}
	out, err := os.OpenFile(filepath.Join(dir, "delivered"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	next := &recorder{hook: func(_ context.Context, _ int, ld plog.Logs) error {
		var b strings.Builder
		forEachRecord(ld, func(_ pcommon.Resource, r plog.LogRecord) {
			b.WriteString(strconv.FormatInt(itemOf(r).seq, 10))
			b.WriteByte('\n')
		})
		if _, err := out.WriteString(b.String()); err != nil {
			return err
		}
		time.Sleep(3 * time.Millisecond) // a slow pipeline, so that the kill lands mid-file
		return nil
	}}
	ext := testkit.StartFileStorage(t, filepath.Join(dir, "state"))
	host := storagetest.NewStorageHost().WithExtension(component.MustNewID("file_storage"), ext)
	r, err := newReceiver(settings(), killConfig(dir), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))
	select {} // until killed
}

// TestKillRestart: after a kill -9 (no Shutdown, no final checkpoint) a new
// receiver on the same storage resumes from the last delivered batch: no
// line lost, at most one batch delivered twice.
func TestKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "state"), 0o755))
	const n = 3000
	appendFile(t, filepath.Join(dir, "app.log"), docs("app", 0, n))
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	var output testkit.LockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	require.NoError(t, cmd.Start())
	defer func() {
		if t.Failed() {
			t.Logf("helper output:\n%s", output.String())
		}
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	delivered := func() []int64 { return readDelivered(t, dir) }
	require.Eventually(t, func() bool { return len(delivered()) >= 400 }, waitFor, tick)
	require.NoError(t, cmd.Process.Kill()) // SIGKILL
	<-waited
	before := delivered()
	require.Equal(t, span(0, len(before)), before, "the killed process delivered a prefix, in order")
	require.Less(t, len(before), n, "killed before the end of the file")

	ext := testkit.StartFileStorage(t, filepath.Join(dir, "state"))
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	host := storagetest.NewStorageHost().WithExtension(component.MustNewID("file_storage"), ext)
	rec := new(recorder)
	r, err := newReceiver(settings(), killConfig(dir), rec)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	require.Eventually(t, func() bool {
		s := rec.seqs("app")
		return len(s) > 0 && s[len(s)-1] == n-1
	}, waitFor, tick)
	after := rec.seqs("app")
	from := int(after[0])
	assert.Equal(t, span(from, n), after, "the restart reads on from one point, each line once")
	assert.LessOrEqual(t, from, len(before), "nothing lost")
	assert.LessOrEqual(t, len(before)-from, 50, "at most one batch (max_batch_events 50) delivered twice")
	t.Logf("killed after %d delivered lines; restart resumed at %d", len(before), from)
}

// TestRetry: a retryable error makes the receiver hand the same batch (the
// same plog.Logs, not re-read) again after a backoff: nothing lost, nothing
// twice.
func TestRetry(t *testing.T) {
	e := newEnv(t, false)
	appendFile(t, e.path("app.log"), docs("app", 0, 50))
	cfg := e.config("app.log")
	cfg.MaxBatchEvents = 20
	rec := &recorder{hook: func(_ context.Context, call int, ld plog.Logs) error {
		if call == 1 {
			// Mark the batch: the retries must hand over this very one.
			ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutBool("marked", true)
		}
		if call <= 3 {
			return errors.New("exporter queue full")
		}
		return nil
	}}
	e.start(cfg, rec)
	rec.requireExactly(t, "app", span(0, 50))
	first := rec.records()[0]
	marked, ok := first.Attributes().Get("marked")
	assert.True(t, ok && marked.Bool(), "the batch handed again is the same plog.Logs")
	require.Eventually(t, func() bool { return e.sum("otelcol_receiver_accepted_log_records", nil) == 50 }, waitFor, tick)
	assert.Equal(t, int64(3), e.sum("otelcol_receiver_cairn_file_consume_retries", nil))
	assert.Equal(t, int64(50), e.sum("otelcol_receiver_cairn_file_lines", nil), "lines were read once")
	assert.Equal(t, int64(3*20), e.sum("otelcol_receiver_failed_log_records", nil)+e.sum("otelcol_receiver_refused_log_records", nil))
	assert.Zero(t, e.sum("otelcol_receiver_cairn_file_dropped_records", nil))
}

// TestPermanentError: a batch refused with a permanent error is counted as
// dropped and the receiver moves on (its checkpoint too).
func TestPermanentError(t *testing.T) {
	e := newEnv(t, true)
	appendFile(t, e.path("app.log"), docs("app", 0, 30))
	cfg := e.config("app.log")
	cfg.MaxBatchEvents = 10
	rec := &recorder{hook: func(_ context.Context, call int, _ plog.Logs) error {
		if call == 1 {
			return consumererror.NewPermanent(errors.New("mapping conflict"))
		}
		return nil
	}}
	rn := e.start(cfg, rec)
	rec.requireExactly(t, "app", span(10, 30))
	require.Eventually(t, func() bool {
		return e.sum("otelcol_receiver_cairn_file_dropped_records", map[string]string{"reason": "permanent_error"}) == 10
	}, waitFor, tick)
	assert.Zero(t, e.sum("otelcol_receiver_cairn_file_consume_retries", nil))
	require.NoError(t, rn.stop())

	// The dropped batch is not read again after a restart.
	appendFile(t, e.path("app.log"), docs("app", 30, 32))
	rec = new(recorder)
	e.start(cfg, rec)
	rec.requireExactly(t, "app", span(30, 32))
}

// TestShutdownWhileConsumerBlocks: Shutdown returns while the next consumer
// is blocked, keeping the checkpoint of the last batch delivered; the
// blocked batch is read again after a restart.
func TestShutdownWhileConsumerBlocks(t *testing.T) {
	for _, honoursCtx := range []bool{true, false} {
		t.Run(map[bool]string{true: "consumer_honours_ctx", false: "consumer_ignores_ctx"}[honoursCtx], func(t *testing.T) {
			e := newEnv(t, true)
			appendFile(t, e.path("app.log"), docs("app", 0, 30))
			cfg := e.config("app.log")
			cfg.MaxBatchEvents = 10
			blocked := make(chan struct{})
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			rec := &recorder{hook: func(ctx context.Context, call int, _ plog.Logs) error {
				if call != 2 {
					return nil
				}
				close(blocked)
				if honoursCtx {
					<-ctx.Done()
					return ctx.Err()
				}
				<-release
				return nil
			}}
			rn := e.start(cfg, rec)
			<-blocked
			rec.requireExactly(t, "app", span(0, 10))

			// A consumer that ignores its context is waited for until the
			// shutdown context ends; one that honours it returns at once
			// (the long timeout only bounds a failure).
			timeout := 10 * time.Second
			if !honoursCtx {
				timeout = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			err := rn.r.Shutdown(ctx)
			if honoursCtx {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, "did not return before shutdown ended")
			}
			require.NoError(t, rn.stop()) // the storage extension

			rec = new(recorder)
			e.start(cfg, rec)
			rec.requireExactly(t, "app", span(10, 30))
		})
	}
}

func TestStorageErrors(t *testing.T) {
	e := newEnv(t, false)
	cfg := e.config("*.log")
	id := component.MustNewID("file_storage")
	cfg.Storage = &id
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, new(recorder))
	require.NoError(t, err)
	err = r.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, `extension "file_storage" is not configured`)
	require.NoError(t, r.Shutdown(context.Background()))

	nsID := storagetest.NewNonStorageID("x")
	cfg.Storage = &nsID
	r, err = newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, new(recorder))
	require.NoError(t, err)
	err = r.Start(context.Background(), storagetest.NewStorageHost().WithNonStorageExtension("x"))
	require.ErrorContains(t, err, "is not a storage extension")
}

// TestCheckpointCodec: checkpoints read back as written; garbage is refused.
func TestCheckpointCodec(t *testing.T) {
	cks := []checkpoint{
		{key: fileKey{dev: 2049, ino: 1 << 40}, fpLen: 1000, fpHash: 0xdeadbeefcafef00d, offset: 1 << 33, path: "/var/log/a.ndjson"},
		{key: fileKey{dev: 1, ino: 2}, fpLen: 0, offset: 0, path: ""},
	}
	b := []byte{checkpointVersion, byte(len(cks))}
	for _, c := range cks {
		b = appendCheckpoint(b, c)
	}
	got, err := decodeCheckpoints(b)
	require.NoError(t, err)
	assert.Equal(t, cks, got)
	for i := 1; i < len(b); i++ {
		_, err := decodeCheckpoints(b[:i])
		assert.Error(t, err, "cut at %d", i)
	}
	_, err = decodeCheckpoints([]byte{9, 0})
	assert.ErrorContains(t, err, "unknown checkpoint version")
	none, err := decodeCheckpoints(nil)
	assert.NoError(t, err)
	assert.Empty(t, none)
}
