package searchtest

import (
	"fmt"
	"strings"
	"testing"
)

// put sends a PUT and fails the test unless the status is want.
func put(t *testing.T, s *Server, path, body string, want int) string {
	t.Helper()
	status, res := s.Request(t, "PUT", path, body)
	if status != want {
		t.Fatalf("PUT %s: %d %s, want %d", path, status, res, want)
	}
	return res
}

// write sends one bulk item and returns its answer line.
func write(t *testing.T, s *Server, op, index, id, doc string) string {
	t.Helper()
	status, res := s.Request(t, "POST", "/_bulk", fmt.Sprintf(`{%q:{"_index":%q,"_id":%q}}`+"\n%s\n", op, index, id, doc))
	if status != 200 {
		t.Fatalf("bulk: %d %s", status, res)
	}
	return res
}

// TestComposition: components merge in composed_of order (later wins),
// the index template's own template last; object properties merge field
// by field, a field defined again is replaced whole, dynamic templates of
// the same name are replaced.
func TestComposition(t *testing.T) {
	s := New(t, Elasticsearch, "8.17.1")
	put(t, s, "/_component_template/a", `{"template":{"settings":{"number_of_replicas":1,"index.refresh_interval":"5s"},
		"mappings":{"properties":{"f":{"type":"keyword"},"obj":{"properties":{"x":{"type":"keyword"}}},"g":{"type":"keyword"}},
		"dynamic_templates":[{"strs":{"match_mapping_type":"string","mapping":{"type":"text"}}}]}}}`, 200)
	put(t, s, "/_component_template/b", `{"template":{"settings":{"index":{"number_of_replicas":0}},
		"mappings":{"properties":{"f":{"type":"long"},"obj":{"properties":{"y":{"type":"ip"}}}},
		"dynamic_templates":[{"strs":{"match_mapping_type":"string","mapping":{"type":"keyword"}}}]}}}`, 200)
	put(t, s, "/_index_template/t", `{"index_patterns":["x-*"],"priority":1,"composed_of":["a","b"],
		"template":{"settings":{"refresh_interval":"1s"},"mappings":{"properties":{"g":{"type":"date"}}}}}`, 200)
	write(t, s, "index", "x-1", "1", `{"new":"str"}`)
	for key, want := range map[string]string{"number_of_replicas": "0", "refresh_interval": "1s"} {
		if v, _ := s.IndexSetting("x-1", key); fmt.Sprint(v) != want {
			t.Errorf("%s = %v, want %s", key, v, want)
		}
	}
	for path, want := range map[string]string{"f": "long", "obj.x": "keyword", "obj.y": "ip", "g": "date", "new": "keyword"} {
		if got := s.FieldType("x-1", path); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}

// TestIgnoreMissingComponentTemplates: Elasticsearch 8.7+ lets an index
// template name missing components listed in
// ignore_missing_component_templates and uses them once they exist, for
// indices created after; older versions and OpenSearch refuse the field,
// and a missing component not listed is refused everywhere.
func TestIgnoreMissingComponentTemplates(t *testing.T) {
	s := New(t, Elasticsearch, "8.17.1")
	put(t, s, "/_component_template/base", `{"template":{"settings":{"number_of_replicas":1}}}`, 200)
	res := put(t, s, "/_index_template/t", `{"index_patterns":["x-*"],"composed_of":["base","x@custom"]}`, 400)
	if !strings.Contains(res, "specifies component templates [x@custom] that do not exist") {
		t.Errorf("missing component: %s", res)
	}
	put(t, s, "/_index_template/t", `{"index_patterns":["x-*"],"composed_of":["base","x@custom"],"ignore_missing_component_templates":["x@custom"]}`, 200)
	write(t, s, "index", "x-1", "1", `{}`)
	put(t, s, "/_component_template/x@custom", `{"template":{"settings":{"number_of_replicas":3}}}`, 200)
	write(t, s, "index", "x-2", "1", `{}`)
	v1, _ := s.IndexSetting("x-1", "number_of_replicas")
	v2, _ := s.IndexSetting("x-2", "number_of_replicas")
	if fmt.Sprint(v1) != "1" || fmt.Sprint(v2) != "3" {
		t.Errorf("replicas before/after the hook: %v/%v, want 1/3", v1, v2)
	}

	for _, old := range []*Server{New(t, Elasticsearch, "8.6.2"), New(t, OpenSearch, "2.19.1")} {
		put(t, old, "/_component_template/base", `{"template":{}}`, 200)
		res := put(t, old, "/_index_template/t", `{"index_patterns":["x-*"],"composed_of":["base","x@custom"],"ignore_missing_component_templates":["x@custom"]}`, 400)
		if !strings.Contains(res, "unknown field [ignore_missing_component_templates]") {
			t.Errorf("%s %s: %s", map[Flavour]string{Elasticsearch: "Elasticsearch", OpenSearch: "OpenSearch"}[old.Flavour], old.Version, res)
		}
	}
}

// TestCreateOnlyComponent: PUT ?create=true never replaces a component.
func TestCreateOnlyComponent(t *testing.T) {
	for _, s := range []*Server{New(t, Elasticsearch, "9.1.3"), New(t, OpenSearch, "3.2.0")} {
		put(t, s, "/_component_template/c?create=true", `{"template":{"settings":{"number_of_replicas":2}}}`, 200)
		res := put(t, s, "/_component_template/c?create=true", `{"template":{}}`, 400)
		if !strings.Contains(res, "component template [c] already exists") {
			t.Errorf("%s", res)
		}
		c, _ := s.Component("c")
		if !strings.Contains(fmt.Sprint(c), "number_of_replicas") {
			t.Errorf("component replaced: %v", c)
		}
	}
}

// TestComponentUpdateValidated: a component change that would break an
// index template using it (a data stream's @timestamp no longer a date)
// is refused and leaves the component as it was.
func TestComponentUpdateValidated(t *testing.T) {
	s := New(t, Elasticsearch, "8.17.1")
	put(t, s, "/_component_template/m", `{"template":{"mappings":{"properties":{"@timestamp":{"type":"date"}}}}}`, 200)
	put(t, s, "/_index_template/t", `{"index_patterns":["x-*"],"data_stream":{},"composed_of":["m"]}`, 200)
	res := put(t, s, "/_component_template/m", `{"template":{"mappings":{"properties":{"@timestamp":{"type":"keyword"}}}}}`, 400)
	if !strings.Contains(res, "results in invalid composable template [t]") {
		t.Errorf("%s", res)
	}
	c, _ := s.Component("m")
	if !strings.Contains(fmt.Sprint(c), "date") {
		t.Errorf("component changed: %v", c)
	}
}

// TestLogsDBDefault reproduces Elasticsearch's documented default: from
// 9.0 a new logs-*-* data stream whose templates set no index.mode is
// logsdb; logsdb's ignore_malformed stores a document with a malformed
// ip and lists the field in _ignored instead of refusing it; custom _id
// values keep working. 8.x (and 9.x clusters upgraded with logs data
// streams, LogsDBDefault off), plain indices and templates that state a
// mode stay as they say.
func TestLogsDBDefault(t *testing.T) {
	es9 := New(t, Elasticsearch, "9.1.3")
	doc := `{"@timestamp":"2026-03-05T14:00:00Z","source":{"ip":"not-an-ip"},"host":{"name":"h"}}`
	res := write(t, es9, "create", "logs-app-default", "id-1", doc)
	if !strings.Contains(res, `"status":201`) {
		t.Fatalf("logsdb refused a malformed ip: %s", res)
	}
	if m := es9.IndexMode("logs-app-default"); m != "logsdb" {
		t.Errorf("index.mode %q, want logsdb", m)
	}
	if d := es9.Docs("logs-app-default"); len(d) != 1 || fmt.Sprint(d[0].Ignored) != "[source.ip]" {
		t.Errorf("docs %v", d)
	}
	if res := write(t, es9, "create", "logs-app-default", "id-1", doc); !strings.Contains(res, `"status":409`) {
		t.Errorf("create of an existing _id in logsdb: %s", res)
	}
	if v, _ := es9.IndexSetting("logs-app-default", "index.mapping.ignore_malformed"); v != true {
		t.Errorf("ignore_malformed %v", v)
	}

	// A template stating index.mode standard, as Cairn's do.
	put(t, es9, "/_component_template/std", `{"template":{"settings":{"index.mode":"standard"},"mappings":{"properties":{"@timestamp":{"type":"date"},"source":{"properties":{"ip":{"type":"ip"}}}}}}}`, 200)
	put(t, es9, "/_index_template/std", `{"index_patterns":["logs-std-*"],"priority":200,"data_stream":{},"composed_of":["std"]}`, 200)
	if res := write(t, es9, "create", "logs-std-default", "id-1", doc); !strings.Contains(res, `"status":400`) || !strings.Contains(res, "failed to parse field [source.ip] of type [ip]") {
		t.Errorf("standard mode accepted a malformed ip: %s", res)
	}
	if m := es9.IndexMode("logs-std-default"); m != "standard" {
		t.Errorf("stated mode: %q", m)
	}
	// Not a data stream: no logsdb default.
	put(t, es9, "/_index_template/plain", `{"index_patterns":["logs-plain-*"],"priority":200}`, 200)
	write(t, es9, "index", "logs-plain-x", "1", `{}`)
	if m := es9.IndexMode("logs-plain-x"); m != "standard" {
		t.Errorf("plain index: %q", m)
	}

	es8 := New(t, Elasticsearch, "8.17.1")
	if res := write(t, es8, "create", "logs-app-default", "id-1", doc); !strings.Contains(res, `"status":400`) {
		t.Errorf("8.x accepted a malformed ip: %s", res)
	}
	if m := es8.IndexMode("logs-app-default"); m != "standard" {
		t.Errorf("8.x: %q", m)
	}
	upgraded := New(t, Elasticsearch, "9.1.3")
	upgraded.LogsDBDefault = false
	write(t, upgraded, "create", "logs-app-default", "id-1", `{"@timestamp":"2026-03-05T14:00:00Z"}`)
	if m := upgraded.IndexMode("logs-app-default"); m != "standard" {
		t.Errorf("upgraded 9.x: %q", m)
	}
}

// TestElasticsearchOnlySettings: OpenSearch refuses index.mode and
// index.lifecycle.* however they are spelt; Elasticsearch refuses an
// unknown mode.
func TestElasticsearchOnlySettings(t *testing.T) {
	os := New(t, OpenSearch, "2.19.1")
	for _, settings := range []string{`{"index.mode":"standard"}`, `{"mode":"standard"}`, `{"index":{"lifecycle":{"name":"x"}}}`} {
		res := put(t, os, "/_component_template/c", `{"template":{"settings":`+settings+`}}`, 400)
		if !strings.Contains(res, "unknown setting") {
			t.Errorf("%s: %s", settings, res)
		}
	}
	es := New(t, Elasticsearch, "9.1.3")
	if res := put(t, es, "/_component_template/c", `{"template":{"settings":{"index.mode":"fast"}}}`, 400); !strings.Contains(res, "invalid index mode") {
		t.Errorf("%s", res)
	}
}

// TestISMTemplateAttaches: OpenSearch attaches a policy to a new index
// whose name (or, for a data stream, backing index name) matches its
// ism_template; the highest priority wins.
func TestISMTemplateAttaches(t *testing.T) {
	s := New(t, OpenSearch, "3.2.0")
	put(t, s, "/_plugins/_ism/policies/low", `{"policy":{"ism_template":[{"index_patterns":["a-*"],"priority":1}]}}`, 201)
	put(t, s, "/_plugins/_ism/policies/high", `{"policy":{"ism_template":[{"index_patterns":["a-b*"],"priority":5}]}}`, 201)
	put(t, s, "/_index_template/ds", `{"index_patterns":["ds-*"],"data_stream":{},"template":{"mappings":{"properties":{"@timestamp":{"type":"date"}}}}}`, 200)
	put(t, s, "/_plugins/_ism/policies/streams", `{"policy":{"ism_template":[{"index_patterns":[".ds-ds-*"],"priority":1}]}}`, 201)
	write(t, s, "index", "a-x", "1", `{}`)
	write(t, s, "index", "a-bc", "1", `{}`)
	write(t, s, "index", "c-x", "1", `{}`)
	write(t, s, "create", "ds-1", "1", `{"@timestamp":"2026-03-05T14:00:00Z"}`)
	for name, want := range map[string]string{"a-x": "low", "a-bc": "high", "c-x": "", "ds-1": "streams"} {
		if got := s.IndexPolicy(name); got != want {
			t.Errorf("%s: policy %q, want %q", name, got, want)
		}
	}
}
