package sigma

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rule(t *testing.T, id, level, status string) *Rule {
	t.Helper()
	doc := "title: R " + id + "\nid: " + id + "\nlevel: " + level + "\n"
	if status != "" {
		doc += "status: " + status + "\n"
	}
	doc += "logsource: {category: process_creation}\ndetection: {s: {Image|endswith: /" + id + "}, condition: s}\n"
	rules, unsup, err := ParseFile(id+".yml", []byte(doc))
	require.NoError(t, err)
	require.Empty(t, unsup)
	return rules[0]
}

func TestOptions(t *testing.T) {
	rules := []*Rule{
		rule(t, "a", "high", "stable"),
		rule(t, "b", "informational", "test"),
		rule(t, "c", "medium", "experimental"),
		rule(t, "d", "low", ""),
		rule(t, "e", "critical", "test"),
		rule(t, "f", "high", "deprecated"),
		rule(t, "g", "high", "test"),
	}
	set, skipped, err := NewRuleSet(rules, Options{MinLevel: LevelLow, Statuses: []string{"stable", "test"}, Exclude: []string{"e"}, MaxRules: 2})
	require.NoError(t, err)
	var ids []string
	for _, r := range set.Rules() {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"a", "d"}, ids, "d has no status: kept")
	why := map[string]string{}
	for _, s := range skipped {
		why[s.Rule.ID] = s.Reason
	}
	assert.Equal(t, map[string]string{"b": SkipLevel, "c": SkipStatus, "e": SkipExcluded, "f": SkipStatus, "g": SkipMaxRules}, why)

	e := set.NewEvaluator()
	got := e.Match(view(t, exe("/usr/bin/a")))
	require.Len(t, got, 1)
	assert.Equal(t, "a", got[0].ID)
	assert.Empty(t, e.Match(view(t, exe("/usr/bin/g"))), "left out by max_rules")

	_, _, err = NewRuleSet([]*Rule{rule(t, "a", "high", ""), rule(t, "a", "low", "")}, Options{})
	assert.ErrorContains(t, err, "appears twice")
}

func TestLabelKeepsTheAuthor(t *testing.T) {
	r := rule(t, "a", "high", "")
	assert.Equal(t, `Sigma rule "R a"`, r.Label())
	r.Author = "Florian Roth (Nextron Systems)"
	assert.Equal(t, `Sigma rule "R a" by Florian Roth (Nextron Systems)`, r.Label())
}

func TestEvaluatorDoesNotAllocate(t *testing.T) {
	set := compile(t, ruleYAML("s:\n    Image|endswith: '/nc'\n    CommandLine|contains: ' -e '\ncondition: s\n"))
	e := set.NewEvaluator()
	v := view(t, proc(map[string]any{"process.executable": "/USR/bin/curl", "process.args": []any{"curl", "-X", "POST", "Http://Example"}}))
	e.Match(v)
	allocs := testing.AllocsPerRun(1000, func() { e.Match(v) })
	assert.Zero(t, allocs)
}
