package templates

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairnsec/cairn/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite deploy/elasticsearch and deploy/opensearch from the code")

// defaultPolicy is the exporter's default lifecycle configuration (the
// exporter's TestDeployFilesAreTheDefaults checks the deploy files against
// its factory defaults).
var defaultPolicy = Policy{Name: "cairn", RolloverMaxAge: "1d", RolloverMaxSize: "50gb", DeleteAfter: "90d"}

// TestDeployFiles keeps the hand-install copies in deploy/ identical to what
// bootstrap installs with the default configuration (go test -update
// rewrites them), and finds none left over from an older version.
func TestDeployFiles(t *testing.T) {
	for dir, f := range map[string]Flavour{"elasticsearch": Elasticsearch, "opensearch": OpenSearch} {
		files := Files(f, defaultPolicy)
		for _, sub := range []string{"component_template", "index_template", "ilm_policy", "ism_policy"} {
			found, _ := filepath.Glob(filepath.Join(testkit.RepoRoot(), "deploy", dir, sub, "*"))
			for _, path := range found {
				name := sub + "/" + filepath.Base(path)
				if _, ok := files[name]; ok {
					continue
				}
				if *update {
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
					continue
				}
				t.Errorf("%s is not installed by bootstrap any more (run with -update to remove it)", path)
			}
		}
		for name, want := range files {
			path := filepath.Join(testkit.RepoRoot(), "deploy", dir, name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./exporter/cairnsearchexporter/internal/templates -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from what bootstrap installs (run with -update)", path)
			}
		}
	}
}

// TestMappings: every field has a known type, nested paths are nested,
// every body is valid JSON, OpenSearch gets no ILM setting.
func TestMappings(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range append(append([]Field{}, Fields...), DLQFields...) {
		if seen[f.Path] {
			t.Errorf("%s listed twice", f.Path)
		}
		seen[f.Path] = true
		switch f.Type {
		case tKeyword, tText, tIP, tLong, tFloat, tDate, tBool, tStored:
		default:
			t.Errorf("%s: type %q", f.Path, f.Type)
		}
	}
	m := Mappings(Fields)
	te := m["properties"].(map[string]any)["threat"].(map[string]any)["properties"].(map[string]any)["enrichments"].(map[string]any)
	if te["type"] != "nested" {
		t.Errorf("threat.enrichments is %v", te["type"])
	}
	for _, f := range []Flavour{Elasticsearch, OpenSearch} {
		for _, r := range Bootstrap(f, defaultPolicy) {
			if !json.Valid(r.Body) {
				t.Errorf("%s %s: invalid JSON", r.Kind, r.Name)
			}
			if f == OpenSearch && (contains(string(r.Body), "index.lifecycle") || contains(string(r.Body), "index.mode")) {
				t.Errorf("%s %s has an Elasticsearch-only setting for OpenSearch: %s", r.Kind, r.Name, r.Body)
			}
		}
	}
	for path, want := range map[string]string{"destination.ip": tIP, "process.hash.sha256": tKeyword, "event.severity": tLong,
		"cairn.alert.score": tFloat, "threat.enrichments": tNested, "cairn.first_seen.custom": tBool, "nope": "",
		"process.session_leader.start": tDate, "client.ip": tIP} {
		if got := Lookup(path); got != want {
			t.Errorf("Lookup(%s) = %q, want %q", path, got, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// body decodes a request's JSON body.
func body(t *testing.T, r Request) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%s %s: %v", r.Kind, r.Name, err)
	}
	return v
}

func find(t *testing.T, reqs []Request, kind, name string) Request {
	t.Helper()
	for _, r := range reqs {
		if r.Kind == kind && r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s %q among %d requests", kind, name, len(reqs))
	return Request{}
}

func strs(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// TestIndexMode: on Elasticsearch every index Cairn creates states
// index.mode standard in a component (so that a @custom hook can change
// it), never in the index template itself, which would win over the hooks.
func TestIndexMode(t *testing.T) {
	reqs := Bootstrap(Elasticsearch, defaultPolicy)
	for _, name := range []string{EventsTemplate, AlertsTemplate, DLQTemplate} {
		it := body(t, find(t, reqs, "index template", name))
		if _, own := it["template"]; own {
			t.Errorf("%s has a template of its own, which would win over the @custom hooks", name)
		}
		mode := ""
		for _, c := range strs(it["composed_of"]) {
			for _, r := range reqs {
				if r.Kind == "component template" && r.Name == c {
					settings, _ := body(t, r)["template"].(map[string]any)["settings"].(map[string]any)
					if m, ok := settings["index.mode"].(string); ok {
						mode = m
					}
				}
			}
		}
		if mode != IndexMode || IndexMode != "standard" {
			t.Errorf("%s composes index.mode %q, want standard", name, mode)
		}
	}
}

// TestHooks: every index template composes Cairn's components first and
// then its @custom hooks in Fleet's order (type, package, type-dataset),
// so that the user's settings win; Elasticsearch lets them be missing
// (ignore_missing_component_templates), OpenSearch, which has no such
// option, gets them created empty beforehand, create-only.
func TestHooks(t *testing.T) {
	want := map[Flavour]map[string][]string{
		Elasticsearch: {
			EventsTemplate: {MappingsComponent, SettingsComponent, "logs@custom", "cairn@custom", "logs-cairn.events@custom"},
			AlertsTemplate: {MappingsComponent, AlertsSettingsComponent, "cairn@custom", "logs-cairn.alerts@custom"},
			DLQTemplate:    {DLQComponent, SettingsComponent, "logs@custom", "cairn@custom", "logs-cairn.dlq@custom"},
		},
		OpenSearch: {
			EventsTemplate: {MappingsComponent, SettingsComponent, "cairn@custom", "logs-cairn.events@custom"},
			AlertsTemplate: {MappingsComponent, AlertsSettingsComponent, "cairn@custom", "logs-cairn.alerts@custom"},
			DLQTemplate:    {DLQComponent, SettingsComponent, "cairn@custom", "logs-cairn.dlq@custom"},
		},
	}
	for f, templates := range want {
		reqs := Bootstrap(f, defaultPolicy)
		position := map[string]int{}
		for i, r := range reqs {
			position[r.Kind+" "+r.Name] = i
		}
		for name, composed := range templates {
			it := body(t, find(t, reqs, "index template", name))
			if got := strs(it["composed_of"]); !equal(got, composed) {
				t.Errorf("flavour %d %s: composed_of %v, want %v", f, name, got, composed)
			}
			hooks := Hooks(f, name)
			if !equal(hooks, composed[2:]) {
				t.Errorf("flavour %d %s: Hooks %v", f, name, hooks)
			}
			ignore, has := it["ignore_missing_component_templates"]
			switch f {
			case Elasticsearch:
				if !has || !equal(strs(ignore), hooks) {
					t.Errorf("%s: ignore_missing_component_templates %v, want %v", name, ignore, hooks)
				}
				for _, h := range hooks {
					if _, made := position["component template "+h]; made {
						t.Errorf("bootstrap writes %s on Elasticsearch; it is the user's", h)
					}
				}
			case OpenSearch:
				if has {
					t.Errorf("%s: OpenSearch does not know ignore_missing_component_templates", name)
				}
				for _, h := range hooks {
					i, made := position["component template "+h]
					if !made || i > position["index template "+name] {
						t.Errorf("%s: hook %s not created before the index template", name, h)
						continue
					}
					r := reqs[i]
					if !r.CreateOnly || len(body(t, r)["template"].(map[string]any)) != 0 {
						t.Errorf("hook %s: create-only %v, body %s", h, r.CreateOnly, r.Body)
					}
				}
			}
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAlertsPolicy: no policy for the alerts by default; with
// AlertsDeleteAfter, an ILM policy with only a delete phase (no rollover:
// alerts are updated in place) attached by index.lifecycle.name to the
// alerts indices only, or an ISM policy attached to them by ism_template.
func TestAlertsPolicy(t *testing.T) {
	for _, f := range []Flavour{Elasticsearch, OpenSearch} {
		for _, r := range Bootstrap(f, defaultPolicy) {
			if r.Name == defaultPolicy.AlertsPolicyName() && r.Kind != "index template" {
				t.Errorf("flavour %d: %s %s installed without alerts_delete_after", f, r.Kind, r.Name)
			}
		}
	}
	p := defaultPolicy
	p.AlertsDeleteAfter = "365d"

	reqs := Bootstrap(Elasticsearch, p)
	ilm := body(t, find(t, reqs, "ILM policy", "cairn-alerts"))
	phases := ilm["policy"].(map[string]any)["phases"].(map[string]any)
	if len(phases) != 1 || phases["delete"].(map[string]any)["min_age"] != "365d" {
		t.Errorf("alerts ILM phases: %v", phases)
	}
	if contains(string(find(t, reqs, "ILM policy", "cairn-alerts").Body), "rollover") {
		t.Error("alerts ILM policy rolls over")
	}
	lifecycle := func(component string) any {
		return body(t, find(t, reqs, "component template", component))["template"].(map[string]any)["settings"].(map[string]any)["index.lifecycle.name"]
	}
	if got := lifecycle(AlertsSettingsComponent); got != "cairn-alerts" {
		t.Errorf("alerts settings: index.lifecycle.name %v", got)
	}
	if got := lifecycle(SettingsComponent); got != "cairn" {
		t.Errorf("data stream settings: index.lifecycle.name %v", got)
	}
	if position(reqs, "ILM policy", "cairn-alerts") > position(reqs, "index template", AlertsTemplate) {
		t.Error("alerts policy installed after the template that names it")
	}

	reqs = Bootstrap(OpenSearch, p)
	ism := body(t, find(t, reqs, "ISM policy", "cairn-alerts"))["policy"].(map[string]any)
	tmpl := ism["ism_template"].([]any)[0].(map[string]any)
	if !equal(strs(tmpl["index_patterns"]), AlertsPatterns()) {
		t.Errorf("alerts ISM patterns %v", tmpl["index_patterns"])
	}
	states := ism["states"].([]any)
	hot := states[0].(map[string]any)
	cond := hot["transitions"].([]any)[0].(map[string]any)["conditions"].(map[string]any)
	if cond["min_index_age"] != "365d" || len(hot["actions"].([]any)) != 0 || states[1].(map[string]any)["name"] != "delete" {
		t.Errorf("alerts ISM states %v", states)
	}
}

func position(reqs []Request, kind, name string) int {
	for i, r := range reqs {
		if r.Kind == kind && r.Name == name {
			return i
		}
	}
	return -1
}
