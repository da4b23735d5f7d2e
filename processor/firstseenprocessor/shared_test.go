package firstseenprocessor

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/redistest"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/metadata"

	"github.com/cairnsec/cairn/internal/testkit"
)

// The environment-scoped trackers under test, with how to read their term
// back from a flagged (flat) event.
var envTrackers = map[string]func(a map[string]any) string{
	"new_binary_in_environment": func(a map[string]any) string { return a["process.hash.sha256"].(string) },
	"new_external_ip":           func(a map[string]any) string { return a["destination.ip"].(string) },
	"new_domain":                func(a map[string]any) string { return a["dns.question.name"].(string) },
	"new_ip_for_binary": func(a map[string]any) string {
		return a["process.executable"].(string) + "|" + a["destination.ip"].(string)
	},
}

// fleetConfig: the default trackers without learning (every first sighting
// is flagged), environment trackers in Redis at addr under prefix, and
// without prevalence (known after the first host, no rare signals), so
// that every environment-new term is flagged exactly once fleet-wide;
// prevalenceConfig below counts hosts.
func fleetConfig(addr, prefix string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.KnownAfterHosts, cfg.RareHosts, cfg.RareShare = 1, 0, 0
	cfg.Store = storeRedis
	cfg.Redis.Endpoint = addr
	cfg.Redis.KeyPrefix = prefix
	cfg.Redis.RetryInterval = 50 * time.Millisecond
	for _, d := range DefaultTrackers() {
		cfg.Trackers = append(cfg.Trackers, TrackerConfig{Name: d.Name, Learning: durPtr(0)})
	}
	return cfg
}

// roomyBudget gives Redis round trips a budget that a loaded test machine
// (go test runs packages side by side) cannot miss: tests of what is
// flagged with Redis up must not see degraded verdicts because the machine
// was busy; the tests of the budget itself set theirs.
func roomyBudget(cfg *Config) *Config {
	cfg.Redis.Timeout = 5 * time.Second
	return cfg
}

// fleetEvents generates events of hosts [0, hosts): process starts of
// common and rare binaries, connections to a pool of external IPs and DNS
// lookups, perHost events per host, interleaved by time. truth collects the
// distinct term of every environment tracker.
type fleetGen struct {
	hosts, perHost int
	seed           int64
}

func (g fleetGen) host(h int) string { return fmt.Sprintf("host-%05d", h) }

// events returns host h's events (flat attributes).
func (g fleetGen) events(h int) []map[string]any {
	r := rand.New(rand.NewSource(g.seed*1_000_003 + int64(h)))
	out := make([]map[string]any, 0, g.perHost)
	for i := 0; i < g.perHost; i++ {
		ts := day0.Add(time.Duration(i)*time.Minute + time.Duration(h%60)*time.Second)
		e := map[string]any{
			"@timestamp": ts.Format(time.RFC3339Nano),
			"host.name":  g.host(h),
		}
		// Binaries: 40 common ones, plus one of 1000 rarer ones.
		bin := r.Intn(40)
		if r.Intn(10) == 0 {
			bin = 40 + r.Intn(1000)
		}
		exe := fmt.Sprintf("/usr/bin/app%d", bin)
		switch i % 3 {
		case 0:
			e["event.category"] = "process"
			e["event.type"] = "start"
			e["process.executable"] = exe
			e["process.hash.sha256"] = fmt.Sprintf("%064x", bin+1)
		case 1:
			// Skewed: most connections go to a few hundred addresses.
			n := r.Intn(300)
			if r.Intn(4) == 0 {
				n = r.Intn(20000)
			}
			e["event.category"] = "network"
			e["process.executable"] = exe
			e["destination.ip"] = fmt.Sprintf("45.%d.%d.%d", 10+n/65536, (n/256)%256, n%256)
		default:
			n := r.Intn(200)
			if r.Intn(4) == 0 {
				n = r.Intn(10000)
			}
			e["event.category"] = "network"
			e["dns.question.name"] = fmt.Sprintf("d%d.example.com", n)
		}
		out = append(out, e)
	}
	return out
}

// terms returns the distinct terms of each environment tracker in events.
func terms(events []map[string]any) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for name := range envTrackers {
		out[name] = map[string]bool{}
	}
	for _, e := range events {
		if e["event.category"] == "process" {
			out["new_binary_in_environment"][e["process.hash.sha256"].(string)] = true
		}
		if ip, ok := e["destination.ip"]; ok {
			out["new_external_ip"][ip.(string)] = true
			out["new_ip_for_binary"][e["process.executable"].(string)+"|"+ip.(string)] = true
		}
		if d, ok := e["dns.question.name"]; ok {
			out["new_domain"][d.(string)] = true
		}
	}
	return out
}

// collector is one in-process processor of the fleet.
type collector struct {
	fs  *firstSeen
	tel *componenttest.Telemetry
}

func newCollector(t testing.TB, cfg *Config) *collector {
	t.Helper()
	return newCollectorLog(t, cfg, nil)
}

func newCollectorLog(t testing.TB, cfg *Config, logger *zap.Logger) *collector {
	t.Helper()
	tel := componenttest.NewTelemetry()
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	if logger != nil {
		set.Logger = logger
	}
	fs, err := newFirstSeen(set, cfg)
	require.NoError(t, err)
	require.NoError(t, fs.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		require.NoError(t, fs.shutdown(context.Background()))
		_ = tel.Shutdown(context.Background())
	})
	return &collector{fs: fs, tel: tel}
}

// flags is what a fleet flagged: tracker -> term -> count, plus counts of
// degraded events and of flags on degraded events.
type flags struct {
	mu        sync.Mutex
	byTerm    map[string]map[string]int
	degraded  int
	degFlags  map[string]map[string]int
	processed int
}

func newFlags() *flags {
	f := &flags{byTerm: map[string]map[string]int{}, degFlags: map[string]map[string]int{}}
	for name := range envTrackers {
		f.byTerm[name] = map[string]int{}
		f.degFlags[name] = map[string]int{}
	}
	return f
}

func (f *flags) add(ld plog.Logs) {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < recs.Len(); i++ {
		a := recs.At(i).Attributes().AsRaw()
		f.processed++
		deg := a["cairn.first_seen.degraded"] == true
		if deg {
			f.degraded++
		}
		for name, term := range envTrackers {
			if a["cairn.first_seen."+name] == true {
				f.byTerm[name][term(a)]++
				if deg {
					f.degFlags[name][term(a)]++
				}
			}
		}
	}
}

// process runs events through c in batches of size n, recording what was
// flagged and the latency of each batch.
func (c *collector) process(t testing.TB, events []map[string]any, n int, f *flags, lat *[]time.Duration) {
	for start := 0; start < len(events); start += n {
		ld := flatBatch(t, events[start:min(start+n, len(events))])
		t0 := time.Now()
		_, err := c.fs.processLogs(context.Background(), ld)
		if lat != nil {
			*lat = append(*lat, time.Since(t0))
		}
		require.NoError(t, err)
		f.add(ld)
	}
}

func flatBatch(t testing.TB, events []map[string]any) plog.Logs {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, e := range events {
		require.NoError(t, recs.AppendEmpty().Attributes().FromRaw(e))
	}
	return ld
}

// interleave merges the hosts' event lists round-robin (time order per host).
func interleave(lists [][]map[string]any) []map[string]any {
	var out []map[string]any
	for i := 0; ; i++ {
		added := false
		for _, l := range lists {
			if i < len(l) {
				out = append(out, l[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// split gives collector k of n the events of hosts h with h%n == k.
func (g fleetGen) split(n int) [][]map[string]any {
	per := make([][][]map[string]any, n)
	for h := 0; h < g.hosts; h++ {
		per[h%n] = append(per[h%n], g.events(h))
	}
	out := make([][]map[string]any, n)
	for k := range out {
		out[k] = interleave(per[k])
	}
	return out
}

func uniquePrefix(t testing.TB) string {
	return fmt.Sprintf("cairntest:%s:%d:", t.Name(), time.Now().UnixNano())
}

// cleanupPrefix deletes the test's keys at the end.
func cleanupPrefix(t testing.TB, addr, prefix string) {
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
	})
}

func countKeys(t testing.TB, addr, pattern string) int {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	n := 0
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	require.NoError(t, iter.Err())
	return n
}

// checkExactlyOnce asserts that every term of truth was flagged exactly once
// fleet-wide and nothing else was flagged.
func checkExactlyOnce(t *testing.T, truth map[string]map[string]bool, f *flags) {
	t.Helper()
	for name, want := range truth {
		got := f.byTerm[name]
		var missing, twice, extra []string
		for term := range want {
			switch got[term] {
			case 0:
				missing = append(missing, term)
			case 1:
			default:
				twice = append(twice, term)
			}
		}
		for term := range got {
			if !want[term] {
				extra = append(extra, term)
			}
		}
		sort.Strings(missing)
		sort.Strings(twice)
		assert.Empty(t, missing, "%s: terms never flagged", name)
		assert.Empty(t, twice, "%s: terms flagged more than once", name)
		assert.Empty(t, extra, "%s: flagged terms that are not in the data", name)
		t.Logf("%s: %d distinct terms, each flagged once", name, len(want))
	}
}

// TestSharedFleetExactlyOnce: three collectors, each with a third of 5,000
// hosts, share one Redis; every environment-new term is flagged by exactly
// one of them, in one round trip per batch.
func TestSharedFleetExactlyOnce(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	g := fleetGen{hosts: 5000, perHost: 12, seed: 1}
	parts := g.split(3)
	var all []map[string]any
	for _, p := range parts {
		all = append(all, p...)
	}
	truth := terms(all)

	f := newFlags()
	cols := make([]*collector, 3)
	for k := range cols {
		cols[k] = newCollector(t, roomyBudget(fleetConfig(addr, prefix)))
	}
	const batchSize = 500
	var wg sync.WaitGroup
	for k, c := range cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.process(t, parts[k], batchSize, f, nil)
		}()
	}
	wg.Wait()

	assert.Equal(t, len(all), f.processed, "every event comes out")
	assert.Zero(t, f.degraded, "no degraded verdicts with Redis up")
	checkExactlyOnce(t, truth, f)

	batches := 0
	var trips int64
	for k, c := range cols {
		batches += (len(parts[k]) + batchSize - 1) / batchSize
		trips += c.fs.shared.store.RoundTrips()
	}
	assert.LessOrEqual(t, trips, int64(batches), "at most one round trip per batch")
	t.Logf("%d events in %d batches, %d round trips", len(all), batches, trips)

	// Every term is in Redis once, under its tracker.
	total := 0
	for _, m := range truth {
		total += len(m)
	}
	assert.Equal(t, total, countKeys(t, addr, prefix+"*:t:*"))

	// A fourth collector joining later flags nothing it did not see first.
	late := newCollector(t, fleetConfig(addr, prefix))
	f2 := newFlags()
	late.process(t, parts[0][:2000], batchSize, f2, nil)
	for name := range envTrackers {
		assert.Empty(t, f2.byTerm[name], "%s: a term the fleet knows is not new", name)
	}
}

// TestSharedCacheSkipsRoundTrips: once confirmed, known terms cost no round
// trip until event time moved by persist_granularity.
func TestSharedCacheSkipsRoundTrips(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	c := newCollector(t, fleetConfig(addr, prefix))
	f := newFlags()
	evs := fleetGen{hosts: 50, perHost: 30, seed: 2}.split(1)[0]
	c.process(t, evs, 100, f, nil)
	trips := c.fs.shared.store.RoundTrips()
	require.Positive(t, trips)
	// The same events again: all confirmed, no round trip.
	c.process(t, evs, 100, f, nil)
	assert.Equal(t, trips, c.fs.shared.store.RoundTrips())
	// Two hours later (granularity 1h): refreshed, one trip per batch, and
	// still nothing new.
	later := make([]map[string]any, len(evs))
	for i, e := range evs {
		cp := map[string]any{}
		for k, v := range e {
			cp[k] = v
		}
		ts, _ := time.Parse(time.RFC3339Nano, e["@timestamp"].(string))
		cp["@timestamp"] = ts.Add(2 * time.Hour).Format(time.RFC3339Nano)
		later[i] = cp
	}
	before := map[string]int{}
	for name, m := range f.byTerm {
		before[name] = len(m)
	}
	c.process(t, later, 100, f, nil)
	assert.Equal(t, trips+int64((len(later)+99)/100), c.fs.shared.store.RoundTrips())
	for name, m := range f.byTerm {
		for term, n := range m {
			assert.Equal(t, 1, n, "%s %s", name, term)
		}
		assert.Len(t, m, before[name])
	}
}

// TestSharedRedisRestart kills the Redis server mid-stream (appendonly, as
// production should run it) and starts it again: batches never block past
// the budget nor lose events, verdicts taken meanwhile are marked degraded,
// and when Redis is back the locally decided terms are written to it, so
// another collector does not flag them.
func TestSharedRedisRestart(t *testing.T) {
	srv := redistest.StartServer(t, "--appendonly", "yes", "--appendfsync", "always")
	prefix := uniquePrefix(t)
	g := fleetGen{hosts: 600, perHost: 12, seed: 3}
	parts := g.split(2)
	// A roomy budget: right after the restart, the first batch dials anew and
	// reloads the scripts (NOSCRIPT, then EVAL), on a shared CI machine.
	cfg := func() *Config {
		c := fleetConfig(srv.Addr(), prefix)
		c.Redis.Timeout = 300 * time.Millisecond
		return c
	}
	a := newCollector(t, cfg())
	b := newCollector(t, cfg())
	budget := a.fs.cfg.Redis.Timeout

	fa, fb := newFlags(), newFlags()
	third := len(parts[0]) / 3
	var lat []time.Duration
	a.process(t, parts[0][:third], 200, fa, &lat)
	b.process(t, parts[1][:third], 200, fb, nil)
	require.Zero(t, fa.degraded+fb.degraded)

	srv.Kill()
	a.process(t, parts[0][third:2*third], 200, fa, &lat)
	require.Positive(t, fa.degraded, "verdicts taken while Redis is down are marked")
	for _, d := range lat {
		assert.Less(t, d, budget+250*time.Millisecond, "a batch never waits much past the budget")
	}
	assert.Positive(t, testkit.Sum(t, a.tel, "otelcol_processor_firstseen_degraded", map[string]string{"tracker": "new_domain"}))

	srv.Start()
	// The probe notices, writes the pending terms, and resumes.
	require.NoError(t, redistest.Eventually(10*time.Second, func() bool {
		a.fs.mu.Lock()
		defer a.fs.mu.Unlock()
		return a.fs.shared.healthy && !a.fs.shared.probing
	}), "reconciliation finished")
	assert.Positive(t, testkit.Sum(t, a.tel, "otelcol_processor_firstseen_reconciled", map[string]string{"tracker": "new_domain", "outcome": "recorded"}))

	// b now sees a's middle third: terms a learned during the outage are
	// known fleet-wide, so b flags none of them.
	fbMid := newFlags()
	b.process(t, parts[0][third:2*third], 200, fbMid, nil)
	for name := range envTrackers {
		assert.Empty(t, fbMid.byTerm[name], "%s: reconciled terms are known", name)
	}
	assert.Zero(t, fbMid.degraded)

	degBefore := fa.degraded
	a.process(t, parts[0][2*third:], 200, fa, nil)
	b.process(t, parts[1][third:], 200, fb, nil)
	assert.Equal(t, degBefore, fa.degraded, "no degraded verdicts once Redis is back")
	assert.Zero(t, fb.degraded)

	// Fleet-wide: every term flagged at least once; a term flagged twice
	// has a degraded flag among them (the outage's only cost).
	truth := terms(append(append([]map[string]any{}, parts[0]...), parts[1]...))
	for name, want := range truth {
		for term := range want {
			n := fa.byTerm[name][term] + fb.byTerm[name][term]
			require.GreaterOrEqual(t, n, 1, "%s %s never flagged", name, term)
			if n > 1 {
				assert.Positive(t, fa.degFlags[name][term]+fb.degFlags[name][term], "%s %s flagged %d times without a degraded mark", name, term, n)
			}
		}
	}
}

// TestSharedNetworkStall puts a TCP proxy between a collector and Redis and
// pauses it: the batch in flight gives up at the budget and is decided
// locally (degraded), later batches do not wait at all, and once the proxy
// forwards again the terms are reconciled.
func TestSharedNetworkStall(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	proxy := redistest.NewProxy(t, addr)
	cfg := fleetConfig(proxy.Addr(), prefix)
	cfg.Redis.Timeout = 150 * time.Millisecond
	a := newCollector(t, cfg)
	direct := newCollector(t, fleetConfig(addr, prefix))

	parts := fleetGen{hosts: 300, perHost: 12, seed: 4}.split(1)[0]
	third := len(parts) / 3
	fa := newFlags()
	a.process(t, parts[:third], 200, fa, nil)
	require.Zero(t, fa.degraded)

	proxy.Pause()
	var lat []time.Duration
	a.process(t, parts[third:2*third], 200, fa, &lat)
	require.Positive(t, fa.degraded)
	require.NotEmpty(t, lat)
	assert.GreaterOrEqual(t, lat[0], cfg.Redis.Timeout, "the first stalled batch waits for the budget")
	for i, d := range lat {
		assert.Less(t, d, cfg.Redis.Timeout+200*time.Millisecond, "batch %d blocked past the budget", i)
	}
	if len(lat) > 2 {
		later := slices.Clone(lat[1:])
		slices.Sort(later)
		assert.Less(t, later[len(later)/2], cfg.Redis.Timeout/2, "while unavailable, batches do not wait")
	}
	assert.Positive(t, testkit.Sum(t, a.tel, "otelcol_processor_firstseen_shared_requests", map[string]string{"result": "failed"}))
	assert.Positive(t, testkit.Sum(t, a.tel, "otelcol_processor_firstseen_shared_requests", map[string]string{"result": "skipped"}))

	proxy.Resume()
	require.NoError(t, redistest.Eventually(10*time.Second, func() bool {
		a.fs.mu.Lock()
		defer a.fs.mu.Unlock()
		return a.fs.shared.healthy && !a.fs.shared.probing
	}), "reconciliation finished")

	// What a decided during the stall is now known to the fleet.
	fd := newFlags()
	direct.process(t, parts[:2*third], 200, fd, nil)
	for name := range envTrackers {
		assert.Empty(t, fd.byTerm[name], "%s: terms reconciled after the stall are known", name)
	}
	deg := fa.degraded
	a.process(t, parts[2*third:], 200, fa, nil)
	assert.Equal(t, deg, fa.degraded)
	truth := terms(parts)
	for name, want := range truth {
		for term := range want {
			assert.Equal(t, 1, fa.byTerm[name][term], "%s %s", name, term)
		}
	}
}

// TestSharedShutdownReconciles: terms decided locally while Redis was
// unreachable are written to Redis at shutdown when it answers again, even
// before the probe came round, so the fleet does not flag them again.
func TestSharedShutdownReconciles(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	proxy := redistest.NewProxy(t, addr)
	cfg := fleetConfig(proxy.Addr(), prefix)
	cfg.Redis.Timeout = 50 * time.Millisecond
	cfg.Redis.RetryInterval = time.Hour // the probe never runs in this test

	tel := componenttest.NewTelemetry()
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	fs, err := newFirstSeen(set, cfg)
	require.NoError(t, err)
	require.NoError(t, fs.start(context.Background(), componenttest.NewNopHost()))
	a := &collector{fs: fs, tel: tel}

	parts := fleetGen{hosts: 50, perHost: 6, seed: 7}.split(1)[0]
	proxy.Pause()
	fa := newFlags()
	a.process(t, parts, 100, fa, nil)
	require.Positive(t, fa.degraded, "decided locally")
	proxy.Resume()
	require.NoError(t, fs.shutdown(context.Background()))
	_ = tel.Shutdown(context.Background())

	direct := newCollector(t, fleetConfig(addr, prefix))
	fd := newFlags()
	direct.process(t, parts, 100, fd, nil)
	for name := range envTrackers {
		assert.Empty(t, fd.byTerm[name], "%s: the terms were written at shutdown", name)
	}
}
