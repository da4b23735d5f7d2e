package deploytest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

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
		Technique []any `json:"technique"`
	} `json:"threat"`
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
			!strings.HasSuffix(th.Tactic.Reference, "/"+th.Tactic.ID+"/") {
			add("threat %+v: not a tactic of Cairn's signals (%v)", th, tactics)
		}
		got = append(got, th.Tactic.ID)
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
