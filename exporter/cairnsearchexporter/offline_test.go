package cairnsearchexporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"

	"github.com/cairnsec/cairn/internal/searchtest"
)

// TestOfflineFiles: offline mode writes the _bulk bodies to rotating files;
// each file loads on its own with one POST to _bulk (what
// `curl --data-binary @FILE` does), and the cluster then holds every event
// once. max_files keeps the newest files.
func TestOfflineFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.Offline = OfflineConfig{Directory: dir, MaxFileBytes: 256 << 10}
	noQueue(cfg)
	h := startExporter(t, cfg, nil)
	lines := scenarioLines(t, 0)
	for i := 0; i < len(lines); i += 500 {
		h.consume(t, logsOf(t, lines[i:min(i+500, len(lines))]...))
	}
	h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-1", mustTime(t, "2026-03-05T14:05:00Z"), 80, "new_domain"))))
	h.stop(t)
	files, err := offlineFiles(dir)
	require.NoError(t, err)
	require.Greater(t, len(files), 3, "rotated")
	assert.EqualValues(t, len(lines)+1, h.sum(t, "docs_delivered", map[string]string{"result": "written"}))

	// Load them into a cluster that Cairn bootstrapped.
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	require.NoError(t, bootstrap(t.Context(), &plainClient{base: srv.URL, client: http.DefaultClient}, server{flavour: FlavourElasticsearch}, policyOf(cfg)))
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		res, err := http.Post(srv.URL+"/_bulk", "application/x-ndjson", bytes.NewReader(body))
		require.NoError(t, err)
		var out struct {
			Errors bool `json:"errors"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		res.Body.Close()
		assert.False(t, out.Errors, f)
	}
	assert.Len(t, srv.Docs("logs-cairn.events-default"), len(lines))
	assert.Len(t, srv.Docs("logs-cairn.alerts-default"), 1)

	// A second start never appends to old files; max_files prunes. (New
	// documents: those of the first run are not written again.)
	cfg.Offline.MaxFiles = 2
	h2 := startExporter(t, cfg, nil)
	var fresh [][]byte
	for i := range 10 {
		fresh = append(fresh, jsonDoc(t, map[string]any{"@timestamp": "2026-03-06T00:00:00Z", "message": fmt.Sprintf("after the restart %d", i)}))
	}
	h2.consume(t, logsOf(t, fresh...))
	h2.stop(t)
	files2, err := offlineFiles(dir)
	require.NoError(t, err)
	assert.Len(t, files2, 2)
	assert.NotContains(t, files2, files[0])
}

// bulkItem is one item of the offline files: its action and whether its
// document line is there and valid JSON.
type bulkItem struct {
	op, index, id string
	version       int64
}

// readOffline parses every offline file of dir, checking that each is a
// loadable _bulk body (action and document lines in pairs, each valid
// JSON, newline-terminated).
func readOffline(t *testing.T, dir string) []bulkItem {
	t.Helper()
	files, err := offlineFiles(dir)
	require.NoError(t, err)
	var out []bulkItem
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		if len(body) == 0 {
			continue
		}
		require.True(t, bytes.HasSuffix(body, []byte("\n")), "%s ends with a newline", f)
		lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
		require.Zero(t, len(lines)%2, "%s: action and document lines in pairs", f)
		for i := 0; i < len(lines); i += 2 {
			var a map[string]struct {
				Index   string `json:"_index"`
				ID      string `json:"_id"`
				Version int64  `json:"version"`
			}
			require.NoError(t, json.Unmarshal(lines[i], &a), "%s line %d", f, i+1)
			require.True(t, json.Valid(lines[i+1]), "%s line %d", f, i+2)
			for op, m := range a {
				out = append(out, bulkItem{op: op, index: m.Index, id: m.ID, version: m.Version})
			}
		}
	}
	return out
}

// requireNoDuplicates fails if an event's _id, or an alert's _id and
// version, appears twice in the offline files.
func requireNoDuplicates(t *testing.T, items []bulkItem) {
	t.Helper()
	seen := map[bulkItem]int{}
	for _, it := range items {
		seen[it]++
	}
	for it, n := range seen {
		require.Equal(t, 1, n, "written %d times: %+v", n, it)
	}
}

// TestOfflineResumeWritesNothingTwice: a receiver that checkpoints once
// ConsumeLogs returned (cairn_file) sends the last batch again after a
// crash: a new exporter on the same offline directory finds its documents
// at the tail of the earlier files and does not write them again (counted
// in docs_skipped), while new documents, and a later state of an alert
// already written, are written.
func TestOfflineResumeWritesNothingTwice(t *testing.T) {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.Offline = OfflineConfig{Directory: dir, MaxFileBytes: 256 << 10}
	noQueue(cfg)
	lines := scenarioLines(t, 3500)
	alertAt := mustTime(t, "2026-03-05T14:05:00Z")
	alert := jsonDoc(t, alertDoc("alert-1", alertAt, 80, "new_domain"))

	// The first run writes six batches, the last with the alert's first
	// state; then the collector dies before the receiver's checkpoint.
	h := startExporter(t, cfg, nil)
	for i := 0; i < 3000; i += 500 {
		batch := lines[i : i+500]
		if i == 2500 {
			batch = append(append([][]byte(nil), batch...), alert)
		}
		h.consume(t, logsOf(t, batch...))
	}
	h.stop(t) // for the files, a kill: nothing is written at shutdown
	before := readOffline(t, dir)
	require.Equal(t, 3001, len(before))

	// The restart: the receiver sends the last batch again (split
	// otherwise, as a smaller max_batch_events would), then new events
	// and a later state of the alert.
	h2 := startExporter(t, cfg, nil)
	last := append(append([][]byte(nil), lines[2500:3000]...), alert)
	h2.consume(t, logsOf(t, last[:123]...))
	h2.consume(t, logsOf(t, last[123:]...))
	later := jsonDoc(t, alertDoc("alert-1", alertAt.Add(10*time.Minute), 95, "new_domain", "new_external_ip"))
	h2.consume(t, logsOf(t, append(append([][]byte(nil), lines[3000:3500]...), later)...))
	h2.stop(t)

	after := readOffline(t, dir)
	requireNoDuplicates(t, after)
	assert.Equal(t, 3500+2, len(after), "each event once, and the alert's two states")
	assert.EqualValues(t, 501, h2.sum(t, "docs_skipped", map[string]string{"reason": "already_written"}))
	assert.EqualValues(t, 501, h2.sum(t, "docs_delivered", map[string]string{"result": "written"}))
	assert.EqualValues(t, 501, h2.sum(t, "docs_sent", nil))
	var states []int64
	for _, it := range after {
		if it.op == "index" {
			states = append(states, it.version)
		}
	}
	assert.Equal(t, []int64{alertAt.UnixMilli(), alertAt.Add(10 * time.Minute).UnixMilli()}, states)
	assert.NotEmpty(t, h2.logs.FilterMessageSnippet("read back").All(), "the read-back is logged")

	// A third run has nothing to skip from the second's new documents
	// either.
	h3 := startExporter(t, cfg, nil)
	h3.consume(t, logsOf(t, lines[3000:3500]...))
	h3.stop(t)
	requireNoDuplicates(t, readOffline(t, dir))
	assert.EqualValues(t, 500, h3.sum(t, "docs_skipped", map[string]string{"reason": "already_written"}))
}

// TestOfflineResumeCutsTornEnd: a write interrupted in the middle (a power
// loss with offline::sync none, or a kill during a large write) leaves an
// incomplete last document; the next start cuts it off, so that the file
// loads again with one _bulk request, and writes that document when the
// receiver sends it again (it is not counted as written).
func TestOfflineResumeCutsTornEnd(t *testing.T) {
	for name, torn := range map[string]func(action, doc []byte) []byte{
		"half a document": func(action, doc []byte) []byte { return append(append([]byte(nil), action...), doc[:len(doc)/2]...) },
		"action only":     func(action, _ []byte) []byte { return action },
		"half an action":  func(action, _ []byte) []byte { return action[:len(action)/2] },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := createDefaultConfig().(*Config)
			cfg.Offline = OfflineConfig{Directory: dir, MaxFileBytes: 1 << 20}
			noQueue(cfg)
			lines := scenarioLines(t, 101)
			h := startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, lines[:100]...))
			h.stop(t)
			files, err := offlineFiles(dir)
			require.NoError(t, err)
			require.Len(t, files, 1)
			whole, err := os.ReadFile(files[0])
			require.NoError(t, err)

			// The 101st document, torn.
			var b batch
			newDocEncoder(cfg).encode(logsOf(t, lines[100]), &b)
			f, err := os.OpenFile(files[0], os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.Write(torn(b.action(0), b.buf[b.items[0].doc:b.items[0].end]))
			require.NoError(t, err)
			require.NoError(t, f.Close())

			h2 := startExporter(t, cfg, nil)
			got, err := os.ReadFile(files[0])
			require.NoError(t, err)
			assert.Equal(t, len(whole), len(got), "cut back to the last complete document")
			assert.NotEmpty(t, h2.logs.FilterMessageSnippet("Cut an incomplete last document").All())
			h2.consume(t, logsOf(t, lines[90:101]...))
			h2.stop(t)
			items := readOffline(t, dir)
			requireNoDuplicates(t, items)
			assert.Equal(t, 101, len(items), "the torn document is written again, the others not")
			assert.EqualValues(t, 10, h2.sum(t, "docs_skipped", map[string]string{"reason": "already_written"}))
		})
	}
}

// TestOfflineResumeIsBounded: only the last resumeBytes of the files are
// read back; older documents sent again are written again (as before), the
// read-back stays small whatever the directory holds.
func TestOfflineResumeIsBounded(t *testing.T) {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.Offline = OfflineConfig{Directory: dir, MaxFileBytes: 1 << 16}
	noQueue(cfg)
	lines := scenarioLines(t, 400)
	h := startExporter(t, cfg, nil)
	for i := 0; i < 400; i += 50 {
		h.consume(t, logsOf(t, lines[i:i+50]...))
	}
	h.stop(t)
	files, err := offlineFiles(dir)
	require.NoError(t, err)
	require.Greater(t, len(files), 2)
	st, err := os.Stat(files[len(files)-1])
	require.NoError(t, err)
	saved := resumeBytes
	t.Cleanup(func() { resumeBytes = saved })
	resumeBytes = st.Size() // the newest file only

	h2 := startExporter(t, cfg, nil)
	h2.consume(t, logsOf(t, lines...))
	h2.stop(t)
	skipped := h2.sum(t, "docs_skipped", map[string]string{"reason": "already_written"})
	assert.Positive(t, skipped)
	assert.Less(t, skipped, int64(400), "older files were not read back")
	assert.Equal(t, 800-int(skipped), len(readOffline(t, dir)))
}

// TestOfflineDirectoryInUse: two writers on one offline directory (which
// would prune, and read back, each other's files) are refused at start.
func TestOfflineDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	cfg := createDefaultConfig().(*Config)
	cfg.Offline = OfflineConfig{Directory: dir, MaxFileBytes: 1 << 20}
	noQueue(cfg)
	h := startExporter(t, cfg, nil)
	exp, err := NewFactory().CreateLogs(t.Context(), exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = exp.Start(t.Context(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), dir+" is in use by another exporter or collector")
	assert.Contains(t, err.Error(), filepath.Join(dir, ".cairn-bulk.lock"))
	require.NoError(t, exp.Shutdown(t.Context()))
	h.stop(t)
	h2 := startExporter(t, cfg, nil) // free again
	h2.stop(t)
}
