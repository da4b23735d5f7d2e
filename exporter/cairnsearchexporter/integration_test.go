package cairnsearchexporter

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRealCluster ships a slice of the scenario and one alert (twice) to a
// real cluster: CAIRN_ES_URL (Elasticsearch) or CAIRN_OPENSEARCH_URL, with
// optional CAIRN_ES_API_KEY / CAIRN_ES_USER / CAIRN_ES_PASSWORD. It runs in
// a namespace of its own and checks the bulk outcomes through the metrics
// (delivered, nothing dead-lettered or dropped). Skipped without a cluster.
func TestRealCluster(t *testing.T) {
	for _, env := range []string{"CAIRN_ES_URL", "CAIRN_OPENSEARCH_URL"} {
		t.Run(env, func(t *testing.T) {
			url := os.Getenv(env)
			if url == "" {
				t.Skipf("%s is not set: no real cluster to test against (the in-process fakes cover the protocol)", env)
			}
			cfg := testConfig(url)
			cfg.Timeout = 30 * time.Second
			cfg.Namespace = fmt.Sprintf("cairntest%d", time.Now().Unix())
			cfg.APIKey = configString(os.Getenv("CAIRN_ES_API_KEY"))
			cfg.User = os.Getenv("CAIRN_ES_USER")
			cfg.Password = configString(os.Getenv("CAIRN_ES_PASSWORD"))
			noQueue(cfg)
			h := startExporter(t, cfg, nil)
			lines := scenarioLines(t, 500)
			h.consume(t, logsOf(t, lines...))
			h.consume(t, logsOf(t, lines[:100]...)) // again: 409, no duplicates
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("cairn-it-alert", t0, 40, "new_domain"))))
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("cairn-it-alert", t0.Add(time.Second), 90, "new_domain", "new_external_ip"))))
			h.stop(t)
			require.EqualValues(t, 500+2, h.sum(t, "docs_delivered", map[string]string{"result": "created"}))
			require.EqualValues(t, 100, h.sum(t, "docs_delivered", map[string]string{"result": "exists"}))
			require.Zero(t, h.sum(t, "docs_dead_lettered", nil))
			require.Zero(t, h.sum(t, "docs_dropped", nil))
			t.Logf("namespace %s written to %s", cfg.Namespace, url)
		})
	}
}
