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

var defaultPolicy = Policy{Name: "cairn", RolloverMaxAge: "1d", RolloverMaxSize: "50gb", DeleteAfter: "90d"}

// TestDeployFiles keeps the hand-install copies in deploy/ identical to what
// bootstrap installs (go test -update rewrites them).
func TestDeployFiles(t *testing.T) {
	for dir, f := range map[string]Flavour{"elasticsearch": Elasticsearch, "opensearch": OpenSearch} {
		for name, want := range Files(f, defaultPolicy) {
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
			if f == OpenSearch && containsLifecycle(r.Body) {
				t.Errorf("%s %s has an ILM setting for OpenSearch", r.Kind, r.Name)
			}
		}
	}
	for path, want := range map[string]string{"destination.ip": tIP, "process.hash.sha256": tKeyword, "event.severity": tLong,
		"cairn.alert.score": tFloat, "threat.enrichments": tNested, "cairn.first_seen.custom": tBool, "nope": ""} {
		if got := Lookup(path); got != want {
			t.Errorf("Lookup(%s) = %q, want %q", path, got, want)
		}
	}
}

func containsLifecycle(b []byte) bool {
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	s, _ := json.Marshal(v)
	return json.Valid(s) && len(s) > 0 && contains(string(s), "index.lifecycle")
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
