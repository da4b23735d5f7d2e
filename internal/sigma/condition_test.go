package sigma

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Four selections on the command line, each matching when the line
// contains its letter.
const fourSelections = `sel_a:
    CommandLine|contains: 'aa'
sel_b:
    CommandLine|contains: 'bb'
filter_c:
    CommandLine|contains: 'cc'
_hidden:
    CommandLine|contains: 'hh'
`

func condMatches(t *testing.T, condition string, line string) bool {
	t.Helper()
	set := compile(t, ruleYAML(fourSelections+"condition: "+yamlQuote(condition)+"\n"))
	return matches(t, set, cmd(line))
}

func TestConditionForms(t *testing.T) {
	cases := []struct {
		cond  string
		yes   []string
		no    []string
		about string
	}{
		{"sel_a", []string{"aa"}, []string{"bb"}, "identifier"},
		{"sel_a and sel_b", []string{"aa bb"}, []string{"aa", "bb"}, "and"},
		{"sel_a or sel_b", []string{"aa", "bb"}, []string{"cc"}, "or"},
		{"not sel_a", []string{"bb", ""}, []string{"aa"}, "not"},
		{"sel_a and not filter_c", []string{"aa"}, []string{"aa cc"}, "and not"},
		{"sel_a or sel_b and filter_c", []string{"aa", "bb cc"}, []string{"bb"}, "and binds tighter than or"},
		{"(sel_a or sel_b) and filter_c", []string{"aa cc", "bb cc"}, []string{"aa"}, "parentheses"},
		{"not sel_a and sel_b", []string{"bb"}, []string{"aa bb"}, "not binds tighter than and"},
		{"not (sel_a and sel_b)", []string{"aa", "bb"}, []string{"aa bb"}, "not of a group"},
		{"1 of sel_*", []string{"aa", "bb"}, []string{"cc"}, "1 of pattern"},
		{"any of sel_*", []string{"aa", "bb"}, []string{"cc"}, "any of"},
		{"all of sel_*", []string{"aa bb"}, []string{"aa"}, "all of pattern"},
		{"1 of them", []string{"aa", "cc"}, []string{"hh", "dd"}, "them leaves _ names out"},
		{"all of them", []string{"aa bb cc"}, []string{"aa bb"}, "all of them"},
		{"1 of *_c", []string{"cc"}, []string{"aa"}, "pattern with a leading *"},
		{"sel_a and not 1 of filter_*", []string{"aa"}, []string{"aa cc"}, "SigmaHQ's filter idiom"},
		{"_hidden", []string{"hh"}, []string{"aa"}, "a _ name by name"},
		{"sel_a and\tsel_b", []string{"aa bb"}, []string{"aa"}, "tabs are blanks"},
		{"not not sel_a", []string{"aa"}, []string{"bb"}, "double negation"},
	}
	for _, c := range cases {
		for _, y := range c.yes {
			assert.True(t, condMatches(t, c.cond, y), "%s: %q should match %q", c.about, c.cond, y)
		}
		for _, n := range c.no {
			assert.False(t, condMatches(t, c.cond, n), "%s: %q should not match %q", c.about, c.cond, n)
		}
	}
}

func TestConditionList(t *testing.T) {
	// A list of conditions is their OR.
	set := compile(t, ruleYAML(fourSelections+"condition:\n    - sel_a and filter_c\n    - sel_b\n"))
	assert.True(t, matches(t, set, cmd("aa cc")))
	assert.True(t, matches(t, set, cmd("bb")))
	assert.False(t, matches(t, set, cmd("aa")))
}

func TestConditionErrors(t *testing.T) {
	for _, c := range []string{
		"sel_x",           // undefined
		"1 of nothing_*",  // matches nothing
		"sel_a and",       // dangling
		"(sel_a",          // unbalanced
		"sel_a)",          // unbalanced
		"sel_a sel_b",     // missing operator
		"sel_* and sel_a", // a pattern outside 1 of
		"2 of sel_*",      // only 1, any, all
		"sel_a AND sel_b", // keywords are lower case (pySigma)
		"sel_a & sel_b",   // not a character of the grammar
		"",                // empty
		"1 of",            // no pattern
		"all of (sel_a)",  // no pattern
		"not",             // nothing negated
	} {
		_, _, err := ParseFile("x.yml", []byte(ruleYAML(fourSelections+"condition: '"+c+"'\n")))
		assert.Error(t, err, "%q", c)
	}
}

func TestAggregationIsUnsupported(t *testing.T) {
	for _, c := range []string{"sel_a | count() by host > 5", "sel_a | near sel_b"} {
		u := unsupportedOf(t, ruleYAML(fourSelections+"condition: '"+c+"'\n"))
		assert.Equal(t, ReasonAggregation, u.Reason, c)
	}
	u := unsupportedOf(t, ruleYAML(fourSelections+"timeframe: 5m\ncondition: sel_a\n"))
	assert.Equal(t, ReasonAggregation, u.Reason)
}

func TestConditionLimits(t *testing.T) {
	deep := strings.Repeat("(", MaxConditionDepth+1) + "sel_a" + strings.Repeat(")", MaxConditionDepth+1)
	u := unsupportedOf(t, ruleYAML(fourSelections+"condition: '"+deep+"'\n"))
	assert.Equal(t, ReasonLimit, u.Reason)
	nots := strings.Repeat("not ", MaxConditionDepth+1) + "sel_a"
	u = unsupportedOf(t, ruleYAML(fourSelections+"condition: '"+nots+"'\n"))
	assert.Equal(t, ReasonLimit, u.Reason)
	long := "sel_a" + strings.Repeat(" or sel_a", MaxConditionBytes/9)
	u = unsupportedOf(t, ruleYAML(fourSelections+"condition: '"+long+"'\n"))
	assert.Equal(t, ReasonLimit, u.Reason)
	// Within the bounds, a deep condition parses.
	ok := strings.Repeat("(", MaxConditionDepth-2) + "sel_a" + strings.Repeat(")", MaxConditionDepth-2)
	set := compile(t, ruleYAML(fourSelections+"condition: '"+ok+"'\n"))
	assert.True(t, matches(t, set, cmd("aa")))
}

func FuzzCondition(f *testing.F) {
	for _, s := range []string{"sel_a", "1 of sel_*", "not (sel_a or sel_b) and all of them", "((", "a | count() > 1", "all of", "sel_a and not 1 of filter_*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseCondition(s)
		if err == nil {
			require.NotNil(t, n)
			// Whatever parses compiles or is refused with an error, and
			// evaluates without panicking.
			rules, _, err := ParseFile("f.yml", []byte(ruleYAML(fourSelections+"condition: "+yamlQuote(s)+"\n")))
			if err == nil && len(rules) == 1 {
				set, _, err := NewRuleSet(rules, Options{})
				require.NoError(t, err)
				matches(t, set, cmd("aa bb"))
			}
		}
	})
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
