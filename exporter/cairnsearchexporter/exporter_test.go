package cairnsearchexporter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/templates"
	"github.com/cairnsec/cairn/internal/searchtest"
	"github.com/cairnsec/cairn/internal/testkit"
)

var flavours = []struct {
	name    string
	flavour searchtest.Flavour
	version string
}{
	{"elasticsearch-8", searchtest.Elasticsearch, "8.17.1"},
	{"elasticsearch-9", searchtest.Elasticsearch, "9.1.3"},
	{"opensearch-2", searchtest.OpenSearch, "2.19.1"},
	{"opensearch-3", searchtest.OpenSearch, "3.2.0"},
}

// TestScenarioDelivered ships the bundled scenario to each product: the
// flavour is detected, bootstrap installs the templates and the policy,
// and every event lands once in logs-cairn.events-default (a data stream),
// under its content-derived event.id, with the mappings' types accepted.
func TestScenarioDelivered(t *testing.T) {
	lines := scenarioLines(t, 0)
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			srv := searchtest.New(t, f.flavour, f.version)
			h := startExporter(t, testConfig(srv.URL), nil)
			for i := 0; i < len(lines); i += 700 {
				h.consume(t, logsOf(t, lines[i:min(i+700, len(lines))]...))
			}
			eventually(t, 20*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == len(lines) },
				func() string {
					return fmt.Sprintf("%d of %d documents", len(srv.Docs("logs-cairn.events-*")), len(lines))
				})
			h.stop(t)

			assert.True(t, srv.IsDataStream("logs-cairn.events-default"))
			for _, name := range []string{templates.EventsTemplate, templates.AlertsTemplate, templates.DLQTemplate} {
				assert.True(t, srv.Template(name), name)
			}
			_, ok := srv.Policy("cairn")
			assert.True(t, ok, "lifecycle policy installed")
			for key, n := range srv.Stores() {
				assert.Equal(t, 1, n, "%s stored %d times", key, n)
			}
			docs := srv.Docs("logs-cairn.events-default")
			for _, d := range docs[:50] {
				assert.Equal(t, d.ID, testkit.Nested(d.Source, "event.id"), "_id is event.id")
				assert.Equal(t, "cairn.events", testkit.Nested(d.Source, "data_stream.dataset"))
				assert.Equal(t, "default", testkit.Nested(d.Source, "data_stream.namespace"))
				assert.NotNil(t, d.Source["@timestamp"])
			}
			n := int64(len(lines))
			assert.Equal(t, n, h.sum(t, "docs_delivered", nil))
			// Sent counts attempts: a request that timed out on a slow
			// machine is sent again (and answered 409 for what the first
			// attempt stored), so it is at least n.
			assert.GreaterOrEqual(t, h.sum(t, "docs_sent", nil), n)
			assert.Zero(t, h.sum(t, "docs_dropped", nil))
			assert.Zero(t, h.sum(t, "docs_dead_lettered", nil))
		})
	}
}

func alertDoc(id string, end time.Time, score float64, signals ...string) map[string]any {
	return map[string]any{
		"@timestamp": end.Format(time.RFC3339Nano),
		"event": map[string]any{
			"kind": "alert", "category": []any{"intrusion_detection"}, "type": []any{"info"}, "id": id,
			"severity": 73, "risk_score": score, "start": end.Add(-time.Hour).Format(time.RFC3339Nano), "end": end.Format(time.RFC3339Nano),
		},
		"rule":    map[string]any{"id": "cairn-host-correlation", "name": "Correlated host signals", "description": "Weak signals on one host"},
		"message": "web-03: " + strings.Join(signals, ", "),
		"host":    map[string]any{"name": "web-03"},
		"threat": map[string]any{"framework": "MITRE ATT&CK",
			"tactic":    map[string]any{"id": []any{"TA0011"}, "name": []any{"Command and Control"}},
			"technique": map[string]any{"id": []any{"T1095"}, "name": []any{"Non-Application Layer Protocol"}}},
		"related": map[string]any{"hosts": []any{"web-03"}, "ip": []any{"203.0.113.7"}, "hash": []any{"362b700c"}, "user": []any{"root"}},
		"cairn": map[string]any{"alert": map[string]any{
			"score": score, "severity": "high", "signals": toAny(signals),
			"contributions": []any{map[string]any{"signal": signals[0], "weight": 0.5, "event": map[string]any{"id": "e1"}, "time": end.Format(time.RFC3339Nano), "summary": "first"}},
		}},
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestAlertUpdatedInPlace: an alert re-sent with the same event.id replaces
// its earlier state in logs-cairn.alerts-default, a plain index made by
// Cairn's template (a data stream would refuse the update); a stale state
// arriving late is refused by its external version and counted as
// delivered, so the newest state stays.
func TestAlertUpdatedInPlace(t *testing.T) {
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			srv := searchtest.New(t, f.flavour, f.version)
			cfg := testConfig(srv.URL)
			noQueue(cfg)
			h := startExporter(t, cfg, nil)
			t0 := time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-1", t0, 40, "new_binary_on_host"))))
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-1", t0.Add(time.Minute), 80, "new_binary_on_host", "new_external_ip"))))
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-1", t0, 40, "new_binary_on_host")))) // stale, e.g. a late retry
			h.consume(t, logsOf(t, scenarioLines(t, 3)...))
			h.stop(t)

			assert.False(t, srv.IsDataStream("logs-cairn.alerts-default"), "alerts go to a plain index")
			docs := srv.Docs("logs-cairn.alerts-default")
			require.Len(t, docs, 1)
			assert.Equal(t, "alert-1", docs[0].ID)
			assert.EqualValues(t, 80, testkit.Nested(docs[0].Source, "cairn.alert.score"), "newest state kept")
			assert.Equal(t, t0.Add(time.Minute).UnixMilli(), docs[0].Version)
			assert.NotNil(t, testkit.Nested(docs[0].Source, "event.ingested"))
			assert.Equal(t, "cairn.alerts", testkit.Nested(docs[0].Source, "data_stream.dataset"))
			assert.Len(t, srv.Docs("logs-cairn.events-default"), 3)
			assert.EqualValues(t, 1, h.sum(t, "docs_delivered", map[string]string{"result": "exists"}))
			assert.Zero(t, h.sum(t, "docs_dead_lettered", nil))
		})
	}
}

// TestAlertsNeedCairnsTemplate shows the rule the design rests on: without
// Cairn's alert template (bootstrap off), Elasticsearch makes
// logs-cairn.alerts-default a data stream through its built-in logs-*-*
// template, which refuses the in-place write; the alert is then not lost
// but dead-lettered with the reason.
func TestAlertsNeedCairnsTemplate(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	cfg := testConfig(srv.URL)
	cfg.Bootstrap = false
	noQueue(cfg)
	h := startExporter(t, cfg, nil)
	h.consume(t, logsOf(t, scenarioLines(t, 1)[0]))
	h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-2", time.Now(), 50, "new_domain"))))
	h.stop(t)
	assert.True(t, srv.IsDataStream("logs-cairn.alerts-default"))
	assert.Empty(t, srv.Docs("logs-cairn.alerts-default"))
	dlq := srv.Docs("logs-cairn.dlq-default")
	require.Len(t, dlq, 1)
	assert.Equal(t, "only write ops with an op_type of create are allowed in data streams", testkit.Nested(dlq[0].Source, "error.message"))
	assert.Equal(t, "alert-2", testkit.Nested(dlq[0].Source, "cairn.dlq.id"))
	assert.EqualValues(t, 1, h.sum(t, "docs_dead_lettered", nil))
}

// TestRouting: data_stream.* attributes override dataset and namespace;
// alerts keep a dataset under cairn.alerts; static indices win.
func TestRouting(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	cfg := testConfig(srv.URL)
	noQueue(cfg)
	h := startExporter(t, cfg, nil)
	ev := func(id string, ds map[string]any) []byte {
		d := map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": id, "kind": "event"}, "host": map[string]any{"name": "h"}}
		if ds != nil {
			d["data_stream"] = ds
		}
		return jsonDoc(t, d)
	}
	alert := alertDoc("a-9", time.Now(), 10, "x")
	alert["data_stream"] = map[string]any{"dataset": "other", "namespace": "Team-A"}
	h.consume(t, logsOf(t,
		ev("e1", nil),
		ev("e2", map[string]any{"namespace": "prod"}),
		ev("e3", map[string]any{"dataset": "cairn.events.audit", "namespace": "prod"}),
		jsonDoc(t, alert),
	))
	h.stop(t)
	assert.Len(t, srv.Docs("logs-cairn.events-default"), 1)
	assert.Len(t, srv.Docs("logs-cairn.events-prod"), 1)
	assert.Len(t, srv.Docs("logs-cairn.events.audit-prod"), 1)
	a := srv.Docs("logs-cairn.alerts-team_a")
	require.Len(t, a, 1, "alert dataset kept, namespace sanitised")
	assert.Equal(t, "team_a", testkit.Nested(a[0].Source, "data_stream.namespace"))

	srv2 := searchtest.New(t, searchtest.OpenSearch, "2.19.1")
	cfg2 := testConfig(srv2.URL)
	cfg2.Index, cfg2.AlertsIndex = "cairn-events", "cairn-alerts"
	cfg2.Bootstrap = false
	noQueue(cfg2)
	h2 := startExporter(t, cfg2, nil)
	h2.consume(t, logsOf(t, ev("e1", nil), jsonDoc(t, alertDoc("a-1", time.Now(), 10, "x"))))
	h2.stop(t)
	assert.Len(t, srv2.Docs("cairn-events"), 1)
	assert.Len(t, srv2.Docs("cairn-alerts"), 1)
	assert.Nil(t, testkit.Nested(srv2.Docs("cairn-events")[0].Source, "data_stream"), "no data_stream fields for a static index")
}

// TestPartialFailuresAndDeadLetters mixes, in one stream: items refused
// with 429 and 503 several times (retried with backoff until stored),
// unindexable documents (bad IP, bad date, object where a keyword is
// mapped: dead-lettered, never retried) and good ones. Every good document
// is stored exactly once, the dead-letter stream holds exactly the bad ones.
func TestPartialFailuresAndDeadLetters(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "9.1.3")
	srv.ItemFault = func(index, id string, attempt int) (int, string, string) {
		if !strings.HasPrefix(index, "logs-cairn.events") {
			return 0, "", ""
		}
		switch id[len(id)-1] {
		case '0', '1', '2':
			if attempt <= 3 {
				return 429, "es_rejected_execution_exception", "rejected execution of coordinating operation"
			}
		case 'a':
			if attempt <= 2 {
				return 503, "unavailable_shards_exception", "primary shard is not active"
			}
		}
		return 0, "", ""
	}
	lines := scenarioLines(t, 2000)
	bad := [][]byte{
		jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-ip"}, "source": map[string]any{"ip": "not-an-ip"}}),
		jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-date", "start": "yesterday"}}),
		jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-object"}, "process": map[string]any{"name": map[string]any{"first": "x"}}}),
	}
	h := startExporter(t, testConfig(srv.URL), nil)
	for i := 0; i < len(lines); i += 400 {
		batch := lines[i:min(i+400, len(lines))]
		if i == 800 {
			batch = append(append([][]byte{}, batch...), bad...)
		}
		h.consume(t, logsOf(t, batch...))
	}
	eventually(t, 20*time.Second, func() bool {
		return len(srv.Docs("logs-cairn.events-default")) == len(lines) && len(srv.Docs("logs-cairn.dlq-default")) == len(bad)
	}, func() string {
		return fmt.Sprintf("%d events, %d dead letters", len(srv.Docs("logs-cairn.events-default")), len(srv.Docs("logs-cairn.dlq-default")))
	})
	h.stop(t)

	for key, n := range srv.Stores() {
		require.Equal(t, 1, n, "%s stored %d times", key, n)
	}
	dlq := map[string]*searchtest.Doc{}
	for _, d := range srv.Docs("logs-cairn.dlq-default") {
		dlq[testkit.Nested(d.Source, "cairn.dlq.id").(string)] = d
	}
	require.Len(t, dlq, 3)
	assert.Contains(t, testkit.Nested(dlq["bad-ip"].Source, "error.message"), "failed to parse field [source.ip] of type [ip]")
	assert.Contains(t, testkit.Nested(dlq["bad-date"].Source, "error.message"), "[event.start] of type [date]")
	assert.Contains(t, testkit.Nested(dlq["bad-object"].Source, "error.message"), "[process.name] of type [keyword]")
	for id, d := range dlq {
		assert.Equal(t, "document_parsing_exception", testkit.Nested(d.Source, "error.type"))
		assert.EqualValues(t, 400, testkit.Nested(d.Source, "cairn.dlq.status"))
		assert.Equal(t, "logs-cairn.events-default", testkit.Nested(d.Source, "cairn.dlq.index"))
		var orig map[string]any
		require.NoError(t, json.Unmarshal([]byte(testkit.Nested(d.Source, "event.original").(string)), &orig), "original kept as text")
		assert.Equal(t, id, testkit.Nested(orig, "event.id"))
	}
	assert.EqualValues(t, len(lines), h.sum(t, "docs_delivered", nil))
	assert.EqualValues(t, 3, h.sum(t, "docs_dead_lettered", nil))
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "too_many_requests"}))
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "server_error"}))
	assert.Zero(t, h.sum(t, "docs_dropped", nil))
}

// TestRequestTooLarge: a 413 splits the request until it fits; a document
// too large on its own is dead-lettered (cut to max_document_bytes).
func TestRequestTooLarge(t *testing.T) {
	srv := searchtest.New(t, searchtest.OpenSearch, "2.19.1")
	srv.MaxContentLength = 40 << 10
	cfg := testConfig(srv.URL)
	cfg.Compression = "" // the limit applies to what arrives; keep it simple
	cfg.DeadLetter.MaxDocumentBytes = 4096
	noQueue(cfg)
	h := startExporter(t, cfg, nil)
	lines := scenarioLines(t, 300)
	huge := jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "huge"}, "message": strings.Repeat("x", 50<<10)})
	h.consume(t, logsOf(t, append(lines, huge)...))
	h.stop(t)
	assert.Len(t, srv.Docs("logs-cairn.events-default"), len(lines))
	dlq := srv.Docs("logs-cairn.dlq-default")
	require.Len(t, dlq, 1)
	assert.Equal(t, "request_too_large", testkit.Nested(dlq[0].Source, "error.type"))
	assert.Equal(t, true, testkit.Nested(dlq[0].Source, "cairn.dlq.truncated"))
	assert.LessOrEqual(t, len(testkit.Nested(dlq[0].Source, "event.original").(string)), 4096)
	_, bulks := srv.Stats()
	assert.Greater(t, bulks, 4, "split into several requests")
}

// TestRequestLevelFailures: 500, 503 and 429 answers to whole requests,
// slow answers beyond the timeout, and refused connections are all
// retried until the data is in, once. With the spool, ConsumeLogs returns
// at once during the outage.
func TestRequestLevelFailures(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	var bulkN atomic.Int32
	srv.Hook = func(r *http.Request, _ int) (int, string) {
		if r.URL.Path != "/_bulk" {
			return 0, ""
		}
		switch bulkN.Add(1) {
		case 1:
			return 500, `{"error":{"type":"exception","reason":"boom"},"status":500}`
		case 2:
			return 503, `{"error":{"type":"cluster_block_exception","reason":"blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"},"status":503}`
		case 3:
			return 429, `{"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"},"status":429}`
		case 4:
			time.Sleep(400 * time.Millisecond) // beyond the timeout below
		}
		return 0, ""
	}
	cfg := withSpool(testConfig(srv.URL), t.TempDir())
	cfg.Timeout = 200 * time.Millisecond
	h := startExporter(t, cfg, nil)
	lines := scenarioLines(t, 500)
	h.consume(t, logsOf(t, lines[:250]...))
	eventually(t, 10*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-*")) == 250 }, func() string { return "first half" })

	srv.Down()
	h.consume(t, logsOf(t, lines[250:]...))
	time.Sleep(150 * time.Millisecond) // a few refused attempts
	srv.Up(t)
	eventually(t, 10*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-*")) == 500 }, func() string {
		return fmt.Sprintf("%d of 500", len(srv.Docs("logs-cairn.events-*")))
	})
	h.stop(t)
	for key, n := range srv.Stores() {
		require.Equal(t, 1, n, key)
	}
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "request_failed"}))
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "server_error"}))
	assert.Positive(t, h.sum(t, "docs_retried", map[string]string{"reason": "too_many_requests"}))
	assert.Zero(t, h.sum(t, "docs_dropped", nil))
}

// TestDeadLetterFailures: a dead letter refused for good is counted as
// dropped (the only way documents are lost), and with the dead-letter
// queue disabled refused documents are dropped, counted and logged. In
// synchronous delivery ConsumeLogs then returns a permanent error (the
// caller must not resend: the rest of the batch is stored).
func TestDeadLetterFailures(t *testing.T) {
	bad := map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-ip"}, "source": map[string]any{"ip": "nope"}}
	t.Run("refused", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.ItemFault = func(index, _ string, _ int) (int, string, string) {
			if strings.HasPrefix(index, "logs-cairn.dlq") {
				return 400, "illegal_argument_exception", "no"
			}
			return 0, "", ""
		}
		cfg := testConfig(srv.URL)
		noQueue(cfg)
		h := startExporter(t, cfg, nil)
		err := h.exp.ConsumeLogs(t.Context(), logsOf(t, append(scenarioLines(t, 2), jsonDoc(t, bad))...))
		require.Error(t, err)
		assert.True(t, consumererror.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "1 of 3 documents could not be delivered and were dropped")
		h.stop(t)
		assert.EqualValues(t, 1, h.sum(t, "docs_dropped", map[string]string{"reason": "dead_letter_refused"}))
		assert.Len(t, srv.Docs("logs-cairn.events-default"), 2, "the rest of the batch is stored")
	})
	t.Run("disabled", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		cfg := testConfig(srv.URL)
		cfg.DeadLetter.Enabled = false
		noQueue(cfg)
		h := startExporter(t, cfg, nil)
		err := h.exp.ConsumeLogs(t.Context(), logsOf(t, jsonDoc(t, bad)))
		require.Error(t, err)
		assert.True(t, consumererror.IsPermanent(err), "%v", err)
		h.stop(t)
		assert.EqualValues(t, 1, h.sum(t, "docs_dropped", map[string]string{"reason": "dead_letter_disabled"}))
		assert.Empty(t, srv.Docs("logs-cairn.dlq-*"))
		assert.Equal(t, 1, h.logs.FilterMessage("Documents dropped").Len())
	})
	t.Run("dead letter retried", func(t *testing.T) {
		srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
		srv.ItemFault = func(index, _ string, attempt int) (int, string, string) {
			if strings.HasPrefix(index, "logs-cairn.dlq") && attempt <= 2 {
				return 429, "es_rejected_execution_exception", "busy"
			}
			return 0, "", ""
		}
		cfg := testConfig(srv.URL)
		noQueue(cfg)
		h := startExporter(t, cfg, nil)
		h.consume(t, logsOf(t, jsonDoc(t, bad)))
		h.stop(t)
		assert.Len(t, srv.Docs("logs-cairn.dlq-default"), 1)
		assert.Equal(t, 1, srv.Stores()["logs-cairn.dlq-default/"+srv.Docs("logs-cairn.dlq-default")[0].ID])
		assert.Zero(t, h.sum(t, "docs_dropped", nil))
	})
}

// TestEncodingEdgeCases: invalid UTF-8, huge strings, a leaf and an object
// at one path, bytes and non-finite doubles all give documents the server
// parses; nothing panics.
func TestEncodingEdgeCases(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	cfg := testConfig(srv.URL)
	noQueue(cfg)
	h := startExporter(t, cfg, nil)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "res-host")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	r := recs.AppendEmpty()
	r.SetTimestamp(1772719200000000000)
	r.Attributes().PutStr("message", "bad \xff\xfe utf8 \"quoted\" \u2028")
	r.Attributes().PutStr("labels.huge", strings.Repeat("é", 100_000))
	r.Attributes().PutStr("host", "leaf")
	r.Attributes().PutStr("event.id", "id-with-\"quote\"-and-\xff")
	r.Attributes().PutEmptyBytes("labels.raw").FromRaw([]byte{0, 1, 2})
	r.Attributes().PutDouble("labels.nan", 0)
	r2 := recs.AppendEmpty()
	r2.Body().SetStr("only a body")
	h.consume(t, ld)
	h.stop(t)
	docs := srv.Docs("logs-cairn.events-default")
	require.Len(t, docs, 2)
	for _, d := range docs {
		assert.True(t, json.Valid(d.Raw))
	}
	assert.Zero(t, h.sum(t, "docs_dead_lettered", nil))
}

// TestDetectFlavour: GET / tells Elasticsearch from OpenSearch; the
// Elasticsearch client's product check refuses a server without the
// X-Elastic-Product header, which OpenSearch never sends.
func TestDetectFlavour(t *testing.T) {
	for _, f := range flavours {
		srv := searchtest.New(t, f.flavour, f.version)
		got, err := detect(t.Context(), &plainClient{base: srv.URL, client: http.DefaultClient})
		require.NoError(t, err)
		want := FlavourElasticsearch
		if f.flavour == searchtest.OpenSearch {
			want = FlavourOpenSearch
		}
		assert.Equal(t, want, got.flavour, f.name)
		assert.Equal(t, f.version, got.version)
		assert.True(t, got.supported())
	}
	// A proxy that strips the header.
	srv := searchtest.New(t, searchtest.OpenSearch, "2.19.1")
	srv.Hook = func(r *http.Request, _ int) (int, string) {
		if r.URL.Path == "/" {
			return 200, `{"version":{"number":"8.17.1"},"tagline":"You Know, for Search"}`
		}
		return 0, ""
	}
	_, err := detect(t.Context(), &plainClient{base: srv.URL, client: http.DefaultClient})
	assert.ErrorContains(t, err, "X-Elastic-Product")

	// Flavour forced to elasticsearch against OpenSearch: the official
	// client refuses the answers, nothing is written.
	os := searchtest.New(t, searchtest.OpenSearch, "2.19.1")
	es, err := newESClient(os.URL, http.DefaultTransport, time.Second, nil)
	require.NoError(t, err)
	_, err = es.do(t.Context(), "GET", "/", nil)
	assert.ErrorContains(t, err, "not Elasticsearch")
}

// TestBootstrap: idempotent (a second start changes nothing and keeps a
// tuned policy), flavour-specific (no ILM setting on OpenSearch, which
// refuses it), and a missing privilege gives one error naming it while
// the data waits; once granted, everything is delivered.
func TestBootstrap(t *testing.T) {
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			srv := searchtest.New(t, f.flavour, f.version)
			denied := "/_index_template"
			srv.Denied = map[string]string{denied: "indices:admin/index_template/put"}
			// Spooled: ConsumeLogs returns while bootstrap is refused.
			cfg := withSpool(testConfig(srv.URL), t.TempDir())
			h := startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, scenarioLines(t, 10)...))
			eventually(t, 5*time.Second, func() bool { return h.logs.FilterMessageSnippet("Cannot use the search cluster").Len() > 0 }, func() string { return "no error logged" })
			entry := h.logs.FilterMessageSnippet("Cannot use the search cluster").All()[0]
			msg := fmt.Sprint(entry.ContextMap()["error"])
			if f.flavour == searchtest.OpenSearch {
				assert.Contains(t, msg, "cluster_manage_index_templates")
			} else {
				assert.Contains(t, msg, "the cluster privilege manage_index_templates")
			}
			assert.Contains(t, msg, "missing privilege")
			time.Sleep(100 * time.Millisecond)
			assert.Equal(t, 1, h.logs.FilterMessageSnippet("Cannot use the search cluster").Len(), "the same error is logged once")
			assert.Empty(t, srv.Docs("*"))
			srv.Lock(func() { srv.Denied = nil })
			eventually(t, 10*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == 10 }, func() string { return "not delivered after the grant" })
			h.stop(t)

			// Tune the policy, start again: templates rewritten, policy kept.
			p, _ := srv.Policy("cairn")
			putPolicy(t, srv, []byte(strings.Replace(string(p), `"90d"`, `"400d"`, 1)))
			h2 := startExporter(t, testConfig(srv.URL), nil)
			h2.consume(t, logsOf(t, scenarioLines(t, 20)...))
			eventually(t, 10*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == 20 }, func() string { return "second run" })
			h2.stop(t)
			p2, _ := srv.Policy("cairn")
			assert.Contains(t, string(p2), "400d", "existing policy kept")
		})
	}
}

// putPolicy replaces the policy in the fake as a user would.
func putPolicy(t *testing.T, srv *searchtest.Server, policy []byte) {
	t.Helper()
	path := "/_ilm/policy/cairn"
	if srv.Flavour == searchtest.OpenSearch {
		path = "/_plugins/_ism/policies/cairn"
		srv.DeletePolicy("cairn") // ISM updates need a sequence number
	}
	req, err := http.NewRequest("PUT", srv.URL+path, strings.NewReader(`{"policy":`+string(policy)+`}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Less(t, res.StatusCode, 300)
}

// TestCredentials: basic, API key and bearer credentials reach the
// server; wrong ones are refused (401) and retried; secrets never appear
// in the logs.
func TestCredentials(t *testing.T) {
	cases := []struct {
		name   string
		set    func(*Config)
		header string
	}{
		{"basic", func(c *Config) { c.User, c.Password = "cairn", "s3cret-pass" }, "Basic Y2Fpcm46czNjcmV0LXBhc3M="},
		{"api_key", func(c *Config) { c.APIKey = "aWQ6czNjcmV0LWtleQ==" }, "ApiKey aWQ6czNjcmV0LWtleQ=="},
		{"bearer", func(c *Config) { c.BearerToken = "s3cret-token" }, "Bearer s3cret-token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
			srv.Auth = c.header
			cfg := testConfig(srv.URL)
			c.set(cfg)
			h := startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, scenarioLines(t, 5)...))
			eventually(t, 5*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == 5 }, func() string { return "not delivered" })
			h.stop(t)
			for _, e := range h.logs.All() {
				line := e.Message + fmt.Sprint(e.ContextMap())
				assert.NotContains(t, line, "s3cret")
			}
		})
	}
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.17.1")
	srv.Auth = "ApiKey right"
	cfg := withSpool(testConfig(srv.URL), t.TempDir())
	cfg.APIKey = "wrong-s3cret"
	h := startExporter(t, cfg, nil)
	h.consume(t, logsOf(t, scenarioLines(t, 5)...))
	eventually(t, 5*time.Second, func() bool { return h.logs.FilterMessageSnippet("Cannot use").Len() > 0 }, func() string { return "no error" })
	assert.Contains(t, fmt.Sprint(h.logs.FilterMessageSnippet("Cannot use").All()[0].ContextMap()["error"]), "401")
	srv.Lock(func() { srv.Auth = "ApiKey wrong-s3cret" })
	eventually(t, 5*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == 5 }, func() string { return "not delivered after fixing the key" })
	h.stop(t)
	for _, e := range h.logs.All() {
		assert.NotContains(t, e.Message+fmt.Sprint(e.ContextMap()), "s3cret")
	}
}
