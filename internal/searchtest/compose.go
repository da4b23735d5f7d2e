package searchtest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Template composition, settings and dynamic mappings, as both products
// document them for composable index templates:
//
//   - component templates are merged in the order of composed_of, later
//     ones overriding earlier ones, then the index template's own
//     template is merged last (it wins over every component);
//   - settings are merged key by key after normalisation ("mode" and
//     {"index": {"mode": ..}} both mean "index.mode");
//   - mappings are merged recursively: a field defined again replaces the
//     earlier definition entirely, object properties are merged field by
//     field, dynamic_templates are merged by name (same name replaces,
//     new names are appended).
//
// Elasticsearch: https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-put-index-template
// OpenSearch: https://docs.opensearch.org/latest/api-reference/index-apis/create-index-template/

// normalizeSettings flattens settings and puts the "index." prefix the
// products add to index settings given without it.
func normalizeSettings(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range flatten(m, "") {
		if !strings.HasPrefix(k, "index.") {
			k = "index." + k
		}
		out[k] = v
	}
	return out
}

// compose returns the settings (normalised) and mappings a new index
// matching t gets. A component listed in composed_of but missing is
// skipped: only components named in ignore_missing_component_templates
// can be missing (the PUT of the index template checks the others, and a
// component in use cannot be deleted).
func (s *Server) compose(t *indexTemplate) (map[string]any, map[string]any) {
	settings := map[string]any{}
	mappings := map[string]any{}
	add := func(tmpl map[string]any) {
		if tmpl == nil {
			return
		}
		if st, ok := tmpl["settings"].(map[string]any); ok {
			for k, v := range normalizeSettings(st) {
				settings[k] = v
			}
		}
		if m, ok := tmpl["mappings"].(map[string]any); ok {
			mergeMappings(mappings, m)
		}
	}
	for _, name := range t.composedOf {
		if c, ok := s.components[name]; ok {
			tmpl, _ := c["template"].(map[string]any)
			add(tmpl)
		}
	}
	add(t.template)
	return settings, mappings
}

// mergeMappings merges src into dst as described above.
func mergeMappings(dst, src map[string]any) {
	for k, v := range src {
		switch k {
		case "properties":
			props, _ := dst["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
				dst["properties"] = props
			}
			if sp, ok := v.(map[string]any); ok {
				mergeProperties(props, sp)
			}
		case "dynamic_templates":
			dst[k] = mergeDynamicTemplates(dst[k], v)
		default:
			dst[k] = deepCopy(v)
		}
	}
}

func mergeProperties(dst, src map[string]any) {
	for name, v := range src {
		sd, _ := v.(map[string]any)
		dd, _ := dst[name].(map[string]any)
		if isObjectDef(sd) && isObjectDef(dd) {
			merged := deepCopy(dd).(map[string]any)
			mergeMappings(merged, sd)
			dst[name] = merged
			continue
		}
		dst[name] = deepCopy(v)
	}
}

// isObjectDef: a field definition with properties and no leaf type.
func isObjectDef(def map[string]any) bool {
	if def == nil {
		return false
	}
	typ, _ := def["type"].(string)
	_, props := def["properties"]
	return props && (typ == "" || typ == "object" || typ == "nested")
}

func mergeDynamicTemplates(dst, src any) any {
	out, _ := deepCopy(dst).([]any)
	add, _ := src.([]any)
	for _, e := range add {
		name := dynamicTemplateName(e)
		replaced := false
		for i, have := range out {
			if dynamicTemplateName(have) == name {
				out[i] = deepCopy(e)
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, deepCopy(e))
		}
	}
	return out
}

func dynamicTemplateName(e any) string {
	m, _ := e.(map[string]any)
	for k := range m {
		return k
	}
	return ""
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// dynamicTemplate is one entry of dynamic_templates, reduced to what
// decides the type of a new leaf field.
type dynamicTemplate struct {
	name         string
	mappingTypes []string // match_mapping_type; empty or "*" = any
	match        []string // globs on the leaf name
	unmatch      []string
	pathMatch    []string // globs on the dotted path
	pathUnmatch  []string
	typ          string // mapping.type; "{dynamic_type}" = the detected type
}

func dynamicTemplates(mappings map[string]any) []dynamicTemplate {
	list, _ := mappings["dynamic_templates"].([]any)
	var out []dynamicTemplate
	for _, e := range list {
		m, _ := e.(map[string]any)
		for name, def := range m {
			d, _ := def.(map[string]any)
			mapping, _ := d["mapping"].(map[string]any)
			typ, _ := mapping["type"].(string)
			out = append(out, dynamicTemplate{
				name: name, typ: typ,
				mappingTypes: stringList(d["match_mapping_type"]),
				match:        stringList(d["match"]), unmatch: stringList(d["unmatch"]),
				pathMatch: stringList(d["path_match"]), pathUnmatch: stringList(d["path_unmatch"]),
			})
		}
	}
	return out
}

// stringList reads a string or an array of strings (both products accept
// either for match, path_match and match_mapping_type).
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// dynamicType returns the type a new leaf field gets: the first dynamic
// template whose conditions all hold, else the products' default for the
// JSON type (string: text, integer: long, other number: float, boolean).
// jsonType is the match_mapping_type name: string, long, double, boolean.
func dynamicType(templates []dynamicTemplate, path, jsonType string) string {
	leaf := path[strings.LastIndex(path, ".")+1:]
	for _, d := range templates {
		if len(d.mappingTypes) > 0 && !contains(d.mappingTypes, "*") && !contains(d.mappingTypes, jsonType) {
			continue
		}
		if len(d.match) > 0 && !anyMatch(d.match, leaf) || anyMatch(d.unmatch, leaf) {
			continue
		}
		if len(d.pathMatch) > 0 && !anyMatch(d.pathMatch, path) || anyMatch(d.pathUnmatch, path) {
			continue
		}
		if d.typ == "" || d.typ == "{dynamic_type}" {
			break
		}
		return d.typ
	}
	switch jsonType {
	case "string":
		return "text"
	case "long":
		return "long"
	case "double":
		return "float"
	}
	return jsonType
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

// version compares the fake's version with major.minor.
func (s *Server) atLeast(major, minor int) bool {
	parts := strings.SplitN(s.Version, ".", 3)
	ma, _ := strconv.Atoi(parts[0])
	mi := 0
	if len(parts) > 1 {
		mi, _ = strconv.Atoi(parts[1])
	}
	return ma > major || ma == major && mi >= minor
}

// Index modes of Elasticsearch ("index.mode"); OpenSearch has none.
var indexModes = map[string]bool{"standard": true, "logsdb": true, "time_series": true, "lookup": true}

// logsdbDefaults are the settings logsdb index mode applies unless the
// templates set them:
// https://www.elastic.co/docs/manage-data/data-store/data-streams/logs-data-stream-configure
var logsdbDefaults = map[string]any{
	"index.mapping.synthetic_source_keep":                    "arrays",
	"index.sort.field":                                       []any{"host.name", "@timestamp"},
	"index.sort.order":                                       []any{"asc", "desc"},
	"index.codec":                                            "best_compression",
	"index.mapping.ignore_malformed":                         true,
	"index.mapping.ignore_above":                             8191,
	"index.mapping.total_fields.ignore_dynamic_beyond_limit": true,
}

// builtinLogsTemplate is the part of Elasticsearch's built-in "logs"
// index template (logs-*-*, priority 100) Cairn's behaviour depends on:
// it makes a data stream, composes the user's logs@custom (ignored while
// missing), maps @timestamp as a date and, through ecs@mappings, maps
// new "ip"/"*.ip"/"*_ip" strings as ip, "*.start"/"*.end" as dates and
// every other new string as keyword.
func builtinLogsTemplate() *indexTemplate {
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(`{"mappings": {
		"properties": {"@timestamp": {"type": "date"}},
		"dynamic_templates": [
			{"ecs_timestamp": {"match": "@timestamp", "mapping": {"type": "date"}}},
			{"ecs_ip": {"path_match": ["ip", "*.ip", "*_ip"], "match_mapping_type": "string", "mapping": {"type": "ip"}}},
			{"ecs_date": {"path_match": ["*.timestamp", "*_timestamp", "created", "*.created", "ingested", "*.ingested", "*.start", "*.end"], "mapping": {"type": "date"}}},
			{"all_strings_to_keywords": {"match_mapping_type": "string", "mapping": {"type": "keyword", "ignore_above": 1024}}}
		]}}`), &tmpl); err != nil {
		panic(fmt.Sprint("searchtest: built-in logs template: ", err))
	}
	return &indexTemplate{name: "logs", patterns: []string{"logs-*-*"}, priority: 100, dataStream: true, builtin: true,
		composedOf: []string{"logs@custom"}, ignoreMissing: []string{"logs@custom"}, template: tmpl}
}
