package filereceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter"
	"github.com/cairnsec/cairn/internal/testkit"
)

// killOfflineEnv names the directory of TestKillOfflineHelper; killBlockEnv
// the batch after whose write the helper stops returning.
const (
	killOfflineEnv = "CAIRN_FILE_KILL_OFFLINE_HELPER"
	killBlockEnv   = "CAIRN_FILE_KILL_OFFLINE_BLOCK"
)

// TestKillOfflineHelper is the collector process TestKillRestartOffline
// kills: cairn_file (dir/app.log, checkpoints in dir/state) feeding the
// cairn_search exporter in offline mode (dir/bulk). It appends the seqs it
// hands the exporter to dir/delivered, and with killBlockEnv=N it never
// returns from its N-th batch, once the exporter has written it: the
// receiver's checkpoint stays before that batch, the window in which a
// kill -9 makes the receiver send a written batch again.
func TestKillOfflineHelper(t *testing.T) {
	dir := os.Getenv(killOfflineEnv)
	if dir == "" {
		t.Skip("the process TestKillRestartOffline runs and kills")
	}
	block, _ := strconv.Atoi(os.Getenv(killBlockEnv))
	f := cairnsearchexporter.NewFactory()
	ecfg := f.CreateDefaultConfig().(*cairnsearchexporter.Config)
	ecfg.Offline = cairnsearchexporter.OfflineConfig{Directory: filepath.Join(dir, "bulk"), MaxFileBytes: 128 << 10, Sync: cairnsearchexporter.SyncNone}
	require.NoError(t, ecfg.Validate())
	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(f.Type()), ecfg)
	require.NoError(t, err)
	ext := testkit.StartFileStorage(t, filepath.Join(dir, "state"))
	host := storagetest.NewStorageHost().WithExtension(component.MustNewID("file_storage"), ext)
	require.NoError(t, exp.Start(context.Background(), host))

	out, err := os.OpenFile(filepath.Join(dir, "delivered"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	var batches atomic.Int64
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		var b strings.Builder
		forEachRecord(ld, func(_ pcommon.Resource, r plog.LogRecord) {
			b.WriteString(strconv.FormatInt(itemOf(r).seq, 10))
			b.WriteByte('\n')
		})
		if _, err := out.WriteString(b.String()); err != nil {
			return err
		}
		if err := exp.ConsumeLogs(ctx, ld); err != nil {
			return err
		}
		if batches.Add(1) == int64(block) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o644))
			select {} // written, never acknowledged: until killed
		}
		return nil
	})
	require.NoError(t, err)
	r, err := newReceiver(settings(), killConfig(dir), next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))
	select {} // until killed
}

// offlineDocs parses the offline files of dir: the _id and the seq of every
// document, in order, checking that each file is whole (pairs of valid
// JSON lines).
func offlineDocs(t *testing.T, dir string) (ids []string, seqs []int64) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "cairn-bulk-*.ndjson"))
	require.NoError(t, err)
	sort.Strings(files)
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		if len(body) == 0 {
			continue
		}
		require.True(t, bytes.HasSuffix(body, []byte("\n")), f)
		lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
		require.Zero(t, len(lines)%2, f)
		for i := 0; i < len(lines); i += 2 {
			var action map[string]struct {
				ID string `json:"_id"`
			}
			require.NoError(t, json.Unmarshal(lines[i], &action), "%s line %d", f, i+1)
			var doc struct {
				Seq int64 `json:"seq"`
			}
			require.NoError(t, json.Unmarshal(lines[i+1], &doc), "%s line %d", f, i+2)
			for _, a := range action {
				ids = append(ids, a.ID)
			}
			seqs = append(seqs, doc.Seq)
		}
	}
	return ids, seqs
}

// TestKillRestartOffline: cairn_file into cairn_search's offline files,
// killed with SIGKILL after a batch was written but before the receiver's
// checkpoint moved past it. The restarted collector reads that batch again
// and hands it to the exporter again, which finds its documents at the tail
// of the files and does not write them twice: every event is in the files
// exactly once, no _id twice, nothing lost.
func TestKillRestartOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "state"), 0o755))
	const n = 2000
	appendFile(t, filepath.Join(dir, "app.log"), docs("app", 0, n))
	bulk := filepath.Join(dir, "bulk")

	run := func(block int) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillOfflineHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), killOfflineEnv+"="+dir, killBlockEnv+"="+strconv.Itoa(block))
		var output testkit.LockedBuffer
		cmd.Stdout, cmd.Stderr = &output, &output
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
			if t.Failed() {
				t.Logf("helper output (blocking at batch %d):\n%s", block, output.String())
			}
		})
		return cmd, exited
	}
	delivered := func() []int64 { return readDelivered(t, dir) }

	// The first run blocks after writing its 10th batch (of 50): killed
	// there.
	cmd, exited := run(10)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, "blocked"))
		return err == nil
	}, waitFor, tick, "the helper writes 10 batches")
	require.NoError(t, cmd.Process.Kill()) // SIGKILL
	<-exited
	_, seqs := offlineDocs(t, bulk)
	require.Equal(t, span(0, 500), seqs, "10 batches written, the last not acknowledged")
	first := len(delivered())
	require.Equal(t, 500, first)

	// The second run reads from the checkpoint (the 10th batch again) to
	// the end.
	run(0)
	require.Eventually(t, func() bool {
		_, seqs := offlineDocs(t, bulk)
		return len(seqs) >= n && seqs[len(seqs)-1] == n-1
	}, waitFor, tick, "the restart writes the rest of the file")
	again := delivered()[first:]
	require.NotEmpty(t, again)
	assert.Equal(t, int64(450), again[0], "the batch written but not acknowledged is delivered again")

	ids, seqs := offlineDocs(t, bulk)
	assert.Equal(t, span(0, n), seqs, "each event written once, in order: nothing lost, nothing twice")
	count := map[string]int{}
	for _, id := range ids {
		count[id]++
	}
	for id, c := range count {
		require.Equal(t, 1, c, "_id %s written %d times", id, c)
	}
	assert.Len(t, count, n)
}
