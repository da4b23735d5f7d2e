package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
)

// stateBeforeEnrichments is an entity as the release before enrichments
// were kept wrote it (Encode's output for a gs-netcat start with its intel
// verdict, a connection, and the alert they fired).
const stateBeforeEnrichments = `{"key":"web-03","latest":1772719201000000000,"evidence":[{"id":"5ede882cbea02577e13a087090bb2b7f","t":1772719200000000000,"k":1,"exe":"/tmp/.x/gs-netcat","user":"root","hash":"362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9","provider":"cairn scenario feed","verdict":"malicious"},{"id":"9a0c","t":1772719201000000000,"k":2,"port":80,"exe":"/tmp/.x/gs-netcat","ip":"45.134.26.117"}],"obs":[{"t":1772719200000000000,"s":"intel","m":1.5,"skip":["r"],"e":0},{"t":1772719201000000000,"s":"net","m":1.5,"skip":["r"],"e":1}],"alerts":[{"rule":"r","id":"5422772674c911e6b3b48589fbac3005","start":1772719200000000000,"end":1772719201000000000,"fired":1772719201000000000,"until":1772722801000000000,"sums":{"intel":15,"net":15},"contributions":[{"s":"intel","w":15,"e":0},{"s":"net","w":15,"e":1}]}]}`

func codecRule() *Rule {
	return rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
}

// TestRestoreStateWithoutEnrichments: state written before evidence kept
// enrichments still loads, with everything it had, and the open alert goes
// on being updated (it shows no enrichments for that old evidence).
func TestRestoreStateWithoutEnrichments(t *testing.T) {
	f := &feeder{t: t, e: newEngine(t, codecRule())}
	require.NoError(t, f.e.Restore([]byte(stateBeforeEnrichments)))
	ent, ok := f.e.entities.Peek("web-03")
	require.True(t, ok)
	require.Len(t, ent.alerts, 1)
	a := ent.alerts[0]
	require.Len(t, a.Contributions, 2)
	ev := a.Contributions[0].Evidence
	assert.Equal(t, "5ede882cbea02577e13a087090bb2b7f", ev.EventID)
	assert.Equal(t, "cairn scenario feed", ev.Provider.String())
	assert.Equal(t, "malicious", ev.Verdict.String())
	assert.Empty(t, ev.Enrichments)
	assert.Zero(t, ev.EnrichmentsCut)

	out := f.hit("web-03", time.Minute, sigExec)
	require.Len(t, out, 1)
	assert.Equal(t, Updated, out[0].Action)
	assert.Equal(t, "5422772674c911e6b3b48589fbac3005", out[0].Alert.ID)
}

func testEnrichment(provider string) event.Enrichment {
	return event.Enrichment{
		Indicator: event.Indicator{Type: event.IndicatorTypeFile, Provider: provider, Confidence: "High",
			FileHash:  event.FileHash{SHA256: "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"},
			FirstSeen: time.Date(2025, 12, 1, 8, 30, 0, 0, time.UTC)},
		Matched: event.Matched{Atomic: "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9",
			Field: "process.hash.sha256", Type: event.MatchTypeIndicatorMatchRule, Occurred: time.Unix(0, at(0)).UTC()},
		Verdict: "malicious",
	}
}

// TestEncodeRestoreEnrichments: the enrichments an Evidence keeps, and the
// count of those it did not, survive a restart (file_storage) or a move to
// another gateway (Redis).
func TestEncodeRestoreEnrichments(t *testing.T) {
	f := &feeder{t: t, e: newEngine(t, codecRule())}
	enr := []event.Enrichment{testEnrichment("feed a"), testEnrichment("feed b")}
	ev := &Event{Entity: "web-03", Time: at(0), Hits: []Hit{{Signal: sigIntel, Mult: 1}},
		Evidence: &Evidence{EventID: "e1", Time: at(0), Kind: KindProcess, Enrichments: enr, EnrichmentsCut: 3}}
	f.e.Observe(ev, nil)
	a := fired(f.hit("web-03", time.Second, sigNet))
	require.Len(t, a, 1)
	changed, _ := f.e.TakeDirty()
	require.Len(t, changed, 1)
	data, err := f.e.Encode(changed[0])
	require.NoError(t, err)

	g := &feeder{t: t, e: newEngine(t, codecRule())}
	require.NoError(t, g.e.Restore(data))
	ent, _ := g.e.entities.Peek("web-03")
	require.Len(t, ent.alerts, 1)
	got := ent.alerts[0].Contributions[0].Evidence
	assert.Equal(t, enr, got.Enrichments)
	assert.Equal(t, 3, got.EnrichmentsCut)
	assert.Same(t, got, ent.obs[0].ev, "the alert and the window share the evidence, as before the restart")
}

// TestRestoreBoundsEnrichments: state from elsewhere (an older or newer
// release, a shared Redis) cannot make evidence hold more enrichments than
// MaxEnrichments; what is cut is counted.
func TestRestoreBoundsEnrichments(t *testing.T) {
	var list string
	for i := 0; i < MaxEnrichments+2; i++ {
		if i > 0 {
			list += ","
		}
		list += fmt.Sprintf(`{"i":{"type":"ipv4-addr","ip":"10.0.0.%d"},"m":{"atomic":"10.0.0.%d","field":"destination.ip"}}`, i, i)
	}
	data := fmt.Sprintf(`{"key":"h","latest":%d,"evidence":[{"id":"e","t":%d,"enr":[%s],"enr_cut":1}],"obs":[{"t":%d,"s":"net","m":1,"e":0}]}`,
		at(0), at(0), list, at(0))
	e := newEngine(t, codecRule())
	require.NoError(t, e.Restore([]byte(data)))
	ent, _ := e.entities.Peek("h")
	ev := ent.obs[0].ev
	require.Len(t, ev.Enrichments, MaxEnrichments)
	assert.Equal(t, "10.0.0.0", ev.Enrichments[0].Indicator.IP, "the first ones are kept")
	assert.Equal(t, 3, ev.EnrichmentsCut, "1 cut before, 2 cut now")
	assert.Less(t, cap(ev.Enrichments), MaxEnrichments+2, "a copy: the longer list is not held")
}
