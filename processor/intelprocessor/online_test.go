package intelprocessor

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/testkit"
)

// vtServer answers like the v3 files endpoint: the gs-netcat hash is known
// and flagged by 40 of 60 engines, anything else is unknown.
func vtServer(t *testing.T, key string) (*httptest.Server, *atomic.Int64) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("x-apikey") != key {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"WrongCredentialsError","message":"Wrong API key"}}`)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/api/v3/files/"+gsNetcat) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"NotFoundError","message":"File not found"}}`)
			return
		}
		fmt.Fprintf(w, `{"data":{"id":%q,"type":"file","attributes":{
			"last_analysis_stats":{"malicious":40,"suspicious":0,"undetected":20,"harmless":0,"timeout":0},
			"popular_threat_classification":{"suggested_threat_label":"hacktool.gsocket"},
			"meaningful_name":"gs-netcat","first_submission_date":1700000000}}}`, gsNetcat)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func onlineConfig(t *testing.T, url string, budget time.Duration) *Config {
	t.Setenv("CAIRN_TEST_VT_KEY", "secret-test-key")
	cfg := createDefaultConfig().(*Config)
	cfg.ReloadInterval = 0
	cfg.Online.Enabled = true
	cfg.Online.Endpoint = url
	cfg.Online.APIKeyEnv = "CAIRN_TEST_VT_KEY"
	cfg.Online.RequestsPerMinute = 6000
	cfg.Online.Timeout = 5 * time.Second
	cfg.Online.WaitBudget = budget
	require.NoError(t, cfg.Validate())
	return cfg
}

func TestOnlineLateAnswerBecomesAnEnrichmentRecord(t *testing.T) {
	srv, calls := vtServer(t, "secret-test-key")
	f := newFixture(t, onlineConfig(t, srv.URL, 0))
	out := f.send(t, procStart(gsNetcat), procStart(strings.Repeat("a", 64)))
	assert.Empty(t, testkit.Signals(out[0]), "budget 0: the event is not held")

	// The answer arrives later: a standalone record for the asking host.
	var late pcommon.Map
	require.Eventually(t, func() bool {
		for _, ld := range f.sink.AllLogs() {
			recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < recs.Len(); i++ {
				if k, ok := recs.At(i).Attributes().Get("event.kind"); ok && k.Str() == "enrichment" {
					late = recs.At(i).Attributes()
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	host, _ := late.Get("host.name")
	assert.Equal(t, "web-03", host.Str())
	assert.Equal(t, []string{"intel_malicious_hash"}, testkit.Signals(late))
	e := enrichments(t, late)
	require.Len(t, e, 1)
	assert.Equal(t, "VirusTotal", e[0]["indicator"].(map[string]any)["provider"])
	assert.Equal(t, "hacktool.gsocket", e[0]["indicator"].(map[string]any)["name"])
	assert.Equal(t, "Medium", e[0]["indicator"].(map[string]any)["confidence"])
	assert.Equal(t, evTime.Format(time.RFC3339Nano), e[0]["matched"].(map[string]any)["occurred"], "placed at the asking event's time")

	// Both hashes asked about have been answered (the unknown one may come
	// after the known one's record): from here on nothing is in flight.
	require.Eventually(t, func() bool { return calls.Load() == 2 }, 10*time.Second, 10*time.Millisecond)

	// A later sighting gets the verdict from the cache, without a new request.
	before := calls.Load()
	out = f.send(t, procStart(gsNetcat))
	assert.Equal(t, []string{"intel_malicious_hash"}, testkit.Signals(out[0]))
	assert.Equal(t, before, calls.Load())

	m, err := f.tel.GetMetric("otelcol_processor_intel_online_lookups")
	require.NoError(t, err)
	byOutcome := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		o, _ := dp.Attributes.Value("outcome")
		byOutcome[o.AsString()] = dp.Value
	}
	assert.Equal(t, int64(1), byOutcome["found"])
	assert.Equal(t, int64(1), byOutcome["not_found"])
	assert.GreaterOrEqual(t, byOutcome["cache_hit"], int64(1))
	assert.GreaterOrEqual(t, counter(t, f.tel, "otelcol_processor_intel_online_late_records"), int64(1))
}

func TestOnlineWithinBudget(t *testing.T) {
	srv, _ := vtServer(t, "secret-test-key")
	f := newFixture(t, onlineConfig(t, srv.URL, 3*time.Second))
	out := f.send(t, procStart(gsNetcat))
	assert.Equal(t, []string{"intel_malicious_hash"}, testkit.Signals(out[0]), "answered within the wait budget")
}

func TestOnlineLocalFeedsWinAndAllowListsStopLookups(t *testing.T) {
	srv, calls := vtServer(t, "secret-test-key")
	dir := t.TempDir()
	writeFeed(t, dir, "allow.csv", gsNetcat+",benign,in-house\n")
	cfg := onlineConfig(t, srv.URL, time.Second)
	cfg.FeedsDir = dir
	f := newFixture(t, cfg)
	out := f.send(t, procStart(gsNetcat))
	assert.Empty(t, testkit.Signals(out[0]))
	assert.Zero(t, calls.Load(), "an allow-listed hash is not looked up")
}

func TestOnlineWrongKeyNeverBlocks(t *testing.T) {
	srv, _ := vtServer(t, "the-right-key")
	f := newFixture(t, onlineConfig(t, srv.URL, 0))
	start := time.Now()
	for i := 0; i < 20; i++ {
		out := f.send(t, procStart(gsNetcat))
		assert.Empty(t, testkit.Signals(out[0]))
	}
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestOnlineKeyErrors(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Online.Enabled = true
	cfg.Online.APIKeyFile = "/nonexistent/vt-key"
	_, err := newIntel(processorSettings(), cfg, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret")
}

func procStartOn(host, hash string) map[string]any {
	e := procStart(hash)
	e["host"] = map[string]any{"name": host}
	return e
}

// TestOnlineFloodFromOneHostDoesNotStarveAnother: a host running thousands
// of random binaries filled the lookup queue, so the next host's real
// hash was dropped and never looked up.
func TestOnlineFloodFromOneHostDoesNotStarveAnother(t *testing.T) {
	srv, _ := vtServer(t, "secret-test-key")
	f := newFixture(t, onlineConfig(t, srv.URL, 0))
	var flood []map[string]any
	for i := range 3000 {
		flood = append(flood, procStartOn("compromised-01", fmt.Sprintf("%064x", 0xf100d000+i)))
	}
	f.send(t, flood...)
	f.send(t, procStart(gsNetcat)) // from web-03
	require.Eventually(t, func() bool {
		for _, ld := range f.sink.AllLogs() {
			recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < recs.Len(); i++ {
				a := recs.At(i).Attributes()
				if h, ok := a.Get("host.name"); ok && h.Str() == "web-03" && len(testkit.Signals(a)) == 1 {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "the other host's hash was not looked up")
	refused := func(reason string) int64 {
		return testkit.Sum(t, f.tel, "otelcol_processor_intel_online_refused", map[string]string{"reason": reason})
	}
	// At most host_queue_size wait and host_requests_per_day are made; the
	// rest is refused, for a full host queue or, once the day's share is
	// spent, for the host's cap.
	hostRefused := refused("host_queue_full") + refused("host_daily_cap")
	assert.GreaterOrEqual(t, hostRefused, int64(3000-20-50), "the flood beyond the host's share")
	assert.Positive(t, refused("host_queue_full"))
	assert.Zero(t, refused("queue_full"))
	lookups := testkit.Sum(t, f.tel, "otelcol_processor_intel_online_lookups", map[string]string{"outcome": "dropped"})
	assert.GreaterOrEqual(t, lookups, hostRefused, "dropped sums up every refusal")
}

func TestOnlinePrioritySignals(t *testing.T) {
	o := &onlineLookup{priority: []string{"new_binary_in_environment"}}
	v := event.NewView()
	ld := plog.NewLogs()
	rec := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	v.Reset(ld.ResourceLogs().At(0).Resource(), rec)
	assert.False(t, o.prioritised(v))
	v.AddSignal("new_binary_on_host")
	assert.False(t, o.prioritised(v))
	v.AddSignal("new_binary_in_environment")
	assert.True(t, o.prioritised(v))
}
