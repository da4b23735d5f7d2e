package feed

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Tests on the real public samples in testdata/realdata (see SOURCES.md).

func TestRealSTIXC2Bundle(t *testing.T) {
	p := parseFile(t, fixture(t, "realdata/stix/indicators-for-C2-with-COA.json"))
	require.NoError(t, p.err)
	assert.Equal(t, NameSTIX2, p.format)
	assert.Zero(t, p.st.Skipped, p.problemText())
	require.Len(t, p.inds, 2, p.values())

	hash := p.one(t, "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c")
	assert.Equal(t, indicator.SHA256, hash.Type)
	assert.Equal(t, indicator.Malicious, hash.Verdict)
	assert.Equal(t, "The MITRE Corporation - DHS Support Team", hash.Provider, "provider from the created_by_ref identity")
	assert.Equal(t, "File hash for Poison Ivy variant", hash.Name)
	assert.Equal(t, -1, hash.Confidence)
	assert.Equal(t, utc("2014-05-08T09:00:00Z"), hash.ValidFrom)
	assert.True(t, hash.ValidUntil.IsZero())
	assert.Equal(t, utc("2017-01-27T13:49:53.997Z"), hash.FirstSeen)
	assert.False(t, hash.ValidAt(utc("2014-05-08T08:59:59Z")))
	assert.True(t, hash.ValidAt(utc("2030-01-01T00:00:00Z")))

	ip := p.one(t, "10.0.0.0")
	assert.Equal(t, indicator.IP, ip.Type)
	assert.Equal(t, "IP Address for known C2 channel", ip.Name)
	assert.Equal(t, "The MITRE Corporation - DHS Support Team", ip.Provider)
}

func TestRealSTIXPoisonIvy(t *testing.T) {
	p := parseFile(t, fixture(t, "realdata/stix/poisonivy.json"))
	require.NoError(t, p.err)
	assert.Equal(t, NameSTIX2, p.format)

	d := p.one(t, "www.webserver.dynssl.com")
	assert.Equal(t, indicator.Domain, d.Type)
	assert.Equal(t, indicator.Malicious, d.Verdict)
	assert.Equal(t, ProviderSTIX, d.Provider, "the report's indicators have no created_by_ref")
	assert.Equal(t, utc("2015-05-15T09:12:16.432678Z"), d.ValidFrom)

	ip := p.one(t, "219.76.208.163")
	assert.Equal(t, indicator.IP, ip.Type)
	assert.Equal(t, "IP address: 219.76.208.163", ip.Name)

	// One OR pattern yields every operand: this address appears in four
	// indicators' patterns.
	assert.Len(t, p.find("113.10.246.30"), 4)
	for _, v := range []string{"microsofta.byinter.net", "microsofte.byinter.net", "98.126.148.114", "3q.wubangtu.info", "123.183.210.28", "ngcc.8800.org"} {
		assert.NotEmpty(t, p.find(v), v)
	}
	assert.Equal(t, 64, p.st.Indicators)

	// The report has two file-name patterns and one value with a stray
	// word ("domain autuo.xicp.net"): each is reported, the rest is used.
	assert.Equal(t, 3, p.st.Skipped, p.problemText())
	assert.Contains(t, p.problemText(), `not a domain name: "domain autuo.xicp.net"`)
	assert.Contains(t, p.problemText(), "comparison on file:name is not supported")
	assert.Len(t, p.find("60.10.1.115"), 1, "the other operand of the broken pattern is still used")
}

func TestRealMISPEvent(t *testing.T) {
	p := parseFile(t, fixture(t, "realdata/misp/57c4445b-c548-4654-af0b-4be3950d210f.json"))
	require.NoError(t, p.err)
	assert.Equal(t, NameMISP, p.format)
	require.Len(t, p.inds, 3, p.values())
	assert.Zero(t, p.st.Skipped, p.problemText())
	// link, link, comment, text, filename, regkey|value
	assert.Equal(t, 6, p.st.Ignored)

	for _, want := range []struct {
		value string
		typ   indicator.Type
		ts    string
	}{
		{"b3c4ae251f8094fa15b510051835c657eaef2a6cea46075d3aec964b14a99f68", indicator.SHA256, "1472480395"},
		{"0749bae92ca336a02c83d126e04ec628", indicator.MD5, "1472480395"},
		{"77b0c41b7d340b8a3d903f21347bbf06aa766b5b", indicator.SHA1, "1472480394"},
	} {
		got := p.one(t, want.value)
		assert.Equal(t, want.typ, got.Type)
		assert.Equal(t, indicator.Malicious, got.Verdict, "to_ids is true")
		assert.Equal(t, "CIRCL", got.Provider, "provider from Orgc")
		assert.Equal(t, "Ransomware - Xorist", got.Name, "name from the event info")
		assert.Equal(t, -1, got.Confidence)
		ts, ok := parseUnix(want.ts)
		require.True(t, ok)
		assert.Equal(t, ts, got.FirstSeen, "first seen from the attribute timestamp")
	}
}
