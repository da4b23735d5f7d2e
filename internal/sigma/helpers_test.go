package sigma

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
)

// view is an event made of attributes (flat or nested keys, as given),
// read through the event model as the processor reads it.
func view(t testing.TB, attrs map[string]any) *event.View {
	t.Helper()
	rec := plog.NewLogRecord()
	require.NoError(t, rec.Attributes().FromRaw(attrs))
	v := event.NewView()
	v.Reset(pcommon.NewResource(), rec)
	return v
}

// getOnly hides the bulk read of a view, to test the per-field path.
type getOnly struct{ v *event.View }

func (g getOnly) Get(f *event.Field) (pcommon.Value, bool) { return g.v.Get(f) }

// proc is an ECS process start with the given fields (flat keys).
func proc(fields map[string]any) map[string]any {
	m := map[string]any{"event.category": []any{"process"}, "event.type": []any{"start"}}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

func conn(fields map[string]any) map[string]any {
	m := map[string]any{"event.category": []any{"network"}, "event.type": []any{"connection", "start"}}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

// ruleYAML is a process_creation rule with the given detection body
// (indented by four spaces in the document).
func ruleYAML(detection string) string {
	return "title: Test rule\nid: 00000000-0000-0000-0000-000000000001\nstatus: test\nlevel: high\nauthor: Tester\n" +
		"logsource:\n    category: process_creation\n    product: linux\ndetection:\n" + indent(detection, "    ")
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// compile parses one rule that must load.
func compile(t testing.TB, doc string) *RuleSet {
	t.Helper()
	rules, unsup, err := ParseFile("test.yml", []byte(doc))
	require.NoError(t, err)
	require.Empty(t, unsup)
	require.Len(t, rules, 1)
	set, _, err := NewRuleSet(rules, Options{})
	require.NoError(t, err)
	return set
}

// matches evaluates a set on an event three ways (bulk read with the
// prefilter, per-field reads, every rule without the prefilter), requires
// them to agree, and returns whether anything matched.
func matches(t testing.TB, set *RuleSet, attrs map[string]any) bool {
	t.Helper()
	e := set.NewEvaluator()
	a := len(e.Match(view(t, attrs)))
	b := len(e.Match(getOnly{view(t, attrs)}))
	c := len(e.MatchAll(view(t, attrs)))
	require.Equal(t, a, b, "bulk and per-field reads disagree on %v", attrs)
	require.Equal(t, a, c, "the prefilter disagrees with evaluating every rule on %v", attrs)
	return a > 0
}

// unsupportedOf parses one document that must be reported unsupported.
func unsupportedOf(t testing.TB, doc string) Unsupported {
	t.Helper()
	rules, unsup, err := ParseFile("test.yml", []byte(doc))
	require.NoError(t, err)
	require.Empty(t, rules)
	require.Len(t, unsup, 1)
	return unsup[0]
}
