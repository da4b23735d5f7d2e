package deploytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// savedObject is one line of a saved objects export (Kibana and OpenSearch
// Dashboards share the format).
type savedObject struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Attributes json.RawMessage `json:"attributes"`
	References []reference     `json:"references"`

	// Migration stamps: Kibana 8 (coreMigrationVersion/typeMigrationVersion)
	// or OpenSearch Dashboards (migrationVersion).
	CoreMigrationVersion string            `json:"coreMigrationVersion"`
	TypeMigrationVersion string            `json:"typeMigrationVersion"`
	MigrationVersion     map[string]string `json:"migrationVersion"`
	Managed              *bool             `json:"managed"`

	line int
}

type reference struct {
	Name string `json:"name"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

func (o savedObject) String() string { return fmt.Sprintf("line %d (%s %s)", o.line, o.Type, o.ID) }

// parseSavedObjects reads an NDJSON export: one JSON object per line with
// type, id, attributes and references, no duplicate, every reference to an
// object of the same file with the referenced type.
func parseSavedObjects(data []byte, allowedTypes ...string) ([]savedObject, []error) {
	var objs []savedObject
	var errs []error
	seen := map[string]bool{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			if i != len(bytes.Split(data, []byte("\n")))-1 {
				errs = append(errs, fmt.Errorf("line %d: empty line", i+1))
			}
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var o savedObject
		if err := dec.Decode(&o); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %v", i+1, err))
			continue
		}
		if dec.More() {
			errs = append(errs, fmt.Errorf("line %d: more than one JSON value", i+1))
		}
		o.line = i + 1
		if o.Type == "" || o.ID == "" {
			errs = append(errs, fmt.Errorf("line %d: type and id are required", o.line))
			continue
		}
		if !slices.Contains(allowedTypes, o.Type) {
			errs = append(errs, fmt.Errorf("%v: type %q not one of %v", o, o.Type, allowedTypes))
		}
		var attrs map[string]any
		if err := json.Unmarshal(o.Attributes, &attrs); err != nil || attrs == nil {
			errs = append(errs, fmt.Errorf("%v: attributes must be an object", o))
			continue
		}
		if o.References == nil {
			errs = append(errs, fmt.Errorf("%v: references missing (use [] for none)", o))
		}
		key := o.Type + "/" + o.ID
		if seen[key] {
			errs = append(errs, fmt.Errorf("%v: duplicate object", o))
		}
		seen[key] = true
		objs = append(objs, o)
	}
	for _, o := range objs {
		names := map[string]bool{}
		for _, r := range o.References {
			if r.Name == "" || r.Type == "" || r.ID == "" {
				errs = append(errs, fmt.Errorf("%v: reference %+v needs name, type and id", o, r))
			}
			if names[r.Name] {
				errs = append(errs, fmt.Errorf("%v: reference name %q used twice", o, r.Name))
			}
			names[r.Name] = true
			if !seen[r.Type+"/"+r.ID] {
				errs = append(errs, fmt.Errorf("%v: reference %q points to %s %q, which is not in the file", o, r.Name, r.Type, r.ID))
			}
		}
	}
	return objs, errs
}

func (o savedObject) ref(name string) (reference, bool) {
	for _, r := range o.References {
		if r.Name == name {
			return r, true
		}
	}
	return reference{}, false
}

// decodeStrict decodes JSON into v, refusing fields v does not declare, so
// that a misspelt key is an error.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// dataViewAttrs are the attributes of an index-pattern object.
type dataViewAttrs struct {
	Title           string `json:"title"`
	Name            string `json:"name"`
	TimeFieldName   string `json:"timeFieldName"`
	AllowNoIndex    bool   `json:"allowNoIndex"`
	Fields          string `json:"fields"`
	FieldFormatMap  string `json:"fieldFormatMap"`
	RuntimeFieldMap string `json:"runtimeFieldMap"`
	SourceFilters   string `json:"sourceFilters"`
	TypeMeta        string `json:"typeMeta"`
}

// checkDataViews: every data view's patterns are exactly those of one of
// Cairn's index templates (events or alerts), with @timestamp as time field;
// both kinds exist. It returns the kind ("events"/"alerts") per data view id.
func checkDataViews(objs []savedObject, f fieldIndex, templates map[string][]string) (map[string]string, []error) {
	var errs []error
	kinds := map[string]string{}
	for _, o := range objs {
		if o.Type != "index-pattern" {
			continue
		}
		var a dataViewAttrs
		if err := decodeStrict(o.Attributes, &a); err != nil {
			errs = append(errs, fmt.Errorf("%v: %v", o, err))
			continue
		}
		if a.TimeFieldName != "@timestamp" || f.typeOf(a.TimeFieldName) != "date" {
			errs = append(errs, fmt.Errorf("%v: timeFieldName %q, want @timestamp", o, a.TimeFieldName))
		}
		for _, s := range []string{a.Fields, a.FieldFormatMap, a.RuntimeFieldMap, a.SourceFilters, a.TypeMeta} {
			if s != "" && !json.Valid([]byte(s)) {
				errs = append(errs, fmt.Errorf("%v: attribute %q is not JSON", o, s))
			}
		}
		patterns := strings.Split(a.Title, ",")
		for kind, want := range templates {
			if slices.Equal(patterns, want) {
				kinds[o.ID] = kind
			}
		}
		if kinds[o.ID] == "" {
			errs = append(errs, fmt.Errorf("%v: title %q matches no index template of Cairn (%v)", o, a.Title, templates))
		}
	}
	for kind := range templates {
		found := false
		for _, k := range kinds {
			found = found || k == kind
		}
		if !found {
			errs = append(errs, fmt.Errorf("no data view for the %s index template", kind))
		}
	}
	return kinds, errs
}

// Lens attributes, as far as the assets use them (unknown keys are errors).
type lensAttrs struct {
	Title             string `json:"title"`
	Description       string `json:"description"`
	VisualizationType string `json:"visualizationType"`
	State             struct {
		DatasourceStates struct {
			FormBased struct {
				Layers map[string]struct {
					Columns           map[string]lensColumn `json:"columns"`
					ColumnOrder       []string              `json:"columnOrder"`
					IncompleteColumns map[string]any        `json:"incompleteColumns"`
				} `json:"layers"`
			} `json:"formBased"`
		} `json:"datasourceStates"`
		Visualization      json.RawMessage `json:"visualization"`
		Query              kqlQuery        `json:"query"`
		Filters            []any           `json:"filters"`
		InternalReferences []any           `json:"internalReferences"`
		AdHocDataViews     map[string]any  `json:"adHocDataViews"`
	} `json:"state"`
}

type kqlQuery struct {
	Query    string `json:"query"`
	Language string `json:"language"`
}

type lensColumn struct {
	Label         string `json:"label"`
	CustomLabel   bool   `json:"customLabel"`
	DataType      string `json:"dataType"`
	OperationType string `json:"operationType"`
	SourceField   string `json:"sourceField"`
	IsBucketed    bool   `json:"isBucketed"`
	Scale         string `json:"scale"`
	Params        struct {
		// terms
		Size           int    `json:"size"`
		OrderDirection string `json:"orderDirection"`
		OtherBucket    bool   `json:"otherBucket"`
		MissingBucket  bool   `json:"missingBucket"`
		ParentFormat   any    `json:"parentFormat"`
		OrderBy        *struct {
			Type     string `json:"type"`
			ColumnID string `json:"columnId"`
		} `json:"orderBy"`
		// date_histogram
		Interval         string `json:"interval"`
		IncludeEmptyRows bool   `json:"includeEmptyRows"`
		DropPartials     bool   `json:"dropPartials"`
		// metrics
		EmptyAsNull bool `json:"emptyAsNull"`
		// filters
		Filters []struct {
			Input kqlQuery `json:"input"`
			Label string   `json:"label"`
		} `json:"filters"`
	} `json:"params"`
}

// Field types each Lens operation accepts.
var lensOperationTypes = map[string][]string{
	"date_histogram": {"date"},
	"terms":          {"keyword", "ip", "long", "boolean"},
	"max":            {"long", "float", "date"},
	"min":            {"long", "float", "date"},
	"average":        {"long", "float"},
	"sum":            {"long", "float"},
	"median":         {"long", "float"},
	"unique_count":   {"keyword", "ip", "long", "float", "date", "boolean"},
}

// lensDataTypes: the column dataType Lens derives from each field type.
var lensDataTypes = map[string]string{
	"keyword": "string", "ip": "ip", "long": "number", "float": "number", "date": "date", "boolean": "boolean",
}

// XY and datatable visualization state: the accessors that must name columns.
type lensVisualization struct {
	LayerID string `json:"layerId"`
	Layers  []struct {
		LayerID       string   `json:"layerId"`
		XAccessor     string   `json:"xAccessor"`
		Accessors     []string `json:"accessors"`
		SplitAccessor string   `json:"splitAccessor"`
	} `json:"layers"`
	Columns []struct {
		ColumnID string `json:"columnId"`
	} `json:"columns"`
	Sorting *struct {
		ColumnID string `json:"columnId"`
	} `json:"sorting"`
}

func checkLens(o savedObject, f fieldIndex, dataViews map[string]string) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%v: %s", o, fmt.Sprintf(format, args...)))
	}
	var a lensAttrs
	if err := decodeStrict(o.Attributes, &a); err != nil {
		add("%v", err)
		return errs
	}
	if a.Title == "" {
		add("no title")
	}
	switch a.VisualizationType {
	case "lnsXY", "lnsDatatable":
	default:
		add("visualizationType %q is not one the checks know (lnsXY, lnsDatatable)", a.VisualizationType)
	}
	errs = append(errs, checkKQL(o.String()+" query", a.State.Query.Query, f)...)
	if a.State.Query.Language != "kuery" {
		add("query language %q, want kuery", a.State.Query.Language)
	}
	layers := a.State.DatasourceStates.FormBased.Layers
	if len(layers) == 0 {
		add("no formBased layer")
	}
	columns := map[string]bool{}
	for id, layer := range layers {
		r, ok := o.ref("indexpattern-datasource-layer-" + id)
		if !ok || r.Type != "index-pattern" {
			add("layer %s has no index-pattern reference named indexpattern-datasource-layer-%s", id, id)
		} else if dataViews[r.ID] == "" {
			add("layer %s uses %q, not one of Cairn's data views", id, r.ID)
		}
		order := slices.Clone(layer.ColumnOrder)
		slices.Sort(order)
		var ids []string
		for cid := range layer.Columns {
			ids = append(ids, cid)
			columns[cid] = true
		}
		slices.Sort(ids)
		if !slices.Equal(order, ids) {
			add("layer %s: columnOrder %v does not list exactly the columns %v", id, layer.ColumnOrder, ids)
		}
		for cid, c := range layer.Columns {
			errs = append(errs, checkLensColumn(o, cid, c, layer.Columns, f)...)
		}
	}
	var v lensVisualization
	if err := json.Unmarshal(a.State.Visualization, &v); err != nil {
		add("visualization: %v", err)
		return errs
	}
	var accessors []string
	var vlayers []string
	switch a.VisualizationType {
	case "lnsXY":
		if len(v.Layers) == 0 {
			add("XY visualization without layers")
		}
		for _, l := range v.Layers {
			vlayers = append(vlayers, l.LayerID)
			if l.XAccessor == "" || len(l.Accessors) == 0 {
				add("XY layer %s needs xAccessor and accessors", l.LayerID)
			}
			accessors = append(accessors, l.Accessors...)
			for _, s := range []string{l.XAccessor, l.SplitAccessor} {
				if s != "" {
					accessors = append(accessors, s)
				}
			}
		}
	case "lnsDatatable":
		vlayers = append(vlayers, v.LayerID)
		for _, c := range v.Columns {
			accessors = append(accessors, c.ColumnID)
		}
		if len(v.Columns) != len(columns) {
			add("datatable shows %d of %d columns", len(v.Columns), len(columns))
		}
		if v.Sorting != nil {
			accessors = append(accessors, v.Sorting.ColumnID)
		}
	}
	for _, l := range vlayers {
		if _, ok := layers[l]; !ok {
			add("visualization layer %q is not a datasource layer", l)
		}
	}
	for _, acc := range accessors {
		if !columns[acc] {
			add("visualization uses column %q, which no layer defines", acc)
		}
	}
	return errs
}

func checkLensColumn(o savedObject, id string, c lensColumn, all map[string]lensColumn, f fieldIndex) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%v: column %s: %s", o, id, fmt.Sprintf(format, args...)))
	}
	switch c.OperationType {
	case "count":
		if c.SourceField != "___records___" {
			add("count of %q, want ___records___", c.SourceField)
		}
	case "filters":
		if len(c.Params.Filters) == 0 {
			add("filters without filters")
		}
		for i, fl := range c.Params.Filters {
			if fl.Input.Language != "kuery" {
				add("filter %d: language %q", i, fl.Input.Language)
			}
			errs = append(errs, checkKQL(fmt.Sprintf("%v column %s filter %d", o, id, i), fl.Input.Query, f)...)
		}
	default:
		accepts, ok := lensOperationTypes[c.OperationType]
		if !ok {
			add("operation %q is not one the checks know", c.OperationType)
			break
		}
		typ := f.typeOf(c.SourceField)
		switch {
		case typ == "":
			add("sourceField %q is not a field Cairn maps", c.SourceField)
		case !f.aggregatable(c.SourceField):
			add("sourceField %q (%s) cannot be aggregated", c.SourceField, typ)
		case !slices.Contains(accepts, typ):
			add("%s on %q, a %s field", c.OperationType, c.SourceField, typ)
		case c.OperationType != "unique_count" && c.DataType != lensDataTypes[typ]:
			add("dataType %q, the field %q gives %q", c.DataType, c.SourceField, lensDataTypes[typ])
		}
	}
	bucketed := c.OperationType == "terms" || c.OperationType == "date_histogram" || c.OperationType == "filters"
	if c.IsBucketed != bucketed {
		add("isBucketed %v for %s", c.IsBucketed, c.OperationType)
	}
	if c.OperationType == "terms" {
		if c.Params.Size <= 0 || c.Params.OrderBy == nil {
			add("terms needs size and orderBy")
		} else if c.Params.OrderBy.Type == "column" {
			if oc, ok := all[c.Params.OrderBy.ColumnID]; !ok || oc.IsBucketed {
				add("terms ordered by %q, not a metric column of the layer", c.Params.OrderBy.ColumnID)
			}
		}
	}
	if c.Label == "" {
		add("no label")
	}
	return errs
}

// Dashboard panels (Kibana 8 form: panelRefName "panel_<panelIndex>",
// reference "<panelIndex>:panel_<panelIndex>").
type dashboardAttrs struct {
	Title                 string `json:"title"`
	Description           string `json:"description"`
	Hits                  int    `json:"hits"`
	PanelsJSON            string `json:"panelsJSON"`
	OptionsJSON           string `json:"optionsJSON"`
	TimeRestore           bool   `json:"timeRestore"`
	TimeFrom              string `json:"timeFrom"`
	TimeTo                string `json:"timeTo"`
	RefreshInterval       any    `json:"refreshInterval"`
	Version               int    `json:"version"`
	KibanaSavedObjectMeta struct {
		SearchSourceJSON string `json:"searchSourceJSON"`
	} `json:"kibanaSavedObjectMeta"`
}

type dashboardPanel struct {
	Version  string `json:"version"`
	Type     string `json:"type"`
	GridData struct {
		X, Y, W, H int
		I          string `json:"i"`
	} `json:"gridData"`
	PanelIndex       string         `json:"panelIndex"`
	EmbeddableConfig map[string]any `json:"embeddableConfig"`
	PanelRefName     string         `json:"panelRefName"`
	Title            string         `json:"title"`
}

// checkDashboard: panels parse, sit on the 48-column grid, each resolves to
// an object of the file through its reference (refName gives the reference
// name a panel must have), and every visualization of the file is shown.
func checkDashboard(o savedObject, objs []savedObject, panelType string, refName func(i int, p dashboardPanel) string) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%v: %s", o, fmt.Sprintf(format, args...)))
	}
	var a dashboardAttrs
	if err := decodeStrict(o.Attributes, &a); err != nil {
		add("%v", err)
		return errs
	}
	if a.Title == "" {
		add("no title")
	}
	for _, s := range []string{a.OptionsJSON, a.KibanaSavedObjectMeta.SearchSourceJSON} {
		if !json.Valid([]byte(s)) {
			add("%q is not JSON", s)
		}
	}
	var panels []dashboardPanel
	if err := decodeStrict([]byte(a.PanelsJSON), &panels); err != nil {
		add("panelsJSON: %v", err)
		return errs
	}
	if len(panels) == 0 {
		add("no panels")
	}
	shown := map[string]bool{}
	indexes := map[string]bool{}
	for i, p := range panels {
		if p.PanelIndex == "" || p.GridData.I != p.PanelIndex || indexes[p.PanelIndex] {
			add("panel %d: panelIndex %q and gridData.i %q must be equal and unique", i, p.PanelIndex, p.GridData.I)
		}
		indexes[p.PanelIndex] = true
		if p.GridData.W <= 0 || p.GridData.H <= 0 || p.GridData.X < 0 || p.GridData.Y < 0 || p.GridData.X+p.GridData.W > 48 {
			add("panel %s: gridData %+v is off the 48-column grid", p.PanelIndex, p.GridData)
		}
		if p.Version == "" {
			add("panel %s: no version", p.PanelIndex)
		}
		name := refName(i, p)
		r, ok := o.ref(name)
		if !ok {
			add("panel %s: no reference named %q", p.PanelIndex, name)
			continue
		}
		if r.Type != panelType || (p.Type != "" && p.Type != r.Type) {
			add("panel %s: reference %q of type %q (panel type %q), want %q", p.PanelIndex, name, r.Type, p.Type, panelType)
		}
		shown[r.ID] = true
	}
	for _, v := range objs {
		if v.Type == panelType && !shown[v.ID] {
			add("%v is on no panel", v)
		}
	}
	return errs
}

// checkKibanaObjects validates deploy/kibana/saved_objects.ndjson.
func checkKibanaObjects(data []byte, f fieldIndex, templates map[string][]string) []error {
	objs, errs := parseSavedObjects(data, "index-pattern", "lens", "dashboard")
	dataViews, dvErrs := checkDataViews(objs, f, templates)
	errs = append(errs, dvErrs...)
	dashboards := 0
	for _, o := range objs {
		// Objects written by hand must carry the version of the shape they
		// are in, or Kibana migrates them from the oldest shape.
		if o.CoreMigrationVersion == "" || o.TypeMigrationVersion == "" {
			errs = append(errs, fmt.Errorf("%v: coreMigrationVersion and typeMigrationVersion are required", o))
		}
		switch o.Type {
		case "lens":
			errs = append(errs, checkLens(o, f, dataViews)...)
		case "dashboard":
			dashboards++
			errs = append(errs, checkDashboard(o, objs, "lens", func(_ int, p dashboardPanel) string {
				if p.PanelRefName != "panel_"+p.PanelIndex {
					return "(panelRefName " + p.PanelRefName + " is not panel_" + p.PanelIndex + ")"
				}
				return p.PanelIndex + ":" + p.PanelRefName
			})...)
		}
	}
	if dashboards != 1 {
		errs = append(errs, fmt.Errorf("%d dashboards, want 1", dashboards))
	}
	return errs
}

func esTemplates(t *testing.T) map[string][]string {
	return map[string][]string{
		"events": indexPatterns(t, "deploy/elasticsearch/index_template/cairn-events.json"),
		"alerts": indexPatterns(t, "deploy/elasticsearch/index_template/cairn-alerts.json"),
	}
}

func TestKibanaSavedObjects(t *testing.T) {
	data := readRepoFile(t, "deploy/kibana/saved_objects.ndjson")
	reportErrors(t, checkKibanaObjects(data, esFields(t), esTemplates(t)))

	// What the dashboard must show (issue 5): alerts over time, top hosts by
	// score, new binaries/IPs/domains, intel matches.
	objs, _ := parseSavedObjects(data, "index-pattern", "lens", "dashboard")
	var fields []string
	for _, o := range objs {
		if o.Type != "lens" {
			continue
		}
		var a lensAttrs
		if err := json.Unmarshal(o.Attributes, &a); err != nil {
			t.Fatal(err)
		}
		for _, l := range a.State.DatasourceStates.FormBased.Layers {
			for _, c := range l.Columns {
				fields = append(fields, c.OperationType+":"+c.SourceField)
			}
		}
		fields = append(fields, "query:"+a.State.Query.Query)
	}
	all := strings.Join(fields, "\n")
	for _, want := range []string{"date_histogram:@timestamp", "terms:host.name", "max:cairn.alert.score",
		"terms:process.executable", "terms:destination.ip", "terms:dns.question.name",
		"new_binary_on_host", "new_external_ip", "new_domain", "intel_malicious_hash", "intel_bad_ip", "intel_bad_domain"} {
		if !strings.Contains(all, want) {
			t.Errorf("no visualization uses %s", want)
		}
	}
}
