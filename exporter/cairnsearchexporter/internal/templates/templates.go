package templates

import (
	"encoding/json"
	"sort"
	"strings"
)

// Version is written into every template and policy (_meta and version);
// raise it when their content changes.
const Version = 1

// Names of what bootstrap installs.
const (
	MappingsComponent = "cairn-mappings"
	SettingsComponent = "cairn-settings"
	DLQComponent      = "cairn-dlq-mappings"
	EventsTemplate    = "cairn-events"
	AlertsTemplate    = "cairn-alerts"
	DLQTemplate       = "cairn-dlq"

	// Priority of Cairn's index templates: above the built-in logs-*-*
	// template of Elasticsearch (100), so that Cairn's mappings, and for
	// alerts a plain index instead of a data stream, win.
	Priority = 250
)

// Flavour of the target product.
type Flavour int

const (
	Elasticsearch Flavour = iota
	OpenSearch
)

// Policy is the lifecycle configuration.
type Policy struct {
	Name            string
	RolloverMaxAge  string
	RolloverMaxSize string
	DeleteAfter     string
}

// Request is one PUT of bootstrap.
type Request struct {
	// Kind names what is installed, for errors: "component template",
	// "index template", "ILM policy" or "ISM policy".
	Kind string
	Name string
	// Path of the PUT (and of the GET that checks a policy's existence).
	Path string
	Body []byte
	// CreateOnly: keep an existing object (policies, which users tune).
	CreateOnly bool
}

// Patterns of the data streams and indices, per kind of document.
func EventsPatterns() []string { return []string{"logs-cairn.events-*", "logs-cairn.events.*-*"} }
func AlertsPatterns() []string { return []string{"logs-cairn.alerts-*", "logs-cairn.alerts.*-*"} }
func DLQPatterns() []string    { return []string{"logs-cairn.dlq-*", "logs-cairn.dlq.*-*"} }

func meta(description string) map[string]any {
	return map[string]any{"managed_by": "cairn", "description": description, "version": Version}
}

// Bootstrap returns the requests that install everything, in order
// (components and the policy before the index templates that use them).
func Bootstrap(f Flavour, p Policy) []Request {
	settings := map[string]any{"index.mapping.total_fields.limit": 2000}
	if f == Elasticsearch {
		settings["index.lifecycle.name"] = p.Name
	}
	reqs := []Request{
		component(MappingsComponent, "ECS mappings of every field Cairn writes", map[string]any{"mappings": Mappings(Fields)}),
		component(SettingsComponent, "Settings of Cairn's data streams", map[string]any{"settings": settings}),
		component(DLQComponent, "Mappings of Cairn's dead-letter documents", map[string]any{"mappings": Mappings(dlqFields())}),
	}
	if f == Elasticsearch {
		reqs = append(reqs, ilmPolicy(p))
	} else {
		reqs = append(reqs, ismPolicy(p))
	}
	reqs = append(reqs,
		indexTemplate(EventsTemplate, "Cairn events: one data stream per namespace", EventsPatterns(), true,
			[]string{MappingsComponent, SettingsComponent}, nil),
		indexTemplate(AlertsTemplate, "Cairn alerts: a plain index per namespace, so that an alert is updated in place by its id", AlertsPatterns(), false,
			[]string{MappingsComponent}, map[string]any{"settings": map[string]any{"index.mapping.total_fields.limit": 2000}}),
		indexTemplate(DLQTemplate, "Documents the cluster refused, with the reason", DLQPatterns(), true,
			[]string{DLQComponent, SettingsComponent}, nil),
	)
	return reqs
}

func dlqFields() []Field {
	out := []Field{
		{"@timestamp", tDate}, {"data_stream.type", tKeyword}, {"data_stream.dataset", tKeyword}, {"data_stream.namespace", tKeyword},
		{"event.kind", tKeyword}, {"event.original", tStored}, {"error.type", tKeyword}, {"error.message", tText}, {"error.code", tKeyword},
	}
	return append(out, DLQFields...)
}

func component(name, description string, template map[string]any) Request {
	return Request{Kind: "component template", Name: name, Path: "/_component_template/" + name,
		Body: mustJSON(map[string]any{"template": template, "version": Version, "_meta": meta(description)})}
}

func indexTemplate(name, description string, patterns []string, dataStream bool, composedOf []string, template map[string]any) Request {
	body := map[string]any{
		"index_patterns": patterns,
		"priority":       Priority,
		"composed_of":    composedOf,
		"version":        Version,
		"_meta":          meta(description),
	}
	if dataStream {
		body["data_stream"] = map[string]any{}
	}
	if template != nil {
		body["template"] = template
	}
	return Request{Kind: "index template", Name: name, Path: "/_index_template/" + name, Body: mustJSON(body)}
}

func ilmPolicy(p Policy) Request {
	rollover := map[string]any{}
	if p.RolloverMaxAge != "" {
		rollover["max_age"] = p.RolloverMaxAge
	}
	if p.RolloverMaxSize != "" {
		rollover["max_primary_shard_size"] = p.RolloverMaxSize
	}
	phases := map[string]any{"hot": map[string]any{"min_age": "0ms", "actions": map[string]any{"rollover": rollover}}}
	if p.DeleteAfter != "" {
		phases["delete"] = map[string]any{"min_age": p.DeleteAfter, "actions": map[string]any{"delete": map[string]any{}}}
	}
	body := map[string]any{"policy": map[string]any{"_meta": meta("Rollover and retention of Cairn's data streams"), "phases": phases}}
	return Request{Kind: "ILM policy", Name: p.Name, Path: "/_ilm/policy/" + p.Name, Body: mustJSON(body), CreateOnly: true}
}

func ismPolicy(p Policy) Request {
	rollover := map[string]any{}
	if p.RolloverMaxAge != "" {
		rollover["min_index_age"] = p.RolloverMaxAge
	}
	if p.RolloverMaxSize != "" {
		rollover["min_size"] = p.RolloverMaxSize
	}
	hot := map[string]any{"name": "hot", "actions": []any{map[string]any{"rollover": rollover}}, "transitions": []any{}}
	states := []any{hot}
	if p.DeleteAfter != "" {
		hot["transitions"] = []any{map[string]any{"state_name": "delete", "conditions": map[string]any{"min_index_age": p.DeleteAfter}}}
		states = append(states, map[string]any{"name": "delete", "actions": []any{map[string]any{"delete": map[string]any{}}}, "transitions": []any{}})
	}
	// ISM attaches the policy to new indices by pattern; depending on the
	// version it matches the data stream name or the backing index name
	// (.ds-<data stream>-<generation>), so both are listed.
	var patterns []string
	for _, pat := range append(EventsPatterns(), DLQPatterns()...) {
		patterns = append(patterns, pat, ".ds-"+pat)
	}
	body := map[string]any{"policy": map[string]any{
		"description":   "Rollover and retention of Cairn's data streams (managed by cairn, version " + itoa(Version) + ")",
		"default_state": "hot",
		"states":        states,
		"ism_template":  []any{map[string]any{"index_patterns": patterns, "priority": Priority}},
	}}
	return Request{Kind: "ISM policy", Name: p.Name, Path: "/_plugins/_ism/policies/" + p.Name, Body: mustJSON(body), CreateOnly: true}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Mappings builds the "mappings" object for fields: nested "properties"
// objects, the nested type for Nested paths, and the dynamic templates.
func Mappings(fields []Field) map[string]any {
	root := map[string]any{}
	for _, f := range fields {
		props := root
		segs := strings.Split(f.Path, ".")
		for i, seg := range segs[:len(segs)-1] {
			obj, ok := props[seg].(map[string]any)
			if !ok {
				obj = map[string]any{"properties": map[string]any{}}
				if isNested(strings.Join(segs[:i+1], ".")) {
					obj["type"] = tNested
				}
				props[seg] = obj
			}
			props = obj["properties"].(map[string]any)
		}
		props[segs[len(segs)-1]] = leaf(f.Type)
	}
	return map[string]any{
		"dynamic": true,
		"dynamic_templates": []any{
			map[string]any{"cairn_first_seen_flags": map[string]any{"path_match": "cairn.first_seen.*", "mapping": map[string]any{"type": tBool}}},
			map[string]any{"strings_as_keyword": map[string]any{"match_mapping_type": "string", "mapping": map[string]any{"type": tKeyword, "ignore_above": 1024}}},
		},
		"properties": root,
	}
}

func isNested(path string) bool {
	for _, n := range Nested {
		if n == path {
			return true
		}
	}
	return false
}

func leaf(typ string) map[string]any {
	switch typ {
	case tKeyword:
		return map[string]any{"type": tKeyword, "ignore_above": 1024}
	case tStored:
		return map[string]any{"type": tKeyword, "index": false, "doc_values": false}
	}
	return map[string]any{"type": typ}
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// Files returns the bootstrap payloads as deploy files: name -> content.
func Files(f Flavour, p Policy) map[string][]byte {
	out := map[string][]byte{}
	for _, r := range Bootstrap(f, p) {
		dir := map[string]string{"component template": "component_template", "index template": "index_template", "ILM policy": "ilm_policy", "ISM policy": "ism_policy"}[r.Kind]
		out[dir+"/"+r.Name+".json"] = append(r.Body, '\n')
	}
	return out
}

// SortedNames returns the keys of m in order.
func SortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
