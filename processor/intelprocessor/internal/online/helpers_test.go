package online

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// patience bounds waits for things that normally take milliseconds; it is
// generous because a loaded CI machine can stall the race-enabled binary
// for seconds, and passing tests never wait it out.
const patience = 10 * time.Second

// testKey is distinctive so that a leak anywhere is easy to spot.
const testKey = "k3y-0f1e2d3c4b5a6978SECRET8796a5b4c3d2e1f0"

// hashN builds a distinct valid SHA-256 for test n.
func hashN(n int) string { return fmt.Sprintf("%064x", 0xabc000+n) }

// ---- fake clock ----------------------------------------------------------

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{at: f.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- f.now
		return t.ch, func() bool { return false }
	}
	f.timers = append(f.timers, t)
	return t.ch, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, x := range f.timers {
			if x == t {
				f.timers = append(f.timers[:i], f.timers[i+1:]...)
				return true
			}
		}
		return false
	}
}

// Advance moves time on and fires the timers that fall due.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	live := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(f.now) {
			live = append(live, t)
			continue
		}
		t.ch <- f.now
	}
	f.timers = live
}

// pending returns the time left on each live timer, shortest first.
func (f *fakeClock) pending() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for _, t := range f.timers {
		out = append(out, t.at.Sub(f.now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// waitTimer waits for the worker to block on a timer and returns the time
// left on it. Only the worker creates timers in the fake-clock tests.
func (f *fakeClock) waitTimer(t *testing.T) time.Duration {
	t.Helper()
	var d time.Duration
	require.Eventually(t, func() bool {
		p := f.pending()
		if len(p) == 0 {
			return false
		}
		d = p[0]
		return true
	}, patience, time.Millisecond, "worker never blocked on a timer")
	return d
}

// drive advances the clock through the worker's waits of at most maxStep
// until cond holds; for tests that do not care about the durations.
func (f *fakeClock) drive(t *testing.T, maxStep time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached")
		p := f.pending()
		// cond may have become true while reading the timers; the timer
		// seen could then be one the test means to measure.
		if len(p) > 0 && p[0] <= maxStep && !cond() {
			f.Advance(p[0])
			continue
		}
		time.Sleep(time.Millisecond)
	}
}

// ---- fake VirusTotal ------------------------------------------------------

type report struct {
	mal, sus, und, harm int
	label, name         string
	first, last         int64
}

type fakeVT struct {
	srv      *httptest.Server
	key      string
	mu       sync.Mutex
	calls    map[string]int
	arrivals []time.Time
	reports  map[string]report
	// handle, when set, answers instead of the default API behaviour; n
	// counts the calls for this hash, from 1.
	handle func(w http.ResponseWriter, r *http.Request, hash string, n int)
}

func newFakeVT(t *testing.T) *fakeVT {
	f := &fakeVT{key: testKey, calls: map[string]int{}, reports: map[string]report{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVT) serve(w http.ResponseWriter, r *http.Request) {
	hash, ok := strings.CutPrefix(r.URL.Path, "/api/v3/files/")
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.calls[hash]++
	n := f.calls[hash]
	f.arrivals = append(f.arrivals, time.Now())
	h := f.handle
	f.mu.Unlock()
	if h != nil {
		h(w, r, hash, n)
		return
	}
	f.standard(w, r, hash)
}

// standard behaves like the v3 file endpoint.
func (f *fakeVT) standard(w http.ResponseWriter, r *http.Request, hash string) {
	if r.Header.Get("x-apikey") != f.key {
		writeAPIError(w, http.StatusUnauthorized, "WrongCredentialsError", "Wrong API key")
		return
	}
	f.mu.Lock()
	rep, ok := f.reports[hash]
	f.mu.Unlock()
	if !ok {
		writeAPIError(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("File %q not found", hash))
		return
	}
	writeReport(w, hash, rep)
}

func (f *fakeVT) setReport(hash string, r report) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports[hash] = r
}

func (f *fakeVT) setHandler(h func(w http.ResponseWriter, r *http.Request, hash string, n int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handle = h
}

func (f *fakeVT) callsFor(hash string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[hash]
}

func (f *fakeVT) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.arrivals)
}

func (f *fakeVT) arrivalTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.arrivals...)
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeReport(w http.ResponseWriter, hash string, r report) {
	attrs := map[string]any{
		"last_analysis_stats": map[string]int{
			"malicious": r.mal, "suspicious": r.sus, "undetected": r.und, "harmless": r.harm,
			"timeout": 1, "confirmed-timeout": 0, "failure": 1, "type-unsupported": 4,
		},
		"last_analysis_results": map[string]any{
			"EngineA": map[string]any{"category": "malicious", "result": "Trojan.Gen"},
		},
		"sha256":                hash,
		"size":                  12345,
		"type_description":      "Win32 EXE",
		"meaningful_name":       r.name,
		"first_submission_date": r.first,
		"last_analysis_date":    r.last,
		"reputation":            -10,
	}
	if r.label != "" {
		attrs["popular_threat_classification"] = map[string]any{
			"suggested_threat_label":  r.label,
			"popular_threat_category": []map[string]any{{"count": 10, "value": "trojan"}},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"data": map[string]any{
			"id": hash, "type": "file", "attributes": attrs,
			"links": map[string]any{"self": "https://example.invalid/api/v3/files/" + hash},
		},
	})
}

// ---- harness ----------------------------------------------------------------

type harness struct {
	c    *Client
	vt   *fakeVT
	fc   *fakeClock
	logs *observer.ObservedLogs
	late chan Result
}

type hopts struct {
	fake    bool
	noStart bool
	cfg     func(*Config)
}

func newHarness(t *testing.T, o hopts) *harness {
	t.Helper()
	h := &harness{vt: newFakeVT(t), late: make(chan Result, 1000)}
	cfg := Config{
		Endpoint:          h.vt.srv.URL,
		APIKey:            testKey,
		RequestsPerMinute: 60000, // 1 ms apart: pacing is tested on its own
		Timeout:           patience,
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h.logs = logs
	var clk clock = realClock{}
	if o.fake {
		h.fc = newFakeClock(time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC))
		clk = h.fc
	}
	c, err := newClient(cfg, zap.New(core), func(r Result) {
		select {
		case h.late <- r:
		default:
		}
	}, clk)
	require.NoError(t, err)
	// Fixed delays make backoff assertions exact; jitter is tested apart.
	c.jitter = func(d time.Duration) time.Duration { return d }
	h.c = c
	if !o.noStart {
		require.NoError(t, c.Start(context.Background()))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, c.Shutdown(ctx))
		h.assertNoKey(t, c.Stats())
	})
	return h
}

// assertNoKey checks every log line recorded so far and the values given.
func (h *harness) assertNoKey(t *testing.T, vals ...any) {
	t.Helper()
	for _, e := range h.logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		assert.NotContains(t, line, testKey, "key in a log line")
		assert.NotContains(t, line, testKey[:12], "part of the key in a log line")
	}
	for _, v := range vals {
		s := fmt.Sprintf("%v %+v %#v", v, v, v)
		if err, ok := v.(error); ok && err != nil {
			s += err.Error()
		}
		assert.NotContains(t, s, testKey)
	}
}

func (h *harness) logsAt(level zapcore.Level) []observer.LoggedEntry {
	return h.logs.FilterLevelExact(level).All()
}

func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, patience, time.Millisecond, msg)
}
