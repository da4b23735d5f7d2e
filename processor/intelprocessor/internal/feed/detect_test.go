package feed

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fixtureFormats = map[string]string{
	"constructed/malwarebazaar_recent.csv":                    NameMalwareBazaarCSV,
	"constructed/malwarebazaar_malformed.csv":                 NameMalwareBazaarCSV,
	"constructed/threatfox_recent.csv":                        NameThreatFoxCSV,
	"constructed/threatfox_full.json":                         NameThreatFoxJSON,
	"constructed/threatfox_api.json":                          NameThreatFoxJSON,
	"constructed/misp_response.json":                          NameMISP,
	"constructed/stix_bundle.json":                            NameSTIX2,
	"constructed/allowlist.csv":                               NamePlain,
	"constructed/blocklist.tsv":                               NamePlain,
	"realdata/stix/indicators-for-C2-with-COA.json":           NameSTIX2,
	"realdata/stix/poisonivy.json":                            NameSTIX2,
	"realdata/misp/57c4445b-c548-4654-af0b-4be3950d210f.json": NameMISP,
}

func TestFormatsAndLookup(t *testing.T) {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name())
		got, ok := Lookup(f.Name())
		require.True(t, ok)
		assert.Equal(t, f.Name(), got.Name())
	}
	assert.Equal(t, []string{NameSTIX2, NameMISP, NameThreatFoxJSON, NameMalwareBazaarCSV, NameThreatFoxCSV, NamePlain}, names)
	_, ok := Lookup("csv")
	assert.False(t, ok)
}

// TestDetectFixtures detects every fixture as it is, with CRLF line ends and
// with a UTF-8 BOM, and checks that exactly one Sniff claims it.
func TestDetectFixtures(t *testing.T) {
	for file, want := range fixtureFormats {
		data := readFixture(t, file)
		variants := map[string][]byte{
			"as is":      data,
			"CRLF":       toCRLF(data),
			"BOM":        withBOM(data),
			"BOM+CRLF":   withBOM(toCRLF(data)),
			"leading ws": append([]byte("\n\n  "), data...),
		}
		for name, head := range variants {
			t.Run(file+"/"+name, func(t *testing.T) {
				f, err := Detect(head)
				require.NoError(t, err)
				assert.Equal(t, want, f.Name())
				var claimed []string
				for _, f := range Formats() {
					if f.Sniff(head) {
						claimed = append(claimed, f.Name())
					}
				}
				assert.Equal(t, []string{want}, claimed)
			})
		}
	}
}

func TestDetect(t *testing.T) {
	mbHeader := `# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"`
	tfHeader := `# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous","reporter"`
	mbRow := `"2026-01-15 07:58:12", "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9", "n/a", "n/a", "x", "y", "elf", "application/x-executable", "gsocket"`
	tfRow := `"2026-01-15 08:10:00", "1000001", "192.0.2.10:443", "ip:port", "botnet_cc"`
	for _, tc := range []struct {
		name, head, want string
	}{
		{"MB header alone", mbHeader + "\n", NameMalwareBazaarCSV},
		{"TF header alone", tfHeader + "\n", NameThreatFoxCSV},
		{"MB header not commented", strings.TrimPrefix(mbHeader, "# ") + "\n" + mbRow + "\n", NameMalwareBazaarCSV},
		{"MB row without any comment", mbRow + "\n", NameMalwareBazaarCSV},
		{"TF row without any comment", tfRow + "\n", NameThreatFoxCSV},
		{"MB banner only (export with no rows)", "# MalwareBazaar recent malware samples (CSV)\n# Number of entries: 0\n", NameMalwareBazaarCSV},
		{"TF banner only", "# ThreatFox IOCs: recent additions - CSV format\n", NameThreatFoxCSV},
		// Ambiguous content is settled by the most specific evidence: a
		// column header beats a banner, a row's shape beats a banner.
		{"banner mentions both, TF header decides", "# MalwareBazaar and ThreatFox\n" + tfHeader + "\n", NameThreatFoxCSV},
		{"banner says MB, row is TF", "# MalwareBazaar export\n" + tfRow + "\n", NameThreatFoxCSV},
		{"banner says TF, row is a plain entry", "# exported from ThreatFox by hand\nevil.example,malicious\n", NamePlain},
		{"plain with header", "indicator,verdict\nevil.example,bad\n", NamePlain},
		{"plain header reordered", "verdict\tindicator\nmalicious\tevil.example\n", NamePlain},
		{"plain without header, TSV", "# list\n\n192.0.2.1\tallow\n", NamePlain},
		{"plain hash", "EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C,block\n", NamePlain},
		{"comments only", "# nothing listed yet\n", NamePlain},
		{"plain with a bad first entry", "evil example,malicious\n# note\nevil.example,malicious\n", NamePlain},
		{"STIX type first", `{"type": "bundle", "id": "bundle--1", "objects": []}`, NameSTIX2},
		{"STIX type after objects", `{"id": "bundle--1", "objects": [{"type": "indicator", "id": "indicator--1"}], "type": "bundle"}`, NameSTIX2},
		{"STIX type cut off by the head", `{"id": "bundle--1", "objects": [{"type": "indicator", "id": "indicator--1"}, {"type": "indic`, NameSTIX2},
		{"MISP event", `{"Event": {"info": "x", "Attribute": []}}`, NameMISP},
		{"MISP response", `{"response": [{"Event": {}}]}`, NameMISP},
		{"ThreatFox API", `{"query_status": "ok", "data": []}`, NameThreatFoxJSON},
		{"ThreatFox API, no result", `{"query_status": "no_result", "data": "Your search did not yield any results"}`, NameThreatFoxJSON},
		{"ThreatFox export", `{"1234": [{"ioc_value": "x", "ioc_type": "domain"}]}`, NameThreatFoxJSON},
		{"ThreatFox export cut off", `{"1234": [{"ioc_value": "x", "ioc_t`, NameThreatFoxJSON},
		{"plain list starting with an IPv6 in brackets", "[2001:db8::1],malicious\n", NamePlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Detect([]byte(tc.head))
			require.NoError(t, err)
			assert.Equal(t, tc.want, f.Name())
		})
	}
}

func TestDetectFailures(t *testing.T) {
	for _, tc := range []struct {
		name, head, want string
	}{
		{"unknown text", "hello world\nthis is not a feed\n", `line 1 is "hello world"`},
		{"HTML error page", "<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n", "unrecognised feed format"},
		{"plain line with unknown verdict", "evil.example,perhaps\n", "not \"indicator,verdict\""},
		{"ambiguous banner", "# MalwareBazaar and ThreatFox samples\n", "ambiguous"},
		{"unknown JSON", `{"hello": "world", "items": [1, 2]}`, `keys ["hello" "items"]`},
		{"JSON of another STIX type", `{"type": "indicator", "id": "indicator--1"}`, `"type" "indicator"`},
		{"JSON array", `[{"Event": {}}]`, "JSON array"},
		{"empty JSON object", `{}`, "empty"},
		{"broken JSON", `{"type": "bundle", oops}`, "starts like JSON but is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Detect([]byte(tc.head))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tc.want)
			for _, f := range Formats() {
				assert.False(t, f.Sniff([]byte(tc.head)), f.Name())
			}
		})
	}
	// The error names every format tried.
	_, err := Detect([]byte("nonsense"))
	for _, f := range Formats() {
		assert.Contains(t, err.Error(), f.Name())
	}
}

func TestDetectEmpty(t *testing.T) {
	for _, head := range []string{"", "   \n\r\n\t", "\xEF\xBB\xBF", "\xEF\xBB\xBF\r\n"} {
		_, err := Detect([]byte(head))
		assert.ErrorIs(t, err, ErrEmpty, "%q", head)
	}
}

// TestDetectLongHead checks a head that is cut off mid-line at SniffLen.
func TestDetectLongHead(t *testing.T) {
	var b bytes.Buffer
	for b.Len() < SniffLen {
		b.WriteString("# padding comment line of a long banner\n")
	}
	b.WriteString("evil.example,malicious\n")
	head := b.Bytes()[:SniffLen]
	// The head holds only comments and a partial line: the partial line is
	// not judged, and comments alone make a (so far empty) plain list.
	f, err := Detect(head)
	require.NoError(t, err)
	assert.Equal(t, NamePlain, f.Name())
}

func TestParseFileErrors(t *testing.T) {
	_, _, err := ParseFile(fixture(t, "does-not-exist.csv"), func(_ indicator.Indicator) error { return nil })
	assert.Error(t, err)

	empty := writeTemp(t, "empty.csv", nil)
	f, _, err := ParseFile(empty, func(_ indicator.Indicator) error { return nil })
	assert.ErrorIs(t, err, ErrEmpty)
	assert.Nil(t, f)
	assert.Contains(t, err.Error(), "empty.csv")

	unknown := writeTemp(t, "x.txt", []byte("hello\n"))
	_, _, err = ParseFile(unknown, func(_ indicator.Indicator) error { return nil })
	assert.ErrorContains(t, err, "unrecognised")
}

func TestParseFileProviders(t *testing.T) {
	for file, want := range map[string]string{
		"constructed/malwarebazaar_recent.csv": ProviderMalwareBazaar,
		"constructed/threatfox_recent.csv":     ProviderThreatFox,
		"constructed/threatfox_full.json":      ProviderThreatFox,
		"constructed/blocklist.tsv":            "blocklist.tsv",
		"realdata/stix/poisonivy.json":         ProviderSTIX,
	} {
		p := parseFile(t, fixture(t, file))
		require.NoError(t, p.err)
		require.NotEmpty(t, p.inds)
		assert.Equal(t, want, p.inds[1].Provider, file)
	}
}

func TestEmitErrorStopsParsing(t *testing.T) {
	stop := errors.New("store full")
	for file := range fixtureFormats {
		n := 0
		_, st, err := ParseFile(fixture(t, file), func(_ indicator.Indicator) error {
			n++
			return stop
		})
		require.ErrorIs(t, err, stop, file)
		assert.Equal(t, 1, n, file)
		assert.Zero(t, st.Indicators, file)
	}
}

func TestStatsProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("evil.example,malicious\n")
	for i := range 3 * MaxProblems {
		fmt.Fprintf(&b, "bad entry %d,malicious\n", i)
	}
	p := parseWith(t, Plain{}, b.String())
	require.NoError(t, p.err)
	assert.Equal(t, 1, p.st.Indicators)
	assert.Equal(t, 3*MaxProblems, p.st.Skipped)
	require.Len(t, p.st.Problems, MaxProblems)
	assert.Equal(t, 2, p.st.Problems[0].Line)
	assert.Equal(t, MaxProblems+1, p.st.Problems[MaxProblems-1].Line)
}
