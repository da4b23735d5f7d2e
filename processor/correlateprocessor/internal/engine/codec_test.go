package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
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
	ent, ok := f.e.entities.peek("web-03")
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
	ent, _ := g.e.entities.peek("web-03")
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
	ent, _ := e.entities.peek("h")
	ev := ent.obs[0].ev
	require.Len(t, ev.Enrichments, MaxEnrichments)
	assert.Equal(t, "10.0.0.0", ev.Enrichments[0].Indicator.IP, "the first ones are kept")
	assert.Equal(t, 3, ev.EnrichmentsCut, "1 cut before, 2 cut now")
	assert.Less(t, cap(ev.Enrichments), MaxEnrichments+2, "a copy: the longer list is not held")
}

// TestEncodeRestoreKeysAndDetails: the keys of raises and the details of
// evidence survive a restart: the same binary again adds nothing, another
// adds half, and the alert keeps its labels and tactics.
func TestEncodeRestoreKeysAndDetails(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	r.Signals[sigExec].Ratio = 0.5
	f := &feeder{t: t, e: newEngine(t, r)}
	ev := &Event{Entity: "h", Time: at(0), Hits: []Hit{{Signal: sigExec, Mult: 1, Key: 7, Detail: 1}},
		Evidence: &Evidence{EventID: "e1", Time: at(0), Details: []Detail{{Label: Intern(`Sigma rule "X" by Y`), Tactics: 1 << 5, Techniques: Intern("T1059.004,T1686")}}}}
	_, ok := f.e.Observe(ev, nil)
	require.True(t, ok)
	require.Len(t, fired(f.hit("h", time.Second, sigNet)), 1)
	data, ok, err := f.e.EncodeKey("h")
	require.NoError(t, err)
	require.True(t, ok)

	g := &feeder{t: t, e: newEngine(t, r)}
	require.NoError(t, g.e.Restore(data))
	ent, _ := g.e.entities.peek("h")
	a := ent.alerts[0]
	d := a.Contributions[0].Detail()
	require.NotNil(t, d)
	assert.Equal(t, Detail{Label: Intern(`Sigma rule "X" by Y`), Tactics: 1 << 5, Techniques: Intern("T1059.004,T1686")}, *d)
	assert.Equal(t, []string{"T1059.004", "T1686"}, d.TechniqueIDs())
	assert.Equal(t, uint32(1<<5|1<<11), a.Tally.Tactics, "the detail's tactic, not exec's")
	assert.Equal(t, uint64(7), ent.obs[0].key)

	out := g.hitKey("h", 2*time.Second, 7, sigExec)
	require.Len(t, out, 1)
	assert.Equal(t, 20.0, out[0].Alert.Tally.Score, "the same key adds nothing after the restart")
	out = g.hitKey("h", 3*time.Second, 8, sigExec)
	assert.Equal(t, 25.0, out[0].Alert.Tally.Score, "another adds half")
}

// TestRestoreOldAlertSums: an alert written before keys were kept counts
// what each signal added as one raise: the same signal unkeyed adds
// nothing more, a keyed raise adds at the diminishing rate.
func TestRestoreOldAlertSums(t *testing.T) {
	r := codecRule()
	r.Signals[sigNet].Ratio = 0.5
	f := &feeder{t: t, e: newEngine(t, r)}
	require.NoError(t, f.e.Restore([]byte(stateBeforeEnrichments)))
	out := f.hit("web-03", 2*time.Second, sigNet)
	require.Len(t, out, 1)
	assert.Equal(t, 30.0, out[0].Alert.Tally.Score)
	out = f.hitKey("web-03", 3*time.Second, 9, sigNet)
	assert.Equal(t, 35.0, out[0].Alert.Tally.Score, "15 + 10/2")
}

// TestRestoreBoundsDetails: details from elsewhere are bounded (count,
// label length, techniques) and references to details that do not exist
// are dropped.
func TestRestoreBoundsDetails(t *testing.T) {
	long := strings.Repeat("é", MaxLabel)
	var dets []string
	for i := 0; i < MaxDetails+3; i++ {
		dets = append(dets, fmt.Sprintf(`{"l":%q,"ta":["TA0011","TA9999"],"te":"T1,T2,T3,T4,T5,T6,T7,T8,T9,T10"}`, long))
	}
	data := fmt.Sprintf(`{"key":"h","latest":%d,"evidence":[{"id":"e","t":%d,"det":[%s]}],"obs":[{"t":%d,"s":"net","m":1,"e":0,"k":3,"d":%d}]}`,
		at(0), at(0), strings.Join(dets, ","), at(0), MaxDetails+2)
	e := newEngine(t, codecRule())
	require.NoError(t, e.Restore([]byte(data)))
	ent, _ := e.entities.peek("h")
	ev := ent.obs[0].ev
	require.Len(t, ev.Details, MaxDetails)
	assert.LessOrEqual(t, len(ev.Details[0].Label.String()), MaxLabel)
	assert.True(t, strings.HasSuffix(ev.Details[0].Label.String(), "…"))
	assert.True(t, utf8.ValidString(ev.Details[0].Label.String()))
	assert.Len(t, ev.Details[0].TechniqueIDs(), MaxTechniques)
	c2, _ := attack.FindTactic("TA0011")
	assert.Equal(t, uint32(1)<<c2.Index, ev.Details[0].Tactics, "the unknown tactic is left out")
	assert.Zero(t, ent.obs[0].det, "a reference beyond the details is dropped")
}
