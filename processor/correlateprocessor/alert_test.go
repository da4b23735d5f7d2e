package correlateprocessor

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
)

const testHash = "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"

// strList reads a document's array of strings.
func strList(v any) []string {
	raw, _ := v.([]any)
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

// enrichmentJSON is one threat.enrichments object as intel writes it.
func enrichmentJSON(indicator, atomic, field, provider, occurred string) string {
	return `{"indicator":{` + indicator + `,"provider":"` + provider + `","confidence":"High"},` +
		`"matched":{"atomic":"` + atomic + `","field":"` + field + `","type":"indicator_match_rule","occurred":"` + occurred + `"},` +
		`"cairn":{"intel":{"verdict":"malicious"}}}`
}

func hashEnrichment(provider, occurred string) string {
	return enrichmentJSON(`"type":"file","file":{"hash":{"sha256":"`+testHash+`"}}`, testHash, "process.hash.sha256", provider, occurred)
}

func ipEnrichment(ip, provider, occurred string) string {
	return enrichmentJSON(`"type":"ipv4-addr","ip":"`+ip+`"`, ip, "destination.ip", provider, occurred)
}

// TestAlertCarriesEnrichments: the alert holds the threat.enrichments of
// its contributing events, in their order, each match once, at most
// engine.MaxEnrichments per event with the rest counted.
func TestAlertCarriesEnrichments(t *testing.T) {
	h := newHarness(t, createDefaultConfig().(*Config))
	start := doc(0, "web-03", `"event":{"kind":"event"},"process":{"executable":"/tmp/.x/gs-netcat","hash":{"sha256":"`+testHash+`"}},"user":{"name":"root","id":"0"},`+
		`"threat":{"enrichments":[`+hashEnrichment("feed a", "2026-03-05T14:00:00Z")+`,`+hashEnrichment("feed b", "2026-03-05T14:00:00Z")+`,`+hashEnrichment("feed a", "2026-03-05T14:00:00Z")+`]},`+
		`"cairn":{"signals":["new_binary_on_host","new_binary_in_environment","intel_malicious_hash"]}`)
	// The same binary again, matched on the same feed entry a second later:
	// the same match, which the alert lists once.
	again := doc(time.Second, "web-03", `"event":{"kind":"event"},"process":{"executable":"/tmp/.x/gs-netcat","hash":{"sha256":"`+testHash+`"}},`+
		`"threat":{"enrichments":[`+hashEnrichment("feed a", "2026-03-05T14:00:01Z")+`]},"cairn":{"signals":["new_binary_on_host"]}`)
	// A connection whose event lists more matches than evidence keeps.
	var ips []string
	for i := 0; i < engine.MaxEnrichments+2; i++ {
		ips = append(ips, ipEnrichment(fmt.Sprintf("45.134.26.%d", 100+i), "ip feed", "2026-03-05T14:00:02Z"))
	}
	beacon := doc(2*time.Second, "web-03", `"event":{"kind":"event"},"process":{"executable":"/tmp/.x/gs-netcat"},"destination":{"ip":"45.134.26.100","port":80},`+
		`"threat":{"enrichments":[`+strings.Join(ips, ",")+`]},"cairn":{"signals":["new_external_ip","intel_bad_ip"]}`)
	out := h.send(start, again, beacon)
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	a := alerts[0]

	got, _ := testkit.Nested(a, "threat.enrichments").([]any)
	want := []string{hashEnrichment("feed a", "2026-03-05T14:00:00Z"), hashEnrichment("feed b", "2026-03-05T14:00:00Z")}
	want = append(want, ips[:engine.MaxEnrichments]...)
	require.Len(t, got, len(want))
	for i, w := range want {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(w), &m))
		assert.Equal(t, m, got[i], "enrichment %d", i)
	}
	assert.EqualValues(t, 2, testkit.Nested(a, "cairn.alert.omitted_enrichments"), "the beacon's last two")
	// The contributing events keep all of theirs: the bound is the alert's.
	assert.Len(t, testkit.Nested(out[2], "threat.enrichments"), engine.MaxEnrichments+2)
}

// TestAlertRecordFields: what every alert record carries besides the
// evidence: module and dataset, the severity as a number and a name but
// not as a log level, and ATT&CK as ECS wants it.
func TestAlertRecordFields(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Signals = map[string]SignalConfig{"falco_shell": {Weight: f64(40), Tactic: "TA0002", Technique: "T1059.004", Label: "shell in a container"}}
	require.NoError(t, cfg.Validate())
	h := newHarness(t, cfg)
	out := h.send(
		doc(0, "web-03", `"process":{"executable":"/tmp/x"},"user":{"id":"0"},"cairn":{"signals":["falco_shell","intel_malicious_hash","new_binary_on_host"]}`),
		doc(time.Second, "web-03", `"destination":{"ip":"45.134.26.117"},"cairn":{"signals":["intel_bad_ip","intel_bad_domain","new_external_ip"]}`))
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	a := alerts[0]
	get := func(p string) any { return testkit.Nested(a, p) }
	assert.Equal(t, "cairn", get("event.module"))
	assert.Equal(t, "cairn.alerts", get("event.dataset"))
	assert.EqualValues(t, 73, get("event.severity"))
	assert.Equal(t, "high", get("cairn.alert.severity"))
	assert.Nil(t, get("log"), "no log.level: severity text is not set")
	assert.Nil(t, get("threat.enrichments"), "no event had any")

	// The record itself: a severity number for OTLP backends, no text.
	var found bool
	for _, l := range h.sink.AllLogs() {
		event.Each(l, func(_ pcommon.Resource, rec plog.LogRecord) {
			if k, ok := testkit.Get(rec.Attributes(), "event.kind"); ok && k.Str() == "alert" {
				found = true
				assert.Equal(t, plog.SeverityNumberError, rec.SeverityNumber())
				assert.Empty(t, rec.SeverityText())
			}
		})
	}
	assert.True(t, found)

	// Techniques in threat.technique.*, sub-techniques below them; each
	// parallel array lines up (id i, name i, reference i), each once.
	techniques := map[string]string{"T1059": "Command and Scripting Interpreter", "T1204": "User Execution", "T1071": "Application Layer Protocol"}
	subs := map[string]string{"T1059.004": "Unix Shell", "T1204.002": "Malicious File"}
	for prefix, want := range map[string]map[string]string{"threat.technique": techniques, "threat.technique.subtechnique": subs} {
		ids := strList(get(prefix + ".id"))
		names := strList(get(prefix + ".name"))
		refs := strList(get(prefix + ".reference"))
		require.Len(t, ids, len(want), prefix)
		require.Len(t, names, len(ids), prefix)
		require.Len(t, refs, len(ids), prefix)
		for i, id := range ids {
			assert.Equal(t, want[id], names[i], id)
			assert.Equal(t, "https://attack.mitre.org/techniques/"+strings.Replace(id, ".", "/", 1)+"/", refs[i], id)
		}
	}
	assert.Equal(t, []string{"TA0002", "TA0011"}, strList(get("threat.tactic.id")))
	assert.Equal(t, []string{"https://attack.mitre.org/tactics/TA0002/", "https://attack.mitre.org/tactics/TA0011/"}, strList(get("threat.tactic.reference")))
}
