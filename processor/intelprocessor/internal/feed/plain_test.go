package feed

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestPlainAllowList(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/allowlist.csv"))
	require.NoError(t, p.err)
	assert.Equal(t, NamePlain, p.format)
	require.Len(t, p.inds, 3, p.values())
	for _, ind := range p.inds {
		assert.Equal(t, indicator.Benign, ind.Verdict, ind.Value)
	}
	updates := p.one(t, "updates.example.com")
	assert.Equal(t, indicator.Domain, updates.Type)
	assert.Equal(t, "IT inventory", updates.Provider)
	assert.Equal(t, 100, updates.Confidence)

	hash := p.one(t, "969e5dec8d99ff74ed9edd7fae97538235be75c1")
	assert.Equal(t, indicator.SHA1, hash.Type)
	assert.Equal(t, "allowlist.csv", hash.Provider, "no source: the file name")
	assert.Equal(t, -1, hash.Confidence)

	assert.Equal(t, indicator.IP, p.one(t, "192.0.2.53").Type)

	// CRLF line ends do not end up in values, and line numbers count
	// blank and comment lines.
	assert.Equal(t, []int{8, 9, 10, 11}, p.problemLines(), p.problemText())
	text := p.problemText()
	assert.Contains(t, text, `line 9: unknown verdict "maybe"`)
	assert.Contains(t, text, "line 10: address range 10.0.0.0/8 is not supported")
	assert.Contains(t, text, `line 11: confidence "101"`)
}

func TestPlainBlockListTSV(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/blocklist.tsv"))
	require.NoError(t, p.err)
	assert.Equal(t, NamePlain, p.format)
	assert.Zero(t, p.st.Skipped, p.problemText())
	require.Len(t, p.inds, 4, p.values())

	assert.Equal(t, indicator.Indicator{
		Type: indicator.Domain, Value: "l.gs.example", Verdict: indicator.Malicious, Provider: "incident-42", Confidence: 90,
	}, p.one(t, "l.gs.example"))
	assert.Equal(t, indicator.Indicator{
		Type: indicator.IP, Value: "203.0.113.77", Verdict: indicator.Malicious, Provider: "blocklist.tsv", Confidence: -1,
	}, p.one(t, "203.0.113.77"))
	v6 := p.one(t, "2001:db8::bad")
	assert.Equal(t, indicator.Suspicious, v6.Verdict)
	assert.Equal(t, "soc", v6.Provider)
	assert.Equal(t, indicator.SHA256, p.one(t, "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c").Type)
}

func TestPlainVariants(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		n          int
		err        string
	}{
		{"BOM and CRLF", "\xEF\xBB\xBFevil.example,malicious\r\n192.0.2.1,allow\r\n", 2, ""},
		{"header reorders columns", "confidence,verdict,note,indicator\n70,bad,whatever,evil.example\n", 1, ""},
		{"quoted fields", "\"evil.example\",\"malicious\"\n", 1, ""},
		{"spaces around fields", "  evil.example ,  malicious  \n", 1, ""},
		{"comments and blanks only", "# nothing yet\n\n   \n", 0, ""},
		{"header only", "indicator,verdict\n", 0, ""},
		{"empty", "", 0, ""},
		{"every line bad", "evil.example\nother.example,perhaps\n", 0, "none of the 2 entries"},
		{"no verdict column in header", "indicator,source\nevil.example,x\n", 0, "none of the 2 entries"},
		{"extra columns without header are ignored", "evil.example,malicious,src,50,extra,more\n", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseWith(t, Plain{}, tc.data)
			if tc.err != "" {
				assert.ErrorContains(t, p.err, tc.err)
			} else {
				require.NoError(t, p.err)
			}
			assert.Len(t, p.inds, tc.n, p.problemText())
		})
	}

	p := parseWith(t, Plain{}, "confidence,verdict,note,indicator\n70,bad,whatever,evil.example\n")
	require.Len(t, p.inds, 1)
	assert.Equal(t, 70, p.inds[0].Confidence)
	assert.Equal(t, ProviderPlain, p.inds[0].Provider, "Parse without a provider")
}

func TestInferType(t *testing.T) {
	for v, want := range map[string]indicator.Type{
		gsNetcat: indicator.SHA256,
		"969E5DEC8D99FF74ED9EDD7FAE97538235BE75C1": indicator.SHA1,
		"0749bae92ca336a02c83d126e04ec628":         indicator.MD5,
		"0749bae92ca336a02c83d126e04ec62g":         indicator.Domain, // not hex: a (strange) name
		"192.0.2.1":                                indicator.IP,
		"[2001:db8::1]":                            indicator.IP,
		"192.0.2.0/24":                             indicator.IP,
		"evil.example":                             indicator.Domain,
		"deadbeef.example":                         indicator.Domain,
	} {
		assert.Equal(t, want, inferType(v), v)
	}
}

func TestNormDomain(t *testing.T) {
	for in, want := range map[string]string{
		"Evil.Example.":         "evil.example",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"bücher.example":        "bücher.example",
		"_dmarc.example.com":    "_dmarc.example.com",
		"wpad":                  "wpad",
	} {
		got, err := normDomain(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", ".", "a..b", ".a.example", "evil[.]example", "a b.example", "1.2.3", "1234",
		"http://evil.example", "evil.example:80", "*.evil.example", "\xff.example", "x\u2003y.example",
		strings.Repeat("a", 64) + ".example"} {
		_, err := normDomain(in)
		assert.Error(t, err, "%q", in)
	}
}

func TestIsLowerHex(t *testing.T) {
	simple := func(b []byte) bool {
		for _, c := range b {
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
		return true
	}
	base := []byte("0123456789abcdef0123456789abcdef")
	for n := 0; n <= len(base); n++ {
		assert.True(t, isLowerHex(base[:n]))
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := append([]byte(nil), base[:n]...)
				b[pos] = byte(c)
				if isLowerHex(b) != simple(b) {
					t.Fatalf("isLowerHex(%q) = %v", b, !simple(b))
				}
			}
		}
	}
}
