package templates

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// ecsField is one row of testdata/ecs/fields.csv (see SOURCES.md there).
type ecsField struct {
	typ     string
	indexed bool
}

func loadECS(t *testing.T) map[string]ecsField {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ecs", "fields.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2000 || len(rows[0]) != 3 || rows[0][0] != "field" || rows[0][1] != "type" || rows[0][2] != "indexed" {
		t.Fatalf("testdata/ecs/fields.csv: unexpected shape (%d rows, header %v)", len(rows), rows[0])
	}
	out := map[string]ecsField{}
	for _, r := range rows[1:] {
		out[r[0]] = ecsField{typ: r[1], indexed: r[2] == "true"}
	}
	return out
}

// compatible lists, per Cairn type, the ECS types it stands for. Cairn
// maps ECS's keyword family (wildcard, constant_keyword) as keyword and
// match_only_text as text, types both Elasticsearch 8/9 and OpenSearch 2/3
// know; every other type must be the same.
var compatible = map[string][]string{
	tKeyword: {"keyword", "wildcard", "constant_keyword"},
	tText:    {"match_only_text", "text"},
	tIP:      {"ip"},
	tLong:    {"long", "integer"},
	tFloat:   {"float", "scaled_float", "double"},
	tDate:    {"date"},
	tBool:    {"boolean"},
	tStored:  {"keyword"},
	tNested:  {"nested"},
}

// TestECSIPFields: every ECS field of type ip is mapped as ip, wherever
// it lives (nested under threat.enrichments included), so that a document
// carrying one is searchable by address and CIDR.
func TestECSIPFields(t *testing.T) {
	ecs := loadECS(t)
	var ips []string
	for path, f := range ecs {
		if f.typ == "ip" {
			ips = append(ips, path)
		}
	}
	sort.Strings(ips)
	if len(ips) < 18 {
		t.Fatalf("only %d ip fields in the ECS list: %v", len(ips), ips)
	}
	for _, path := range ips {
		if got := Lookup(path); got != tIP {
			t.Errorf("ECS field %s is of type ip; Cairn maps it as %q", path, got)
		}
	}
}

// TestECSTypes: every field Cairn maps that ECS defines has a type
// compatible with ECS's (see compatible); a field ECS does not index
// (event.original) is kept in _source only, and ECS's nested fields are
// nested. Fields ECS does not define must be Cairn's own (cairn.*).
func TestECSTypes(t *testing.T) {
	ecs := loadECS(t)
	for _, f := range append(append([]Field{}, Fields...), DLQFields...) {
		e, ok := ecs[f.Path]
		if !ok {
			if !hasPrefix(f.Path, "cairn.") && !isUnder(f.Path, "threat.enrichments.cairn") {
				t.Errorf("%s is neither an ECS field nor one of Cairn's (cairn.*)", f.Path)
			}
			continue
		}
		if !containsString(compatible[f.Type], e.typ) {
			t.Errorf("%s: Cairn maps %q, ECS says %q", f.Path, f.Type, e.typ)
		}
		if (f.Type == tStored) == e.indexed {
			t.Errorf("%s: ECS indexed=%v, Cairn type %q", f.Path, e.indexed, f.Type)
		}
	}
	for _, n := range Nested {
		if e, ok := ecs[n]; ok && e.typ != "nested" {
			t.Errorf("%s is nested in Cairn's mapping, %q in ECS", n, e.typ)
		}
	}
	for path, e := range ecs {
		if e.typ == "nested" && Lookup(path) != "" && Lookup(path) != tNested {
			t.Errorf("%s is nested in ECS, %q in Cairn's mapping", path, Lookup(path))
		}
	}
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func isUnder(path, parent string) bool { return hasPrefix(path, parent+".") }

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
