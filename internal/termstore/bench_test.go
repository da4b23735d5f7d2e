package termstore

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
)

const benchTerms = 1_000_000

func fillStore(s *Store, n int, rng *rand.Rand) []uint64 {
	fps := make([]uint64, n)
	for i := range fps {
		fps[i] = rng.Uint64()
		s.Touch(fps[i], uint32(i))
	}
	return fps
}

// touchMix is a stream of Touch arguments for a store holding benchTerms
// terms: 95% are held terms picked at random (so mostly cache-cold), 5% new.
type touchMix struct {
	rng   *rand.Rand
	picks []uint64
	held  []uint64
}

// mixLen is short so the stream is re-drawn often enough for the hit share to
// stay near 95% as new terms evict held ones.
const mixLen = 1 << 16

func newTouchMix(s *Store, rng *rand.Rand) *touchMix {
	m := &touchMix{rng: rng, picks: make([]uint64, mixLen), held: make([]uint64, 0, s.Len())}
	m.refresh(s)
	return m
}

// refresh re-draws the stream from what the store holds now: the new terms
// of the last pass have evicted others, and picking those would turn hits
// into misses as the benchmark runs on.
func (m *touchMix) refresh(s *Store) {
	m.held = m.held[:0]
	s.Range(func(fp uint64, _ uint32) bool {
		m.held = append(m.held, fp)
		return true
	})
	for i := range m.picks {
		if m.rng.IntN(100) < 5 {
			m.picks[i] = m.rng.Uint64()
		} else {
			m.picks[i] = m.held[m.rng.IntN(len(m.held))]
		}
	}
}

// BenchmarkTouchHit runs Touch on a full store of 1M terms, 95% of the calls
// for held terms and 5% for new ones, each of which evicts.
func BenchmarkTouchHit(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := New(benchTerms)
	fillStore(s, benchTerms, rng)
	mix := newTouchMix(s, rng)
	hits, n := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		if _, found := s.Touch(mix.picks[n&(mixLen-1)], uint32(benchTerms+n>>10)); found {
			hits++
		}
		n++
		if n&(mixLen-1) == 0 {
			b.StopTimer()
			mix.refresh(s)
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(hits)/float64(n), "hit-ratio")
}

// BenchmarkTouchHitTracked is BenchmarkTouchHit with a Persister attached, so
// change tracking is on the path; it flushes every 64Ki calls, untimed.
func BenchmarkTouchHitTracked(b *testing.B) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	s := New(benchTerms)
	fillStore(s, benchTerms, rng)
	p := NewPersister(newMemClient(), "bench", 3600)
	if err := p.Snapshot(ctx, s); err != nil {
		b.Fatal(err)
	}
	mix := newTouchMix(s, rng)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		s.Touch(mix.picks[n&(mixLen-1)], uint32(benchTerms+n>>10))
		n++
		if n&(mixLen-1) == 0 {
			b.StopTimer()
			if err := p.Flush(ctx, s); err != nil {
				b.Fatal(err)
			}
			mix.refresh(s)
			b.StartTimer()
		}
	}
}

// BenchmarkTouchZipf draws terms from a Zipf distribution over 1M held terms,
// closer to real traffic, where a few binaries, hosts and domains dominate
// and their entries stay in cache.
func BenchmarkTouchZipf(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	s := New(benchTerms)
	fps := fillStore(s, benchTerms, rng)
	z := rand.NewZipf(rng, 1.1, 1, benchTerms-1)
	picks := make([]uint64, 1<<20)
	for i := range picks {
		picks[i] = fps[z.Uint64()]
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		s.Touch(picks[n&(len(picks)-1)], uint32(benchTerms+n>>10))
		n++
	}
}

// BenchmarkTouchHitSmall is a hit on a store of 10k terms, which fits in
// cache: the CPU cost of a Touch once memory latency is out of the picture.
func BenchmarkTouchHitSmall(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 6))
	s := New(10_000)
	fps := fillStore(s, 10_000, rng)
	picks := make([]uint64, 1<<14)
	for i := range picks {
		picks[i] = fps[rng.IntN(len(fps))]
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		s.Touch(picks[n&(len(picks)-1)], uint32(10_000+n>>10))
		n++
	}
}

// BenchmarkLookup measures a random lookup of a held term in a 1M store.
func BenchmarkLookup(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := New(benchTerms)
	fps := fillStore(s, benchTerms, rng)
	picks := make([]uint64, 1<<20)
	for i := range picks {
		picks[i] = fps[rng.IntN(len(fps))]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Lookup(picks[i&(len(picks)-1)])
	}
}

// BenchmarkMemoryPerTerm fills a store with 1M terms and reports its own
// accounting and the live-heap growth per term.
func BenchmarkMemoryPerTerm(b *testing.B) {
	var s *Store
	var heap float64
	for b.Loop() {
		rng := rand.New(rand.NewPCG(2, 2))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s = New(benchTerms)
		for i := range benchTerms {
			s.Touch(rng.Uint64(), uint32(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / benchTerms
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(s.MemoryBytes())/1e6, "bytes/term")
	b.ReportMetric(heap, "heap-bytes/term")
}

// BenchmarkFlush measures one journal flush of 10k changed terms in a store
// of 1M, the write a pipeline would do every few seconds under load.
func BenchmarkFlush(b *testing.B) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 3))
	s := New(benchTerms)
	fps := fillStore(s, benchTerms, rng)
	c := newMemClient()
	p := NewPersister(c, "bench", 3600)
	if err := p.Snapshot(ctx, s); err != nil {
		b.Fatal(err)
	}
	const changed = 10_000
	ts := uint32(benchTerms)
	flushes := 0
	b.ReportAllocs()
	for b.Loop() {
		flushes++
		b.StopTimer()
		ts += 3600 // every touched term moves to a new bucket
		for range changed {
			s.Touch(fps[rng.IntN(len(fps))], ts)
		}
		b.StartTimer()
		if err := p.Flush(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(c.bytesSet)/float64(flushes), "stored-bytes/op")
}

// BenchmarkTouchHostHit is BenchmarkTouchHitSmall for a store with host
// sets: a small hot store (the terms of a fleet's daily activity), each
// term seen by up to 12 hosts, every call for a held term and a host that
// already showed it: the common path of a prevalence tracker.
func BenchmarkTouchHostHit(b *testing.B) {
	const terms = 4096
	rng := rand.New(rand.NewPCG(4, 4))
	s := NewWithHosts(terms, MaxHosts)
	fps := make([]uint64, terms)
	for i := range fps {
		fps[i] = rng.Uint64()
		for h := range uint32(12) {
			s.TouchHost(fps[i], 1, h+1, 1<<31)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.TouchHost(fps[i&(terms-1)], 2, uint32(i%12)+1, 1<<31)
		i++
	}
}
