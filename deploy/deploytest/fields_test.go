// Package deploytest checks the deploy assets under deploy/: the Kibana and
// OpenSearch Dashboards saved objects and the detection rule (well-formed,
// every reference resolved, every field one Cairn maps), the install
// scripts (against fake Kibana/Dashboards servers), docker-compose.yml, the
// Dockerfile and the Kubernetes manifests. It has no non-test code.
//
// Field names are checked against deploy/elasticsearch/component_template/
// cairn-mappings.json, the mapping the cairn_search exporter installs: it is
// generated from the exporter's field list (templates.Fields, an internal
// package this one cannot import), and TestDeployFiles of that package keeps
// the file identical to it.
package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/cairnsec/cairn/processor/correlateprocessor"

	"github.com/cairnsec/cairn/internal/testkit"
)

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fieldIndex maps a dotted field path to its mapped type ("keyword", "ip",
// "nested", ...). Subfields of a nested field are kept with nestedUnder set.
type fieldIndex struct {
	types       map[string]string
	nestedUnder map[string]string // field -> the nested field it lives in
}

func (f fieldIndex) typeOf(path string) string { return f.types[path] }

// aggregatable: usable in a terms/metric aggregation of Lens or a classic
// visualization (not text, not a field kept in _source only, not inside a
// nested object, which neither editor aggregates).
func (f fieldIndex) aggregatable(path string) bool {
	switch f.types[path] {
	case "", "text", "nested", "stored":
		return false
	}
	return f.nestedUnder[path] == ""
}

// loadFields reads a component template with Cairn's mappings.
func loadFields(t *testing.T, rel string) fieldIndex {
	t.Helper()
	var doc struct {
		Template struct {
			Mappings struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(readRepoFile(t, rel), &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	idx := fieldIndex{types: map[string]string{}, nestedUnder: map[string]string{}}
	var walk func(prefix, nested string, props map[string]json.RawMessage)
	walk = func(prefix, nested string, props map[string]json.RawMessage) {
		for name, raw := range props {
			var m struct {
				Type       string                     `json:"type"`
				Index      *bool                      `json:"index"`
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s: %s%s: %v", rel, prefix, name, err)
			}
			path := prefix + name
			typ := m.Type
			if m.Index != nil && !*m.Index {
				typ = "stored"
			}
			if typ != "" {
				idx.types[path] = typ
			}
			if nested != "" {
				idx.nestedUnder[path] = nested
			}
			if m.Properties != nil {
				inner := nested
				if m.Type == "nested" {
					inner = path
				}
				walk(path+".", inner, m.Properties)
			}
		}
	}
	walk("", "", doc.Template.Mappings.Properties)
	if len(idx.types) < 100 {
		t.Fatalf("%s: only %d mapped fields", rel, len(idx.types))
	}
	return idx
}

func esFields(t *testing.T) fieldIndex {
	return loadFields(t, "deploy/elasticsearch/component_template/cairn-mappings.json")
}

func osFields(t *testing.T) fieldIndex {
	return loadFields(t, "deploy/opensearch/component_template/cairn-mappings.json")
}

// indexPatterns returns the index_patterns of an index template file.
func indexPatterns(t *testing.T, rel string) []string {
	t.Helper()
	var doc struct {
		IndexPatterns []string `json:"index_patterns"`
	}
	if err := json.Unmarshal(readRepoFile(t, rel), &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if len(doc.IndexPatterns) == 0 {
		t.Fatalf("%s: no index_patterns", rel)
	}
	return doc.IndexPatterns
}

// KQL: a field name is what precedes a ":" outside a quoted string.
var (
	kqlFieldRe  = regexp.MustCompile(`^\s*([@A-Za-z_][A-Za-z0-9_.@*-]*)\s*$`)
	kqlValueRe  = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"|([^\s()"]+)`)
	kqlKeywords = map[string]bool{"and": true, "or": true, "not": true}
)

// kqlClause is one "field : value" of a KQL query.
type kqlClause struct {
	field  string
	values []string // the quoted or bare values after the colon
}

// parseKQL splits a KQL query into its field clauses. It understands what
// Cairn's assets use: field : value, field : "value", field : (a or b),
// and/or/not and parentheses; anything else is an error.
func parseKQL(q string) ([]kqlClause, error) {
	var out []kqlClause
	rest := q
	for {
		i := indexOutsideQuotes(rest, ':')
		if i < 0 {
			if strings.Trim(rest, " \t\n()") != "" && len(out) == 0 {
				return nil, fmt.Errorf("KQL %q: free-text search, no field", q)
			}
			return out, nil
		}
		left := strings.TrimRight(rest[:i], " \t\n")
		// The field is the last token before the colon.
		j := strings.LastIndexAny(left, " \t\n(")
		name := left[j+1:]
		if m := kqlFieldRe.FindStringSubmatch(name); m == nil {
			return nil, fmt.Errorf("KQL %q: bad field name %q", q, name)
		}
		rest = rest[i+1:]
		val, next := kqlValue(rest)
		if val == "" {
			return nil, fmt.Errorf("KQL %q: no value for %s", q, name)
		}
		var values []string
		for _, m := range kqlValueRe.FindAllStringSubmatch(val, -1) {
			if m[1] != "" {
				values = append(values, m[1])
			} else if !kqlKeywords[strings.ToLower(m[2])] {
				values = append(values, m[2])
			}
		}
		out = append(out, kqlClause{field: name, values: values})
		rest = next
	}
}

// kqlValue returns the value after a colon (a parenthesised group, a quoted
// string or a bare word) and what follows it.
func kqlValue(s string) (string, string) {
	s = strings.TrimLeft(s, " \t\n")
	if s == "" {
		return "", ""
	}
	switch s[0] {
	case '(':
		depth, quoted := 0, false
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '\\' && quoted:
				i++
			case s[i] == '"':
				quoted = !quoted
			case s[i] == '(' && !quoted:
				depth++
			case s[i] == ')' && !quoted:
				depth--
				if depth == 0 {
					return s[1:i], s[i+1:]
				}
			}
		}
		return "", ""
	case '"':
		for i := 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				return s[:i+1], s[i+1:]
			}
		}
		return "", ""
	}
	end := strings.IndexAny(s, " \t\n)")
	if end < 0 {
		return s, ""
	}
	return s[:end], s[end:]
}

func indexOutsideQuotes(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == c && !quoted:
			return i
		}
	}
	return -1
}

// checkKQL checks that every field of a KQL query is mapped and that every
// value compared with cairn.signals names a signal of the catalog.
func checkKQL(where, q string, f fieldIndex) []error {
	if strings.TrimSpace(q) == "" {
		return nil
	}
	clauses, err := parseKQL(q)
	if err != nil {
		return []error{fmt.Errorf("%s: %v", where, err)}
	}
	var errs []error
	signals := correlateprocessor.DefaultSignals()
	for _, c := range clauses {
		if f.typeOf(c.field) == "" {
			errs = append(errs, fmt.Errorf("%s: query field %q is not a field Cairn maps", where, c.field))
		}
		if c.field == "cairn.signals" {
			for _, v := range c.values {
				if !matchesSignal(v, signals) {
					errs = append(errs, fmt.Errorf("%s: %q is not a signal of the catalog", where, v))
				}
			}
		}
	}
	return errs
}

func matchesSignal(v string, signals map[string]correlateprocessor.SignalConfig) bool {
	if !strings.Contains(v, "*") {
		_, ok := signals[v]
		return ok
	}
	re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(v), `\*`, ".*") + "$")
	for name := range signals {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

func errorStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	sort.Strings(out)
	return out
}

func reportErrors(t *testing.T, errs []error) {
	t.Helper()
	for _, e := range errorStrings(errs) {
		t.Error(e)
	}
}

func TestParseKQL(t *testing.T) {
	cl, err := parseKQL(`cairn.signals : ("new_binary_on_host" or new_domain) and not host.name:"a:b" and event.kind:alert`)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(cl)
	want := `[{cairn.signals [new_binary_on_host new_domain]} {host.name [a:b]} {event.kind [alert]}]`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, bad := range []string{`just words`, `host.name :`, `cairn.signals : ("x"`} {
		if _, err := parseKQL(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	f := esFields(t)
	if errs := checkKQL("q", `cairn.signals : ("new_domain" or "intel_*") and host.name : x`, f); len(errs) != 0 {
		t.Errorf("valid query: %v", errs)
	}
	if errs := checkKQL("q", `cairn.signal : "new_domain" or cairn.signals : "new_dns"`, f); len(errs) != 2 {
		t.Errorf("two mistakes, got %v", errs)
	}
}
