// Package e2etest runs the real Cairn collector binary (bin/otelcol-cairn,
// built by `make build`) end to end: ECS NDJSON in through the cairn_file
// receiver, the logs pipeline of deploy/cairn.yaml, and OTLP/HTTP out to a
// server inside the test.
//
// The binary is taken from $CAIRN_COLLECTOR, else <repo>/bin/otelcol-cairn.
// Without it the tests skip, except under CI (CI set), where they fail.
package e2etest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	cairnevent "github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/testkit"
)

const (
	// Facts of the attack in the bundled scenario (testdata/scenario), which
	// the synthetic fallback scenario reproduces.
	attackHost   = "web-03"
	attackHour   = 14
	attackHash   = "362b700c68ff2dc5c4188d32096b9c3d0f61073b9758cf25ab068b095460b9f9"
	attackDomain = "l.gs.thc.org"

	// The firstseen processor's default learning period per scope.
	learning = 24 * time.Hour

	// Bounds: waiting for every record, and for the collector to exit.
	recordsTimeout = 60 * time.Second
	stopTimeout    = 20 * time.Second
)

// The firstseen processor's default trackers.
const (
	newBinaryOnHost = "new_binary_on_host"
	newBinaryInEnv  = "new_binary_in_environment"
	newExternalIP   = "new_external_ip"
	newDomain       = "new_domain"
	newIPForBinary  = "new_ip_for_binary"
)

var defaultTrackers = []string{newBinaryOnHost, newBinaryInEnv, newExternalIP, newDomain, newIPForBinary}

// knownSignals are the signals the reference pipeline raises besides
// threat-intel ones: the trackers', their rare variants and Sigma's.
var knownSignals = append(slices.Clone(defaultTrackers),
	cairnevent.SignalRareBinaryInEnvironment, cairnevent.SignalRareExternalIP, cairnevent.SignalRareDomain, cairnevent.SignalRareIPForBinary,
	cairnevent.SignalSigmaLow, cairnevent.SignalSigmaMedium, cairnevent.SignalSigmaHigh, cairnevent.SignalSigmaCritical)

const (
	signalsKey = "cairn.signals"
	flagPrefix = "cairn.first_seen."
)

// TestCollectorFlagsAttack replays a fleet scenario through the collector and
// checks what comes out: every event exactly once, each with an event.id,
// nothing flagged while learning, and the attack on web-03 flagged by the
// expected trackers. It runs on the bundled scenario (testdata/scenario) and
// on a small synthetic one with the same attack.
func TestCollectorFlagsAttack(t *testing.T) {
	t.Parallel()
	bin := testkit.CollectorBinary(t)
	t.Run("bundled", func(t *testing.T) {
		t.Parallel()
		input := filepath.Join(testkit.RepoRoot(), "testdata", "scenario", "events.ndjson")
		if _, err := os.Stat(input); err != nil {
			t.Skipf("bundled scenario not readable: %v", err)
		}
		checkScenario(t, bin, input)
	})
	t.Run("synthetic", func(t *testing.T) {
		t.Parallel()
		checkScenario(t, bin, writeLines(t, t.TempDir(), "events.ndjson", syntheticScenario()))
	})
}

func checkScenario(t *testing.T, bin, input string) {
	events := readEvents(t, input)
	c := startCollector(t, "collector", bin, t.TempDir(), input)
	c.waitRecords(t, events)
	c.stop(t)
	byLine := checkDelivery(t, events, c.sink)
	checkAlert(t, c.sink)

	t0 := events[0].time
	for _, ev := range events {
		if ev.time.Before(t0) {
			t0 = ev.time
		}
	}
	learningEnd := t0.Add(learning)
	lastDay := events[len(events)-1].time.UTC().Truncate(24 * time.Hour)
	attackStart := lastDay.Add(attackHour * time.Hour)

	// Signals and flags agree on every record, and nothing is flagged
	// while the scopes learn.
	var findings []string
	hashes := map[string]map[string]bool{} // host and executable -> hashes started so far
	for i, ev := range events {
		// A new hash of a binary the host ran before is an upgrade.
		key, h := ev.Host.Name+" "+ev.Process.Executable, ev.Process.Hash.SHA256
		upgrade := ev.isProcessStart() && h != "" && len(hashes[key]) > 0 && !hashes[key][h]
		if ev.isProcessStart() && h != "" {
			if hashes[key] == nil {
				hashes[key] = map[string]bool{}
			}
			hashes[key][h] = true
		}
		r := byLine[ev.line]
		all := r.signals()
		// Threat-intel and Sigma signals come from their processors, and a
		// rare term is not a first sighting: none has a cairn.first_seen
		// flag; the first-seen ones must match their flags.
		sig := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return strings.HasPrefix(s, "intel_") })
		firstSeen := slices.DeleteFunc(slices.Clone(sig), func(s string) bool {
			return strings.HasPrefix(s, "sigma_") || strings.HasPrefix(s, "rare_")
		})
		if flags := r.flags(); !slices.Equal(firstSeen, flags) {
			t.Errorf("event %d (%s): %s %v but %s* flags %v", i+1, ev.describe(), signalsKey, firstSeen, flagPrefix, flags)
		}
		for _, s := range sig {
			if !slices.Contains(knownSignals, s) {
				t.Errorf("event %d (%s): unknown signal %q", i+1, ev.describe(), s)
			}
		}
		if len(sig) == 0 {
			continue
		}
		findings = append(findings, fmt.Sprintf("%s %v", ev.describe(), sig))
		if ev.time.Before(learningEnd) {
			t.Errorf("event %d (%s) flagged %v during the first %s (learning until %s)", i+1, ev.describe(), sig, learning, learningEnd.Format(time.RFC3339))
		}
		// Outside the attack, only a new version of a binary the host ran
		// before may be flagged, and only by the binary trackers (the
		// bundled scenario's node_exporter rollout; once a few hosts have
		// it, it is rare rather than new in the environment).
		attack := ev.Host.Name == attackHost && !ev.time.Before(attackStart)
		upgrade = upgrade && !slices.ContainsFunc(sig, func(s string) bool {
			return s != newBinaryOnHost && s != newBinaryInEnv && s != cairnevent.SignalRareBinaryInEnvironment
		})
		if !attack && !upgrade {
			t.Errorf("event %d (%s): unexpected finding %v", i+1, ev.describe(), sig)
		}
	}
	t.Logf("%d events, %d flagged:\n  %s", len(events), len(findings), strings.Join(findings, "\n  "))

	// The attack.
	var gsExe string
	for _, ev := range events {
		if ev.isProcessStart() && ev.Process.Hash.SHA256 == attackHash {
			gsExe = ev.Process.Executable
			if ev.Host.Name != attackHost || ev.time.Before(attackStart) {
				t.Errorf("gs-netcat start %s is not on %s after %s", ev.describe(), attackHost, attackStart.Format(time.RFC3339))
			}
			expectSignals(t, "gs-netcat start", ev, byLine[ev.line], newBinaryOnHost, newBinaryInEnv)
			// The bundled intel feed (testdata/intel) lists its hash.
			r := byLine[ev.line]
			if !slices.Contains(r.signals(), "intel_malicious_hash") {
				t.Errorf("gs-netcat start: %s is %v, want intel_malicious_hash", signalsKey, r.signals())
			}
			if atomic, _ := lookup(r.attrs, "threat.enrichments"); atomic == nil {
				t.Errorf("gs-netcat start has no threat.enrichments")
			}
			break
		}
	}
	if gsExe == "" {
		t.Fatalf("input has no process start with sha256 %s", attackHash)
	}

	seenIPs := map[string]bool{}
	flaggedIP := map[string]bool{}
	conns := 0
	domainSeen := false
	for _, ev := range events {
		ip := ev.Destination.IP
		if ev.Process.Executable == gsExe && ip != "" && ev.Network.Protocol != "dns" && isExternal(ip) {
			conns++
			switch {
			case !seenIPs[ip]:
				expectSignals(t, "first gs-netcat connection to "+ip, ev, byLine[ev.line], newExternalIP, newIPForBinary)
				flaggedIP[ip] = true
			case flaggedIP[ip]:
				if sig := byLine[ev.line].signals(); slices.Contains(sig, newExternalIP) || slices.Contains(sig, newIPForBinary) {
					t.Errorf("repeated gs-netcat connection %s flagged again: %v", ev.describe(), sig)
				}
			}
		}
		if ip != "" {
			seenIPs[ip] = true
		}
		if ev.DNS.Question.Name == attackDomain && !domainSeen {
			domainSeen = true
			expectSignals(t, "first DNS answer for "+attackDomain, ev, byLine[ev.line], newDomain)
		}
	}
	if conns == 0 {
		t.Errorf("input has no external connection by %s", gsExe)
	}
	if len(flaggedIP) == 0 {
		t.Errorf("input has no connection by %s to an address not contacted before", gsExe)
	}
	if !domainSeen {
		t.Errorf("input has no DNS answer for %s", attackDomain)
	}
}

// TestCollectorRestartKeepsBaseline stops the collector after two days of
// events and starts it again on the same state directory with a third day:
// a binary learnt before the restart stays known, a new one is flagged (which
// also shows that the host's learning period was not restarted).
func TestCollectorRestartKeepsBaseline(t *testing.T) {
	t.Parallel()
	bin := testkit.CollectorBinary(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")

	day := time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	at := func(d int, hms string) time.Time {
		off, err := time.ParseDuration(hms)
		if err != nil {
			t.Fatal(err)
		}
		return day.Add(time.Duration(d)*24*time.Hour + off)
	}
	first := []map[string]any{
		processStart(at(0, "0h0m1s"), "app-01", "/usr/bin/a", "", "root", 0),
		processStart(at(0, "0h0m2s"), "app-02", "/usr/bin/c", "", "root", 0),
		processStart(at(0, "6h0m0s"), "app-01", "/usr/bin/a", "", "root", 0),
		processStart(at(0, "12h0m0s"), "app-02", "/usr/bin/c", "", "root", 0),
		processStart(at(1, "9h0m0s"), "app-01", "/usr/bin/a", "", "root", 0),
		processStart(at(1, "9h0m1s"), "app-02", "/usr/bin/c", "", "root", 0),
	}
	second := []map[string]any{
		processStart(at(2, "9h0m0s"), "app-01", "/usr/bin/a", "", "root", 0),
		processStart(at(2, "9h5m0s"), "app-01", "/usr/bin/b", "", "root", 0),
		processStart(at(2, "9h6m0s"), "app-02", "/usr/bin/c", "", "root", 0),
	}

	in1 := writeLines(t, dir, "day1-2.ndjson", first)
	ev1 := readEvents(t, in1)
	c1 := startCollector(t, "collector run 1", bin, state, in1)
	c1.waitRecords(t, ev1)
	c1.stop(t)
	byLine1 := checkDelivery(t, ev1, c1.sink)
	for _, ev := range ev1 {
		if sig := byLine1[ev.line].signals(); len(sig) != 0 {
			t.Errorf("run 1: %s flagged %v; only known binaries ran", ev.describe(), sig)
		}
	}

	in2 := writeLines(t, dir, "day3.ndjson", second)
	ev2 := readEvents(t, in2)
	c2 := startCollector(t, "collector run 2", bin, state, in2)
	c2.waitRecords(t, ev2)
	c2.stop(t)
	byLine2 := checkDelivery(t, ev2, c2.sink)
	for _, ev := range ev2 {
		sig := byLine2[ev.line].signals()
		switch ev.Process.Executable {
		case "/usr/bin/b":
			expectSignals(t, "run 2: new binary", ev, byLine2[ev.line], newBinaryOnHost)
		default:
			if len(sig) != 0 {
				t.Errorf("run 2: %s flagged %v although it ran before the restart", ev.describe(), sig)
			}
		}
	}
}

// ---- collector process ----

type collector struct {
	*testkit.Process
	sink *sink
}

// startCollector runs the binary with deploy/cairn.yaml and an overlay that
// reads only the given file and exports to an in-test OTLP/HTTP server.
func startCollector(t *testing.T, name, bin, stateDir, events string) *collector {
	t.Helper()
	root := testkit.RepoRoot()
	base := filepath.Join(root, "deploy", "cairn.yaml")
	// Read (not just passed on) so that go test's cache notices changes.
	if _, err := os.ReadFile(base); err != nil {
		t.Fatal(err)
	}

	srv := newSinkServer(t)
	s := srv.sink

	overlay := filepath.Join(t.TempDir(), "e2e.yaml")
	cfg := fmt.Sprintf(`# Test overlay, merged over deploy/cairn.yaml.
receivers:
  cairn_file:
    # The raw line rides along, so that each record can be matched with
    # its input line.
    event_original: true
processors:
  firstseen:
    # Number every event here, so the OTLP output can be checked for ids.
    event_ids: all
exporters:
  otlp_http/e2e:
    endpoint: %s
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [cairn_file]
      exporters: [otlp_http/e2e]
`, srv.url)
	if err := os.WriteFile(overlay, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	return launch(t, name, bin, []string{base, overlay}, stateDir, events, s)
}

// launch starts the collector binary with the given config files, the
// scenario's intel feed, state in stateDir, events as its cairn_file input and
// env added to its environment; it is killed at the end of the test if
// still running.
func launch(t *testing.T, name, bin string, configs []string, stateDir, events string, s *sink, env ...string) *collector {
	t.Helper()
	var args []string
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir() // relative defaults of the config stay out of the repository
	// Listen addresses use port 0: the kernel picks a free port when the
	// collector binds, so there is no window for another process to take it.
	// (The otlp receiver is left out of the pipeline and does not listen at
	// all; should it ever, it gets free ports too.)
	cmd.Env = append(os.Environ(),
		"CAIRN_STATE_DIR="+stateDir,
		"CAIRN_EVENTS="+events,
		"CAIRN_INTEL_DIR="+filepath.Join(testkit.RepoRoot(), "testdata", "intel"),
		"CAIRN_HEALTH=127.0.0.1:0",
		"CAIRN_OTLP_GRPC=127.0.0.1:0",
		"CAIRN_OTLP_HTTP=127.0.0.1:0",
	)
	cmd.Env = append(cmd.Env, env...)
	c := &collector{Process: testkit.StartProcess(t, name, cmd), sink: s}
	return c
}

// waitRecords waits until every input line arrived, the collector exited or
// the time ran out.
func (c *collector) waitRecords(t *testing.T, events []event) {
	t.Helper()
	want := map[string]bool{}
	for _, ev := range events {
		want[ev.line] = true
	}
	deadline := time.After(recordsTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if got := c.sink.distinct(want); got == len(want) {
			return
		}
		select {
		case <-c.Done():
			t.Fatalf("%s exited (%v) after %d of %d records", c.Name, c.Err(), c.sink.distinct(want), len(want))
		case <-deadline:
			t.Fatalf("%s: %d of %d records arrived within %s", c.Name, c.sink.distinct(want), len(want), recordsTimeout)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and expects a clean exit, and that the OTLP sink
// accepted everything.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	c.terminate(t)
	if errs := c.sink.errors(); len(errs) > 0 {
		t.Errorf("%s: OTLP server rejected requests:\n%s", c.Name, strings.Join(errs, "\n"))
	}
}

// terminate sends SIGTERM and expects a clean exit.
func (c *collector) terminate(t *testing.T) {
	t.Helper()
	c.Terminate(t, stopTimeout)
}

// ---- OTLP/HTTP server ----

// record is one received log record: its input line (event.original, or
// the body) and its attributes as plain Go values.
type record struct {
	body  string
	attrs map[string]any
}

// sink accepts OTLP/HTTP protobuf log exports.
type sink struct {
	mu      sync.Mutex
	records []record
	count   map[string]int // by body
	errs    []string
}

func newSink() *sink { return &sink{count: map[string]int{}} }

// sinkServer is a sink listening on 127.0.0.1 (a random port).
type sinkServer struct {
	sink *sink
	url  string
}

func newSinkServer(t *testing.T) sinkServer {
	s := newSink()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return sinkServer{sink: s, url: srv.URL}
}

// waitFor waits until a record matching pred arrived and returns it; it
// fails the test when the collector exits or the time runs out.
func waitFor(t *testing.T, c *collector, d time.Duration, what string, pred func(record) bool) record {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, r := range c.sink.snapshot() {
			if pred(r) {
				return r
			}
		}
		select {
		case <-c.Done():
			t.Fatalf("%s exited before %s arrived: %v", c.Name, what, c.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not arrive within %s (%d records so far)", what, d, len(c.sink.snapshot()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.mu.Lock()
		s.errs = append(s.errs, msg)
		s.mu.Unlock()
		http.Error(w, msg, code)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/logs" {
		fail(http.StatusNotFound, "unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		fail(http.StatusUnsupportedMediaType, "unexpected Content-Type %q", ct)
		return
	}
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(http.StatusBadRequest, "gzip: %v", err)
			return
		}
		defer zr.Close()
		body = zr
	default:
		fail(http.StatusUnsupportedMediaType, "unexpected Content-Encoding %q", enc)
		return
	}
	data, err := io.ReadAll(body)
	if err != nil {
		fail(http.StatusBadRequest, "reading request: %v", err)
		return
	}
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(data); err != nil {
		fail(http.StatusBadRequest, "decoding request: %v", err)
		return
	}
	var recs []record
	rls := req.Logs().ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				// The input line: event.original (the overlay keeps
				// it), else a string body.
				body := lr.Body().AsString()
				if v, ok := testkit.Get(lr.Attributes(), "event.original"); ok {
					body = v.Str()
				} else if lr.Body().Type() != pcommon.ValueTypeStr {
					body = "<non-string body> " + body
				}
				recs = append(recs, record{body: body, attrs: lr.Attributes().AsRaw()})
			}
		}
	}
	s.mu.Lock()
	for _, rec := range recs {
		s.records = append(s.records, rec)
		s.count[rec.body]++
	}
	s.mu.Unlock()

	resp, err := plogotlp.NewExportResponse().MarshalProto()
	if err != nil {
		fail(http.StatusInternalServerError, "encoding response: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

// distinct counts how many of the wanted bodies arrived.
func (s *sink) distinct(want map[string]bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for b := range s.count {
		if want[b] {
			n++
		}
	}
	return n
}

func (s *sink) snapshot() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

func (s *sink) errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// alertsOf returns the alert records (written by the correlate processor,
// not read from the input), keyed by event.id: an update re-sends an alert
// under the same id, and the latest state wins.
func alertsOf(s *sink) map[string]record {
	out := map[string]record{}
	for _, r := range s.snapshot() {
		if kind, _ := lookup(r.attrs, "event.kind"); kind == "alert" {
			id, _ := lookup(r.attrs, "event.id")
			out[fmt.Sprint(id)] = r
		}
	}
	return out
}

// checkAlert: the attack yields exactly one alert, the composite one, on
// the attacked host, with the contributions that explain it.
func checkAlert(t *testing.T, s *sink) {
	t.Helper()
	alerts := alertsOf(s)
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want exactly 1", len(alerts))
	}
	for id, a := range alerts {
		rule, _ := lookup(a.attrs, "rule.name")
		host, _ := lookup(a.attrs, "host.name")
		msg, _ := lookup(a.attrs, "message")
		contribs, _ := lookup(a.attrs, "cairn.alert.contributions")
		if rule != "Potentially Compromised Host" || host != attackHost {
			t.Errorf("alert %s is %q on %v, want Potentially Compromised Host on %s", id, rule, host, attackHost)
		}
		if m, _ := msg.(string); !strings.Contains(m, attackDomain) || !strings.Contains(m, "flagged malicious") {
			t.Errorf("alert message does not explain the attack: %v", msg)
		}
		if list, _ := contribs.([]any); len(list) < 5 {
			t.Errorf("alert has %d contributions, want the attack's evidence", len(list))
		}
		t.Logf("alert %s: %v", id, msg)
	}
}

// checkDelivery asserts that every input line arrived exactly once, that
// nothing else arrived except alerts and that every record has a distinct
// event.id. It returns the records by input line.
func checkDelivery(t *testing.T, events []event, s *sink) map[string]record {
	t.Helper()
	recs := slices.DeleteFunc(s.snapshot(), func(r record) bool {
		kind, _ := lookup(r.attrs, "event.kind")
		return kind == "alert"
	})
	byLine := make(map[string]record, len(recs))
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.body]++
		byLine[r.body] = r
	}
	missing, dup := 0, 0
	for i, ev := range events {
		switch n := counts[ev.line]; {
		case n == 0:
			if missing++; missing <= 5 {
				t.Errorf("input line %d never arrived: %.200s", i+1, ev.line)
			}
		case n > 1:
			if dup++; dup <= 5 {
				t.Errorf("input line %d arrived %d times: %.200s", i+1, n, ev.line)
			}
		}
		delete(counts, ev.line)
	}
	if missing > 0 || dup > 0 {
		t.Errorf("%d of %d input lines missing, %d duplicated", missing, len(events), dup)
	}
	for body, n := range counts {
		t.Errorf("received %d record(s) not in the input: %.200s", n, body)
	}

	ids := map[string]string{}
	noID := 0
	for _, r := range recs {
		id, ok := lookup(r.attrs, "event.id")
		s, isStr := id.(string)
		if !ok || !isStr || s == "" {
			if noID++; noID <= 5 {
				t.Errorf("record without a string event.id (got %#v): %.200s", id, r.body)
			}
			continue
		}
		if other, dup := ids[s]; dup && other != r.body {
			t.Errorf("event.id %s on two different events:\n  %.200s\n  %.200s", s, other, r.body)
		}
		ids[s] = r.body
	}
	if noID > 0 {
		t.Errorf("%d of %d records have no event.id", noID, len(recs))
	}
	if t.Failed() {
		t.FailNow()
	}
	return byLine
}

// ---- received attributes ----

// lookup finds a dotted field among attributes that may hold it flat
// ("event.id"), nested ({"event": {"id": …}}) or a mix of both.
func lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v, ok := lookup(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// signals returns cairn.signals, sorted.
func (r record) signals() []string {
	var out []string
	switch v, _ := lookup(r.attrs, signalsKey); v := v.(type) {
	case string:
		out = []string{v}
	case []any:
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
	}
	sort.Strings(out)
	return out
}

// flags returns the trackers whose cairn.first_seen.<tracker> is true, sorted.
func (r record) flags() []string {
	set := map[string]bool{}
	for _, name := range defaultTrackers {
		if v, _ := lookup(r.attrs, flagPrefix+name); v == true {
			set[name] = true
		}
	}
	for k, v := range r.attrs { // flags of trackers not in the default list
		if name, ok := strings.CutPrefix(k, flagPrefix); ok && v == true {
			set[name] = true
		}
	}
	var out []string
	for name := range set {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func expectSignals(t *testing.T, what string, ev event, r record, want ...string) {
	t.Helper()
	sig := r.signals()
	for _, w := range want {
		if !slices.Contains(sig, w) {
			t.Errorf("%s (%s): %s is %v, want it to contain %q", what, ev.describe(), signalsKey, sig, w)
		}
		if v, _ := lookup(r.attrs, flagPrefix+w); v != true {
			t.Errorf("%s (%s): %s%s is %#v, want true", what, ev.describe(), flagPrefix, w, v)
		}
	}
}

// ---- input ----

// event is one input line and the ECS fields the assertions use.
type event struct {
	line string
	time time.Time

	Timestamp string `json:"@timestamp"`
	Event     struct {
		Category []string `json:"category"`
		Type     []string `json:"type"`
	} `json:"event"`
	Host struct {
		Name string `json:"name"`
	} `json:"host"`
	Process struct {
		Executable string `json:"executable"`
		Hash       struct {
			SHA256 string `json:"sha256"`
		} `json:"hash"`
	} `json:"process"`
	Network struct {
		Protocol string `json:"protocol"`
	} `json:"network"`
	Destination struct {
		IP string `json:"ip"`
	} `json:"destination"`
	DNS struct {
		Question struct {
			Name string `json:"name"`
		} `json:"question"`
	} `json:"dns"`
}

func (ev event) isProcessStart() bool {
	return slices.Contains(ev.Event.Category, "process") &&
		(slices.Contains(ev.Event.Type, "start") || slices.Contains(ev.Event.Type, "info"))
}

func (ev event) describe() string {
	var what string
	switch {
	case ev.DNS.Question.Name != "":
		what = "dns " + ev.DNS.Question.Name
	case ev.Destination.IP != "":
		what = ev.Process.Executable + " -> " + ev.Destination.IP
	default:
		what = strings.Join(ev.Event.Category, ",") + " " + ev.Process.Executable
	}
	return fmt.Sprintf("%s %s %s", ev.Timestamp, ev.Host.Name, what)
}

func readEvents(t *testing.T, path string) []event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		if ev.time, err = time.Parse(time.RFC3339Nano, ev.Timestamp); err != nil {
			t.Fatalf("%s:%d: @timestamp: %v", path, n, err)
		}
		ev.line = line
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		t.Fatalf("%s holds no events", path)
	}
	return events
}

func writeLines(t *testing.T, dir, name string, docs []map[string]any) string {
	t.Helper()
	var b bytes.Buffer
	for _, d := range docs {
		line, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// isExternal: publicly routable (the default trackers only count those).
func isExternal(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "2001:db8::/32"} {
		if netip.MustParsePrefix(p).Contains(a) {
			return false
		}
	}
	return true
}

// ---- synthetic scenario ----

func ecsBase(ts time.Time, host string, category, typ []string) map[string]any {
	return map[string]any{
		"@timestamp": ts.UTC().Format("2006-01-02T15:04:05.000Z"),
		"event":      map[string]any{"kind": "event", "category": category, "type": typ},
		"host":       map[string]any{"name": host, "os": map[string]any{"type": "linux"}},
	}
}

func processStart(ts time.Time, host, exe, sha256, user string, uid int) map[string]any {
	d := ecsBase(ts, host, []string{"process"}, []string{"start"})
	p := map[string]any{"executable": exe, "name": filepath.Base(exe), "pid": 1000 + ts.Second()}
	if sha256 != "" {
		p["hash"] = map[string]any{"sha256": sha256}
	}
	d["process"] = p
	d["user"] = map[string]any{"name": user, "id": fmt.Sprint(uid)}
	return d
}

func connection(ts time.Time, host, exe, ip string, port int) map[string]any {
	d := ecsBase(ts, host, []string{"network"}, []string{"connection", "start"})
	d["network"] = map[string]any{"transport": "tcp", "direction": "egress"}
	d["destination"] = map[string]any{"ip": ip, "port": port}
	d["process"] = map[string]any{"executable": exe, "name": filepath.Base(exe)}
	return d
}

func dnsAnswer(ts time.Time, host, exe, name, answer string) map[string]any {
	d := ecsBase(ts, host, []string{"network"}, []string{"protocol", "info"})
	d["network"] = map[string]any{"protocol": "dns", "transport": "udp"}
	d["destination"] = map[string]any{"ip": "10.0.0.2", "port": 53}
	d["dns"] = map[string]any{"type": "answer", "question": map[string]any{"name": name, "type": "A"}, "resolved_ip": []string{answer}}
	d["process"] = map[string]any{"executable": exe, "name": filepath.Base(exe)}
	return d
}

// syntheticScenario: three hosts repeat the same activity for three days;
// on the last day at 14:00 web-03 is attacked the way the bundled scenario
// describes (zsh, gs-netcat as root, two new external addresses, a DNS
// answer for l.gs.thc.org).
func syntheticScenario() []map[string]any {
	hash := func(s string) string { h := sha256.Sum256([]byte(s + "@1.0")); return hex.EncodeToString(h[:]) }
	day0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var docs []map[string]any
	for d := 0; d < 3; d++ {
		for slot := 0; slot < 6; slot++ {
			for h, host := range []string{"web-01", "web-03", "bastion-01"} {
				ts := day0.Add(time.Duration(d)*24*time.Hour + time.Duration(slot*4)*time.Hour + time.Duration(h)*time.Minute + time.Second)
				step := func() time.Time { ts = ts.Add(1500 * time.Millisecond); return ts }
				docs = append(docs,
					processStart(step(), host, "/usr/sbin/cron", hash("cron"), "root", 0),
					processStart(step(), host, "/usr/bin/curl", hash("curl"), "root", 0),
					dnsAnswer(step(), host, "/usr/bin/curl", "hc-ping.com", "88.198.57.21"),
					connection(step(), host, "/usr/bin/curl", "88.198.57.21", 443),
					connection(step(), host, "/usr/bin/curl", "169.254.169.254", 80),
				)
				if host == "bastion-01" {
					docs = append(docs, processStart(step(), host, "/usr/bin/zsh", hash("zsh"), "alice", 1001))
				} else {
					docs = append(docs,
						processStart(step(), host, "/usr/bin/node", hash("node"), "www-data", 33),
						dnsAnswer(step(), host, "/usr/bin/node", "api.stripe.com", "54.187.216.72"),
						connection(step(), host, "/usr/bin/node", "54.187.216.72", 443),
					)
				}
			}
		}
	}
	attack := day0.Add(2*24*time.Hour + attackHour*time.Hour)
	gs := "/tmp/.x/gs-netcat"
	docs = append(docs,
		processStart(attack, attackHost, "/usr/bin/zsh", hash("zsh"), "ext-contractor", 2150),
		processStart(attack.Add(40*time.Second), attackHost, gs, attackHash, "root", 0),
		connection(attack.Add(41*time.Second), attackHost, gs, "91.92.109.14", 80),
		dnsAnswer(attack.Add(41250*time.Millisecond), attackHost, gs, attackDomain, "194.165.16.72"),
		connection(attack.Add(41262*time.Millisecond), attackHost, gs, "194.165.16.72", 7350),
		connection(attack.Add(10*time.Minute), attackHost, gs, "91.92.109.14", 80),
	)
	sort.SliceStable(docs, func(i, j int) bool {
		return docs[i]["@timestamp"].(string) < docs[j]["@timestamp"].(string)
	})
	return docs
}
