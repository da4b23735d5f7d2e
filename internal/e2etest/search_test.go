package e2etest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnsec/cairn/internal/searchtest"

	"github.com/cairnsec/cairn/internal/testkit"
)

// TestCollectorShipsToElasticsearch runs the collector binary on
// deploy/cairn.yaml with the cairn_search exporter pointed at an in-process
// Elasticsearch (overlay: online instead of offline, fast retries), while
// that cluster refuses the first _bulk request (503) and 1 item in 16 on
// its first try (429). Every scenario event must end up in
// logs-cairn.events-default exactly once by _id, nothing in the dead-letter
// stream, and alerts (if the pipeline raised any) in the plain alerts index.
func TestCollectorShipsToElasticsearch(t *testing.T) {
	t.Parallel()
	bin := testkit.CollectorBinary(t)
	root := testkit.RepoRoot()
	input := filepath.Join(root, "testdata", "scenario", "events.ndjson")
	events := readEvents(t, input)

	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	var bulks atomic.Int32
	srv.Hook = func(r *http.Request, _ int) (int, string) {
		if r.URL.Path == "/_bulk" && bulks.Add(1) == 1 {
			return 503, `{"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"},"status":503}`
		}
		return 0, ""
	}
	srv.ItemFault = func(index, id string, attempt int) (int, string, string) {
		if attempt == 1 && strings.HasSuffix(id, "0") {
			return 429, "es_rejected_execution_exception", "rejected execution of coordinating operation"
		}
		return 0, "", ""
	}

	base := filepath.Join(root, "deploy", "cairn.yaml")
	if _, err := os.ReadFile(base); err != nil {
		t.Fatal(err)
	}
	// deploy/cairn-es.yaml as shipped (spool under the state directory),
	// with shorter retry intervals for the test.
	esOverlay := filepath.Join(root, "deploy", "cairn-es.yaml")
	overlay := filepath.Join(t.TempDir(), "search.yaml")
	cfg := `# Test overlay, merged over deploy/cairn.yaml and deploy/cairn-es.yaml.
exporters:
  cairn_search:
    retry_on_failure:
      initial_interval: 10ms
      max_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [cairn_file]
      exporters: [cairn_search]
`
	if err := os.WriteFile(overlay, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := launch(t, "collector (cairn_search)", bin, []string{base, esOverlay, overlay}, t.TempDir(), input, nil, "CAIRN_ES_URL="+srv.URL)

	deadline := time.Now().Add(recordsTimeout)
	for len(srv.Docs("logs-cairn.events-default")) < len(events) {
		select {
		case <-c.Done():
			t.Fatalf("collector exited (%v) after %d of %d documents", c.Err(), len(srv.Docs("logs-cairn.events-default")), len(events))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d documents within %s", len(srv.Docs("logs-cairn.events-default")), len(events), recordsTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.terminate(t)

	docs := srv.Docs("logs-cairn.events-default")
	if len(docs) != len(events) {
		t.Errorf("%d documents for %d events", len(docs), len(events))
	}
	for key, n := range srv.Stores() {
		if n != 1 && !strings.HasPrefix(key, "logs-cairn.alerts") {
			t.Errorf("%s stored %d times", key, n)
		}
	}
	for _, d := range docs {
		ev, _ := d.Source["event"].(map[string]any)
		if ev == nil || ev["id"] != d.ID {
			t.Fatalf("document %s: event.id %v is not its _id", d.ID, ev["id"])
		}
	}
	if dlq := srv.Docs("logs-cairn.dlq-*"); len(dlq) > 0 {
		t.Errorf("%d dead letters, first: %s", len(dlq), dlq[0].Raw)
	}
	if !srv.IsDataStream("logs-cairn.events-default") {
		t.Error("events are not in a data stream")
	}
	alerts := srv.Docs("logs-cairn.alerts-*")
	if len(alerts) > 0 && srv.IsDataStream(alerts[0].Index) {
		t.Error("alerts went to a data stream")
	}
	t.Logf("%d events delivered once each, %d alert documents; %d _bulk requests", len(docs), len(alerts), bulks.Load())
}
