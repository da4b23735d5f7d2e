package firstseenprocessor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/redistest"
	"github.com/cairnsec/cairn/internal/taint"
	"github.com/cairnsec/cairn/internal/testkit"
)

// prevalenceConfig is fleetConfig with host counting: known after three
// hosts, rare while at most rare hosts had it.
func prevalenceConfig(addr, prefix string, rare int) *Config {
	cfg := fleetConfig(addr, prefix)
	cfg.KnownAfterHosts, cfg.RareHosts, cfg.RareShare = 3, rare, 0
	return cfg
}

// send processes events on collector c and returns the records.
func (c *collector) send(t *testing.T, events ...map[string]any) []pcommon.Map {
	t.Helper()
	ld := batch(t, events...)
	_, err := c.fs.processLogs(context.Background(), ld)
	require.NoError(t, err)
	var out []pcommon.Map
	recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < recs.Len(); i++ {
		out = append(out, recs.At(i).Attributes())
	}
	return out
}

// TestSharedPrevalence: agents (one host each) share host sets in Redis: a
// term's prevalence is fleet-wide, whichever collector saw which host.
func TestSharedPrevalence(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	hosts := fleetHosts(7)
	cols := make([]*collector, len(hosts))
	for i := range cols {
		cols[i] = newCollector(t, prevalenceConfig(addr, prefix, 5))
	}
	rare := []string{"new_binary_on_host", "rare_binary_in_environment", "rare_domain", "rare_external_ip", "rare_ip_for_binary"}
	want := [][]string{allNew, allNew, allNew, rare, rare, rare, {"new_binary_on_host"}}
	for i, w := range want {
		out := cols[i].send(t, infect(hosts[i], 48*time.Hour+time.Duration(i)*time.Hour)...)
		assert.Equal(t, w, signalsOf(out), "infected host %d, on its own collector", i+1)
	}
	// The first agent again: its host is in the set, nothing new.
	assert.Empty(t, signalsOf(cols[0].send(t, infect(hosts[0], 60*time.Hour)...)))
	for i, c := range cols {
		assert.LessOrEqual(t, c.fs.shared.store.RoundTrips(), int64(2), "collector %d: one round trip per batch", i)
	}
	v, err := redis.NewClient(&redis.Options{Addr: addr}).Get(context.Background(),
		cols[0].fs.shared.byTracker[2].prefix+"t:"+fmt.Sprintf("%x", termOf(t, cols[0].fs, 2, conn("x", toolkit, c2IP, 443, "", 0)))).Result()
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(v, ":*"), "the C2 address is saturated in Redis after 6 hosts: %q", v)
}

// TestSharedPreseed: a pre-seed through one agent teaches the others
// nothing.
func TestSharedPreseed(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	a := newCollector(t, prevalenceConfig(addr, prefix, 5))
	b := newCollector(t, prevalenceConfig(addr, prefix, 5))
	a.send(t, infect("build-07", 24*time.Hour)...)
	assert.Equal(t, allNew, signalsOf(b.send(t, infect("web-03", 72*time.Hour)...)))
}

// TestSharedValuesFromBeforePrevalence: terms recorded in Redis by
// collectors without host sets count as known everywhere for collectors
// with them, and both read each other's values.
func TestSharedValuesFromBeforePrevalence(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	old := newCollector(t, fleetConfig(addr, prefix))
	require.Equal(t, allNew, signalsOf(old.send(t, infect("host-00", 48*time.Hour)...)))
	prev := newCollector(t, prevalenceConfig(addr, prefix, 5))
	assert.Equal(t, []string{"new_binary_on_host"}, signalsOf(prev.send(t, infect("host-01", 49*time.Hour)...)))
	assert.Equal(t, []string{"new_binary_on_host"}, signalsOf(old.send(t, infect("host-02", 50*time.Hour)...)))
	assert.Zero(t, testkit.Sum(t, old.tel, "otelcol_processor_firstseen_degraded", nil), "no script error on either side")
	assert.Zero(t, testkit.Sum(t, prev.tel, "otelcol_processor_firstseen_degraded", nil))
}

// TestSharedMaliciousIsNotRecorded: a malicious event's terms are only
// looked up in Redis: another collector still sees them as never seen.
func TestSharedMaliciousIsNotRecorded(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	for _, cfg := range []*Config{prevalenceConfig(addr, prefix+"p:", 5), fleetConfig(addr, prefix+"f:")} {
		a := newCollector(t, cfg)
		b := newCollector(t, cfg)
		bad := infect("host-00", 48*time.Hour)
		for _, e := range bad {
			withVerdict(e, "malicious")
		}
		assert.Equal(t, allNew, signalsOf(a.send(t, bad...)))
		assert.Equal(t, allNew, signalsOf(a.send(t, bad...)), "not even in the local store")
		assert.Zero(t, countKeys(t, addr, cfg.Redis.KeyPrefix+"*:t:*"), "nothing recorded in Redis")
		assert.Equal(t, allNew, signalsOf(b.send(t, infect("host-01", 49*time.Hour)...)))
	}
}

// TestSharedTaintForgets: a taint takes the tainted host out of the term's
// host set in Redis too (in the next batch's round trip), so every
// collector counts one host fewer.
func TestSharedTaintForgets(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	cfg := func() *Config {
		c := prevalenceConfig(addr, prefix, 0)
		c.KnownAfterHosts = 2
		c.BaselineGroup = t.Name()
		return c
	}
	a := newCollector(t, cfg())
	b := newCollector(t, fleetConfig(addr, prefix)) // only so that a's group has one reader
	_ = b
	first := a.send(t, infect("host-00", 48*time.Hour)...)
	require.Equal(t, allNew, signalsOf(first))
	before := countKeys(t, addr, prefix+"new_external_ip:*:t:*")
	require.Equal(t, 1, before)
	taint.Get(t.Name()).Taint(ids(t, first), day0.Add(50*time.Hour))
	trips := a.fs.shared.store.RoundTrips()
	a.send(t, dnsAnswer("host-09", "unrelated.example", 48*time.Hour+time.Minute))
	assert.Equal(t, trips+1, a.fs.shared.store.RoundTrips(), "the forget went with the batch's round trip")
	assert.Zero(t, countKeys(t, addr, prefix+"new_external_ip:*:t:*"), "the only host taken out: the term is gone from Redis")

	// Another collector: without the taint, host-01 would have made the
	// address known (two hosts) and host-02 would see nothing.
	c := newCollector(t, cfg())
	assert.Equal(t, allNew, signalsOf(c.send(t, infect("host-01", 49*time.Hour)...)))
	assert.Contains(t, signalsOf(c.send(t, infect("host-02", 49*time.Hour+time.Minute)...)), "new_external_ip")
}

// TestSharedActiveHosts: with rare_share, the active hosts are counted
// fleet-wide in Redis, so an agent that sees one host still scales the
// rare threshold with the fleet.
func TestSharedActiveHosts(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	cfg := func() *Config {
		c := fleetConfig(addr, prefix)
		c.KnownAfterHosts, c.RareHosts, c.RareShare = 1, 0, 0.1
		return c
	}
	big, small := newCollector(t, cfg()), newCollector(t, cfg())
	hosts := fleetHosts(100)
	send := func(c *collector, hs []string, name string, at time.Duration) {
		ld := plog.NewLogs()
		recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for _, h := range hs {
			require.NoError(t, recs.AppendEmpty().Attributes().FromRaw(dnsAnswer(h, name, at)))
		}
		_, err := c.fs.processLogs(context.Background(), ld)
		require.NoError(t, err)
	}
	send(big, hosts[:90], "common.example", 0)
	send(small, hosts[90:], "common.example", 0)
	send(big, hosts[:5], "tool.example", time.Hour)
	// small's own count is 10 hosts (threshold 1); the fleet's is 100
	// (threshold 10): five hosts had the tool, so it is rare.
	assert.Equal(t, 10, small.fs.active.Count(small.fs.env.Env32()))
	out := small.send(t, dnsAnswer(hosts[95], "tool.example", 2*time.Hour))
	assert.Equal(t, []string{"rare_domain"}, testkit.Signals(out[0]))
	assert.Equal(t, 100, small.fs.shared.activeCount(small.fs.env.Env32()))
}

// TestSharedFleetPrevalence: three collectors, each with a third of 3,000
// hosts, count hosts per term in one Redis, concurrently. Redis decides
// each (term, host) atomically, so fleet-wide every term is flagged with
// its tracker's signal on exactly its first known_after_hosts hosts, and
// with the rare signal on exactly the next ones up to rare_hosts, in one
// round trip per batch.
func TestSharedFleetPrevalence(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := uniquePrefix(t)
	cleanupPrefix(t, addr, prefix)
	g := fleetGen{hosts: 3000, perHost: 12, seed: 11}
	parts := g.split(3)

	// truth: tracker -> term -> distinct hosts.
	hostsOf := map[string]map[string]map[string]bool{}
	for name := range envTrackers {
		hostsOf[name] = map[string]map[string]bool{}
	}
	add := func(name, term, host string) {
		if hostsOf[name][term] == nil {
			hostsOf[name][term] = map[string]bool{}
		}
		hostsOf[name][term][host] = true
	}
	for _, p := range parts {
		for _, e := range p {
			h := e["host.name"].(string)
			if e["event.category"] == "process" {
				add("new_binary_in_environment", e["process.hash.sha256"].(string), h)
			}
			if ip, ok := e["destination.ip"]; ok {
				add("new_external_ip", ip.(string), h)
				add("new_ip_for_binary", e["process.executable"].(string)+"|"+ip.(string), h)
			}
			if d, ok := e["dns.question.name"]; ok {
				add("new_domain", d.(string), h)
			}
		}
	}

	type count struct{ newN, rareN int }
	var mu sync.Mutex
	got := map[string]map[string]*count{}
	for name := range envTrackers {
		got[name] = map[string]*count{}
	}
	rareOf := map[string]string{"new_binary_in_environment": "rare_binary_in_environment", "new_external_ip": "rare_external_ip",
		"new_domain": "rare_domain", "new_ip_for_binary": "rare_ip_for_binary"}
	cols := make([]*collector, 3)
	for k := range cols {
		cols[k] = newCollector(t, roomyBudget(prevalenceConfig(addr, prefix, 5)))
	}
	const batchSize = 500
	var wg sync.WaitGroup
	for k, c := range cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := 0; s < len(parts[k]); s += batchSize {
				ld := flatBatch(t, parts[k][s:min(s+batchSize, len(parts[k]))])
				_, err := c.fs.processLogs(context.Background(), ld)
				require.NoError(t, err)
				recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
				mu.Lock()
				for i := 0; i < recs.Len(); i++ {
					a := recs.At(i).Attributes().AsRaw()
					assert.NotEqual(t, true, a["cairn.first_seen.degraded"]) // not require: FailNow here would leave mu locked and hang the others
					for name, term := range envTrackers {
						if a["cairn.first_seen."+name] != true && a["cairn.first_seen."+rareOf[name]] != true {
							continue
						}
						key := term(a)
						if got[name][key] == nil {
							got[name][key] = &count{}
						}
						if a["cairn.first_seen."+name] == true {
							got[name][key].newN++
						} else {
							got[name][key].rareN++
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	for name, terms := range hostsOf {
		wrong := 0
		for term, hosts := range terms {
			n := len(hosts)
			want := count{newN: min(n, 3), rareN: max(0, min(n, 6)-3)}
			c := got[name][term]
			if c == nil {
				c = &count{}
			}
			if *c != want {
				wrong++
				if wrong <= 5 {
					t.Errorf("%s %s: seen on %d hosts, flagged %+v, want %+v", name, term, n, *c, want)
				}
			}
		}
		t.Logf("%s: %d terms, %d wrong", name, len(terms), wrong)
	}
	batches := 0
	var trips int64
	for k, c := range cols {
		batches += (len(parts[k]) + batchSize - 1) / batchSize
		trips += c.fs.shared.store.RoundTrips()
	}
	assert.LessOrEqual(t, trips, int64(batches), "at most one round trip per batch")
}
