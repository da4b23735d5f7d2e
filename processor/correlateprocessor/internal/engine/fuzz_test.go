package engine

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
)

func fuzzEngine(t testing.TB) *Engine {
	low := rule(0, "low", 10*time.Minute, []float64{10, 0, 10, 5}, criteria.MinDistinct(2), criteria.MinTactics(2))
	high := rule(1, "high", time.Hour, []float64{10, 20, 30, 50}, criteria.MinScore(60), criteria.AnyOf{Signals: []int{sigIntel}})
	capped := rule(2, "capped", time.Minute, []float64{1, 1, 1, 1}, criteria.MinScore(3))
	capped.Signals[sigNet].Cap = 2
	capped.Signals[sigNet].Ratio = 1
	high.Signals[sigExec].Ratio = 0.5
	high.Signals[sigNet].Ratio = 0.5
	high.Signals[sigNet].Cap = 45
	capped.SuppressFor = 0
	low.SupersededBy = []int{1}
	e, err := New(Config{Signals: testSignals(), Rules: []*Rule{low, high, capped}, Lateness: int64(2 * time.Minute),
		MaxEntities: 4, MaxObservations: 6, MaxContributions: 3, TrackChanges: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// drive feeds the engine one event per 4 bytes of data: entity, time step
// (which can go backwards), signals bitmask, modifier, key and skew, and
// checks the invariants after every event.
func drive(t testing.TB, e *Engine, data []byte) {
	now := base
	var out []Outcome
	// trusted is the latest time of a non-skewed event per entity: no
	// entity's clock may pass it.
	trusted := map[string]int64{}
	for len(data) >= 4 {
		b := data[:4]
		data = data[4:]
		now += (int64(int8(b[1])) * int64(20*time.Second))
		ev := &Event{Entity: string(rune('a' + b[0]%7)), Time: now, Except: uint64(b[3] >> 5),
			Evidence: &Evidence{Time: now, Details: []Detail{{Tactics: 1 << 9}}}, Skewed: b[3]&4 != 0}
		if ev.Skewed {
			// A skewed event carries a receipt time somewhere near.
			ev.Time += int64(int8(b[0])) * int64(time.Minute)
		}
		for s := 0; s < 4; s++ {
			if b[2]&(1<<s) != 0 {
				h := Hit{Signal: s, Mult: 1 + float64(b[3]&3)/2}
				if b[3]&8 != 0 {
					h.Key = uint64(b[0]>>3&3) + 1
					h.Detail = uint8(b[0] >> 7)
				}
				ev.Hits = append(ev.Hits, h)
			}
		}
		if !ev.Skewed && len(ev.Hits) > 0 {
			trusted[ev.Entity] = max(trusted[ev.Entity], ev.Time)
		}
		out, _ = e.Observe(ev, out[:0])
		if latest, ok := e.Latest(ev.Entity); ok && latest > trusted[ev.Entity] {
			t.Fatalf("entity clock %d beyond its latest trusted event %d", latest, trusted[ev.Entity])
		}
		for _, o := range out {
			if (o.Alert == nil) != (o.Action == Superseded) {
				t.Fatalf("outcome %v with alert %v", o.Action, o.Alert)
			}
		}
		if b[3]&16 != 0 {
			e.Sweep(now)
		}
		check(t, e)
		if b[2]&0x80 != 0 {
			roundTrip(t, e)
		}
	}
}

func check(t testing.TB, e *Engine) {
	if e.Len() > e.cfg.MaxEntities {
		t.Fatalf("%d entities held, bound %d", e.Len(), e.cfg.MaxEntities)
	}
	e.Entities(func(ent *Entity) {
		if len(ent.obs) > e.cfg.MaxObservations {
			t.Fatalf("%d observations held, bound %d", len(ent.obs), e.cfg.MaxObservations)
		}
		for i := 1; i < len(ent.obs); i++ {
			if ent.obs[i].time < ent.obs[i-1].time {
				t.Fatal("observations out of order")
			}
		}
		perRule := map[*Rule]int{}
		for _, a := range ent.alerts {
			if len(a.Contributions) > e.cfg.MaxContributions {
				t.Fatalf("%d contributions, bound %d", len(a.Contributions), e.cfg.MaxContributions)
			}
			var sum, contrib float64
			for _, s := range a.Sums {
				sum += s
			}
			for _, c := range a.Contributions {
				contrib += c.Weight
				if c.Weight < 0 {
					t.Fatal("negative contribution")
				}
			}
			if math.Abs(sum-a.Tally.Score) > 1e-9 || contrib > a.Tally.Score+1e-9 {
				t.Fatalf("score %v, sums %v, contributions %v", a.Tally.Score, sum, contrib)
			}
			if a.Start > a.End {
				t.Fatal("evidence span reversed")
			}
			if r := a.Rule; r.Signals[sigNet].Cap > 0 && a.Sums[sigNet] > r.Signals[sigNet].Cap+1e-9 {
				t.Fatal("cap exceeded")
			}
			for i, v := range a.Sums {
				if rs := a.Rule.Signals[i]; rs.Ratio < 1 && v > rs.Weight*2.5/(1-rs.Ratio)+1e-9 {
					// Modifiers reach 2.5 here; the series is bounded.
					t.Fatalf("signal %d adds %v, beyond its series", i, v)
				}
			}
			perRule[a.Rule]++
		}
		for r, n := range perRule {
			// Closed alerts linger for the lateness only; suppression makes
			// overlap impossible, so a handful at most.
			if n > 8 {
				t.Fatalf("rule %s holds %d alerts", r.ID, n)
			}
		}
	})
}

func roundTrip(t testing.TB, e *Engine) {
	e.Entities(func(ent *Entity) {
		data, err := e.Encode(ent)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Restore(data); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzObserve(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 0, 1, 4, 0, 0, 1, 8, 3})
	f.Add([]byte{1, 0, 15, 0x13, 1, 0xff, 15, 0, 1, 0x80, 0x8f, 0x10})
	f.Fuzz(func(t *testing.T, data []byte) {
		drive(t, fuzzEngine(t), data)
	})
}

// TestRandomStreams runs the invariants over long random streams on every
// test run, not only under -fuzz.
func TestRandomStreams(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		data := make([]byte, 4*2000)
		rng.Read(data)
		drive(t, fuzzEngine(t), data)
	}
}
