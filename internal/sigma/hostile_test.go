package sigma

import (
	"fmt"
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileFiles: whatever a file holds, ParseFile returns quickly with
// rules, unsupported reports or an error, and never panics.
func TestHostileFiles(t *testing.T) {
	aliasBomb := "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n"
	for i := 'b'; i <= 'k'; i++ {
		prev := string(i - 1)
		aliasBomb += fmt.Sprintf("%c: &%c [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", i, i, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	aliasRule := "title: A\nid: a\nlevel: low\nlogsource: {category: process_creation}\ndetection:\n    s:\n        Image: &x [" +
		strings.Repeat("'v',", 100) + "'v']\n    t:\n        CommandLine: *x\n    condition: s and t\n"
	cases := map[string]struct {
		doc     string
		wantErr string
		reason  Reason
	}{
		"not YAML":             {doc: "title: [unclosed", wantErr: "yaml"},
		"binary":               {doc: "\x00\x01\x02\xff\xfe", wantErr: "document 1"},
		"a scalar":             {doc: "just a string", wantErr: "must be a map"},
		"deep flow nesting":    {doc: "title: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000), wantErr: "title"},
		"deep detection":       {doc: ruleYAML("s:\n    Image: " + strings.Repeat("[", 100) + "x" + strings.Repeat("]", 100) + "\ncondition: s\n"), wantErr: "values must be"},
		"alias bomb":           {doc: aliasBomb, wantErr: "title"},
		"aliases in values":    {doc: aliasRule},
		"no title":             {doc: "id: x\nlevel: low\nlogsource: {category: process_creation}\ndetection: {s: {Image: x}, condition: s}\n", wantErr: "title"},
		"no id":                {doc: "title: x\nlevel: low\nlogsource: {category: process_creation}\ndetection: {s: {Image: x}, condition: s}\n", wantErr: "id is required"},
		"no level":             {doc: "title: x\nid: x\nlogsource: {category: process_creation}\ndetection: {s: {Image: x}, condition: s}\n", wantErr: "level is required"},
		"bad level":            {doc: "title: x\nid: x\nlevel: severe\nlogsource: {category: process_creation}\ndetection: {s: {Image: x}, condition: s}\n", wantErr: "level"},
		"no condition":         {doc: ruleYAML("s:\n    Image: x\n"), wantErr: "condition"},
		"duplicate key":        {doc: ruleYAML("s:\n    Image: x\n    Image: y\ncondition: s\n"), wantErr: "twice"},
		"map key":              {doc: ruleYAML("s:\n    ? [a, b]\n    : x\ncondition: s\n"), wantErr: "keys must be strings"},
		"list of lists":        {doc: ruleYAML("s:\n    Image:\n        - [a]\ncondition: s\n"), wantErr: "values must be"},
		"empty map":            {doc: ruleYAML("s: {}\ncondition: s\n"), wantErr: "empty map"},
		"mixed list":           {doc: ruleYAML("s:\n    - Image: x\n    - plain\ncondition: s\n"), wantErr: "mixes"},
		"merge key":            {doc: ruleYAML("base: &b {Image: x}\ns:\n    <<: *b\ncondition: s\n"), wantErr: "merge"},
		"too many values":      {doc: ruleYAML("s:\n    Image: [" + strings.Repeat("a,", MaxValues) + "a]\ncondition: s\n"), reason: ReasonLimit},
		"huge value":           {doc: ruleYAML("s:\n    Image: '" + strings.Repeat("a", MaxValueBytes+1) + "'\ncondition: s\n"), reason: ReasonLimit},
		"too many wildcards":   {doc: ruleYAML("s:\n    Image: '" + strings.Repeat("a*", MaxWildcards+1) + "'\ncondition: s\n"), reason: ReasonLimit},
		"too many identifiers": {doc: ruleYAML(manySelections(MaxSearchIdentifiers+1) + "condition: 1 of s*\n"), reason: ReasonLimit},
	}
	for name, c := range cases {
		start := time.Now()
		rules, unsup, err := ParseFile("h.yml", []byte(c.doc))
		assert.Less(t, time.Since(start), 5*time.Second, name)
		switch {
		case c.wantErr != "":
			assert.ErrorContains(t, err, c.wantErr, name)
			assert.Contains(t, fmt.Sprint(err), "h.yml", "%s: the error names the file", name)
		case c.reason != "":
			require.NoError(t, err, name)
			require.Len(t, unsup, 1, name)
			assert.Equal(t, c.reason, unsup[0].Reason, name)
		default:
			require.NoError(t, err, name)
			assert.Len(t, rules, 1, name)
		}
	}
	_, _, err := ParseFile("big.yml", make([]byte, MaxFileBytes+1))
	assert.ErrorContains(t, err, "more than")
	_, _, err = ParseFile("docs.yml", []byte(strings.Repeat("---\n"+ruleYAML("s:\n    Image: x\ncondition: s\n"), MaxDocuments+1)))
	assert.ErrorContains(t, err, "documents")
}

func manySelections(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "s%d:\n    Image: x%d\n", i, i)
	}
	return b.String()
}

func TestMultipleDocuments(t *testing.T) {
	doc := ruleYAML("s:\n    Image: x\ncondition: s\n") + "---\n" +
		strings.Replace(ruleYAML("s:\n    Image: y\ncondition: s\n"), "000000000001", "000000000002", 1) + "---\n" +
		"title: W\nid: w\nlevel: low\nlogsource: {product: windows}\ndetection: {s: {Image: x}, condition: s}\n---\n"
	rules, unsup, err := ParseFile("m.yml", []byte(doc))
	require.NoError(t, err)
	assert.Len(t, rules, 2)
	require.Len(t, unsup, 1)
	assert.Equal(t, "m.yml", unsup[0].File)
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(ruleYAML("s:\n    Image|endswith: '/nc'\n    CommandLine|contains|all: [' -e ', sh]\ncondition: s and not 1 of f*\nf:\n    User: root\n")))
	f.Add([]byte(ruleYAML("s:\n    - CommandLine|re|i: '^a.*b$'\n    - CommandLine|base64offset|contains: x\ncondition: all of them\n")))
	f.Add([]byte("title: A\nid: a\nlevel: low\nlogsource: {product: linux, service: auditd}\ndetection: {s: {type: EXECVE, a0: x}, condition: s}\n"))
	f.Add([]byte("title: x\n---\n- a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, _, err := ParseFile("f.yml", data)
		if err != nil || len(rules) == 0 {
			return
		}
		for i, r := range rules {
			r.ID = fmt.Sprint(i) // documents may repeat ids
		}
		set, _, err := NewRuleSet(rules, Options{})
		require.NoError(t, err)
		for _, ev := range []map[string]any{
			proc(map[string]any{"process.executable": "/usr/bin/nc", "process.args": []any{"nc", "-e", "sh"}, "user.name": "root"}),
			conn(map[string]any{"destination.ip": "10.0.0.1", "destination.port": int64(4444)}),
			{"event.category": "file", "event.type": "creation", "file.path": "/tmp/x"},
		} {
			matches(t, set, ev)
		}
	})
}

// FuzzGlob checks the glob matcher against Go's regexp on the same
// pattern: * is (?s:.*), ? is (?s:.), a dash position one of the dashes.
func FuzzGlob(f *testing.F) {
	f.Add("*a?b*", "xxaébyy", false)
	f.Add("?*?", "€", false)
	f.Add("a*b*c", "abbbc", true)
	f.Add("*?b", "aéb", false)
	f.Add("x-y*", "x\u2013yz", true)
	f.Fuzz(func(t *testing.T, pat, s string, dash bool) {
		// Rule files are YAML, which is Unicode: patterns are valid UTF-8
		// (values need not be).
		if len(pat) > 64 || len(s) > 256 || !utf8.ValidString(pat) {
			return
		}
		// regexp reads an invalid byte of the value as U+FFFD, which a
		// U+FFFD of the pattern then matches; the matcher compares bytes.
		if strings.ContainsRune(pat, utf8.RuneError) {
			return
		}
		p := parsePattern(pat)
		if dash {
			p = p.windash()
		}
		var re strings.Builder
		re.WriteString(`^(?s:`)
		for _, tk := range p {
			switch tk.k {
			case tLit:
				re.WriteString(regexp.QuoteMeta(tk.s))
			case tStar:
				re.WriteString(`.*`)
			case tOne:
				re.WriteString(`.`)
			case tDash:
				re.WriteString("(?:-|/|\u2013|\u2014|\u2015)")
			}
		}
		re.WriteString(`)$`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		m := patternMatcher(p, true)
		var got bool
		it := fitem{raw: s, lower: s}
		got = m.matchOne(&it)
		if got != want {
			t.Fatalf("pattern %q (%v) on %q: got %v, regexp %s says %v", pat, p, s, got, re.String(), want)
		}
	})
}

// TestPrefilterAgreesWithFullEvaluation: random rules over a small
// vocabulary, random events; the prefiltered match must equal evaluating
// every rule.
func TestPrefilterAgreesWithFullEvaluation(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	words := []string{"/bin/sh", "/tmp/", "nc", "-e", "Bash", "python", "pty", "é", "x?y", "a*b", "/dev/shm/"}
	mods := []string{"", "|contains", "|startswith", "|endswith", "|contains|all", "|cased|contains", "|windash|contains", "|re"}
	fields := []string{"Image", "CommandLine", "ParentImage", "User", "CurrentDirectory"}
	pick := func(l []string) string { return l[rng.Intn(len(l))] }
	var rules []*Rule
	for i := 0; i < 200; i++ {
		var det strings.Builder
		nsel := 1 + rng.Intn(3)
		for s := 0; s < nsel; s++ {
			fmt.Fprintf(&det, "sel_%d:\n", s)
			for f := 0; f < 1+rng.Intn(2); f++ {
				mod := pick(mods)
				vals := []string{}
				for v := 0; v < 1+rng.Intn(3); v++ {
					w := pick(words)
					if mod == "|re" {
						w = regexp.QuoteMeta(w)
					}
					vals = append(vals, yamlQuote(w))
				}
				fmt.Fprintf(&det, "    %s%s: [%s]\n", fields[(s+f)%len(fields)], mod, strings.Join(vals, ", "))
			}
		}
		conds := []string{"sel_0", "1 of sel_*", "all of sel_*", "sel_0 and not 1 of sel_*", "not sel_0", "sel_0 or not sel_1"}
		cond := pick(conds)
		if nsel < 2 && strings.Contains(cond, "sel_1") {
			cond = "sel_0"
		}
		fmt.Fprintf(&det, "condition: %s\n", cond)
		doc := strings.Replace(ruleYAML(det.String()), "00000000-0000-0000-0000-000000000001", fmt.Sprint("r", i), 1)
		rs, _, err := ParseFile("r.yml", []byte(doc))
		require.NoError(t, err, doc)
		rules = append(rules, rs...)
	}
	set, _, err := NewRuleSet(rules, Options{})
	require.NoError(t, err)
	e := set.NewEvaluator()
	vals := []string{"/bin/sh", "/tmp/x", "nc -e /bin/sh", "BASH -c python", "pty", "é", "xzy", "a--b", "/dev/shm/q", ""}
	for i := 0; i < 3000; i++ {
		attrs := proc(nil)
		for _, f := range []string{"process.executable", "process.command_line", "process.parent.executable", "user.name", "process.working_directory"} {
			if rng.Intn(3) > 0 {
				attrs[f] = pick(vals) + pick(vals)
			}
		}
		if rng.Intn(4) == 0 {
			delete(attrs, "process.command_line")
			attrs["process.args"] = []any{pick(vals), pick(vals)}
		}
		var got, want []string
		for _, r := range e.Match(view(t, attrs)) {
			got = append(got, r.ID)
		}
		for _, r := range e.MatchAll(view(t, attrs)) {
			want = append(want, r.ID)
		}
		require.Equal(t, want, got, "event %v", attrs)
	}
}

// TestGlobNearMissesStayLinear: a value of a megabyte of near misses
// against a segment that starts with a wildcard and a long literal would
// cost the value's length times the literal's if every place were tried.
func TestGlobNearMissesStayLinear(t *testing.T) {
	lit := strings.Repeat("a", MaxValueBytes-2) + "b"
	value := strings.Repeat("a", 1<<20) + "xb"
	for _, pat := range []string{"*?" + lit + "*", "*?" + lit, "x*?" + lit + "*"} {
		m := patternMatcher(parsePattern(pat).lowered(), false)
		it := fitem{raw: value, lower: value}
		start := time.Now()
		assert.False(t, m.matchOne(&it), pat[:8])
		assert.Less(t, time.Since(start), 2*time.Second, "%s…", pat[:8])
	}
	m := patternMatcher(parsePattern("*?"+lit+"*").lowered(), false)
	hit := strings.Repeat("a", 1<<20) + "b"
	assert.True(t, m.matchOne(&fitem{raw: hit, lower: hit}))
}
