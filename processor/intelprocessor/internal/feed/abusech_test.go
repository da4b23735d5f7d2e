package feed

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

const gsNetcat = "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"

func TestMalwareBazaarFixture(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/malwarebazaar_recent.csv"))
	require.NoError(t, p.err)
	assert.Equal(t, NameMalwareBazaarCSV, p.format)
	assert.Zero(t, p.st.Skipped, p.problemText())
	// 4 rows with 3 hashes each, but one md5 is n/a.
	assert.Equal(t, 11, p.st.Indicators, p.values())

	gs := p.one(t, gsNetcat)
	assert.Equal(t, indicator.Indicator{
		Type:       indicator.SHA256,
		Value:      gsNetcat,
		Verdict:    indicator.Malicious,
		Provider:   ProviderMalwareBazaar,
		Confidence: -1,
		Name:       "gsocket",
		FirstSeen:  time.Date(2026, 1, 15, 7, 58, 12, 0, time.UTC),
	}, gs)
	md5 := p.one(t, "3b409e4b2950912600c5a368213bc6eb")
	assert.Equal(t, indicator.MD5, md5.Type)
	assert.Equal(t, "gsocket", md5.Name)
	assert.Equal(t, indicator.SHA1, p.one(t, "969e5dec8d99ff74ed9edd7fae97538235be75c1").Type)

	// Upper-case hashes are normalised.
	assert.Equal(t, "AgentTesla", p.one(t, "daf09bb92172e9d599a3ef6b585950ec7256e7f4a27a120a3a02ae632618fd3b").Name)
	assert.Equal(t, indicator.MD5, p.one(t, "d6f6b9b9a7830994f04805c5673b508c").Type)

	// A signature of n/a is no name.
	assert.Empty(t, p.one(t, "05c4f48af9195dce215025b0c3728b8f43b071634844bca8e10a55a448fcee70").Name)

	// "," separators, and a file name with a comma and "" before the
	// signature column.
	emotet := p.one(t, "f33b918d0ad305cbd8e6434ea81af9773fdf720bb58066270723e5697a784d93")
	assert.Equal(t, "Emotet", emotet.Name)
	assert.Equal(t, time.Date(2026, 1, 15, 7, 12, 45, 0, time.UTC), emotet.FirstSeen)
}

func TestMalwareBazaarMalformedLines(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/malwarebazaar_malformed.csv"))
	require.NoError(t, p.err, "bad lines are skipped, not fatal")
	assert.Equal(t, []int{4, 5, 6, 7}, p.problemLines(), p.problemText())
	assert.Contains(t, p.st.Problems[0].Reason, "sha256 must be 64 hex digits")
	assert.Contains(t, p.st.Problems[1].Reason, "unbalanced quotes")
	assert.Contains(t, p.st.Problems[2].Reason, "1 fields")
	assert.Contains(t, p.st.Problems[3].Reason, "md5_hash")
	// Line 3 whole, line 7's SHA-256 and SHA-1 (its MD5 is the bad value).
	assert.Equal(t, 5, p.st.Indicators, p.values())
	assert.Len(t, p.find("ab331e5be3f5ddb357a1e57c851e7952f313757faa1d886f659ae76d598f57da"), 1)
}

func TestMalwareBazaarCRLFAndBOM(t *testing.T) {
	want := parseFile(t, fixture(t, "constructed/malwarebazaar_recent.csv"))
	data := readFixture(t, "constructed/malwarebazaar_recent.csv")
	for name, variant := range map[string][]byte{"crlf": toCRLF(data), "bom": withBOM(data), "both": withBOM(toCRLF(data))} {
		p := parseFile(t, writeTemp(t, "recent.csv", variant))
		require.NoError(t, p.err, name)
		assert.Equal(t, want.inds, p.inds, name)
	}
}

func TestMalwareBazaarHeaderOrder(t *testing.T) {
	// Columns are taken from the header when there is one.
	data := `# MalwareBazaar
# "first_seen_utc","signature","sha1_hash","sha256_hash"
"2026-01-01 00:00:00", "Mirai", "n/a", "` + gsNetcat + `"
`
	p := parseWith(t, MalwareBazaarCSV{}, data)
	require.NoError(t, p.err)
	require.Len(t, p.inds, 1)
	assert.Equal(t, gsNetcat, p.inds[0].Value)
	assert.Equal(t, "Mirai", p.inds[0].Name)
}

func TestMalwareBazaarStructuralErrors(t *testing.T) {
	for name, data := range map[string]string{
		"ThreatFox header":      readString(t, "constructed/threatfox_recent.csv"),
		"header without sha256": "# \"first_seen_utc\",\"md5_hash\"\n",
		"every row bad":         "\"2026-01-01 00:00:00\", \"abc\"\n\"2026-01-01 00:00:00\", \"def\"\n",
		"an HTML page":          "<html><body>502 Bad Gateway</body></html>\n",
	} {
		p := parseWith(t, MalwareBazaarCSV{}, data)
		assert.Error(t, p.err, name)
	}
	// No rows at all is an empty export, not an error.
	p := parseWith(t, MalwareBazaarCSV{}, "# MalwareBazaar recent malware samples (CSV)\n")
	require.NoError(t, p.err)
	assert.Zero(t, p.st.Indicators)
}

func TestMalwareBazaarLongLine(t *testing.T) {
	data := `"2026-01-01 00:00:00", "` + gsNetcat + `", "` + strings.Repeat("x", maxLine+10) + "\"\n" +
		`"2026-01-01 00:00:01", "` + gsNetcat + "\"\n"
	p := parseWith(t, MalwareBazaarCSV{}, data)
	require.NoError(t, p.err)
	assert.Equal(t, 1, p.st.Indicators)
	require.Len(t, p.st.Problems, 1)
	assert.Equal(t, 1, p.st.Problems[0].Line)
	assert.Contains(t, p.st.Problems[0].Reason, "longer than")
	assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), p.inds[0].FirstSeen)
}

func TestThreatFoxCSVFixture(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/threatfox_recent.csv"))
	require.NoError(t, p.err)
	assert.Equal(t, NameThreatFoxCSV, p.format)
	assert.Equal(t, 8, p.st.Indicators, p.values())
	assert.Equal(t, 1, p.st.Ignored, "sha3_384_hash")
	assert.Equal(t, []int{16}, p.problemLines(), p.problemText())

	cs := p.one(t, "192.0.2.10")
	assert.Equal(t, indicator.Indicator{
		Type:       indicator.IP,
		Value:      "192.0.2.10",
		Port:       443,
		Verdict:    indicator.Malicious,
		Provider:   ProviderThreatFox,
		Confidence: 100,
		Name:       "Cobalt Strike",
		FirstSeen:  time.Date(2026, 1, 15, 8, 10, 0, 0, time.UTC),
	}, cs)
	v6 := p.one(t, "2001:db8::7")
	assert.Equal(t, 8443, v6.Port)
	assert.Equal(t, 75, v6.Confidence)

	d := p.one(t, "l.gs.example")
	assert.Equal(t, indicator.Domain, d.Type)
	assert.Equal(t, 50, d.Confidence)
	assert.Zero(t, d.Port)

	// URL IOCs become their host, as a domain or an address, without port.
	u := p.one(t, "payload.example.net")
	assert.Equal(t, indicator.Domain, u.Type)
	assert.Zero(t, u.Port)
	assert.Equal(t, "Unknown malware", u.Name)
	u = p.one(t, "198.51.100.23")
	assert.Equal(t, indicator.IP, u.Type)
	assert.Zero(t, u.Port)

	assert.Equal(t, indicator.SHA256, p.one(t, "7d8f432c4f83dd98d3357e2261dfdb145efd09b28535c7b890797b643d6dc660").Type)
	assert.Equal(t, 90, p.one(t, "04324b465174bc6b42495dd616200873").Confidence)
	assert.Equal(t, -1, p.one(t, "7e7fd6841f66255ecb8266560dc2a6159e353633").Confidence, "a bad confidence is no confidence")
}

func TestThreatFoxCSVNewerLayout(t *testing.T) {
	// Later exports insert is_compromised after confidence_level; the header
	// tells where everything is.
	data := `# ThreatFox IOCs: recent additions - CSV format
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous","reporter"
"2026-01-15 08:10:00", "1", "evil.example", "domain", "botnet_cc", "x", "None", "X", "", "80", "False", "None", "x", "0", "t"
`
	p := parseWith(t, ThreatFoxCSV{}, data)
	require.NoError(t, p.err)
	require.Len(t, p.inds, 1)
	assert.Equal(t, 80, p.inds[0].Confidence)
	assert.Equal(t, "X", p.inds[0].Name)

	// And a header in another order entirely.
	data = `"ioc_type","first_seen_utc","confidence_level","ioc_value","ioc_id"
"ip:port","2026-01-15 08:10:00","60","192.0.2.1:8080","7"
`
	// (A header not starting with first_seen_utc is not a header: this row
	// is malformed and the file has nothing usable.)
	p = parseWith(t, ThreatFoxCSV{}, data)
	assert.Error(t, p.err)

	data = `first_seen_utc,confidence_level,ioc_type,ioc_value,ioc_id
"2026-01-15 08:10:00","60","ip:port","192.0.2.1:8080","7"
`
	p = parseWith(t, ThreatFoxCSV{}, data)
	require.NoError(t, p.err)
	require.Len(t, p.inds, 1)
	assert.Equal(t, 8080, p.inds[0].Port)
	assert.Equal(t, 60, p.inds[0].Confidence)
}

func TestThreatFoxCSVStructuralErrors(t *testing.T) {
	p := parseWith(t, ThreatFoxCSV{}, readString(t, "constructed/malwarebazaar_recent.csv"))
	assert.ErrorContains(t, p.err, "MalwareBazaar")
	p = parseWith(t, ThreatFoxCSV{}, "\"2026-01-15 08:10:00\", \"1\", \"no such thing\", \"domain\"\n")
	assert.ErrorContains(t, p.err, "none of the 1 entries")
}

func TestThreatFoxValue(t *testing.T) {
	for _, tc := range []struct {
		typ, value string
		want       indicator.Indicator
		ignored    bool
		err        string
	}{
		{"ip:port", "192.0.2.1:80", indicator.Indicator{Type: indicator.IP, Value: "192.0.2.1", Port: 80}, false, ""},
		{"ip:port", "[2001:DB8::1]:443", indicator.Indicator{Type: indicator.IP, Value: "2001:db8::1", Port: 443}, false, ""},
		{"ip:port", "::ffff:192.0.2.1", indicator.Indicator{Type: indicator.IP, Value: "192.0.2.1"}, false, ""},
		{"ip:port", "0.0.0.0:80", indicator.Indicator{}, false, "unspecified"},
		{"ip:port", "192.0.2.1:99999", indicator.Indicator{}, false, "not an address"},
		{"domain", "Evil.Example.", indicator.Indicator{Type: indicator.Domain, Value: "evil.example"}, false, ""},
		{"domain", "evil[.]example", indicator.Indicator{}, false, "not a domain"},
		{"url", "https://User@Evil.Example:8443/a?b#c", indicator.Indicator{Type: indicator.Domain, Value: "evil.example"}, false, ""},
		{"url", "http://[2001:db8::2]/x", indicator.Indicator{Type: indicator.IP, Value: "2001:db8::2"}, false, ""},
		{"url", "evil.example/path", indicator.Indicator{Type: indicator.Domain, Value: "evil.example"}, false, ""},
		{"url", "file:///etc/passwd", indicator.Indicator{}, false, "no host"},
		{"sha256_hash", strings.ToUpper(gsNetcat), indicator.Indicator{Type: indicator.SHA256, Value: gsNetcat}, false, ""},
		{"md5_hash", gsNetcat, indicator.Indicator{}, false, "md5"},
		{"sha3_384_hash", "abc", indicator.Indicator{}, true, ""},
		{"email", "a@b", indicator.Indicator{}, false, "unknown ioc_type"},
	} {
		var got indicator.Indicator
		ignored, err := threatFoxValue(tc.typ, tc.value, &got)
		assert.Equal(t, tc.ignored, ignored, "%s %s", tc.typ, tc.value)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%s %s", tc.typ, tc.value)
			continue
		}
		require.NoError(t, err, "%s %s", tc.typ, tc.value)
		if !ignored {
			assert.Equal(t, tc.want, got, "%s %s", tc.typ, tc.value)
		}
	}
}

func TestSplitQuoted(t *testing.T) {
	for _, tc := range []struct {
		line string
		max  int
		want []string
		ok   bool
	}{
		{`"a", "b", "c"`, 0, []string{"a", "b", "c"}, true},
		{`"a","b","c"`, 0, []string{"a", "b", "c"}, true},
		{`"a" , "b" ,"c"  `, 0, []string{"a", "b", "c"}, true},
		{`a, b ,c`, 0, []string{"a", "b", "c"}, true},
		{`"a,b", "c"`, 0, []string{"a,b", "c"}, true},
		{`"say ""hi""", "x"`, 0, []string{`say "hi"`, "x"}, true},
		{`"""", "" ,`, 0, []string{`"`, "", ""}, true},
		{`"a", "b", "c"`, 2, []string{"a", "b"}, true},
		{`"a", "b", "unbalanced`, 2, []string{"a", "b"}, true},
		{`"a", "b`, 0, []string{"a"}, false},
		{`"a" x, "b"`, 0, []string{"a"}, false},
		{``, 0, []string{""}, true},
	} {
		fields, _, ok := splitQuoted([]byte(tc.line), nil, nil, tc.max)
		assert.Equal(t, tc.ok, ok, tc.line)
		got := make([]string, len(fields))
		for i, f := range fields {
			got[i] = string(f)
		}
		assert.Equal(t, tc.want, got, tc.line)
	}
	// Fields with escapes live in scratch, and earlier ones stay intact
	// when scratch grows.
	fields, _, ok := splitQuoted([]byte(`"a""1", "b""2", "c""3"`), nil, make([]byte, 0, 1), 0)
	require.True(t, ok)
	assert.Equal(t, []string{`a"1`, `b"2`, `c"3`}, []string{string(fields[0]), string(fields[1]), string(fields[2])})
}

func TestParseSpaceTime(t *testing.T) {
	var c timeCache
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-15 07:58:12", time.Date(2026, 1, 15, 7, 58, 12, 0, time.UTC), true},
		{"2026-01-15 23:59:59", time.Date(2026, 1, 15, 23, 59, 59, 0, time.UTC), true},
		{"2026-01-16 00:00:00 UTC", time.Date(2026, 1, 16, 0, 0, 0, 0, time.UTC), true},
		{"2026-01-16T01:02:03", time.Date(2026, 1, 16, 1, 2, 3, 0, time.UTC), true},
		{"2024-02-29 12:00:00", time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), true},
		{"2026-02-29 12:00:00", time.Time{}, false},
		{"2026-04-31 12:00:00", time.Time{}, false},
		{"2026-13-01 12:00:00", time.Time{}, false},
		{"2026-01-15 24:00:00", time.Time{}, false},
		{"2026-01-15 07:60:00", time.Time{}, false},
		{"2026-01-15 7:58:12", time.Time{}, false},
		{"2026-01-1x 07:58:12", time.Time{}, false},
		{"", time.Time{}, false},
		{"n/a", time.Time{}, false},
	} {
		got, ok := c.parse([]byte(tc.in))
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		got, ok = parseSpaceTime([]byte(tc.in))
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func readString(t *testing.T, name string) string {
	return string(readFixture(t, name))
}
