package cairnsearchexporter

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/templates"
	"github.com/cairnsec/cairn/internal/searchtest"
	"github.com/cairnsec/cairn/internal/testkit"
)

// badIP is an event the cluster must refuse under Cairn's mapping.
func badIP(t *testing.T) []byte {
	return jsonDoc(t, map[string]any{"@timestamp": "2026-03-05T14:00:00Z", "event": map[string]any{"id": "bad-ip"},
		"host": map[string]any{"name": "web-03"}, "source": map[string]any{"ip": "not-an-ip"}})
}

func setting(srv *searchtest.Server, index, key string) string {
	v, ok := srv.IndexSetting(index, key)
	if !ok {
		return "<unset>"
	}
	return fmt.Sprint(v)
}

// TestIndexModeStandard: Elasticsearch 9 (and 8.17+ with
// cluster.logsdb.enabled) makes a new logs-*-* data stream logsdb unless
// its templates set index.mode. Cairn's do (standard), so a document with
// a malformed field is refused and dead-lettered with the reason, as the
// delivery guarantees say, instead of being stored with the field silently
// left out of the index.
func TestIndexModeStandard(t *testing.T) {
	for _, version := range []string{"9.1.3", "8.17.1"} {
		t.Run(version, func(t *testing.T) {
			srv := searchtest.New(t, searchtest.Elasticsearch, version)
			srv.LogsDBDefault = true
			cfg := testConfig(srv.URL)
			noQueue(cfg)
			h := startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, append(scenarioLines(t, 5), badIP(t))...))
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-1", time.Now(), 40, "new_domain"))))
			h.stop(t)
			for _, index := range []string{"logs-cairn.events-default", "logs-cairn.alerts-default", "logs-cairn.dlq-default"} {
				assert.Equal(t, "standard", srv.IndexMode(index), index)
			}
			assert.Len(t, srv.Docs("logs-cairn.events-default"), 5)
			dlq := srv.Docs("logs-cairn.dlq-default")
			require.Len(t, dlq, 1)
			assert.Equal(t, "bad-ip", testkit.Nested(dlq[0].Source, "cairn.dlq.id"))
			assert.Contains(t, testkit.Nested(dlq[0].Source, "error.message"), "failed to parse field [source.ip] of type [ip]")
		})
	}
}

// TestLogsDBWithoutCairnsTemplates shows what Cairn's index.mode prevents:
// on Elasticsearch 9 without Cairn's templates the events data stream is
// logsdb (built-in logs template, which maps *.ip as ip), the malformed
// address is stored and only listed in _ignored, nothing is dead-lettered.
// Content-derived _id values still work: a re-sent event answers 409.
func TestLogsDBWithoutCairnsTemplates(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "9.1.3")
	cfg := testConfig(srv.URL)
	cfg.Bootstrap = false
	noQueue(cfg)
	h := startExporter(t, cfg, nil)
	lines := append(scenarioLines(t, 5), badIP(t))
	h.consume(t, logsOf(t, lines...))
	h.consume(t, logsOf(t, lines...))
	h.stop(t)
	assert.Equal(t, "logsdb", srv.IndexMode("logs-cairn.events-default"))
	docs := srv.Docs("logs-cairn.events-default")
	require.Len(t, docs, 6)
	var ignored []string
	for _, d := range docs {
		if d.ID == "bad-ip" {
			ignored = d.Ignored
		}
	}
	assert.Equal(t, []string{"source.ip"}, ignored)
	assert.Empty(t, srv.Docs("logs-cairn.dlq-*"))
	assert.EqualValues(t, 6, h.sum(t, "docs_delivered", map[string]string{"result": "exists"}), "second copies answered 409")
	for key, n := range srv.Stores() {
		assert.Equal(t, 1, n, key)
	}
}

// TestCustomHooks: what a user puts in the @custom component templates
// wins over Cairn's settings and mappings on the next new data stream or
// index (templates apply at creation), with Fleet's precedence
// (logs@custom < cairn@custom < logs-cairn.<dataset>@custom); the alerts
// index does not compose logs@custom. Bootstrap never overwrites a hook:
// on Elasticsearch it does not write them at all
// (ignore_missing_component_templates), on OpenSearch it creates them
// empty only when missing.
func TestCustomHooks(t *testing.T) {
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			srv := searchtest.New(t, f.flavour, f.version)
			es := f.flavour == searchtest.Elasticsearch
			cfg := testConfig(srv.URL)
			noQueue(cfg)
			h := startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, scenarioLines(t, 3)...))
			h.stop(t)
			for _, hook := range []string{"cairn@custom", "logs-cairn.events@custom", "logs-cairn.alerts@custom", "logs-cairn.dlq@custom"} {
				_, exists := srv.Component(hook)
				assert.Equal(t, !es, exists, "%s created by bootstrap", hook)
			}
			_, exists := srv.Component("logs@custom")
			assert.False(t, exists)

			// The user's customisations.
			put := func(name, body string) {
				status, res := srv.Request(t, "PUT", "/_component_template/"+name, body)
				require.Equal(t, 200, status, res)
			}
			put("cairn@custom", `{"template":{"settings":{"number_of_replicas":0,"index.mapping.total_fields.limit":3000}}}`)
			events := `{"index.mapping.total_fields.limit":5000`
			if es {
				events += `,"index.mode":"logsdb","index.lifecycle.name":"my-policy"`
				put("logs@custom", `{"template":{"settings":{"refresh_interval":"30s","number_of_replicas":2}}}`)
			}
			put("logs-cairn.events@custom", `{"template":{"settings":`+events+`},
				"mappings":{"properties":{"labels":{"properties":{"ticket":{"type":"long"}}},"process":{"properties":{"title":{"type":"text"}}}}}}}`)

			cfg = testConfig(srv.URL)
			cfg.Namespace = "team"
			noQueue(cfg)
			h = startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, append(scenarioLines(t, 3), badIP(t))...))
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-1", time.Now(), 40, "new_domain"))))
			h.stop(t)

			ev, al := "logs-cairn.events-team", "logs-cairn.alerts-team"
			assert.Equal(t, "0", setting(srv, ev, "number_of_replicas"), "cairn@custom wins over logs@custom")
			assert.Equal(t, "5000", setting(srv, ev, "index.mapping.total_fields.limit"), "the dataset hook wins over cairn@custom and Cairn")
			assert.Equal(t, "long", srv.FieldType(ev, "labels.ticket"), "a mapping added by the user")
			assert.Equal(t, "text", srv.FieldType(ev, "process.title"), "a mapping of Cairn's replaced by the user's")
			assert.Equal(t, "0", setting(srv, al, "number_of_replicas"))
			assert.Equal(t, "3000", setting(srv, al, "index.mapping.total_fields.limit"), "cairn@custom applies to alerts, the events hook does not")
			assert.Equal(t, "keyword", srv.FieldType(al, "process.title"))
			assert.Equal(t, "<unset>", setting(srv, "logs-cairn.events-default", "number_of_replicas"), "an existing data stream keeps its settings")
			if es {
				assert.Equal(t, "30s", setting(srv, ev, "refresh_interval"), "logs@custom applies to Cairn's data streams")
				assert.Equal(t, "<unset>", setting(srv, al, "refresh_interval"), "the alerts index does not compose logs@custom")
				assert.Equal(t, "logsdb", srv.IndexMode(ev), "the user's index.mode wins over Cairn's")
				assert.Equal(t, "my-policy", srv.IndexPolicy(ev))
				assert.Equal(t, "standard", srv.IndexMode(al))
				// What the user opted into: logsdb keeps the malformed
				// document, nothing is dead-lettered.
				assert.Empty(t, srv.Docs("logs-cairn.dlq-team"))
			} else {
				assert.Len(t, srv.Docs("logs-cairn.dlq-team"), 1)
			}
			c, _ := srv.Component("logs-cairn.events@custom")
			assert.Contains(t, fmt.Sprint(c), "5000", "bootstrap kept the user's hook")
		})
	}
}

// TestOpenSearchHookRace: a hook created by someone else between
// bootstrap's GET (404) and its PUT ?create=true (400 "already exists")
// is kept, and bootstrap goes on.
func TestOpenSearchHookRace(t *testing.T) {
	srv := searchtest.New(t, searchtest.OpenSearch, "2.19.1")
	status, res := srv.Request(t, "PUT", "/_component_template/cairn@custom", `{"template":{"settings":{"number_of_replicas":0}}}`)
	require.Equal(t, 200, status, res)
	srv.Hook = func(r *http.Request, _ int) (int, string) {
		if r.Method == "GET" && r.URL.Path == "/_component_template/cairn@custom" {
			return 404, `{"error":{"type":"resource_not_found_exception","reason":"component template matching [cairn@custom] not found"},"status":404}`
		}
		return 0, ""
	}
	cfg := testConfig(srv.URL)
	require.NoError(t, bootstrap(t.Context(), &plainClient{base: srv.URL, client: http.DefaultClient}, server{flavour: FlavourOpenSearch}, policyOf(cfg)))
	c, _ := srv.Component("cairn@custom")
	assert.Contains(t, fmt.Sprint(c), "number_of_replicas")
	assert.True(t, srv.Template(templates.AlertsTemplate))
}

// TestAlertsLifecycle: with lifecycle::alerts_delete_after, bootstrap
// installs <policy_name>-alerts and the alerts index gets it (ILM by
// index.lifecycle.name, ISM by ism_template), while events keep theirs;
// without it the alerts index has no policy. A policy tuned by hand is
// kept at the next start.
func TestAlertsLifecycle(t *testing.T) {
	for _, f := range flavours {
		t.Run(f.name, func(t *testing.T) {
			srv := searchtest.New(t, f.flavour, f.version)
			cfg := testConfig(srv.URL)
			noQueue(cfg)
			h := startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-1", time.Now(), 40, "new_domain"))))
			h.stop(t)
			_, ok := srv.Policy("cairn-alerts")
			assert.False(t, ok, "no alerts policy by default")
			assert.Empty(t, srv.IndexPolicy("logs-cairn.alerts-default"))

			cfg = testConfig(srv.URL)
			cfg.Namespace = "kept"
			cfg.Lifecycle.AlertsDeleteAfter = "365d"
			noQueue(cfg)
			h = startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, scenarioLines(t, 1)...))
			h.consume(t, logsOf(t, jsonDoc(t, alertDoc("alert-2", time.Now(), 40, "new_domain"))))
			h.stop(t)
			p, ok := srv.Policy("cairn-alerts")
			require.True(t, ok)
			assert.Contains(t, string(p), `"365d"`)
			assert.NotContains(t, string(p), "rollover")
			assert.Equal(t, "cairn-alerts", srv.IndexPolicy("logs-cairn.alerts-kept"))
			assert.Equal(t, "cairn", srv.IndexPolicy("logs-cairn.events-kept"))
			require.Len(t, srv.Docs("logs-cairn.alerts-kept"), 1)

			// Tuned by hand, kept by the next bootstrap.
			path := "/_ilm/policy/cairn-alerts"
			if f.flavour == searchtest.OpenSearch {
				path = "/_plugins/_ism/policies/cairn-alerts"
				srv.DeletePolicy("cairn-alerts") // ISM updates need a sequence number
			}
			status, res := srv.Request(t, "PUT", path, `{"policy":`+strings.Replace(string(p), `"365d"`, `"730d"`, 1)+`}`)
			require.Less(t, status, 300, res)
			h = startExporter(t, cfg, nil)
			h.consume(t, logsOf(t, scenarioLines(t, 2)...))
			h.stop(t)
			p, _ = srv.Policy("cairn-alerts")
			assert.Contains(t, string(p), `"730d"`)
		})
	}
}

// TestBootstrapNeedsElasticsearch87: before 8.7 Elasticsearch refuses
// ignore_missing_component_templates; bootstrap says so, with the
// version, instead of a parse error, and writes nothing.
func TestBootstrapNeedsElasticsearch87(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "8.6.2")
	c := &plainClient{base: srv.URL, client: http.DefaultClient}
	s, err := detect(t.Context(), c)
	require.NoError(t, err)
	err = bootstrap(t.Context(), c, s, policyOf(testConfig(srv.URL)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "need Elasticsearch 8.7 or later")
	assert.Contains(t, err.Error(), "Elasticsearch 8.6.2")
	assert.False(t, srv.Template(templates.EventsTemplate))
	_, ok := srv.Component(templates.MappingsComponent)
	assert.False(t, ok, "nothing written")
	// The fake refuses the field as 8.6 does, so the check is not moot.
	status, res := srv.Request(t, "PUT", "/_index_template/x", `{"index_patterns":["x-*"],"ignore_missing_component_templates":[]}`)
	assert.Equal(t, 400, status, res)

	assert.True(t, olderThan("8.6.2", "8.7"))
	assert.False(t, olderThan("8.7.0", "8.7"))
	assert.False(t, olderThan("9.0.0-SNAPSHOT", "8.7"))
	assert.False(t, olderThan("", "8.7"))
}

// TestAlertsDeleteAfterValidated: the option is a positive duration with a
// unit, or empty; zero is refused (it would delete each alerts index as
// soon as it is created).
func TestAlertsDeleteAfterValidated(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "365d": true, "12h": true, "0d": false, "000s": false, "1y": false, "d": false, "30 d": false} {
		cfg := testConfig("http://localhost:9200")
		cfg.Lifecycle.AlertsDeleteAfter = v
		err := cfg.Validate()
		if ok {
			assert.NoError(t, err, v)
		} else if assert.Error(t, err, v) {
			assert.Contains(t, err.Error(), "lifecycle::alerts_delete_after")
		}
	}
	full, err := load(t, "full")
	require.NoError(t, err)
	assert.Equal(t, "730d", full.Lifecycle.AlertsDeleteAfter)
	assert.Empty(t, createDefaultConfig().(*Config).Lifecycle.AlertsDeleteAfter, "alerts kept forever by default")
}

// TestDeployFilesAreTheDefaults: deploy/elasticsearch and deploy/opensearch
// hold exactly what bootstrap installs with the factory's defaults.
func TestDeployFilesAreTheDefaults(t *testing.T) {
	p := policyOf(createDefaultConfig().(*Config))
	for dir, f := range map[string]templates.Flavour{"elasticsearch": templates.Elasticsearch, "opensearch": templates.OpenSearch} {
		for name, want := range templates.Files(f, p) {
			got, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), "deploy", dir, name))
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got), "deploy/%s/%s", dir, name)
		}
	}
}
