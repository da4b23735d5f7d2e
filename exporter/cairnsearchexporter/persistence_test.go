package cairnsearchexporter

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/cairnsec/cairn/internal/searchtest"
	"github.com/cairnsec/cairn/internal/testkit"
)

// TestOutageWithRestart is the legacy persistent-queue case (a
// sending_queue with storage, which the spool replaces), compressed in time
// (the backoff is milliseconds, not minutes): the cluster accepts only part
// of each batch, the collector is stopped in the middle of its retries,
// the cluster then goes down (connections refused) while a second
// collector starts on the same queue directory, and comes back. Every
// event is stored exactly once by _id, and the dead-letter stream holds
// exactly the unindexable documents.
func TestOutageWithRestart(t *testing.T) {
	dir := t.TempDir()
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	var healthy atomic.Bool
	srv.ItemFault = func(index, id string, _ int) (int, string, string) {
		if !healthy.Load() && strings.HasPrefix(index, "logs-cairn.events") && strings.IndexByte("01234567", id[len(id)-1]) >= 0 {
			return 503, "unavailable_shards_exception", "primary shard is not active"
		}
		return 0, "", ""
	}
	storageID := component.MustNewID("file_storage")
	cfg := testConfig(srv.URL)
	withQueue(cfg).StorageID = &storageID

	lines := scenarioLines(t, 3000)
	bad := [][]byte{
		jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-1"}, "destination": map[string]any{"ip": "10.0.0.300"}}),
		jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-2", "severity": "high"}}),
	}

	// Run 1: partial delivery, stopped mid-retry.
	ext1 := testkit.StartFileStorage(t, dir)
	h1 := startExporter(t, cfg, storagetest.NewStorageHost().WithExtension(storageID, ext1))
	for i := 0; i < len(lines); i += 500 {
		batch := lines[i:min(i+500, len(lines))]
		if i == 1000 {
			batch = append(append([][]byte{}, batch...), bad...)
		}
		h1.consume(t, logsOf(t, batch...))
	}
	eventually(t, 10*time.Second, func() bool {
		return len(srv.Docs("logs-cairn.events-default")) > 0 && h1.sum(t, "docs_retried", nil) > 3000
	},
		func() string { return "no partial delivery" })
	delivered1 := len(srv.Docs("logs-cairn.events-default"))
	require.Less(t, delivered1, len(lines), "run 1 must leave work for run 2")
	h1.stop(t)
	require.NoError(t, ext1.Shutdown(context.Background()))

	// Outage, then run 2 on the same queue.
	srv.Down()
	healthy.Store(true)
	ext2 := testkit.StartFileStorage(t, dir)
	h2 := startExporter(t, cfg, storagetest.NewStorageHost().WithExtension(storageID, ext2))
	time.Sleep(100 * time.Millisecond) // refused connections meanwhile
	srv.Up(t)
	eventually(t, 20*time.Second, func() bool {
		return len(srv.Docs("logs-cairn.events-default")) == len(lines) && len(srv.Docs("logs-cairn.dlq-default")) == len(bad)
	}, func() string {
		var msgs []string
		for _, e := range h2.logs.All() {
			msgs = append(msgs, e.Message+" "+fmt.Sprint(e.ContextMap()))
		}
		return fmt.Sprintf("%d of %d events, %d dead letters; run 2 logged:\n%s", len(srv.Docs("logs-cairn.events-default")), len(lines),
			len(srv.Docs("logs-cairn.dlq-default")), strings.Join(msgs, "\n"))
	})
	h2.stop(t)
	require.NoError(t, ext2.Shutdown(context.Background()))

	for key, n := range srv.Stores() {
		require.Equal(t, 1, n, "%s stored %d times", key, n)
	}
	var ids []string
	for _, d := range srv.Docs("logs-cairn.dlq-default") {
		ids = append(ids, testkit.Nested(d.Source, "cairn.dlq.id").(string))
	}
	assert.ElementsMatch(t, []string{"bad-1", "bad-2"}, ids)
	assert.Zero(t, h1.sum(t, "docs_dropped", nil)+h2.sum(t, "docs_dropped", nil))
	t.Logf("run 1 delivered %d of %d before the restart; run 2 the rest (%d already there: 409)",
		delivered1, len(lines), h2.sum(t, "docs_delivered", map[string]string{"result": "exists"}))
}
