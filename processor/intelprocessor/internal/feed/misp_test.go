package feed

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestMISPResponseCompositeTypes(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/misp_response.json"))
	require.NoError(t, p.err)
	assert.Equal(t, NameMISP, p.format)
	assert.Equal(t, 8, p.st.Indicators, p.values())
	// url, the deleted sha1, the filename object attribute
	assert.Equal(t, 3, p.st.Ignored)
	text := p.problemText()
	assert.Contains(t, text, "attribute a5: ip-src: address range 192.0.2.0/24 is not supported")
	assert.Contains(t, text, "attribute a9: md5:")
	assert.Equal(t, 2, p.st.Skipped, text)

	// domain|ip gives both parts.
	d := p.one(t, "relay.gs.example")
	assert.Equal(t, indicator.Domain, d.Type)
	assert.Equal(t, indicator.Malicious, d.Verdict)
	assert.Equal(t, "Cairn Test Org", d.Provider)
	assert.Equal(t, "Constructed gsocket campaign", d.Name)
	assert.Equal(t, -1, d.Confidence)
	ts, _ := parseUnix("1768464000")
	assert.Equal(t, ts, d.FirstSeen)
	assert.Equal(t, indicator.IP, p.one(t, "203.0.113.5").Type)

	// ip-dst|port gives the address with its port, IPv4 and IPv6.
	assert.Equal(t, 7350, p.one(t, "198.51.100.7").Port)
	assert.Equal(t, 53, p.one(t, "2001:db8::53").Port)

	// filename|sha256 gives the hash, normalised; first_seen beats timestamp.
	h := p.one(t, gsNetcat)
	assert.Equal(t, indicator.SHA256, h.Type)
	assert.Equal(t, utc("2026-01-10T12:00:00Z"), h.FirstSeen)

	// to_ids false is suspicious.
	assert.Equal(t, indicator.Suspicious, p.one(t, "cdn.gs.example").Verdict)

	// Attributes of objects count too.
	assert.Equal(t, indicator.SHA1, p.one(t, "969e5dec8d99ff74ed9edd7fae97538235be75c1").Type)
	assert.Empty(t, p.find("e5a5cdd646ce0d95e62ab00b040abdc20b761d0f"), "deleted attribute")

	// The second event has no Orgc; its /32 is one address.
	other := p.one(t, "192.0.2.200")
	assert.Equal(t, ProviderMISP, other.Provider)
	assert.Equal(t, indicator.Suspicious, other.Verdict)
	assert.Equal(t, "Constructed allow-list event without Orgc", other.Name)
}

func TestMISPStructure(t *testing.T) {
	attr := `{"type": "domain", "value": "evil.example", "to_ids": true}`
	for _, tc := range []struct {
		name, data string
		n          int
		err        string
	}{
		{"event", `{"Event": {"info": "x", "Attribute": [` + attr + `]}}`, 1, ""},
		{"event without attributes", `{"Event": {"info": "x"}}`, 0, ""},
		{"truncated", `{"Event": {"info": "x", "Attribute": [` + attr + `, {"type": "dom`, 0, "truncated"},
		{"event not an object", `{"Event": [` + attr + `]}`, 0, "Event"},
		{"response not a list", `{"response": {"Attribute": [` + attr + `]}}`, 0, "not a list"},
		{"response with a bad element", `{"response": [{"Event": {"Attribute": [` + attr + `]}}, {"Event": []}, {"x": 1}]}`, 1, ""},
		{"unrelated object", `{"Events": []}`, 0, "neither"},
		{"attribute of the wrong kind", `{"Event": {"Attribute": [{"type": "domain", "value": {"x": 1}}, "text", ` + attr + `]}}`, 1, ""},
		{"to_ids as string", `{"Event": {"Attribute": [{"type": "domain", "value": "evil.example", "to_ids": "0"}]}}`, 1, ""},
		{"composite with missing part", `{"Event": {"Attribute": [{"type": "ip-dst|port", "value": "192.0.2.1"}]}}`, 0, ""},
		{"bad port", `{"Event": {"Attribute": [{"type": "ip-dst|port", "value": "192.0.2.1|http"}]}}`, 0, ""},
		{"hostname|port", `{"Event": {"Attribute": [{"type": "hostname|port", "value": "evil.example|8080"}]}}`, 1, ""},
		{"malware-sample", `{"Event": {"Attribute": [{"type": "malware-sample", "value": "x.exe|0749BAE92CA336A02C83D126E04EC628"}]}}`, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseWith(t, MISP{}, tc.data)
			if tc.err != "" {
				assert.ErrorContains(t, p.err, tc.err)
			} else {
				require.NoError(t, p.err)
			}
			assert.Len(t, p.inds, tc.n, p.problemText())
		})
	}
}

func TestMISPPortOnlyOnAddresses(t *testing.T) {
	p := parseWith(t, MISP{}, `{"Event": {"Attribute": [{"type": "hostname|port", "value": "evil.example|8080", "to_ids": true}, {"type": "to_ids", "value": "x"}]}}`)
	require.NoError(t, p.err)
	require.Len(t, p.inds, 1)
	assert.Zero(t, p.inds[0].Port, "Port is for ip:port indicators")
	assert.Equal(t, 1, p.st.Ignored)
}
