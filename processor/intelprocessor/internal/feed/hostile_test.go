package feed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Feed files as an attacker would write them. Each case here once crashed
// the collector, hung it, or cost memory or time out of proportion; each
// must now load what is usable and refuse the rest with a reason.

func stixIndicator(id, pattern string) string {
	b, err := json.Marshal(map[string]any{
		"type": "indicator", "id": id, "pattern": pattern, "valid_from": "2026-01-01T00:00:00Z",
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func stixBundle(objects ...string) string {
	return `{"type": "bundle", "id": "bundle--1", "objects": [` + strings.Join(objects, ",") + `]}`
}

const goodPattern = "[domain-name:value = 'good.example']"

// TestSTIXDeepPatternIsRefusedNotFatal: a pattern of a few million "("
// overflowed the goroutine stack, a fatal error that no recover catches,
// at start and on every reload. Each such indicator is now refused on its
// own and the rest of the bundle loads.
func TestSTIXDeepPatternIsRefusedNotFatal(t *testing.T) {
	// Two million levels overflowed the stack; they are over the length
	// limit too. A hundred thousand fit in it and took a 100 MB stack.
	huge, deep := 2_000_000, 100_000
	hugeParens := strings.Repeat("(", huge) + "[domain-name:value = 'deep.example']" + strings.Repeat(")", huge)
	parens := strings.Repeat("(", deep) + "[domain-name:value = 'deep.example']" + strings.Repeat(")", deep)
	brackets := "[" + strings.Repeat("(", deep) + "domain-name:value = 'deep.example'" + strings.Repeat(")", deep) + "]"
	// Qualifiers stack without recursion in the parser, but every one is a
	// level that the walks of the parsed tree recurse through.
	qualifiers := "[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']" + strings.Repeat(" WITHIN 1 SECONDS", MaxPatternDepth+1)
	// Alternating operators build one tree level per parenthesis without
	// any of them being deep on its own.
	var b strings.Builder
	for range MaxPatternDepth {
		b.WriteString("([domain-name:value = 'x.example'] AND ")
	}
	b.WriteString("[domain-name:value = 'x.example']")
	b.WriteString(strings.Repeat(")", MaxPatternDepth))
	data := stixBundle(
		stixIndicator("indicator--good1", goodPattern),
		stixIndicator("indicator--huge", hugeParens),
		stixIndicator("indicator--parens", parens),
		stixIndicator("indicator--brackets", brackets),
		stixIndicator("indicator--qualifiers", qualifiers),
		stixIndicator("indicator--tree", b.String()),
		stixIndicator("indicator--good2", "[ipv4-addr:value = '203.0.113.9']"),
	)
	p := parseWith(t, STIX2{}, data)
	require.NoError(t, p.err)
	assert.Equal(t, []string{"domain:good.example", "ip:203.0.113.9"}, p.values())
	assert.Equal(t, 5, p.st.Limited, p.problemText())
	assert.Equal(t, 5, p.st.Skipped, p.problemText())
	assert.Contains(t, p.problemText(), "indicator--huge: pattern refused: pattern is longer than 1048576 bytes")
	for _, id := range []string{"parens", "brackets", "qualifiers", "tree"} {
		assert.Contains(t, p.problemText(), "indicator--"+id+": pattern refused: pattern nests deeper than 64 levels")
	}
	assert.Contains(t, p.st.FirstLimited.Reason, "indicator--huge")
}

func TestSTIXPatternAtTheDepthLimitIsParsed(t *testing.T) {
	n := MaxPatternDepth - 1 // the brackets are a level too
	pattern := strings.Repeat("(", n) + "[domain-name:value = 'deep.example']" + strings.Repeat(")", n)
	p := parseWith(t, STIX2{}, stixBundle(stixIndicator("indicator--1", pattern)))
	require.NoError(t, p.err)
	assert.Equal(t, []string{"domain:deep.example"}, p.values(), p.problemText())
}

func TestSTIXPatternLengthAndLexerCost(t *testing.T) {
	// An IN list over the length limit is refused as a whole.
	var long strings.Builder
	long.WriteString("[domain-name:value IN (")
	for i := 0; long.Len() <= MaxPatternLen; i++ {
		fmt.Fprintf(&long, "'h%d.example', ", i)
	}
	long.WriteString("'last.example')]")

	// "a[a[a[…a[0]" made the lexer search the rest of the pattern for a
	// "]" at every "[": quadratic.
	quad := "[file:name = 'x'] OR [" + strings.Repeat("a[", (MaxPatternLen-40)/2) + "0]]"
	require.Less(t, len(quad), MaxPatternLen)

	start := time.Now()
	p := parseWith(t, STIX2{}, stixBundle(
		stixIndicator("indicator--long", long.String()),
		stixIndicator("indicator--quad", quad),
		stixIndicator("indicator--good", goodPattern),
	))
	elapsed := time.Since(start)
	require.NoError(t, p.err)
	assert.Equal(t, []string{"domain:good.example"}, p.values())
	assert.Equal(t, 1, p.st.Limited, p.problemText())
	assert.Contains(t, p.problemText(), "indicator--long: pattern refused: pattern is longer than 1048576 bytes")
	assert.Contains(t, p.problemText(), "indicator--quad: cannot parse pattern")
	// Linear, this takes milliseconds; quadratic it took 8 s on a 2-core
	// VM (memchr over 250 GB), and without the length limit a 4 MB pattern
	// took two minutes. The bound is loose for a loaded machine.
	assert.Less(t, elapsed, 2*time.Second)
}

// TestJSONNestingIsBounded: the token walk between entries kept a stack
// entry per open delimiter, with no limit: a file of a billion "[" under a
// key no parser reads cost gigabytes. Entries decoded whole are bounded
// the same way.
func TestJSONNestingIsBounded(t *testing.T) {
	deep := strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)
	nested := func(levels int) string {
		return strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels)
	}
	for _, tc := range []struct {
		name   string
		format Format
		data   string
	}{
		{"STIX, unknown key", STIX2{}, `{"type": "bundle", "x": ` + deep + `, "objects": []}`},
		{"STIX, inside an object", STIX2{}, stixBundle(`{"type": "indicator", "x": ` + nested(MaxJSONDepth) + `}`)},
		{"MISP, unknown key", MISP{}, `{"x": ` + deep + `, "Event": {"info": "x"}}`},
		{"MISP, inside the event", MISP{}, `{"Event": {"info": "x", "Attribute": [{"type": "domain", "value": "a.example", "x": ` + nested(MaxJSONDepth) + `}]}}`},
		{"ThreatFox, unknown key", ThreatFoxJSON{}, `{"query_status": "ok", "x": ` + deep + `}`},
		{"ThreatFox, inside an IOC", ThreatFoxJSON{}, `{"1": [{"ioc_value": "a.example", "ioc_type": "domain", "x": ` + nested(MaxJSONDepth) + `}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseWith(t, tc.format, tc.data)
			require.Error(t, p.err)
			assert.Equal(t, ReasonJSONTooDeep, LimitReason(p.err), p.err.Error())
			assert.ErrorContains(t, p.err, "JSON nested deeper than 100 levels")
		})
	}
}

func TestJSONBracketsInStringsDoNotCount(t *testing.T) {
	name := strings.Repeat(`[{\"`, 500) // escaped quotes must not end the string
	data := stixBundle(
		`{"type": "identity", "id": "identity--1", "name": "`+name+`"}`,
		`{"type": "indicator", "id": "indicator--1", "created_by_ref": "identity--1", "pattern": "[domain-name:value = '[[[{{{.example']", "valid_from": "2026-01-01T00:00:00Z"}`,
		stixIndicator("indicator--2", goodPattern),
	)
	p := parseWith(t, STIX2{}, data)
	require.NoError(t, p.err)
	assert.Equal(t, []string{"domain:good.example"}, p.values())
	// The nested level is the deepest a valid file may have.
	ok := `{"type": "bundle", "objects": [{"type": "x", "a": ` + strings.Repeat("[", MaxJSONDepth-3) + strings.Repeat("]", MaxJSONDepth-3) + `}]}`
	require.NoError(t, parseWith(t, STIX2{}, ok).err)
}

// TestJSONEntrySizeIsBounded: an entry is held in memory whole while it is
// decoded, so one entry of a gigabyte cost a gigabyte (and a MISP event,
// decoded whole, more).
func TestJSONEntrySizeIsBounded(t *testing.T) {
	old := jsonEntryLimit
	jsonEntryLimit = 1 << 20
	t.Cleanup(func() { jsonEntryLimit = old })
	big := strings.Repeat("x", 2<<20)
	for _, tc := range []struct {
		name   string
		format Format
		data   string
	}{
		{"STIX object", STIX2{}, stixBundle(`{"type": "indicator", "name": "` + big + `"}`)},
		{"STIX token", STIX2{}, `{"type": "bundle", "x": "` + big + `"}`},
		{"MISP event", MISP{}, `{"Event": {"info": "` + big + `"}}`},
		{"ThreatFox IOC", ThreatFoxJSON{}, `{"1": [{"ioc_value": "` + big + `", "ioc_type": "domain"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseWith(t, tc.format, tc.data)
			require.Error(t, p.err)
			assert.Equal(t, ReasonEntryTooLarge, LimitReason(p.err), p.err.Error())
		})
	}
	// Many entries each under the limit add up to more than it: fine.
	var objs []string
	for i := range 40 {
		objs = append(objs, stixIndicator(fmt.Sprintf("indicator--%d", i), fmt.Sprintf("[domain-name:value = 'd%d.example']", i)))
		objs = append(objs, `{"type": "note", "content": "`+strings.Repeat("y", 64<<10)+`"}`)
	}
	p := parseWith(t, STIX2{}, stixBundle(objs...))
	require.NoError(t, p.err)
	assert.Len(t, p.inds, 40)
}

func TestFileSizeLimit(t *testing.T) {
	data := []byte("evil.example,malicious\n" + strings.Repeat("# padding\n", 100))
	path := writeTemp(t, "list.csv", data)
	_, _, err := ParseFileLimits(path, Limits{MaxBytes: int64(len(data))}, func(indicator.Indicator) error { return nil })
	require.NoError(t, err, "a file of exactly the limit is fine")
	_, _, err = ParseFileLimits(path, Limits{MaxBytes: int64(len(data)) - 1}, func(indicator.Indicator) error { return nil })
	assert.Equal(t, ReasonFileTooLarge, LimitReason(err))
	assert.ErrorContains(t, err, path)

	// A file that grows after its size was taken is cut off at the limit
	// all the same.
	for _, size := range []int64{10, 1000} {
		_, _, err = ParseOpen(bytes.NewReader(data), size, "growing.csv", Limits{MaxBytes: 50}, func(indicator.Indicator) error { return nil })
		assert.Equal(t, ReasonFileTooLarge, LimitReason(err), "stat size %d", size)
	}
}

func TestIndicatorLimit(t *testing.T) {
	var list strings.Builder
	for i := range 10 {
		fmt.Fprintf(&list, "h%d.example,malicious\n", i)
	}
	path := writeTemp(t, "list.csv", []byte(list.String()))
	n := 0
	_, _, err := ParseFileLimits(path, Limits{MaxIndicators: 10}, func(indicator.Indicator) error { n++; return nil })
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	_, _, err = ParseFileLimits(path, Limits{MaxIndicators: 9}, func(indicator.Indicator) error { return nil })
	assert.Equal(t, ReasonTooManyIndicators, LimitReason(err))
	assert.ErrorContains(t, err, "more than 9 indicators")

	// STIX indicators that name an identity the bundle has not shown yet
	// are held back; they count against the limit while held.
	var objs []string
	for i := range 10 {
		objs = append(objs, `{"type": "indicator", "id": "indicator--`+fmt.Sprint(i)+`", "created_by_ref": "identity--late", "pattern": "[domain-name:value = 'h`+fmt.Sprint(i)+`.example']"}`)
	}
	objs = append(objs, `{"type": "identity", "id": "identity--late", "name": "Late CERT"}`)
	path = writeTemp(t, "bundle.json", []byte(stixBundle(objs...)))
	emitted := 0
	_, _, err = ParseFileLimits(path, Limits{MaxIndicators: 5}, func(indicator.Indicator) error { emitted++; return nil })
	assert.Equal(t, ReasonTooManyIndicators, LimitReason(err))
	assert.Zero(t, emitted, "refused while still held back")
	var got []indicator.Indicator
	_, _, err = ParseFileLimits(path, Limits{MaxIndicators: 10}, func(ind indicator.Indicator) error { got = append(got, ind); return nil })
	require.NoError(t, err)
	require.Len(t, got, 10)
	assert.Equal(t, "Late CERT", got[0].Provider)
}

func TestLongLinesAreCountedAsLimited(t *testing.T) {
	data := "good.example,malicious\n" + strings.Repeat("x", maxLine+1) + "\nother.example,malicious\n"
	p := parseWith(t, Plain{}, data)
	require.NoError(t, p.err)
	assert.Len(t, p.inds, 2)
	assert.Equal(t, 1, p.st.Limited)
	assert.Equal(t, Problem{Line: 2, Reason: "line longer than 1048576 bytes"}, p.st.FirstLimited)

	mb := "# \"first_seen_utc\",\"sha256_hash\",\"md5_hash\",\"sha1_hash\"\n" + strings.Repeat("y", maxLine+1) + "\n" +
		"\"2026-01-01 00:00:00\", \"" + strings.Repeat("a", 64) + "\", \"" + strings.Repeat("b", 32) + "\", \"" + strings.Repeat("c", 40) + "\"\n"
	p = parseWith(t, MalwareBazaarCSV{}, mb)
	require.NoError(t, p.err)
	assert.Len(t, p.inds, 3)
	assert.Equal(t, 1, p.st.Limited)
}

func TestLongNamesAreClipped(t *testing.T) {
	name := strings.Repeat("é", 1000)
	data := stixBundle(
		`{"type": "identity", "id": "identity--1", "name": "`+strings.Repeat("P", 1000)+`"}`,
		`{"type": "indicator", "id": "indicator--1", "created_by_ref": "identity--1", "name": "`+name+`", "pattern": "`+goodPattern+`"}`,
	)
	p := parseWith(t, STIX2{}, data)
	require.NoError(t, p.err)
	require.Len(t, p.inds, 1)
	assert.LessOrEqual(t, len(p.inds[0].Name), MaxText)
	assert.LessOrEqual(t, len(p.inds[0].Provider), MaxText)
	assert.True(t, strings.HasPrefix(p.inds[0].Name, "éé"))
	assert.True(t, strings.HasSuffix(p.inds[0].Name, "é…"), "cut between characters")
}

func TestSTIXIdentitiesAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type": "bundle", "objects": [`)
	for i := range maxIdentities + 2 {
		fmt.Fprintf(&b, `{"type":"identity","id":"identity--%d","name":"n"},`, i)
	}
	b.WriteString(`{"type": "indicator", "id": "indicator--1", "created_by_ref": "identity--0", "pattern": "` + goodPattern + `"}]}`)
	p := parseWith(t, STIX2{}, b.String())
	require.NoError(t, p.err)
	require.Len(t, p.inds, 1)
	assert.Equal(t, "n", p.inds[0].Provider)
	assert.Equal(t, 2, p.st.Limited)
}
