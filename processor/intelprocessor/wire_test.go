package intelprocessor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/store"
)

// orderedJSON writes v as JSON keeping the maps' insertion order, which is
// the order the ECS encoder writes them in: the bytes of a document.
func orderedJSON(b *strings.Builder, v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		b.WriteByte('{')
		i := 0
		for k, e := range v.Map().All() {
			if i > 0 {
				b.WriteByte(',')
			}
			i++
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			orderedJSON(b, e)
		}
		b.WriteByte('}')
	case pcommon.ValueTypeSlice:
		b.WriteByte('[')
		for i := 0; i < v.Slice().Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			orderedJSON(b, v.Slice().At(i))
		}
		b.WriteByte(']')
	default:
		raw, _ := json.Marshal(v.AsRaw())
		b.Write(raw)
	}
}

// TestEnrichmentWireFormat pins the bytes intel writes for each kind of
// match, in a nested and a flat record. The expected documents were taken
// from the writer before it moved to event.Enrichment: documents written
// before and after that change must be the same, key order included.
func TestEnrichmentWireFormat(t *testing.T) {
	at := time.Date(2026, 3, 5, 14, 0, 40, 0, time.UTC)
	hashField := &checkedField{field: event.Lookup("process.hash.sha256"), kind: kindHash, hashType: indicator.SHA256}
	md5Field := &checkedField{field: event.Lookup("process.hash.md5"), kind: kindHash, hashType: indicator.MD5}
	ipField := &checkedField{field: event.Lookup("destination.ip"), kind: kindIP}
	domainField := &checkedField{field: event.Lookup("dns.question.name"), kind: kindDomain}
	matches := []match{
		{field: hashField, value: strings.ToUpper(gsNetcat), hashType: indicator.SHA256, meta: store.Meta{
			Verdict: indicator.Malicious, Provider: "abuse.ch MalwareBazaar", Name: "gsocket", Confidence: 90,
			FirstSeen: time.Date(2025, 12, 1, 8, 30, 0, 500_000_000, time.UTC)}},
		{field: md5Field, value: evilMD5, hashType: indicator.MD5, meta: store.Meta{Verdict: indicator.Suspicious, Confidence: -1}},
		{field: ipField, value: "45.134.26.117", meta: store.Meta{Verdict: indicator.Malicious, Provider: "ThreatFox", Confidence: 50, Port: 80}},
		{field: ipField, value: "2001:db8::1", meta: store.Meta{Verdict: indicator.Malicious, Provider: "ip list", Confidence: 0}},
		{field: domainField, value: "L.GS.THC.ORG.", meta: store.Meta{Verdict: indicator.Malicious, Provider: "domain list", Confidence: 29}},
	}
	want := map[string]string{
		"nested": `{"event":{"kind":"event"},"threat":{"enrichments":[` + wireEnrichments + `]}}`,
		"flat":   `{"event.kind":"event","threat.enrichments":[` + wireEnrichments + `]}`,
	}
	for shape, attrs := range map[string]map[string]any{
		"nested": {"event": map[string]any{"kind": "event"}},
		"flat":   {"event.kind": "event"},
	} {
		t.Run(shape, func(t *testing.T) {
			ld := plog.NewLogs()
			rl := ld.ResourceLogs().AppendEmpty()
			rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			require.NoError(t, rec.Attributes().FromRaw(attrs))
			v := event.NewView()
			v.Reset(rl.Resource(), rec)
			for i := range matches {
				writeEnrichment(v, &matches[i], at)
			}
			var b strings.Builder
			val := pcommon.NewValueMap()
			rec.Attributes().CopyTo(val.Map())
			orderedJSON(&b, val)
			assert.Equal(t, want[shape], b.String())
		})
	}
}

const wireEnrichments = `{"indicator":{"type":"file","file":{"hash":{"sha256":"362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"}},"provider":"abuse.ch MalwareBazaar","confidence":"High","name":"gsocket","first_seen":"2025-12-01T08:30:00.5Z"},"matched":{"atomic":"362B700C68FF2DC5C4188D32096B9C3D0F61073B9758CF25AB068B095460B9F9","field":"process.hash.sha256","type":"indicator_match_rule","occurred":"2026-03-05T14:00:40Z"},"cairn":{"intel":{"verdict":"malicious"}}},` +
	`{"indicator":{"type":"file","file":{"hash":{"md5":"0749bae92ca336a02c83d126e04ec628"}},"confidence":"Not Specified"},"matched":{"atomic":"0749bae92ca336a02c83d126e04ec628","field":"process.hash.md5","type":"indicator_match_rule","occurred":"2026-03-05T14:00:40Z"},"cairn":{"intel":{"verdict":"suspicious"}}},` +
	`{"indicator":{"type":"ipv4-addr","ip":"45.134.26.117","port":80,"provider":"ThreatFox","confidence":"Medium"},"matched":{"atomic":"45.134.26.117","field":"destination.ip","type":"indicator_match_rule","occurred":"2026-03-05T14:00:40Z"},"cairn":{"intel":{"verdict":"malicious"}}},` +
	`{"indicator":{"type":"ipv6-addr","ip":"2001:db8::1","provider":"ip list","confidence":"None"},"matched":{"atomic":"2001:db8::1","field":"destination.ip","type":"indicator_match_rule","occurred":"2026-03-05T14:00:40Z"},"cairn":{"intel":{"verdict":"malicious"}}},` +
	`{"indicator":{"type":"domain-name","url":{"domain":"l.gs.thc.org"},"provider":"domain list","confidence":"Low"},"matched":{"atomic":"L.GS.THC.ORG.","field":"dns.question.name","type":"indicator_match_rule","occurred":"2026-03-05T14:00:40Z"},"cairn":{"intel":{"verdict":"malicious"}}}`
