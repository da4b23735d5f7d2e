package templates

import (
	"encoding/json"
	"sort"
	"strings"
)

// Version is written into every template and policy (_meta and version);
// raise it when their content changes.
//
// 2: explicit index.mode on Elasticsearch, @custom hooks, every ECS ip
// field, settings of the alerts index in a component of their own, the
// optional retention policy of the alerts index.
const Version = 2

// Names of what bootstrap installs.
const (
	MappingsComponent       = "cairn-mappings"
	SettingsComponent       = "cairn-settings"
	AlertsSettingsComponent = "cairn-alerts-settings"
	DLQComponent            = "cairn-dlq-mappings"
	EventsTemplate          = "cairn-events"
	AlertsTemplate          = "cairn-alerts"
	DLQTemplate             = "cairn-dlq"

	// Priority of Cairn's index templates: above the built-in logs-*-*
	// template of Elasticsearch (100), so that Cairn's mappings, and for
	// alerts a plain index instead of a data stream, win.
	Priority = 250
)

// The @custom component templates: users' settings and mappings, named
// and ordered the way Elastic's integrations (Fleet) do it —
// <type>@custom, then <package>@custom, then <type>-<dataset>@custom,
// each later one winning — and placed after Cairn's own components, so
// that what a user puts there wins over Cairn's:
// https://www.elastic.co/docs/reference/fleet/data-streams#data-streams-index-templates-edit
// Cairn never writes into them once they exist.
const (
	// LogsCustom is the hook Elasticsearch's own logs-*-* template and
	// every Fleet integration compose for all logs data streams (used,
	// e.g., to give all of them one ILM policy or logsdb). Cairn's data
	// streams compose it too; the alerts index does not, being no data
	// stream (a rollover policy from there would break it).
	LogsCustom = "logs@custom"
	// CairnCustom applies to every index and data stream Cairn writes.
	CairnCustom  = "cairn@custom"
	EventsCustom = "logs-cairn.events@custom"
	AlertsCustom = "logs-cairn.alerts@custom"
	DLQCustom    = "logs-cairn.dlq@custom"
)

// IndexMode is the index.mode of every index Cairn creates on
// Elasticsearch. Without it, Elasticsearch 9 (and 8.x with
// cluster.logsdb.enabled) makes new logs-*-* data streams logsdb, whose
// index.mapping.ignore_malformed default stores a document with a
// malformed ip, date or number and drops the field from the index, where
// Cairn's delivery rests on such documents being refused and
// dead-lettered with the reason; see README.md. A user who prefers logsdb
// sets index.mode in a @custom hook, which wins over this.
const IndexMode = "standard"

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
	// AlertsDeleteAfter, when set, installs a second policy for the alerts
	// indices (AlertsPolicyName) that deletes an alerts index this long
	// after its creation; empty keeps alerts forever.
	AlertsDeleteAfter string
}

// AlertsPolicyName is the name of the alerts indices' policy.
func (p Policy) AlertsPolicyName() string { return p.Name + "-alerts" }

// Request is one PUT of bootstrap.
type Request struct {
	// Kind names what is installed, for errors: "component template",
	// "index template", "ILM policy" or "ISM policy".
	Kind string
	Name string
	// Path of the PUT (and of the GET that checks whether a CreateOnly
	// object exists).
	Path string
	Body []byte
	// CreateOnly: keep an existing object (policies, which users tune, and
	// the @custom hooks bootstrap creates empty on OpenSearch).
	CreateOnly bool
}

// Patterns of the data streams and indices, per kind of document.
func EventsPatterns() []string { return []string{"logs-cairn.events-*", "logs-cairn.events.*-*"} }
func AlertsPatterns() []string { return []string{"logs-cairn.alerts-*", "logs-cairn.alerts.*-*"} }
func DLQPatterns() []string    { return []string{"logs-cairn.dlq-*", "logs-cairn.dlq.*-*"} }

// Hooks returns the @custom component templates an index template of
// Cairn's composes, in composed_of order. OpenSearch gets no logs@custom:
// it has no such convention, and bootstrap would have to create it.
func Hooks(f Flavour, indexTemplate string) []string {
	var out []string
	if f == Elasticsearch && indexTemplate != AlertsTemplate {
		out = append(out, LogsCustom)
	}
	out = append(out, CairnCustom)
	switch indexTemplate {
	case EventsTemplate:
		out = append(out, EventsCustom)
	case AlertsTemplate:
		out = append(out, AlertsCustom)
	case DLQTemplate:
		out = append(out, DLQCustom)
	}
	return out
}

func meta(description string) map[string]any {
	return map[string]any{"managed_by": "cairn", "description": description, "version": Version}
}

// Bootstrap returns the requests that install everything, in order
// (components, the hooks and the policies before the index templates
// that use them).
func Bootstrap(f Flavour, p Policy) []Request {
	reqs := []Request{
		component(MappingsComponent, "ECS mappings of every field Cairn writes", map[string]any{"mappings": Mappings(Fields)}),
		component(SettingsComponent, "Settings of Cairn's data streams (events, dead letters)",
			map[string]any{"settings": settings(f, p.Name)}),
		component(AlertsSettingsComponent, "Settings of Cairn's alerts indices (plain indices updated in place)",
			map[string]any{"settings": settings(f, alertsPolicy(p))}),
		component(DLQComponent, "Mappings of Cairn's dead-letter documents", map[string]any{"mappings": Mappings(dlqFields())}),
	}
	if f == OpenSearch {
		// OpenSearch has no ignore_missing_component_templates: an index
		// template may only name component templates that exist. The
		// hooks are created empty, once; users fill them.
		reqs = append(reqs,
			hook(CairnCustom, "every index and data stream Cairn writes"),
			hook(EventsCustom, "Cairn's events data streams (logs-cairn.events-*)"),
			hook(AlertsCustom, "Cairn's alerts indices (logs-cairn.alerts-*)"),
			hook(DLQCustom, "Cairn's dead-letter data streams (logs-cairn.dlq-*)"))
	}
	if f == Elasticsearch {
		reqs = append(reqs, ilmPolicy(p))
		if p.AlertsDeleteAfter != "" {
			reqs = append(reqs, ilmAlertsPolicy(p))
		}
	} else {
		reqs = append(reqs, ismPolicy(p))
		if p.AlertsDeleteAfter != "" {
			reqs = append(reqs, ismAlertsPolicy(p))
		}
	}
	reqs = append(reqs,
		indexTemplate(f, EventsTemplate, "Cairn events: one data stream per namespace", EventsPatterns(), true,
			[]string{MappingsComponent, SettingsComponent}),
		indexTemplate(f, AlertsTemplate, "Cairn alerts: a plain index per namespace, so that an alert is updated in place by its id", AlertsPatterns(), false,
			[]string{MappingsComponent, AlertsSettingsComponent}),
		indexTemplate(f, DLQTemplate, "Documents the cluster refused, with the reason", DLQPatterns(), true,
			[]string{DLQComponent, SettingsComponent}),
	)
	return reqs
}

// alertsPolicy is the lifecycle policy of the alerts indices ("" for none).
func alertsPolicy(p Policy) string {
	if p.AlertsDeleteAfter == "" {
		return ""
	}
	return p.AlertsPolicyName()
}

// settings of Cairn's indices. The lifecycle policy is attached by
// index.lifecycle.name on Elasticsearch only: OpenSearch refuses the
// setting, its ISM policies attach themselves by ism_template. The same
// for index.mode, which OpenSearch does not know.
func settings(f Flavour, lifecycle string) map[string]any {
	out := map[string]any{"index.mapping.total_fields.limit": 2000}
	if f == Elasticsearch {
		out["index.mode"] = IndexMode
		if lifecycle != "" {
			out["index.lifecycle.name"] = lifecycle
		}
	}
	return out
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

// hook is an empty @custom component template, created only when missing.
// It carries no version and no managed_by: it is the user's.
func hook(name, scope string) Request {
	return Request{Kind: "component template", Name: name, Path: "/_component_template/" + name, CreateOnly: true,
		Body: mustJSON(map[string]any{"template": map[string]any{}, "_meta": map[string]any{
			"description": "Your settings and mappings for " + scope + "; they win over Cairn's. Created empty by Cairn when missing, never changed by it.",
		}})}
}

func indexTemplate(f Flavour, name, description string, patterns []string, dataStream bool, components []string) Request {
	hooks := Hooks(f, name)
	body := map[string]any{
		"index_patterns": patterns,
		"priority":       Priority,
		"composed_of":    append(append([]string{}, components...), hooks...),
		"version":        Version,
		"_meta":          meta(description),
	}
	if f == Elasticsearch {
		// Elasticsearch 8.7+: the hooks need not exist.
		body["ignore_missing_component_templates"] = hooks
	}
	if dataStream {
		body["data_stream"] = map[string]any{}
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

// ilmAlertsPolicy deletes an alerts index AlertsDeleteAfter after its
// creation. There is no rollover: an alert must stay in the one index its
// updates are written to (through an alias, an update after a rollover
// would create a second copy in the new index). Without rollover, ILM
// counts min_age from the index's creation:
// https://www.elastic.co/docs/troubleshoot/elasticsearch/index-lifecycle-management-errors#min-age-calculation
// so the whole index goes, with every alert in it; the next alert creates
// a new one from the template.
func ilmAlertsPolicy(p Policy) Request {
	phases := map[string]any{
		"delete": map[string]any{"min_age": p.AlertsDeleteAfter, "actions": map[string]any{"delete": map[string]any{}}},
	}
	body := map[string]any{"policy": map[string]any{"_meta": meta("Retention of Cairn's alerts indices: each is deleted whole, " + p.AlertsDeleteAfter + " after its creation"), "phases": phases}}
	name := p.AlertsPolicyName()
	return Request{Kind: "ILM policy", Name: name, Path: "/_ilm/policy/" + name, Body: mustJSON(body), CreateOnly: true}
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

// ismAlertsPolicy is ilmAlertsPolicy for OpenSearch: ISM's min_index_age
// is the time since the index's creation, and ism_template attaches the
// policy to each new alerts index.
func ismAlertsPolicy(p Policy) Request {
	states := []any{
		map[string]any{"name": "hot", "actions": []any{}, "transitions": []any{
			map[string]any{"state_name": "delete", "conditions": map[string]any{"min_index_age": p.AlertsDeleteAfter}},
		}},
		map[string]any{"name": "delete", "actions": []any{map[string]any{"delete": map[string]any{}}}, "transitions": []any{}},
	}
	body := map[string]any{"policy": map[string]any{
		"description": "Retention of Cairn's alerts indices: each is deleted whole, " + p.AlertsDeleteAfter +
			" after its creation (managed by cairn, version " + itoa(Version) + ")",
		"default_state": "hot",
		"states":        states,
		"ism_template":  []any{map[string]any{"index_patterns": AlertsPatterns(), "priority": Priority}},
	}}
	name := p.AlertsPolicyName()
	return Request{Kind: "ISM policy", Name: name, Path: "/_plugins/_ism/policies/" + name, Body: mustJSON(body), CreateOnly: true}
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
