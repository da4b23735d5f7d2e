package event

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

const testHash = "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"

// enrichView is a View on a record with attrs (its own helper, so that
// these tests do not depend on view_test.go's).
func enrichView(t *testing.T, attrs map[string]any) *View {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, rec.Attributes().FromRaw(attrs))
	v := NewView()
	v.Reset(rl.Resource(), rec)
	return v
}

// full sets every field of an Enrichment.
func full() Enrichment {
	return Enrichment{
		Indicator: Indicator{
			Type:        IndicatorTypeFile,
			FileHash:    FileHash{MD5: "0749bae92ca336a02c83d126e04ec628", SHA1: "da39a3ee5e6b4b0d3255bfef95601890afd80709", SHA256: testHash},
			IP:          "45.134.26.117",
			Port:        80,
			Domain:      "l.gs.thc.org",
			URL:         "http://l.gs.thc.org/x",
			Provider:    "abuse.ch MalwareBazaar",
			Confidence:  "High",
			Name:        "gsocket",
			Description: "relay client",
			Reference:   "https://bazaar.abuse.ch/sample/" + testHash + "/",
			FirstSeen:   time.Date(2025, 12, 1, 8, 30, 0, 500_000_000, time.UTC),
			LastSeen:    time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		},
		Matched: Matched{
			Atomic: testHash, Field: "process.hash.sha256", Type: MatchTypeIndicatorMatchRule,
			ID: "ff93aee5", Index: "logs-ti_abusech.malware-default",
			Occurred: time.Date(2026, 3, 5, 14, 0, 40, 0, time.UTC),
		},
		FeedName: "AbuseCH Malware",
		Verdict:  "malicious",
	}
}

func TestEnrichmentPutToAndRead(t *testing.T) {
	e := full()
	m := pcommon.NewMap()
	e.PutTo(m)
	assert.Equal(t, map[string]any{
		"indicator": map[string]any{
			"type": "file",
			"file": map[string]any{"hash": map[string]any{
				"md5": "0749bae92ca336a02c83d126e04ec628", "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha256": testHash}},
			"ip": "45.134.26.117", "port": int64(80),
			"url":      map[string]any{"domain": "l.gs.thc.org", "full": "http://l.gs.thc.org/x"},
			"provider": "abuse.ch MalwareBazaar", "confidence": "High", "name": "gsocket",
			"description": "relay client", "reference": "https://bazaar.abuse.ch/sample/" + testHash + "/",
			"first_seen": "2025-12-01T08:30:00.5Z", "last_seen": "2026-01-02T00:00:00Z",
		},
		"matched": map[string]any{
			"atomic": testHash, "field": "process.hash.sha256", "type": "indicator_match_rule",
			"id": "ff93aee5", "index": "logs-ti_abusech.malware-default", "occurred": "2026-03-05T14:00:40Z",
		},
		"feed":  map[string]any{"name": "AbuseCH Malware"},
		"cairn": map[string]any{"intel": map[string]any{"verdict": "malicious"}},
	}, m.AsRaw())

	got, ok := ReadEnrichment(m)
	require.True(t, ok)
	assert.Equal(t, e, got, "what PutTo writes reads back the same")

	// Empty members are left out entirely.
	m = pcommon.NewMap()
	(&Enrichment{Indicator: Indicator{Type: IndicatorTypeIPv4, IP: "1.2.3.4"}}).PutTo(m)
	assert.Equal(t, map[string]any{"indicator": map[string]any{"type": "ipv4-addr", "ip": "1.2.3.4"}, "matched": map[string]any{}}, m.AsRaw())
}

// TestReadEnrichmentShapes: enrichments from elsewhere (OTLP senders with
// dotted keys, ECS documents with arrays, epoch-millisecond dates) read
// the same as nested ones.
func TestReadEnrichmentShapes(t *testing.T) {
	m := pcommon.NewMap()
	require.NoError(t, m.FromRaw(map[string]any{
		"indicator.type":             []any{"file", "ipv4-addr"},
		"indicator":                  map[string]any{"file.hash.sha256": testHash, "port": 443.0},
		"indicator.provider":         "feed",
		"indicator.first_seen":       int64(1764577800500),
		"matched":                    map[string]any{"atomic": testHash, "field": "file.hash.sha256"},
		"cairn.intel.verdict":        "suspicious",
		"indicator.last_seen":        "not a date",
		"indicator.confidence":       42, // not a string: not read
		"matched.occurred":           "2026-03-05T14:00:40.250+01:00",
		"something.cairn.knows.not":  "x",
		"indicator.url.domain.extra": "x",
	}))
	e, ok := ReadEnrichment(m)
	require.True(t, ok)
	assert.Equal(t, Enrichment{
		Indicator: Indicator{Type: "file", FileHash: FileHash{SHA256: testHash}, Port: 443, Provider: "feed",
			FirstSeen: time.Date(2025, 12, 1, 8, 30, 0, 500_000_000, time.UTC)},
		Matched: Matched{Atomic: testHash, Field: "file.hash.sha256",
			Occurred: time.Date(2026, 3, 5, 13, 0, 40, 250_000_000, time.UTC)},
		Verdict: "suspicious",
	}, e)
	assert.Equal(t, testHash, e.Indicator.Value())

	m = pcommon.NewMap()
	require.NoError(t, m.FromRaw(map[string]any{"indicator": map[string]any{"type": "file", "confidence": "High"}}))
	_, ok = ReadEnrichment(m)
	assert.False(t, ok, "no value, provider or match: nothing to show")
}

func TestViewAddAndReadEnrichments(t *testing.T) {
	a, b := full(), full()
	b.Indicator = Indicator{Type: IndicatorTypeDomainName, Domain: "l.gs.thc.org", Provider: "domain list", Confidence: "Low"}
	b.Matched.Atomic, b.Matched.Field = "l.gs.thc.org", "dns.question.name"

	// A nested document gets nested fields, a flat record a flat key; a
	// second enrichment joins the same array.
	v := enrichView(t, map[string]any{"event": map[string]any{"kind": "event"}})
	v.AddEnrichment(&a)
	v.AddEnrichment(&b)
	threat, ok := v.Attributes().Get("threat")
	require.True(t, ok)
	assert.Equal(t, pcommon.ValueTypeMap, threat.Type())
	assert.Equal(t, []Enrichment{a, b}, v.Enrichments(nil))

	v = enrichView(t, map[string]any{"event.kind": "event"})
	v.AddEnrichment(&a)
	v.AddEnrichment(&b)
	list, ok := v.Attributes().Get("threat.enrichments")
	require.True(t, ok, "flat records keep the OTel attribute convention")
	assert.Equal(t, 2, list.Slice().Len())
	got := v.Enrichments(make([]Enrichment, 0, 1))
	assert.Equal(t, []Enrichment{a, b}, got)

	// Entries that are not objects, or hold nothing an enrichment has, are
	// skipped; an event without enrichments gives none.
	v = enrichView(t, map[string]any{"threat": map[string]any{"enrichments": []any{"x", map[string]any{"matched": map[string]any{"type": "indicator_match_rule"}}, map[string]any{"indicator": map[string]any{"ip": "1.2.3.4"}}}}})
	assert.Equal(t, []Enrichment{{Indicator: Indicator{IP: "1.2.3.4"}}}, v.Enrichments(nil))
	assert.Empty(t, enrichView(t, map[string]any{"event.kind": "event"}).Enrichments(nil))
}

func TestSameMatch(t *testing.T) {
	a, b := full(), full()
	b.Matched.Occurred = b.Matched.Occurred.Add(time.Hour)
	assert.True(t, a.SameMatch(&b), "the same feed entry matching the same value, at another time")
	b.Indicator.FirstSeen = b.Indicator.FirstSeen.In(time.FixedZone("x", 3600))
	assert.True(t, a.SameMatch(&b), "times compare as instants")
	for name, change := range map[string]func(e *Enrichment){
		"provider": func(e *Enrichment) { e.Indicator.Provider = "other feed" },
		"field":    func(e *Enrichment) { e.Matched.Field = "file.hash.sha256" },
		"atomic":   func(e *Enrichment) { e.Matched.Atomic = "other" },
		"verdict":  func(e *Enrichment) { e.Verdict = "suspicious" },
		"matched":  func(e *Enrichment) { e.Matched.ID = "other" },
	} {
		c := full()
		change(&c)
		assert.False(t, a.SameMatch(&c), name)
	}
}

// TestEnrichmentJSON pins the JSON form: correlate persists enrichments in
// it (file_storage, Redis), so state written by one release must read in
// the next. Renaming a tag breaks that.
func TestEnrichmentJSON(t *testing.T) {
	const want = `{"i":{"type":"file","hash":{"md5":"0749bae92ca336a02c83d126e04ec628","sha1":"da39a3ee5e6b4b0d3255bfef95601890afd80709","sha256":"` + testHash + `"},` +
		`"ip":"45.134.26.117","port":80,"domain":"l.gs.thc.org","url":"http://l.gs.thc.org/x","provider":"abuse.ch MalwareBazaar","conf":"High",` +
		`"name":"gsocket","desc":"relay client","ref":"https://bazaar.abuse.ch/sample/` + testHash + `/",` +
		`"first":"2025-12-01T08:30:00.5Z","last":"2026-01-02T00:00:00Z"},` +
		`"m":{"atomic":"` + testHash + `","field":"process.hash.sha256","type":"indicator_match_rule","id":"ff93aee5","index":"logs-ti_abusech.malware-default","at":"2026-03-05T14:00:40Z"},` +
		`"feed":"AbuseCH Malware","verdict":"malicious"}`
	b, err := json.Marshal(full())
	require.NoError(t, err)
	assert.JSONEq(t, want, string(b))
	var back Enrichment
	require.NoError(t, json.Unmarshal([]byte(want), &back))
	assert.Equal(t, full(), back)

	b, err = json.Marshal(Enrichment{Indicator: Indicator{IP: "1.2.3.4"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"i":{"ip":"1.2.3.4"},"m":{}}`, string(b), "empty members take no room")
}

// TestNamesOnTheWire: the constants are the names stored documents and
// users' queries use; a change here is a breaking change, not a refactor.
func TestNamesOnTheWire(t *testing.T) {
	for got, want := range map[string]string{
		SignalNewBinaryOnHost:        "new_binary_on_host",
		SignalNewBinaryInEnvironment: "new_binary_in_environment",
		SignalNewExternalIP:          "new_external_ip",
		SignalNewDomain:              "new_domain",
		SignalNewIPForBinary:         "new_ip_for_binary",
		SignalIntelMaliciousHash:     "intel_malicious_hash",
		SignalIntelSuspiciousHash:    "intel_suspicious_hash",
		SignalIntelBadIP:             "intel_bad_ip",
		SignalIntelBadDomain:         "intel_bad_domain",
		SignalsKey:                   "cairn.signals",
		FirstSeenFlag("new_domain"):  "cairn.first_seen.new_domain",
		FirstSeenDegradedKey:         "cairn.first_seen.degraded",
		AlertIDsKey:                  "cairn.alert.ids",
		AlertScoreKey:                "cairn.alert.score",
		AlertSeverityKey:             "cairn.alert.severity",
		AlertSignalsKey:              "cairn.alert.signals",
		AlertContributionsKey:        "cairn.alert.contributions",
		AlertOmittedContributionsKey: "cairn.alert.omitted_contributions",
		AlertOmittedEnrichmentsKey:   "cairn.alert.omitted_enrichments",
		EnrichmentVerdictKey:         "cairn.intel.verdict",
		ThreatEnrichments.Name:       "threat.enrichments",
	} {
		assert.Equal(t, want, got)
	}
}
