package correlateprocessor_test

// End-to-end behaviour of the reference rules: the whole pipeline of
// deploy/cairn.yaml (firstseen → intel → correlate), run by the replay
// tool on the bundled scenario and on variants of it made by the scenario
// generator. This is where "exactly one alert for the attack, nothing for
// ordinary fleet noise" is checked.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/cmd/cairn/replay"
	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.UseScenarioFeeds()
	os.Exit(m.Run())
}

type run struct {
	sum  *replay.Summary
	docs []map[string]any
}

// alerts returns the alert documents in their latest state per event.id.
func (r run) alerts() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, d := range r.docs {
		if testkit.Nested(d, "event.kind") == "alert" {
			out[testkit.Nested(d, "event.id").(string)] = d
		}
	}
	return out
}

func replayLines(t *testing.T, input []byte, batch int, stateDir string) run {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	out := filepath.Join(dir, "out.ndjson")
	require.NoError(t, os.WriteFile(in, input, 0o600))
	var stderr bytes.Buffer
	sum, err := replay.Run(context.Background(), replay.Options{
		ConfigPath: filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"),
		InputPath:  in, OutputPath: out, BatchSize: batch, StateDir: stateDir,
		Stderr: &stderr, Processors: replay.DefaultProcessors(), Extensions: replay.DefaultExtensions(),
	})
	require.NoError(t, err, stderr.String())
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	var docs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		docs = append(docs, m)
	}
	return run{sum: sum, docs: docs}
}

func generate(t *testing.T, cfg scenario.Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := scenario.Generate(cfg, &buf)
	require.NoError(t, err)
	return buf.Bytes()
}

func bundled(t *testing.T) []byte {
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(), "testdata", "scenario", "events.ndjson"))
	require.NoError(t, err)
	return data
}

func strs(v any) []string {
	raw, _ := v.([]any)
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

// TestScenarioFiresOneAlert: the attack on web-03 yields exactly one alert,
// the composite one, with its explanation; the early warning stands down.
func TestScenarioFiresOneAlert(t *testing.T) {
	for _, batch := range []int{1024, 1} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			r := replayLines(t, bundled(t), batch, "")
			alerts := r.alerts()
			require.Len(t, alerts, 1, "one alert document for the whole scenario")
			var a map[string]any
			for _, d := range alerts {
				a = d
			}
			get := func(p string) any { return testkit.Nested(a, p) }
			assert.Equal(t, "web-03", get("host.name"))
			assert.Equal(t, "cairn-compromised-host", get("rule.id"))
			assert.Equal(t, "Potentially Compromised Host", get("rule.name"))
			assert.Equal(t, "2026-03-05T14:00:40.000Z", get("@timestamp"), "the known-malicious binary, new on the host, decides")
			assert.Equal(t, "2026-03-05T14:00:00.000Z", get("event.start"))
			assert.Equal(t, "2026-03-05T14:00:41.262Z", get("event.end"))
			assert.Equal(t, []string{"intrusion_detection"}, strs(get("event.category")))
			assert.Equal(t, []string{"info"}, strs(get("event.type")))
			assert.EqualValues(t, 73, get("event.severity"))
			assert.EqualValues(t, 73, get("event.risk_score"))
			// The exact score depends on what the stages before correlate
			// raise (Sigma's rules, firstseen's prevalence); the signals of
			// firstseen and intel alone give 205: 10 (zsh) + 75 + 10 + 30
			// (gs-netcat as root: the feed, a second new binary at half its
			// 15, new to the environment), then 30 + 15 (the beacon), 20
			// (the domain), 10 + 5 (the second destination: half again, to
			// the caps of 40 and 20). processor_test.go has the arithmetic
			// on fixed input.
			assert.GreaterOrEqual(t, get("cairn.alert.score"), 205.0)
			assert.Equal(t, "cairn", get("event.module"))
			assert.Equal(t, "cairn.alerts", get("event.dataset"))
			assert.Nil(t, get("log.level"), "the severity is event.severity, not a log level")
			assert.Equal(t, "high", get("cairn.alert.severity"))
			// Execution and Command and Control at least (a Sigma rule's own
			// tactics may add to them), each with its name and page.
			tactics := strs(get("threat.tactic.id"))
			assert.Subset(t, tactics, []string{"TA0002", "TA0011"})
			assert.Len(t, strs(get("threat.tactic.name")), len(tactics))
			for i, ref := range strs(get("threat.tactic.reference")) {
				assert.Equal(t, "https://attack.mitre.org/tactics/"+tactics[i]+"/", ref)
			}
			// ECS: the technique is T1204, the sub-technique T1204.002 below it.
			techs := strs(get("threat.technique.id"))
			i := slices.Index(techs, "T1204")
			require.GreaterOrEqual(t, i, 0, "T1204 in %v", techs)
			assert.Equal(t, "User Execution", strs(get("threat.technique.name"))[i])
			assert.Equal(t, "https://attack.mitre.org/techniques/T1204/", strs(get("threat.technique.reference"))[i])
			subs := strs(get("threat.technique.subtechnique.id"))
			j := slices.Index(subs, "T1204.002")
			require.GreaterOrEqual(t, j, 0, "T1204.002 in %v", subs)
			assert.Equal(t, "Malicious File", strs(get("threat.technique.subtechnique.name"))[j])
			assert.Equal(t, "https://attack.mitre.org/techniques/T1204/002/", strs(get("threat.technique.subtechnique.reference"))[j])
			// The alert carries gs-netcat's feed match, as intel wrote it on
			// the process start, for the threat intel of Kibana's flyout.
			assert.Equal(t, []any{gsNetcatEnrichment}, get("threat.enrichments"))
			assert.Nil(t, get("cairn.alert.omitted_enrichments"))
			assert.ElementsMatch(t, []string{scenario.AttackBeaconIP, scenario.AttackRelayIP}, strs(get("related.ip")))
			assert.Contains(t, strs(get("related.hash")), scenario.AttackHash)
			assert.ElementsMatch(t, []string{"ext-contractor", "root"}, strs(get("related.user")))
			assert.Equal(t, []string{"web-03"}, strs(get("related.hosts")))
			msg := get("message").(string)
			for _, want := range []string{"web-03", "/usr/bin/zsh ran as ext-contractor", scenario.AttackExecutable + " ran as root",
				"flagged malicious by cairn scenario feed", "connected to 45.134.26.117:80", "looked up l.gs.thc.org",
				"193.32.249.56:7350 (l.gs.thc.org)"} {
				assert.Contains(t, msg, want)
			}
			contribs, _ := get("cairn.alert.contributions").([]any)
			ids := map[string]bool{}
			var total float64
			signals := map[string]bool{}
			for _, c := range contribs {
				m := c.(map[string]any)
				ids[testkit.Nested(m, "event.id").(string)] = true
				total += m["weight"].(float64)
				signals[m["signal"].(string)] = true
				assert.NotEmpty(t, m["summary"])
				assert.NotEmpty(t, m["time"])
			}
			assert.Len(t, ids, 5, "zsh, gs-netcat, its two connections and its lookup")
			for _, s := range []string{"new_binary_on_host", "intel_malicious_hash", "new_external_ip", "new_ip_for_binary", "new_domain"} {
				assert.True(t, signals[s], s)
			}
			assert.InDelta(t, get("cairn.alert.score"), total, 1e-9, "the contributions add up to the score")

			// Every contributing event in the output carries the alert id
			// when it left with or after the deciding batch; with one batch
			// of everything, all of them.
			alertID := get("event.id").(string)
			tagged := 0
			for _, d := range r.docs {
				id, _ := testkit.Nested(d, "event.id").(string)
				if ids[id] && testkit.Nested(d, "event.kind") != "alert" {
					if assert.ObjectsAreEqual([]string{alertID}, strs(testkit.Nested(d, "cairn.alert.ids"))) {
						tagged++
					}
				}
			}
			if batch == 1024 {
				assert.Equal(t, len(ids), tagged)
			} else {
				assert.Equal(t, 4, tagged, "the deciding event and the three updates")
			}

			// The summary shows the alert and its explanation.
			var buf bytes.Buffer
			r.sum.Write(&buf)
			assert.Contains(t, buf.String(), "alerts: 1")
			assert.Contains(t, buf.String(), "[high] Potentially Compromised Host: web-03")
			assert.Contains(t, buf.String(), "intel_malicious_hash")
			if batch == 1 {
				assert.Equal(t, 4, r.sum.AlertRecords, "fired, then updated three times under the same id")
			}
		})
	}
}

// gsNetcatEnrichment is the threat.enrichments entry intel writes on the
// scenario's gs-netcat start (the feed is testdata/intel/).
var gsNetcatEnrichment = map[string]any{
	"indicator": map[string]any{
		"type":       "file",
		"file":       map[string]any{"hash": map[string]any{"sha256": scenario.AttackHash}},
		"provider":   "cairn scenario feed",
		"confidence": "High",
	},
	"matched": map[string]any{
		"atomic": scenario.AttackHash, "field": "process.hash.sha256", "type": "indicator_match_rule",
		"occurred": "2026-03-05T14:00:40Z",
	},
	"cairn": map[string]any{"intel": map[string]any{"verdict": "malicious"}},
}

// TestQuietCases: ordinary fleet noise fires nothing.
func TestQuietCases(t *testing.T) {
	noAttack := scenario.Default()
	noAttack.Attack = false

	t.Run("rollout of a new binary version to every host", func(t *testing.T) {
		r := replayLines(t, generate(t, noAttack), 1024, "")
		assert.Positive(t, r.sum.Signals["new_binary_on_host"], "the rollout is flagged...")
		assert.Empty(t, r.alerts(), "...but alerts nobody")
	})

	t.Run("one host reaching one new IP", func(t *testing.T) {
		input := generate(t, noAttack)
		input = append(input, []byte(`{"@timestamp":"2026-03-05T15:00:00Z","event":{"kind":"event","category":["network"],"type":["connection","start"]},"host":{"name":"web-01"},"network":{"transport":"tcp","direction":"egress"},"destination":{"ip":"45.33.32.156","port":443},"process":{"pid":4242,"name":"curl","executable":"/usr/bin/curl"},"user":{"name":"root","id":"0"}}`+"\n")...)
		r := replayLines(t, input, 1024, "")
		assert.Equal(t, 1, r.sum.Signals["new_external_ip"])
		assert.Equal(t, 1, r.sum.Signals["new_ip_for_binary"])
		assert.Empty(t, r.alerts())
	})

	t.Run("a new host's first day", func(t *testing.T) {
		// web-05 joins on day 3: web-01's day, under a new name.
		input := generate(t, noAttack)
		var extra bytes.Buffer
		for _, line := range bytes.Split(input, []byte("\n")) {
			if bytes.Contains(line, []byte(`"name":"web-01"`)) && bytes.Contains(line, []byte(`"@timestamp":"2026-03-04`)) {
				extra.Write(bytes.ReplaceAll(line, []byte(`"name":"web-01"`), []byte(`"name":"web-05"`)))
				extra.WriteByte('\n')
			}
		}
		require.Positive(t, extra.Len())
		r := replayLines(t, append(input, extra.Bytes()...), 1024, "")
		for _, d := range r.docs {
			if testkit.Nested(d, "host.name") == "web-05" {
				assert.Empty(t, testkit.Nested(d, "cairn.signals"), "learning: nothing flagged on its first day")
			}
		}
		assert.Empty(t, r.alerts())
	})

	t.Run("a burst of one signal", func(t *testing.T) {
		input := generate(t, noAttack)
		var b strings.Builder
		start := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
		for i := 0; i < 300; i++ {
			fmt.Fprintf(&b, `{"@timestamp":"%s","event":{"kind":"event","category":["network"],"type":["connection","start"]},"host":{"name":"worker-01"},"destination":{"ip":"45.33.%d.%d","port":443},"process":{"pid":77,"name":"crawler","executable":"/usr/bin/python3"},"user":{"name":"root","id":"0"}}`+"\n",
				start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 32+i/200, i%200+1)
		}
		r := replayLines(t, append(input, b.String()...), 1024, "")
		assert.Equal(t, 300, r.sum.Signals["new_external_ip"], "every address is new...")
		assert.Empty(t, r.alerts(), "...but repeats of one kind of signal never add up")
	})
}

// TestRestartMidAttack: a restart between the gs-netcat start (which fires
// the alert) and its connections: the alert comes back from the state and
// is updated under the same id, with what it had before the restart.
func TestRestartMidAttack(t *testing.T) {
	data := bundled(t)
	cut := bytes.Index(data, []byte(`"@timestamp":"2026-03-05T14:00:41.000Z"`))
	require.Positive(t, cut)
	cut = bytes.LastIndexByte(data[:cut], '\n') + 1
	state := t.TempDir()

	first := replayLines(t, data[:cut], 1024, state)
	require.Len(t, first.alerts(), 1, "the known-malicious binary, new on the host, fires before the restart")
	second := replayLines(t, data[cut:], 1024, state)
	alerts := second.alerts()
	require.Len(t, alerts, 1)
	for id, a := range alerts {
		assert.Contains(t, first.alerts(), id, "updated, not fired again")
		assert.Equal(t, "cairn-compromised-host", testkit.Nested(a, "rule.id"))
		assert.Equal(t, "2026-03-05T14:00:00.000Z", testkit.Nested(a, "event.start"), "evidence from before the restart counts")
		assert.Equal(t, []any{gsNetcatEnrichment}, testkit.Nested(a, "threat.enrichments"),
			"the enrichment of evidence from before the restart comes back from the state")
	}
	whole := replayLines(t, data, 1024, "")
	for id, a := range whole.alerts() {
		require.Contains(t, alerts, id, "same alert id as an uninterrupted run")
		assert.Equal(t, testkit.Nested(a, "cairn.alert.score"), testkit.Nested(alerts[id], "cairn.alert.score"), "and the same score")
	}
}
