package feed

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestSTIXConstructedBundle(t *testing.T) {
	p := parseFile(t, fixture(t, "constructed/stix_bundle.json"))
	require.NoError(t, p.err)
	assert.Equal(t, NameSTIX2, p.format)
	assert.Equal(t, 6, p.st.Indicators, p.values())
	assert.Equal(t, 2, p.st.Ignored, "the sigma pattern and the revoked indicator")
	assert.Empty(t, p.find("revoked.example"))
	assert.Empty(t, p.find("backwards.example"))
	assert.Empty(t, p.find("unclosed.example"))

	// Validity window, and the identity that comes after the indicator.
	relay := p.one(t, "relay.gs.example")
	assert.Equal(t, indicator.Domain, relay.Type)
	assert.Equal(t, indicator.Malicious, relay.Verdict)
	assert.Equal(t, "Cairn Test CERT", relay.Provider)
	assert.Equal(t, 85, relay.Confidence)
	assert.Equal(t, "gsocket relay, valid for January 2026", relay.Name)
	assert.Equal(t, utc("2026-01-01T00:00:00Z"), relay.ValidFrom)
	assert.Equal(t, utc("2026-02-01T00:00:00Z"), relay.ValidUntil)
	assert.False(t, relay.ValidAt(utc("2025-12-31T23:59:59Z")))
	assert.True(t, relay.ValidAt(utc("2026-01-01T00:00:00Z")))
	assert.True(t, relay.ValidAt(utc("2026-01-31T23:59:59Z")))
	assert.False(t, relay.ValidAt(utc("2026-02-01T00:00:00Z")), "valid_until is exclusive")
	ip := p.one(t, "203.0.113.5")
	assert.Equal(t, indicator.IP, ip.Type, "a /32 is one address")
	assert.Equal(t, relay.ValidUntil, ip.ValidUntil)
	assert.Equal(t, "Cairn Test CERT", ip.Provider)

	// Benign indicator types make allow-list entries; offsets become UTC.
	md5 := p.one(t, "3b409e4b2950912600c5a368213bc6eb")
	assert.Equal(t, indicator.Benign, md5.Verdict)
	assert.Equal(t, indicator.MD5, md5.Type)
	assert.Equal(t, ProviderSTIX, md5.Provider)
	assert.Equal(t, utc("2026-01-01T22:00:00Z"), md5.ValidFrom)
	assert.Equal(t, indicator.Benign, p.one(t, "969e5dec8d99ff74ed9edd7fae97538235be75c1").Verdict)

	// anomalous-activity is suspicious; IN lists give each member.
	for _, v := range []string{"2001:db8::1", "2001:db8::2"} {
		got := p.one(t, v)
		assert.Equal(t, indicator.Suspicious, got.Verdict)
		assert.Equal(t, indicator.IP, got.Type)
	}

	text := p.problemText()
	for _, want := range []string{
		"000000000103: ipv4-addr:value: address range 198.51.100.0/24 is not supported",
		"000000000104: AND of 2 parts",
		"000000000104: FOLLOWEDBY of 2 parts",
		"000000000104: a qualified observation",
		"000000000104: comparison on url:value is not supported",
		"000000000107: valid_until 2026-01-06T00:00:00Z is not after valid_from",
		"000000000108: cannot parse pattern",
	} {
		assert.Contains(t, text, want)
	}
	assert.Equal(t, 7, p.st.Skipped, text)
}

func TestSTIXStructure(t *testing.T) {
	ind := `{"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value = 'evil.example']", "valid_from": "2026-01-01T00:00:00Z"}`
	for _, tc := range []struct {
		name, data string
		n          int
		err        string
	}{
		{"minimal", `{"type": "bundle", "objects": [` + ind + `]}`, 1, ""},
		{"type last", `{"objects": [` + ind + `], "id": "bundle--1", "type": "bundle"}`, 1, ""},
		{"empty bundle", `{"type": "bundle", "id": "bundle--1"}`, 0, ""},
		{"truncated", `{"type": "bundle", "objects": [` + ind + `, {"type": "indi`, 1, "truncated"},
		{"truncated in a string", `{"type": "bundle", "objects": [{"type": "indicator", "pattern": "[domain-name:val`, 0, "truncated"},
		{"not a bundle", `{"type": "indicator", "objects": [` + ind + `]}`, 1, `"type" is "indicator"`},
		{"no type", `{"objects": [` + ind + `]}`, 1, "not a STIX bundle"},
		{"objects of the wrong kind", `{"type": "bundle", "objects": ["x", 1, ` + ind + `]}`, 1, ""},
		{"invalid JSON", `{"type": "bundle", "objects": [` + ind + `,, ]}`, 1, "invalid JSON"},
		{"no pattern", `{"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--2"}]}`, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseWith(t, STIX2{}, tc.data)
			if tc.err != "" {
				assert.ErrorContains(t, p.err, tc.err)
			} else {
				require.NoError(t, p.err)
			}
			assert.Len(t, p.inds, tc.n)
		})
	}
}

func TestSTIXIndicatorFields(t *testing.T) {
	bundle := func(obj string) string { return `{"type": "bundle", "objects": [` + obj + `]}` }
	for _, tc := range []struct {
		name, obj string
		want      func(t *testing.T, p parsed)
	}{
		{"STIX 2.0 labels and hash spelling", `{"type": "indicator", "id": "indicator--1", "labels": ["benign"], "pattern": "[file:hashes.sha256 = '` + gsNetcat + `']", "valid_from": "2017-01-01T00:00:00Z"}`,
			func(t *testing.T, p parsed) {
				require.Len(t, p.inds, 1)
				assert.Equal(t, indicator.Benign, p.inds[0].Verdict)
				assert.Equal(t, indicator.SHA256, p.inds[0].Type)
			}},
		{"unknown indicator type is malicious", `{"type": "indicator", "id": "indicator--1", "indicator_types": ["unknown", "malicious-activity"], "pattern": "[ipv6-addr:value = '2001:db8::1/128']", "valid_from": "2017-01-01T00:00:00Z"}`,
			func(t *testing.T, p parsed) {
				require.Len(t, p.inds, 1)
				assert.Equal(t, indicator.Malicious, p.inds[0].Verdict)
				assert.Equal(t, "2001:db8::1", p.inds[0].Value)
			}},
		{"confidence out of range", `{"type": "indicator", "id": "indicator--1", "confidence": 400, "pattern": "[domain-name:value = 'a.example']", "valid_from": "2017-01-01T00:00:00Z"}`,
			func(t *testing.T, p parsed) {
				require.Len(t, p.inds, 1)
				assert.Equal(t, -1, p.inds[0].Confidence)
			}},
		{"bad valid_from", `{"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value = 'a.example']", "valid_from": "yesterday"}`,
			func(t *testing.T, p parsed) {
				assert.Empty(t, p.inds)
				assert.Contains(t, p.problemText(), "valid_from")
			}},
		{"equal window", `{"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value = 'a.example']", "valid_from": "2017-01-01T00:00:00Z", "valid_until": "2017-01-01T00:00:00Z"}`,
			func(t *testing.T, p parsed) {
				assert.Empty(t, p.inds)
				assert.Contains(t, p.problemText(), "not after")
			}},
		{"unresolved identity", `{"type": "indicator", "id": "indicator--1", "created_by_ref": "identity--nowhere", "pattern": "[domain-name:value = 'a.example']", "valid_from": "2017-01-01T00:00:00Z"}`,
			func(t *testing.T, p parsed) {
				require.Len(t, p.inds, 1)
				assert.Equal(t, ProviderSTIX, p.inds[0].Provider)
			}},
		{"negation, other operators", `{"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value NOT = 'a.example' OR domain-name:value LIKE '%.example' OR domain-name:value != 'b.example' OR file:size > 10]", "valid_from": "2017-01-01T00:00:00Z"}`,
			func(t *testing.T, p parsed) {
				assert.Empty(t, p.inds)
				assert.Equal(t, 4, p.st.Skipped, p.problemText())
			}},
		{"escaped quote", `{"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value = 'it\\'s.example']", "valid_from": "2017-01-01T00:00:00Z"}`,
			func(t *testing.T, p parsed) {
				assert.Empty(t, p.inds)
				assert.Contains(t, p.problemText(), `it's.example`)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := parseWith(t, STIX2{}, bundle(tc.obj))
			require.NoError(t, p.err)
			tc.want(t, p)
		})
	}
}

func TestSTIXPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern  string
		usable   []string // path=value of the sufficient comparisons
		unusable int
		err      string
	}{
		{"[file:hashes.'SHA-256' = 'ab']", []string{"file:hashes.'SHA-256'=ab"}, 0, ""},
		{"[a:b = 'x' OR c:d = 'y']", []string{"a:b=x", "c:d=y"}, 0, ""},
		{"[a:b = 'x'] OR [c:d = 'y']", []string{"a:b=x", "c:d=y"}, 0, ""},
		{"([a:b = 'x'] OR ([c:d = 'y']))", []string{"a:b=x", "c:d=y"}, 0, ""},
		{"[(a:b = 'x' OR c:d = 'y')]", []string{"a:b=x", "c:d=y"}, 0, ""},
		{"[a:b = 'x' AND c:d = 'y' OR e:f = 'z']", []string{"e:f=z"}, 1, ""},
		{"[a:b = 'x' AND (c:d = 'y' OR e:f = 'z')]", nil, 1, ""},
		{"[a:b = 'x'] AND [c:d = 'y'] OR [e:f = 'z']", []string{"e:f=z"}, 1, ""},
		{"[a:b = 'x'] FOLLOWEDBY [c:d = 'y'] OR [e:f = 'z']", nil, 1, ""},
		{"[a:b = 'x'] REPEATS 5 TIMES OR [c:d = 'y']", []string{"c:d=y"}, 1, ""},
		{"[a:b = 'x'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'", nil, 1, ""},
		{"[a:b IN ('x', 'y')]", []string{"a:b=x", "a:b=y"}, 0, ""},
		{"[a:b[*].c = 'x']", []string{"a:b[*].c=x"}, 0, ""},
		{"[a:b = 'x' or c:d = 'y']", []string{"a:b=x", "c:d=y"}, 0, ""},
		{"[a:b = 'x'", nil, 0, "expected ']'"},
		{"[a:b = 'x]", nil, 0, "unterminated"},
		{"[a:b ~ 'x']", nil, 0, "unexpected"},
		{"[a:b = ]", nil, 0, "expected a value"},
		{"[= 'x']", nil, 0, "expected an object path"},
		{"a:b = 'x'", nil, 0, "expected '['"},
		{"[a:b = 'x'] junk", nil, 0, "unexpected"},
		{"", nil, 0, "expected '['"},
	} {
		tree, err := parsePattern(tc.pattern)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.pattern)
			continue
		}
		require.NoError(t, err, tc.pattern)
		cmps, unusable := tree.sufficient(nil, nil)
		var got []string
		for _, c := range cmps {
			for _, v := range c.values {
				got = append(got, c.path+c.op[:0]+"="+v)
			}
		}
		assert.Equal(t, tc.usable, got, tc.pattern)
		assert.Len(t, unusable, tc.unusable, "%s: %s", tc.pattern, strings.Join(unusable, "; "))
	}
}
