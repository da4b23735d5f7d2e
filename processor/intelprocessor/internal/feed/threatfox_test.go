package feed

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestThreatFoxJSONExport(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/threatfox_full.json"))
	require.NoError(t, p.err)
	assert.Equal(t, NameThreatFoxJSON, p.format)
	assert.Equal(t, 4, p.st.Indicators, p.values())
	assert.Equal(t, 1, p.st.Ignored, "sha3_384_hash")
	require.Equal(t, 1, p.st.Skipped, p.problemText())
	assert.Contains(t, p.st.Problems[0].Reason, "ioc 1000010")
	assert.Zero(t, p.st.Problems[0].Line)

	assert.Equal(t, indicator.Indicator{
		Type:       indicator.IP,
		Value:      "192.0.2.10",
		Port:       443,
		Verdict:    indicator.Malicious,
		Provider:   ProviderThreatFox,
		Confidence: 100,
		Name:       "Cobalt Strike",
		FirstSeen:  time.Date(2026, 1, 15, 8, 10, 0, 0, time.UTC),
	}, p.one(t, "192.0.2.10"))
	assert.Equal(t, 50, p.one(t, "l.gs.example").Confidence, `confidence given as the string "50"`)
	assert.Equal(t, indicator.Domain, p.one(t, "payload.example.net").Type)
	assert.Equal(t, "Mirai", p.one(t, "7d8f432c4f83dd98d3357e2261dfdb145efd09b28535c7b890797b643d6dc660").Name)
}

func TestThreatFoxJSONAPI(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/threatfox_api.json"))
	require.NoError(t, p.err)
	assert.Equal(t, NameThreatFoxJSON, p.format)
	require.Len(t, p.inds, 2, p.values())
	v6 := p.one(t, "2001:db8::7")
	assert.Equal(t, 8443, v6.Port)
	assert.Equal(t, 75, v6.Confidence)
	assert.Equal(t, "gsocket", v6.Name)
	assert.Equal(t, time.Date(2026, 1, 15, 8, 9, 0, 0, time.UTC), v6.FirstSeen, `first_seen with " UTC"`)
	assert.Equal(t, indicator.IP, p.one(t, "198.51.100.23").Type)
}

func TestThreatFoxJSONStructure(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		n          int
		err        string
	}{
		{"no result", `{"query_status": "no_result", "data": "Your search did not yield any results"}`, 0, ""},
		{"status after data", `{"data": [{"ioc": "evil.example", "ioc_type": "domain"}], "query_status": "ok"}`, 1, ""},
		{"error status", `{"query_status": "illegal_auth_key", "data": "x"}`, 0, "illegal_auth_key"},
		{"truncated", `{"1": [{"ioc_value": "evil.example", "ioc_type": "domain"}], "2": [{"ioc_va`, 1, "truncated"},
		{"truncated after a value", `{"1": [{"ioc_value": "evil.example", "ioc_type": "domain"}]`, 1, "truncated"},
		{"not JSON", "evil.example,malicious\n", 0, "invalid JSON"},
		{"empty", "", 0, "no JSON content"},
		{"array", `[{"ioc_value": "evil.example"}]`, 0, "expected a JSON object"},
		{"unrelated object", `{"hello": "world"}`, 0, "neither an export"},
		{"two documents", `{"1": []} {"2": []}`, 0, "after the end"},
		{"entry not a list", `{"1": {"ioc_value": "evil.example", "ioc_type": "domain"}, "2": [{"ioc_value": "good.example", "ioc_type": "domain"}]}`, 1, ""},
		{"entry of the wrong kind", `{"1": ["evil.example"], "2": [{"ioc_value": "x.example", "ioc_type": "domain", "confidence_level": [1]}]}`, 0, ""},
		{"BOM", "\xEF\xBB\xBF" + `{"1": [{"ioc_value": "evil.example", "ioc_type": "domain"}]}`, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseWith(t, ThreatFoxJSON{}, tc.data)
			if tc.err != "" {
				assert.ErrorContains(t, p.err, tc.err)
			} else {
				require.NoError(t, p.err)
			}
			assert.Len(t, p.inds, tc.n)
		})
	}
}
