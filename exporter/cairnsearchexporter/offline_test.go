package cairnsearchexporter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

	// A second start never appends to old files; max_files prunes.
	cfg.Offline.MaxFiles = 2
	h2 := startExporter(t, cfg, nil)
	h2.consume(t, logsOf(t, lines[:10]...))
	h2.stop(t)
	files2, err := offlineFiles(dir)
	require.NoError(t, err)
	assert.Len(t, files2, 2)
	assert.NotContains(t, files2, files[0])
}
