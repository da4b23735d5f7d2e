package deploytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"testing"
)

// Classic visualization attributes of OpenSearch Dashboards.
type visualizationAttrs struct {
	Title                 string `json:"title"`
	Description           string `json:"description"`
	VisState              string `json:"visState"`
	UIStateJSON           string `json:"uiStateJSON"`
	Version               int    `json:"version"`
	KibanaSavedObjectMeta struct {
		SearchSourceJSON string `json:"searchSourceJSON"`
	} `json:"kibanaSavedObjectMeta"`
}

type visState struct {
	Title  string          `json:"title"`
	Type   string          `json:"type"`
	Params json.RawMessage `json:"params"`
	Aggs   []struct {
		ID      string         `json:"id"`
		Enabled bool           `json:"enabled"`
		Type    string         `json:"type"`
		Schema  string         `json:"schema"`
		Params  map[string]any `json:"params"`
	} `json:"aggs"`
}

type searchSource struct {
	Query        kqlQuery `json:"query"`
	Filter       []any    `json:"filter"`
	IndexRefName string   `json:"indexRefName"`
}

// Field types each classic aggregation accepts.
var visAggTypes = map[string][]string{
	"date_histogram": {"date"},
	"terms":          {"keyword", "ip", "long", "boolean"},
	"max":            {"long", "float", "date"},
	"min":            {"long", "float", "date"},
	"avg":            {"long", "float"},
	"sum":            {"long", "float"},
	"cardinality":    {"keyword", "ip", "long", "float", "date", "boolean"},
}

// Schemas of the vis types the assets use.
var visSchemas = map[string][]string{
	"histogram":      {"metric", "segment", "group"},
	"horizontal_bar": {"metric", "segment", "group"},
	"table":          {"metric", "bucket", "split"},
}

func checkVisualization(o savedObject, f fieldIndex, dataViews map[string]string) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%v: %s", o, fmt.Sprintf(format, args...)))
	}
	var a visualizationAttrs
	if err := decodeStrict(o.Attributes, &a); err != nil {
		add("%v", err)
		return errs
	}
	if !json.Valid([]byte(a.UIStateJSON)) {
		add("uiStateJSON is not JSON")
	}
	var ss searchSource
	if err := decodeStrict([]byte(a.KibanaSavedObjectMeta.SearchSourceJSON), &ss); err != nil {
		add("searchSourceJSON: %v", err)
	} else {
		r, ok := o.ref(ss.IndexRefName)
		switch {
		case ss.IndexRefName == "" || !ok || r.Type != "index-pattern":
			add("searchSourceJSON.indexRefName %q names no index-pattern reference", ss.IndexRefName)
		case dataViews[r.ID] == "":
			add("index pattern %q is not one of Cairn's", r.ID)
		}
		if ss.Query.Language != "kuery" {
			add("query language %q, want kuery", ss.Query.Language)
		}
		errs = append(errs, checkKQL(o.String()+" query", ss.Query.Query, f)...)
	}
	var vs visState
	if err := decodeStrict([]byte(a.VisState), &vs); err != nil {
		add("visState: %v", err)
		return errs
	}
	if vs.Title != a.Title || a.Title == "" {
		add("visState title %q differs from title %q", vs.Title, a.Title)
	}
	schemas, ok := visSchemas[vs.Type]
	if !ok {
		add("vis type %q is not one the checks know", vs.Type)
	}
	if !json.Valid(vs.Params) {
		add("visState params missing")
	}
	ids := map[string]string{}
	metrics := 0
	for _, ag := range vs.Aggs {
		if ag.ID == "" || ids[ag.ID] != "" {
			add("agg id %q empty or used twice", ag.ID)
		}
		ids[ag.ID] = ag.Type
		if !ag.Enabled {
			add("agg %s disabled", ag.ID)
		}
		if !slices.Contains(schemas, ag.Schema) {
			add("agg %s: schema %q for %s", ag.ID, ag.Schema, vs.Type)
		}
		if ag.Schema == "metric" {
			metrics++
		}
	}
	if metrics == 0 {
		add("no metric agg")
	}
	for _, ag := range vs.Aggs {
		switch ag.Type {
		case "count":
		case "filters":
			list, _ := ag.Params["filters"].([]any)
			if len(list) == 0 {
				add("agg %s: filters without filters", ag.ID)
			}
			for i, item := range list {
				b, _ := json.Marshal(item)
				var fl struct {
					Input kqlQuery `json:"input"`
					Label string   `json:"label"`
				}
				if err := decodeStrict(b, &fl); err != nil || fl.Input.Language != "kuery" {
					add("agg %s filter %d: %s", ag.ID, i, b)
				}
				errs = append(errs, checkKQL(fmt.Sprintf("%v agg %s filter %d", o, ag.ID, i), fl.Input.Query, f)...)
			}
		default:
			accepts, ok := visAggTypes[ag.Type]
			if !ok {
				add("agg %s: type %q is not one the checks know", ag.ID, ag.Type)
				continue
			}
			field, _ := ag.Params["field"].(string)
			typ := f.typeOf(field)
			switch {
			case typ == "":
				add("agg %s: field %q is not a field Cairn maps", ag.ID, field)
			case !f.aggregatable(field):
				add("agg %s: field %q (%s) cannot be aggregated", ag.ID, field, typ)
			case !slices.Contains(accepts, typ):
				add("agg %s: %s on %q, a %s field", ag.ID, ag.Type, field, typ)
			}
			if ag.Type == "terms" {
				orderBy, _ := ag.Params["orderBy"].(string)
				if t := ids[orderBy]; orderBy != "_key" && (t == "" || t == "terms" || t == "filters" || t == "date_histogram") {
					add("agg %s: orderBy %q is not a metric agg", ag.ID, orderBy)
				}
				if size, _ := ag.Params["size"].(float64); size <= 0 {
					add("agg %s: size %v", ag.ID, ag.Params["size"])
				}
			}
		}
	}
	return errs
}

// checkOpenSearchObjects validates deploy/opensearch/dashboards/saved_objects.ndjson.
func checkOpenSearchObjects(data []byte, f fieldIndex, templates map[string][]string) []error {
	objs, errs := parseSavedObjects(data, "index-pattern", "visualization", "dashboard")
	dataViews, dvErrs := checkDataViews(objs, f, templates)
	errs = append(errs, dvErrs...)
	dashboards := 0
	for _, o := range objs {
		if o.MigrationVersion[o.Type] == "" {
			errs = append(errs, fmt.Errorf("%v: migrationVersion.%s is required", o, o.Type))
		}
		switch o.Type {
		case "visualization":
			errs = append(errs, checkVisualization(o, f, dataViews)...)
		case "dashboard":
			dashboards++
			// OpenSearch Dashboards (Kibana 7.10 lineage): panel i refers to
			// the reference "panel_<i>".
			errs = append(errs, checkDashboard(o, objs, "visualization", func(i int, p dashboardPanel) string {
				if p.PanelRefName != "panel_"+strconv.Itoa(i) {
					return "(panelRefName " + p.PanelRefName + " is not panel_" + strconv.Itoa(i) + ")"
				}
				return p.PanelRefName
			})...)
		}
	}
	if dashboards != 1 {
		errs = append(errs, fmt.Errorf("%d dashboards, want 1", dashboards))
	}
	return errs
}

func osTemplates(t *testing.T) map[string][]string {
	return map[string][]string{
		"events": indexPatterns(t, "deploy/opensearch/index_template/cairn-events.json"),
		"alerts": indexPatterns(t, "deploy/opensearch/index_template/cairn-alerts.json"),
	}
}

func TestOpenSearchSavedObjects(t *testing.T) {
	data := readRepoFile(t, "deploy/opensearch/dashboards/saved_objects.ndjson")
	reportErrors(t, checkOpenSearchObjects(data, osFields(t), osTemplates(t)))

	// The equivalent of the Kibana assets: the same data views, and one
	// visualization per Lens panel, with the same ids.
	ids := func(rel string, types ...string) []string {
		objs, _ := parseSavedObjects(readRepoFile(t, rel), "index-pattern", "lens", "visualization", "dashboard")
		var out []string
		for _, o := range objs {
			if slices.Contains(types, o.Type) {
				out = append(out, o.ID)
			}
		}
		sort.Strings(out)
		return out
	}
	kb := ids("deploy/kibana/saved_objects.ndjson", "index-pattern", "lens", "dashboard")
	osd := ids("deploy/opensearch/dashboards/saved_objects.ndjson", "index-pattern", "visualization", "dashboard")
	if !slices.Equal(kb, osd) {
		t.Errorf("Kibana objects %v, OpenSearch Dashboards objects %v: not the same set", kb, osd)
	}
}
