package deploytest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/correlateprocessor"
)

// detectionRule is the body of POST /api/detection_engine/rules for a query
// rule, limited to the fields Cairn's rule may use: a key outside this list
// (a misspelling) is an error.
type detectionRule struct {
	RuleID          string   `json:"rule_id"`
	Name            string   `json:"name"`
	Description     string   `json:"description"`
	Type            string   `json:"type"`
	Language        string   `json:"language"`
	Query           string   `json:"query"`
	Index           []string `json:"index"`
	Enabled         *bool    `json:"enabled"`
	Interval        string   `json:"interval"`
	From            string   `json:"from"`
	To              string   `json:"to"`
	MaxSignals      int      `json:"max_signals"`
	Severity        string   `json:"severity"`
	RiskScore       *int     `json:"risk_score"`
	SeverityMapping []struct {
		Field    string `json:"field"`
		Operator string `json:"operator"`
		Value    string `json:"value"`
		Severity string `json:"severity"`
	} `json:"severity_mapping"`
	RiskScoreMapping []struct {
		Field     string `json:"field"`
		Operator  string `json:"operator"`
		Value     string `json:"value"`
		RiskScore *int   `json:"risk_score"`
	} `json:"risk_score_mapping"`
	RuleNameOverride                  string   `json:"rule_name_override"`
	TimestampOverride                 string   `json:"timestamp_override"`
	TimestampOverrideFallbackDisabled *bool    `json:"timestamp_override_fallback_disabled"`
	Author                            []string `json:"author"`
	Tags                              []string `json:"tags"`
	FalsePositives                    []string `json:"false_positives"`
	References                        []string `json:"references"`
	Note                              string   `json:"note"`
	Version                           int      `json:"version"`
	Threat                            []struct {
		Framework string `json:"framework"`
		Tactic    struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			Reference string `json:"reference"`
		} `json:"tactic"`
		Technique []struct {
			attackRef
			Subtechnique []attackRef `json:"subtechnique"`
		} `json:"technique"`
	} `json:"threat"`
}

// attackRef is a technique or sub-technique of a rule's threat mapping.
type attackRef struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Reference string `json:"reference"`
}

// The severity scale of Cairn's alerts (event.severity, Elastic's values)
// and the names of cairn.alert.severity.
var severityScale = map[string]string{"21": "low", "47": "medium", "73": "high", "99": "critical"}

func checkDetectionRule(data []byte, f fieldIndex, alertsPatterns []string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var r detectionRule
	if err := decodeStrict(data, &r); err != nil {
		return []error{err}
	}
	for key, v := range map[string]string{"rule_id": r.RuleID, "name": r.Name, "description": r.Description,
		"query": r.Query, "severity": r.Severity, "rule_name_override": r.RuleNameOverride,
		"timestamp_override": r.TimestampOverride, "interval": r.Interval, "from": r.From} {
		if v == "" {
			add("%s is required", key)
		}
	}
	if r.Type != "query" || r.Language != "kuery" {
		add("type %q, language %q: want a query rule in KQL (query, kuery)", r.Type, r.Language)
	}
	if !slices.Equal(r.Index, alertsPatterns) {
		add("index %v, want the alerts index patterns %v", r.Index, alertsPatterns)
	}
	clauses, err := parseKQL(r.Query)
	if err != nil {
		add("query: %v", err)
	}
	if !slices.ContainsFunc(clauses, func(c kqlClause) bool {
		return c.field == "event.kind" && slices.Equal(c.values, []string{"alert"})
	}) {
		add("query %q does not select event.kind:alert", r.Query)
	}
	errs = append(errs, checkKQL("query", r.Query, f)...)
	if !validSeverity(r.Severity) {
		add("severity %q", r.Severity)
	}
	if r.RiskScore == nil || *r.RiskScore < 0 || *r.RiskScore > 100 {
		add("risk_score must be 0..100")
	}
	if r.MaxSignals <= 0 || r.MaxSignals > 1000 {
		add("max_signals %d: 1..1000", r.MaxSignals)
	}

	mapped := map[string]map[string]string{}
	for i, m := range r.SeverityMapping {
		if m.Operator != "equals" || !validSeverity(m.Severity) || m.Value == "" {
			add("severity_mapping[%d]: %+v", i, m)
		}
		if f.typeOf(m.Field) == "" {
			add("severity_mapping[%d]: field %q is not mapped", i, m.Field)
		}
		if mapped[m.Field] == nil {
			mapped[m.Field] = map[string]string{}
		}
		mapped[m.Field][m.Value] = m.Severity
	}
	// event.severity carries Elastic's numbers, cairn.alert.severity the
	// names: every level of both must map to itself.
	names := map[string]string{}
	for num, name := range severityScale {
		names[name] = name
		if _, err := strconv.Atoi(num); err != nil {
			add("severity scale %q", num)
		}
	}
	for field, want := range map[string]map[string]string{"event.severity": severityScale, "cairn.alert.severity": names} {
		if got := mapped[field]; !mapsEqual(got, want) {
			add("severity_mapping of %s: %v, want %v", field, got, want)
		}
	}
	if len(r.RiskScoreMapping) != 1 || r.RiskScoreMapping[0].Field != "event.risk_score" ||
		r.RiskScoreMapping[0].Operator != "equals" || r.RiskScoreMapping[0].Value != "" {
		add("risk_score_mapping %+v: want the value of event.risk_score", r.RiskScoreMapping)
	} else if typ := f.typeOf("event.risk_score"); typ != "float" && typ != "long" {
		add("event.risk_score is mapped as %q, not a number", typ)
	}
	if typ := f.typeOf(r.RuleNameOverride); typ != "keyword" {
		add("rule_name_override %q: a keyword field is needed, it is %q", r.RuleNameOverride, typ)
	}
	if typ := f.typeOf(r.TimestampOverride); typ != "date" {
		add("timestamp_override %q: a date field is needed, it is %q", r.TimestampOverride, typ)
	}

	// ATT&CK: the tactics of the rule are those of Cairn's signal catalog.
	tactics := map[string]bool{}
	for _, s := range correlateprocessor.DefaultSignals() {
		tactics[s.Tactic] = true
	}
	var got []string
	for _, th := range r.Threat {
		if th.Framework != "MITRE ATT&CK" || !tactics[th.Tactic.ID] || th.Tactic.Name == "" ||
			th.Tactic.Reference != "https://attack.mitre.org/tactics/"+th.Tactic.ID+"/" {
			add("threat %+v: not a tactic of Cairn's signals (%v)", th, tactics)
		}
		got = append(got, th.Tactic.ID)
		// The techniques under a tactic are those of its catalog signals,
		// as ECS and Kibana nest them: a sub-technique (T1204.002) under its
		// technique (T1204), never in its place.
		wantTech := map[string][]string{}
		for _, s := range correlateprocessor.DefaultSignals() {
			if s.Tactic != th.Tactic.ID || s.Technique == "" {
				continue
			}
			parent, _, isSub := strings.Cut(s.Technique, ".")
			if _, ok := wantTech[parent]; !ok {
				wantTech[parent] = []string{}
			}
			if isSub && !slices.Contains(wantTech[parent], s.Technique) {
				wantTech[parent] = append(wantTech[parent], s.Technique)
			}
		}
		gotTech := map[string][]string{}
		for _, tq := range th.Technique {
			if strings.Contains(tq.ID, ".") || !validRef(tq.attackRef, tq.ID) {
				add("threat %s: technique %+v is not a technique with its name and reference", th.Tactic.ID, tq.attackRef)
			}
			gotTech[tq.ID] = []string{}
			for _, sub := range tq.Subtechnique {
				if !strings.HasPrefix(sub.ID, tq.ID+".") || !validRef(sub, strings.Replace(sub.ID, ".", "/", 1)) {
					add("threat %s: sub-technique %+v is not one of %s with its name and reference", th.Tactic.ID, sub, tq.ID)
				}
				gotTech[tq.ID] = append(gotTech[tq.ID], sub.ID)
			}
		}
		for _, m := range []map[string][]string{wantTech, gotTech} {
			for _, subs := range m {
				sort.Strings(subs)
			}
		}
		if fmt.Sprint(gotTech) != fmt.Sprint(wantTech) {
			add("threat %s: techniques %v, want those of the signal catalog %v", th.Tactic.ID, gotTech, wantTech)
		}
	}
	var want []string
	for id := range tactics {
		if id != "" {
			want = append(want, id)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		add("threat tactics %v, want those of the signal catalog %v", got, want)
	}
	return errs
}

// validRef: a named ATT&CK (sub-)technique whose reference is its page,
// https://attack.mitre.org/techniques/<path>/ (T1204 or T1204/002).
func validRef(r attackRef, path string) bool {
	return r.ID != "" && r.Name != "" && r.Reference == "https://attack.mitre.org/techniques/"+path+"/"
}

func validSeverity(s string) bool {
	return s == "low" || s == "medium" || s == "high" || s == "critical"
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDetectionRule(t *testing.T) {
	data := readRepoFile(t, "deploy/kibana/detection_rule.json")
	if !json.Valid(data) {
		t.Fatal("deploy/kibana/detection_rule.json is not JSON")
	}
	reportErrors(t, checkDetectionRule(data, esFields(t), esTemplates(t)["alerts"]))
}

// --- One promotion per Cairn alert -----------------------------------------
//
// Elastic's prebuilt rule "External Alerts" promotes every document with
// event.kind: alert in logs-* (except a few Elastic modules), which covers
// Cairn's alert index too: with both rules enabled, each Cairn alert would
// become two Security alerts. Cairn keeps its own rule (the Cairn rule's
// name, severity, risk score and ATT&CK mapping, where External Alerts
// names the Security alert after the whole message) and asks for the
// exception event.module: cairn on External Alerts. The tests below check,
// on the rule bodies as committed, that exactly one of the two promotes a
// Cairn alert, and that the exception takes nothing else from External
// Alerts.

// prebuiltRule is deploy/kibana/prebuilt_external_alerts.json: the facts
// of Elastic's rule that matter here.
type prebuiltRule struct {
	Source       string   `json:"source"`
	SourceCommit string   `json:"source_commit"`
	License      string   `json:"license"`
	RuleID       string   `json:"rule_id"`
	Name         string   `json:"name"`
	Language     string   `json:"language"`
	Index        []string `json:"index"`
	Query        string   `json:"query"`
}

// exceptionItems is the body of POST
// /api/detection_engine/rules/{id}/exceptions (create rule exception items).
type exceptionItems struct {
	Items []struct {
		ItemID        string `json:"item_id"`
		Name          string `json:"name"`
		Description   string `json:"description"`
		Type          string `json:"type"`
		NamespaceType string `json:"namespace_type"`
		Entries       []struct {
			Field    string `json:"field"`
			Operator string `json:"operator"`
			Type     string `json:"type"`
			Value    any    `json:"value"`
		} `json:"entries"`
	} `json:"items"`
}

// excepted reports whether an exception item of x matches doc: all entries
// of an item must hold (Kibana ANDs them), any item suppresses the alert.
func (x exceptionItems) excepted(doc map[string][]string) bool {
	for _, it := range x.Items {
		all := len(it.Entries) > 0
		for _, e := range it.Entries {
			var want []string
			switch v := e.Value.(type) {
			case string:
				want = []string{v}
			case []any:
				for _, s := range v {
					want = append(want, fmt.Sprint(s))
				}
			}
			hit := slices.ContainsFunc(doc[e.Field], func(s string) bool { return slices.Contains(want, s) })
			if e.Operator == "excluded" {
				hit = !hit
			}
			all = all && hit
		}
		if all {
			return true
		}
	}
	return false
}

func checkExceptionItems(x exceptionItems) []error {
	var errs []error
	if len(x.Items) == 0 {
		errs = append(errs, fmt.Errorf("no exception items"))
	}
	for i, it := range x.Items {
		if it.Name == "" || it.Description == "" || it.Type != "simple" || len(it.Entries) == 0 {
			errs = append(errs, fmt.Errorf("items[%d]: name, description, type simple and entries are required", i))
		}
		if it.NamespaceType != "" && it.NamespaceType != "single" && it.NamespaceType != "agnostic" {
			errs = append(errs, fmt.Errorf("items[%d]: namespace_type %q", i, it.NamespaceType))
		}
		for j, e := range it.Entries {
			okType := e.Type == "match" || e.Type == "match_any"
			if !okType || (e.Operator != "included" && e.Operator != "excluded") || e.Field == "" || e.Value == nil {
				errs = append(errs, fmt.Errorf("items[%d].entries[%d]: %+v: want a match or match_any entry", i, j, e))
			}
		}
	}
	return errs
}

// A KQL subset, evaluated: field:value, field:"value", field:(a or b and
// not c), field:* (exists), values with * wildcards, and/or/not and
// parentheses, with KQL's precedence (not, then and, then or) and its
// case-insensitive keywords. Enough for both rules' queries; anything else
// is a parse error, so a query outside the subset fails the test rather
// than being misread.
type kqlExpr struct {
	op    string // "or", "and", "not", "field" (a field clause), "value"
	kids  []*kqlExpr
	field string   // for "field": the field; kids[0] is the value expression
	value string   // for "value"
	re    *kqlGlob // for "value" with wildcards
}

type kqlGlob struct{ parts []string }

type kqlParser struct {
	toks []string
	pos  int
}

// kqlTokens splits a query into (, ), :, quoted strings (kept with their
// quotes) and words.
func kqlTokens(q string) ([]string, error) {
	var toks []string
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == ':':
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := i + 1
			for ; j < len(q) && q[j] != '"'; j++ {
				if q[j] == '\\' {
					j++
				}
			}
			if j >= len(q) {
				return nil, fmt.Errorf("unterminated string in %q", q)
			}
			toks = append(toks, q[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\n():\"", rune(q[j])) {
				j++
			}
			toks = append(toks, q[i:j])
			i = j
		}
	}
	return toks, nil
}

func parseKQLExpr(q string) (*kqlExpr, error) {
	toks, err := kqlTokens(q)
	if err != nil {
		return nil, err
	}
	p := &kqlParser{toks: toks}
	e, err := p.or(false)
	if err != nil {
		return nil, fmt.Errorf("KQL %q: %v", q, err)
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("KQL %q: unexpected %q", q, p.toks[p.pos])
	}
	return e, nil
}

func (p *kqlParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *kqlParser) keyword(k string) bool {
	if strings.EqualFold(p.peek(), k) {
		p.pos++
		return true
	}
	return false
}

// or, and, not and primary parse a query (values false) or the value
// expression after a field's colon (values true).
func (p *kqlParser) or(values bool) (*kqlExpr, error) {
	first, err := p.and(values)
	if err != nil {
		return nil, err
	}
	e := &kqlExpr{op: "or", kids: []*kqlExpr{first}}
	for p.keyword("or") {
		k, err := p.and(values)
		if err != nil {
			return nil, err
		}
		e.kids = append(e.kids, k)
	}
	if len(e.kids) == 1 {
		return first, nil
	}
	return e, nil
}

func (p *kqlParser) and(values bool) (*kqlExpr, error) {
	first, err := p.not(values)
	if err != nil {
		return nil, err
	}
	e := &kqlExpr{op: "and", kids: []*kqlExpr{first}}
	for p.keyword("and") {
		k, err := p.not(values)
		if err != nil {
			return nil, err
		}
		e.kids = append(e.kids, k)
	}
	if len(e.kids) == 1 {
		return first, nil
	}
	return e, nil
}

func (p *kqlParser) not(values bool) (*kqlExpr, error) {
	if p.keyword("not") {
		k, err := p.not(values)
		if err != nil {
			return nil, err
		}
		return &kqlExpr{op: "not", kids: []*kqlExpr{k}}, nil
	}
	return p.primary(values)
}

func (p *kqlParser) primary(values bool) (*kqlExpr, error) {
	tok := p.peek()
	switch tok {
	case "":
		return nil, fmt.Errorf("unexpected end")
	case "(":
		p.pos++
		e, err := p.or(values)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return e, nil
	case ")", ":":
		return nil, fmt.Errorf("unexpected %q", tok)
	}
	p.pos++
	if values {
		v := tok
		if strings.HasPrefix(tok, `"`) {
			v = strings.ReplaceAll(tok[1:len(tok)-1], `\"`, `"`)
			return &kqlExpr{op: "value", value: v}, nil
		}
		e := &kqlExpr{op: "value", value: v}
		if strings.Contains(v, "*") {
			e.re = &kqlGlob{parts: strings.Split(v, "*")}
		}
		return e, nil
	}
	if strings.HasPrefix(tok, `"`) || p.peek() != ":" {
		return nil, fmt.Errorf("free text %q: only field:value clauses are understood", tok)
	}
	p.pos++ // the colon
	val, err := p.primaryValue()
	if err != nil {
		return nil, err
	}
	return &kqlExpr{op: "field", field: tok, kids: []*kqlExpr{val}}, nil
}

// primaryValue is the value after a colon: one word or string, or a
// parenthesised value expression.
func (p *kqlParser) primaryValue() (*kqlExpr, error) {
	if p.peek() == "(" {
		return p.primary(true)
	}
	if kqlKeywords[strings.ToLower(p.peek())] {
		return nil, fmt.Errorf("keyword %q where a value should be", p.peek())
	}
	return p.primary(true)
}

func (g *kqlGlob) match(s string) bool {
	if !strings.HasPrefix(s, g.parts[0]) {
		return false
	}
	s = s[len(g.parts[0]):]
	for i, part := range g.parts[1:] {
		if i == len(g.parts)-2 {
			return strings.HasSuffix(s, part)
		}
		j := strings.Index(s, part)
		if j < 0 {
			return false
		}
		s = s[j+len(part):]
	}
	return true
}

// eval evaluates e against doc, a document flattened to its dotted fields
// (each with its values: arrays give several). A field clause holds when
// any of the field's values matches (keyword semantics: exact, or the
// wildcard pattern); field:* when the field has a value.
func (e *kqlExpr) eval(doc map[string][]string) bool {
	switch e.op {
	case "or":
		return slices.ContainsFunc(e.kids, func(k *kqlExpr) bool { return k.eval(doc) })
	case "and":
		return !slices.ContainsFunc(e.kids, func(k *kqlExpr) bool { return !k.eval(doc) })
	case "not":
		return !e.kids[0].eval(doc)
	case "field":
		return e.kids[0].evalValue(doc[e.field])
	}
	panic("value outside a field clause")
}

func (e *kqlExpr) evalValue(vals []string) bool {
	switch e.op {
	case "or":
		return slices.ContainsFunc(e.kids, func(k *kqlExpr) bool { return k.evalValue(vals) })
	case "and":
		return !slices.ContainsFunc(e.kids, func(k *kqlExpr) bool { return !k.evalValue(vals) })
	case "not":
		return !e.kids[0].evalValue(vals)
	}
	if e.value == "*" {
		return len(vals) > 0
	}
	return slices.ContainsFunc(vals, func(v string) bool {
		if e.re != nil {
			return e.re.match(v)
		}
		return v == e.value
	})
}

// flatten turns a JSON document into its dotted fields and their values,
// the way Elasticsearch indexes objects (arrays of objects included).
func flatten(doc map[string]any) map[string][]string {
	out := map[string][]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix, e)
			}
		case nil:
		case string:
			out[prefix] = append(out[prefix], x)
		default:
			out[prefix] = append(out[prefix], fmt.Sprint(x))
		}
	}
	walk("", doc)
	return out
}

// indexMatches reports whether one of the index patterns covers index.
func indexMatches(patterns []string, index string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		return (&kqlGlob{parts: strings.Split(p, "*")}).match(index)
	})
}

func TestKQLEvaluator(t *testing.T) {
	doc := flatten(map[string]any{
		"event": map[string]any{"kind": "alert", "module": "cairn", "category": []any{"intrusion_detection", "host"}, "severity": 73.0},
		"host":  map[string]any{"name": "web-03"},
	})
	for q, want := range map[string]bool{
		`event.kind:alert`:                            true,
		`event.kind:"alert"`:                          true,
		`event.kind:event`:                            false,
		`event.kind:alert and event.module:cairn`:     true,
		`event.kind:alert AND NOT event.module:cairn`: false,
		`event.kind:alert and not event.module:(endgame or endpoint or cairn)`: false,
		`event.kind:alert and not event.module:(endgame or endpoint)`:          true,
		`event.kind:event or event.module:cairn and host.name:web-03`:          true, // and binds tighter
		`(event.kind:event or event.module:cairn) and host.name:web-04`:        false,
		`event.category:host`:                               true, // any element of an array
		`event.category:(intrusion_detection and host)`:     true,
		`event.category:(intrusion_detection and not host)`: false,
		`event.severity:73`:                                 true,
		`host.name:web-*`:                                   true,
		`host.name:*-04`:                                    false,
		`rule.name:*`:                                       false,
		`host.name:*`:                                       true,
		`not not event.kind:alert`:                          true,
	} {
		e, err := parseKQLExpr(q)
		require.NoError(t, err, q)
		assert.Equal(t, want, e.eval(doc), q)
	}
	for _, bad := range []string{`just words`, `event.kind:`, `event.kind:(alert`, `event.kind:alert)`, `event.kind:alert and`, `"x"`, `event.kind:"alert`, `event.kind:and`} {
		_, err := parseKQLExpr(bad)
		assert.Error(t, err, bad)
	}
	assert.True(t, indexMatches([]string{"filebeat-*", "logs-*"}, "logs-cairn.alerts-default"))
	assert.False(t, indexMatches([]string{"logs-cairn.alerts-*"}, "logs-cairn.events-default"))
}

// cairnAlertDocument runs two events of the scenario's attack through the
// correlate processor with its default rules and returns the alert as the
// ECS document Cairn writes.
func cairnAlertDocument(t *testing.T) map[string]any {
	t.Helper()
	f := correlateprocessor.NewFactory()
	sink := new(consumertest.LogsSink)
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var dec ecs.Decoder
	for _, d := range []string{
		`{"@timestamp":"2026-03-05T14:00:40Z","event":{"kind":"event","module":"cairn","dataset":"cairn.host","category":["process"],"type":["start"]},"host":{"name":"web-03"},"process":{"executable":"/tmp/.x/gs-netcat"},"user":{"name":"root","id":"0"},"cairn":{"signals":["new_binary_on_host","new_binary_in_environment","intel_malicious_hash"]}}`,
		`{"@timestamp":"2026-03-05T14:00:41Z","event":{"kind":"event","module":"cairn","dataset":"cairn.host","category":["network"],"type":["connection","start"]},"host":{"name":"web-03"},"process":{"executable":"/tmp/.x/gs-netcat"},"destination":{"ip":"45.134.26.117","port":80},"cairn":{"signals":["new_external_ip"]}}`,
	} {
		require.NoError(t, dec.Decode([]byte(d), recs.AppendEmpty()))
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	var alert map[string]any
	var enc ecs.Encoder
	for _, l := range sink.AllLogs() {
		event.Each(l, func(res pcommon.Resource, rec plog.LogRecord) {
			var doc map[string]any
			require.NoError(t, json.Unmarshal(enc.Append(nil, res, rec), &doc))
			if e, _ := doc["event"].(map[string]any); e["kind"] == "alert" {
				require.Nil(t, alert, "one alert")
				alert = doc
			}
		})
	}
	require.NotNil(t, alert, "the attack fires an alert")
	return alert
}

// TestOnePromotionPerCairnAlert: on Cairn's alert document, Cairn's rule
// matches and External Alerts with the exception does not; without the
// exception both would. Other products' alerts stay External Alerts'.
func TestOnePromotionPerCairnAlert(t *testing.T) {
	var cairnRule detectionRule
	require.NoError(t, json.Unmarshal(readRepoFile(t, "deploy/kibana/detection_rule.json"), &cairnRule))
	var external prebuiltRule
	require.NoError(t, decodeStrict(readRepoFile(t, "deploy/kibana/prebuilt_external_alerts.json"), &external))
	var exception exceptionItems
	require.NoError(t, decodeStrict(readRepoFile(t, "deploy/kibana/external_alerts_exception.json"), &exception))
	reportErrors(t, checkExceptionItems(exception))
	assert.Equal(t, "https://github.com/elastic/detection-rules/blob/main/rules/promotions/external_alerts.toml", external.Source)
	assert.Contains(t, external.License, "Elastic License 2.0")
	assert.Equal(t, "kuery", external.Language)

	cairnQ, err := parseKQLExpr(cairnRule.Query)
	require.NoError(t, err)
	externalQ, err := parseKQLExpr(external.Query)
	require.NoError(t, err)

	// Where documents go: Cairn's alerts to logs-cairn.alerts-<namespace>,
	// which both rules read.
	const cairnIndex = "logs-cairn.alerts-default"
	require.True(t, indexMatches(cairnRule.Index, cairnIndex))
	require.True(t, indexMatches(external.Index, cairnIndex), "External Alerts reads Cairn's alert index: the overlap is real")

	type promotions struct{ cairn, external bool }
	promote := func(index string, doc map[string][]string) promotions {
		return promotions{
			cairn:    indexMatches(cairnRule.Index, index) && cairnQ.eval(doc),
			external: indexMatches(external.Index, index) && externalQ.eval(doc) && !exception.excepted(doc),
		}
	}

	alert := flatten(cairnAlertDocument(t))
	require.Equal(t, []string{"alert"}, alert["event.kind"])
	require.Equal(t, []string{"cairn"}, alert["event.module"])
	assert.Equal(t, promotions{cairn: true}, promote(cairnIndex, alert), "exactly one rule promotes a Cairn alert: Cairn's")
	assert.True(t, externalQ.eval(alert), "without the exception, External Alerts would promote it as well")

	// A Cairn alert from a release before event.module was set: External
	// Alerts promotes it, Cairn's rule does not; still once.
	old := maps.Clone(alert)
	delete(old, "event.module")
	assert.Equal(t, promotions{external: true}, promote(cairnIndex, old))

	// Another product's alert that went through Cairn (a Falco alert used
	// as a signal, routed to Cairn's alert index by its event.kind) or
	// arrived on its own: External Alerts', once; the exception does not
	// hide it.
	falco := flatten(map[string]any{"event": map[string]any{"kind": "alert", "module": "falco"}, "rule": map[string]any{"name": "Terminal shell in container"}})
	assert.Equal(t, promotions{external: true}, promote(cairnIndex, falco))
	assert.Equal(t, promotions{external: true}, promote("logs-falco.alerts-default", falco))

	// Cairn's events are nobody's alerts.
	ev := flatten(map[string]any{"event": map[string]any{"kind": "event", "module": "cairn", "dataset": "cairn.host"}})
	assert.Equal(t, promotions{}, promote("logs-cairn.events-default", ev))
}
