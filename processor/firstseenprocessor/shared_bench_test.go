package firstseenprocessor

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/redistest"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/sharedstore"
)

// BenchmarkSharedFleet runs three in-process collectors over the events of
// 5,000 hosts (a third each, concurrently), with the environment trackers in
// one shared Redis or in each collector's local store:
//
//   - phase=cold: the fleet's first hour, every term new (the most Redis
//     work there is);
//   - phase=warm: the next half hour, the same activity with 5% of the
//     events showing a term nobody saw before.
//
// Reported: events/s over the fleet, Redis round trips per batch, the 99th
// percentile of a batch's processing time (batches of 500 events), and for
// Redis the 50th and 99th percentiles of the batch's round trip, which is
// the latency Redis adds to a batch.
func BenchmarkSharedFleet(b *testing.B) {
	const batchSize = 500
	g := fleetGen{hosts: 5000, perHost: 12, seed: 7}
	cold := g.split(3)
	warm := make([][]map[string]any, len(cold))
	for k, part := range cold {
		warm[k] = shifted(part, 30*time.Minute, 20, k)
	}
	toBatches := func(parts [][]map[string]any) [][]plog.Logs {
		out := make([][]plog.Logs, len(parts))
		for k, p := range parts {
			for s := 0; s < len(p); s += batchSize {
				out[k] = append(out[k], flatBatch(b, p[s:min(s+batchSize, len(p))]))
			}
		}
		return out
	}
	coldB, warmB := toBatches(cold), toBatches(warm)
	events := func(parts [][]map[string]any) int {
		n := 0
		for _, p := range parts {
			n += len(p)
		}
		return n
	}

	for _, store := range []string{storeLocal, storeRedis} {
		for _, phase := range []string{"cold", "warm"} {
			b.Run("store="+store+"/phase="+phase, func(b *testing.B) {
				addr := ""
				if store == storeRedis {
					addr = redistest.Addr(b)
				}
				var lat, tripLat []time.Duration
				var trips, keys int64
				batches, evs := 0, 0
				var elapsed time.Duration
				for n := 0; n < b.N; n++ {
					b.StopTimer()
					prefix := uniquePrefix(b)
					cols := make([]*collector, 3)
					for k := range cols {
						cfg := fleetConfig(addr, prefix)
						if store == storeLocal {
							cfg.Store = storeLocal
						}
						cols[k] = newCollector(b, cfg)
					}
					if store == storeRedis {
						cleanupPrefix(b, addr, prefix)
					}
					run := func(in [][]plog.Logs, timed bool) {
						var mu sync.Mutex
						var wg sync.WaitGroup
						for k, c := range cols {
							wg.Add(1)
							go func() {
								defer wg.Done()
								var mine, trip []time.Duration
								for _, ld := range in[k] {
									work := plog.NewLogs()
									ld.CopyTo(work)
									t0 := time.Now()
									if _, err := c.fs.processLogs(context.Background(), work); err != nil {
										b.Error(err)
									}
									mine = append(mine, time.Since(t0))
									if c.fs.shared != nil {
										trip = append(trip, c.fs.shared.lastTrip)
									}
								}
								if timed {
									mu.Lock()
									lat = append(lat, mine...)
									tripLat = append(tripLat, trip...)
									mu.Unlock()
								}
							}()
						}
						wg.Wait()
					}
					in, parts := coldB, cold
					if phase == "warm" {
						run(coldB, false) // learn the first hour, untimed
						in, parts = warmB, warm
					}
					before, beforeKeys := roundTrips(cols), keyOps(cols)
					b.StartTimer()
					t0 := time.Now()
					run(in, true)
					elapsed += time.Since(t0)
					b.StopTimer()
					trips += roundTrips(cols) - before
					keys += keyOps(cols) - beforeKeys
					for _, p := range in {
						batches += len(p)
					}
					evs += events(parts)
					b.StartTimer()
				}
				slices.Sort(lat)
				p99 := lat[min(len(lat)-1, len(lat)*99/100)]
				b.ReportMetric(float64(evs)/elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(trips)/float64(batches), "roundtrips/batch")
				b.ReportMetric(float64(keys)/float64(batches), "keys/batch")
				b.ReportMetric(float64(keys)/elapsed.Seconds(), "redis-keys/s")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-batch-ms")
				if len(tripLat) > 0 {
					// The round trip is what Redis adds to a batch.
					slices.Sort(tripLat)
					b.ReportMetric(float64(tripLat[len(tripLat)*99/100].Microseconds())/1000, "p99-roundtrip-ms")
					b.ReportMetric(float64(tripLat[len(tripLat)/2].Microseconds())/1000, "p50-roundtrip-ms")
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

func keyOps(cols []*collector) int64 {
	var n int64
	for _, c := range cols {
		if c.fs.shared != nil {
			n += c.fs.shared.store.Keys()
		}
	}
	return n
}

func roundTrips(cols []*collector) int64 {
	var n int64
	for _, c := range cols {
		if c.fs.shared != nil {
			n += c.fs.shared.store.RoundTrips()
		}
	}
	return n
}

// shifted copies events d later; every every-th event gets a term nobody
// saw (a fresh domain, IP or hash).
func shifted(events []map[string]any, d time.Duration, every, salt int) []map[string]any {
	out := make([]map[string]any, len(events))
	for i, e := range events {
		cp := make(map[string]any, len(e))
		for k, v := range e {
			cp[k] = v
		}
		ts, _ := time.Parse(time.RFC3339Nano, e["@timestamp"].(string))
		cp["@timestamp"] = ts.Add(d).Format(time.RFC3339Nano)
		if i%every == 0 {
			u := salt*1_000_000 + i
			switch {
			case cp["dns.question.name"] != nil:
				cp["dns.question.name"] = fmt.Sprintf("fresh%d.example.net", u)
			case cp["destination.ip"] != nil:
				cp["destination.ip"] = fmt.Sprintf("46.%d.%d.%d", (u>>16)&255, (u>>8)&255, u&255)
			case cp["process.hash.sha256"] != nil:
				cp["process.hash.sha256"] = fmt.Sprintf("%064x", 1<<40+u)
			}
		}
		out[i] = cp
	}
	return out
}

// BenchmarkRedisMemoryPerTerm writes 500,000 term keys the way the
// processor names them into a redis-server of its own and reports Redis'
// used_memory growth per term (key, value, TTL and overhead): values=plain
// as a tracker without prevalence writes them; with prevalence (the
// prevalence script, host-set bound 6), terms seen on 1 host, on 5 hosts
// (the most a set of the default bound lists) and saturated.
func BenchmarkRedisMemoryPerTerm(b *testing.B) {
	const terms = 500_000
	for _, tc := range []struct {
		name  string
		hosts int
	}{{"plain", 0}, {"hosts=1", 1}, {"hosts=5", 5}, {"saturated", 6}} {
		b.Run("values="+tc.name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				srv := redistest.StartServer(b)
				client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
				store := sharedstore.New(client, false)
				ctx := context.Background()
				before := usedMemory(b, client)
				prefix := defaultRedisPrefix + "new_external_ip:0123456789abcdef:t:"
				for i := 0; i < terms; i += 10_000 {
					g := &sharedstore.Group{TTL: 30 * 24 * time.Hour}
					if tc.hosts > 0 {
						g.Kind, g.HostCap, g.History = sharedstore.Prevalence, 6, 30*24*3600
					}
					for h := range max(tc.hosts, 1) {
						g.Ops = g.Ops[:0]
						for j := i; j < i+10_000; j++ {
							fp := uint64(j)*0x9E3779B97F4A7C15 + 1
							g.Ops = append(g.Ops, sharedstore.Op{Key: prefix + strconv.FormatUint(fp, 16), TS: 1_780_000_000 + uint32(j%3600),
								Host: uint32(h)*0x9E3779B9 + 7, Learn: true})
						}
						require.NoError(b, store.Exec(ctx, []*sharedstore.Group{g}))
					}
				}
				after := usedMemory(b, client)
				b.ReportMetric(float64(after-before)/terms, "bytes/term")
				b.ReportMetric(0, "ns/op")
				_ = client.Close()
				srv.Kill()
			}
		})
	}
}

func usedMemory(b *testing.B, c *redis.Client) int64 {
	info, err := c.Info(context.Background(), "memory").Result()
	require.NoError(b, err)
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			require.NoError(b, err)
			return n
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}
