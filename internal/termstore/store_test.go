package termstore

import (
	"container/list"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// order lists the held fingerprints from least to most recently used.
func order(s *Store) []uint64 {
	var out []uint64
	s.Range(func(fp uint64, _ uint32) bool {
		out = append(out, fp)
		return true
	})
	return out
}

// checkInvariants verifies the index, the dense array and the LRU list
// against each other.
func checkInvariants(t testing.TB, s *Store) {
	t.Helper()
	n := s.Len()
	require.Equal(t, len(s.entries)-1, n)
	require.LessOrEqual(t, n, s.max)
	require.LessOrEqual(t, n*4, len(s.index)*3, "load factor above 3/4")

	mask := uint(len(s.index) - 1)
	used := 0
	for p, v := range s.index {
		if v == 0 {
			continue
		}
		used++
		i := v & s.idxMask
		require.True(t, i >= 1 && int(i) <= n, "slot %d points at %d", p, i)
		h := s.entries[i].fp * hashMul
		require.Equal(t, uint32(h>>(s.shift-32))&^s.idxMask, v&^s.idxMask, "tag of slot %d", p)
		// Linear probing leaves no empty slot between home and position.
		for q := uint(h >> s.shift); q != uint(p); q = (q + 1) & mask {
			require.NotZero(t, s.index[q], "gap at %d before slot %d", q, p)
		}
	}
	require.Equal(t, n, used)

	for i := 1; i <= n; i++ {
		require.Equal(t, uint32(i), s.find(s.entries[i].fp))
	}

	seen := 0
	prev := uint32(0)
	for i := s.entries[0].next; i != 0; i = s.entries[i].next {
		require.Equal(t, prev, s.entries[i].prev)
		prev = i
		seen++
		require.LessOrEqual(t, seen, n, "cycle in LRU list")
	}
	require.Equal(t, prev, s.entries[0].prev)
	require.Equal(t, n, seen)

	if s.hs != nil {
		checkHostSets(t, s)
	}
}

// checkHostSets verifies the host sets against the entries and the slab
// arenas: one set per entry, every slab either in use by exactly one set or
// free, sets packed (no holes) and without duplicates.
func checkHostSets(t testing.TB, s *Store) {
	t.Helper()
	h := s.hs
	require.Equal(t, len(s.entries), len(h.refs))
	used := [maxClasses]map[uint32]bool{}
	for c := range used {
		used[c] = map[uint32]bool{}
	}
	for i := 1; i < len(h.refs); i++ {
		r := h.refs[i]
		if r.ext == extSaturated || r.ext == extNone {
			continue
		}
		require.NotZero(t, r.first, "entry %d has a slab but no first host", i)
		c, idx := slabOf(r.ext)
		require.False(t, used[c][idx], "slab %d/%d shared", c, idx)
		used[c][idx] = true
		hosts, _ := h.list(uint32(i), nil)
		require.GreaterOrEqual(t, len(hosts), 2, "entry %d keeps an empty slab", i)
		require.Less(t, len(hosts), h.max, "entry %d should be saturated", i)
		seen := map[uint32]bool{}
		for _, x := range hosts {
			require.False(t, seen[x], "entry %d lists host %d twice", i, x)
			seen[x] = true
		}
		for _, x := range h.slab(r.ext)[len(hosts)-1:] {
			require.Zero(t, x, "entry %d: slab not packed", i)
		}
	}
	for c := range h.widths {
		total := uint32(len(h.arena[c])) / h.widths[c]
		require.Equal(t, int(total), len(used[c])+len(h.free[c]), "class %d: slabs in use plus free", c)
		for _, idx := range h.free[c] {
			require.False(t, used[c][idx], "class %d: slab %d both free and used", c, idx)
			for _, x := range h.arena[c][idx*h.widths[c] : (idx+1)*h.widths[c]] {
				require.Zero(t, x, "free slab not cleared")
			}
		}
	}
}

func TestNewBounds(t *testing.T) {
	assert.Panics(t, func() { New(0) })
	assert.Panics(t, func() { New(-1) })
	assert.Panics(t, func() { New(MaxCap + 1) })

	s := New(MaxCap)
	assert.Equal(t, MaxCap, s.Cap())
	assert.Equal(t, 0, s.Len())
	assert.Less(t, s.MemoryBytes(), 1024, "capacity must not be preallocated")
}

func TestTouch(t *testing.T) {
	s := New(10)
	prev, found := s.Touch(7, 100)
	assert.False(t, found)
	assert.Zero(t, prev)

	prev, found = s.Touch(7, 150)
	assert.True(t, found)
	assert.Equal(t, uint32(100), prev)

	// An older, late-arriving event leaves the last-seen time alone.
	prev, found = s.Touch(7, 120)
	assert.True(t, found)
	assert.Equal(t, uint32(150), prev)
	ts, ok := s.Lookup(7)
	assert.True(t, ok)
	assert.Equal(t, uint32(150), ts)
	assert.Equal(t, 1, s.Len())
}

func TestRemember(t *testing.T) {
	s := New(10)
	first, found := s.Remember(7, 100)
	assert.False(t, found)
	assert.Equal(t, uint32(100), first)

	first, found = s.Remember(7, 150)
	assert.True(t, found)
	assert.Equal(t, uint32(100), first)

	// An out-of-order earlier event becomes the first one.
	first, found = s.Remember(7, 90)
	assert.True(t, found)
	assert.Equal(t, uint32(90), first)
	ts, _ := s.Lookup(7)
	assert.Equal(t, uint32(90), ts)

	// Touch after Remember moves the time forward again: both share one slot.
	prev, _ := s.Touch(7, 200)
	assert.Equal(t, uint32(90), prev)
	first, _ = s.Remember(7, 300)
	assert.Equal(t, uint32(200), first)
}

func TestLookupAndDelete(t *testing.T) {
	s := New(10)
	_, ok := s.Lookup(1)
	assert.False(t, ok)
	assert.False(t, s.Delete(1))

	s.Touch(1, 10)
	s.Touch(2, 20)
	s.Touch(3, 30)
	ts, ok := s.Lookup(1)
	assert.True(t, ok)
	assert.Equal(t, uint32(10), ts)
	assert.Equal(t, []uint64{1, 2, 3}, order(s), "Lookup must not reorder")

	assert.True(t, s.Delete(2))
	assert.False(t, s.Delete(2))
	_, ok = s.Lookup(2)
	assert.False(t, ok)
	assert.Equal(t, 2, s.Len())
	assert.Equal(t, []uint64{1, 3}, order(s))
	assert.Zero(t, s.Evictions(), "Delete is not an eviction")
	checkInvariants(t, s)
}

func TestZeroFingerprint(t *testing.T) {
	s := New(4)
	_, ok := s.Lookup(0)
	assert.False(t, ok)
	_, found := s.Touch(0, 5)
	assert.False(t, found)
	prev, found := s.Touch(0, 6)
	assert.True(t, found)
	assert.Equal(t, uint32(5), prev)
	s.Touch(1, 1)
	assert.True(t, s.Delete(0))
	_, ok = s.Lookup(0)
	assert.False(t, ok)
	checkInvariants(t, s)
}

func TestLRUEviction(t *testing.T) {
	s := New(3)
	s.Touch(1, 1)
	s.Touch(2, 2)
	s.Touch(3, 3)
	s.Touch(1, 4)    // 2 is now the least recently used
	s.Remember(3, 5) // Remember refreshes recency too
	assert.Equal(t, []uint64{2, 1, 3}, order(s))

	_, found := s.Touch(4, 6)
	assert.False(t, found)
	assert.Equal(t, uint64(1), s.Evictions())
	_, ok := s.Lookup(2)
	assert.False(t, ok, "least recently touched term must go")
	assert.Equal(t, []uint64{1, 3, 4}, order(s))

	s.Remember(5, 7)
	assert.Equal(t, []uint64{3, 4, 5}, order(s))
	assert.Equal(t, 3, s.Len())
	assert.Equal(t, uint64(2), s.Evictions())
	checkInvariants(t, s)
}

func TestCapOne(t *testing.T) {
	s := New(1)
	for i := range uint64(100) {
		s.Touch(i, uint32(i))
		assert.Equal(t, []uint64{i}, order(s))
	}
	assert.Equal(t, uint64(99), s.Evictions())
	checkInvariants(t, s)
}

func TestRangeStops(t *testing.T) {
	s := New(10)
	for i := range uint64(5) {
		s.Touch(i, 1)
	}
	var got []uint64
	s.Range(func(fp uint64, _ uint32) bool {
		got = append(got, fp)
		return len(got) < 2
	})
	assert.Equal(t, []uint64{0, 1}, got)
}

func TestGrowsGeometrically(t *testing.T) {
	s := New(1 << 20)
	last := s.MemoryBytes()
	grows := 0
	for i := range uint64(100_000) {
		s.Touch(i, 1)
		if m := s.MemoryBytes(); m != last {
			grows++
			last = m
		}
	}
	assert.Less(t, grows, 40, "arrays must grow geometrically")
	assert.Less(t, s.MemoryBytes(), 64*100_000)
	checkInvariants(t, s)
}

// inverseHashMul lets tests build fingerprints with chosen hash values, to
// force long probe runs and tag collisions.
func inverseHashMul() uint64 {
	inv := uint64(hashMul)
	for range 6 {
		inv *= 2 - hashMul*inv
	}
	return inv
}

func TestInverseHashMul(t *testing.T) {
	assert.Equal(t, uint64(1), inverseHashMul()*hashMul)
}

// model is the reference: a map plus a list, most recent at the back.
type model struct {
	max       int
	evictions uint64
	l         *list.List
	m         map[uint64]*list.Element
}

type modelTerm struct {
	fp uint64
	ts uint32
}

func newModel(max int) *model {
	return &model{max: max, l: list.New(), m: map[uint64]*list.Element{}}
}

func (m *model) upsert(fp uint64, ts uint32, keep func(old, new uint32) uint32) (uint32, bool) {
	if e, ok := m.m[fp]; ok {
		t := e.Value.(*modelTerm)
		old := t.ts
		t.ts = keep(old, ts)
		m.l.MoveToBack(e)
		return old, true
	}
	if m.l.Len() >= m.max {
		front := m.l.Front()
		delete(m.m, front.Value.(*modelTerm).fp)
		m.l.Remove(front)
		m.evictions++
	}
	m.m[fp] = m.l.PushBack(&modelTerm{fp: fp, ts: ts})
	return 0, false
}

func keepMax(a, b uint32) uint32 { return max(a, b) }
func keepMin(a, b uint32) uint32 { return min(a, b) }

func (m *model) order() []uint64 {
	var out []uint64
	for e := m.l.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*modelTerm).fp)
	}
	return out
}

func TestModelRandomized(t *testing.T) {
	inv := inverseHashMul()
	for _, tc := range []struct {
		max, keys, ops int
	}{
		{1, 4, 2000},
		{7, 20, 5000},
		{100, 300, 20000},
		{1000, 1500, 40000},
		{5000, 20000, 60000},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.max), 42))
		keys := make([]uint64, tc.keys)
		for i := range keys {
			switch {
			case i%4 == 0:
				keys[i] = uint64(i) // small, structured
			case i%4 == 1 && i < 1200:
				// Same top hash bits: one home slot at every table size up
				// to 2^16 and equal tags, so probing and shifting are stressed.
				keys[i] = (0xABCD<<48 | uint64(i)) * inv
			default:
				keys[i] = rng.Uint64()
			}
		}
		s, m := New(tc.max), newModel(tc.max)
		for op := range tc.ops {
			fp := keys[rng.IntN(len(keys))]
			ts := uint32(rng.IntN(1000))
			switch r := rng.IntN(10); {
			case r < 5:
				prev, found := s.Touch(fp, ts)
				wantPrev, wantFound := m.upsert(fp, ts, keepMax)
				require.Equal(t, wantFound, found, "op %d Touch", op)
				require.Equal(t, wantPrev, prev, "op %d Touch", op)
			case r < 7:
				first, found := s.Remember(fp, ts)
				_, wantFound := m.upsert(fp, ts, keepMin)
				require.Equal(t, wantFound, found, "op %d Remember", op)
				require.Equal(t, m.m[fp].Value.(*modelTerm).ts, first, "op %d Remember", op)
			case r < 8:
				e, ok := m.m[fp]
				if ok {
					delete(m.m, fp)
					m.l.Remove(e)
				}
				require.Equal(t, ok, s.Delete(fp), "op %d Delete", op)
			default:
				ts, found := s.Lookup(fp)
				e, ok := m.m[fp]
				require.Equal(t, ok, found, "op %d Lookup", op)
				if ok {
					require.Equal(t, e.Value.(*modelTerm).ts, ts, "op %d Lookup", op)
				}
			}
			require.Equal(t, m.l.Len(), s.Len())
			require.Equal(t, m.evictions, s.Evictions())
			if op%(tc.ops/20) == 0 {
				checkInvariants(t, s)
				require.Equal(t, m.order(), order(s))
			}
		}
		checkInvariants(t, s)
		require.Equal(t, m.order(), order(s))
		s.Range(func(fp uint64, ts uint32) bool {
			require.Equal(t, m.m[fp].Value.(*modelTerm).ts, ts)
			return true
		})
	}
}

func TestCardinalityFlood(t *testing.T) {
	for _, tracked := range []bool{false, true} {
		const capTerms, total = 100_000, 1_000_000
		s := New(capTerms)
		if tracked {
			// Change lists must stay bounded too.
			require.NoError(t, NewPersister(newMemClient(), "fs", 3600).Load(context.Background(), s))
		}
		rng := rand.New(rand.NewPCG(1, 2))
		fps := make([]uint64, total)
		for i := range fps {
			fps[i] = rng.Uint64()
			s.Touch(fps[i], uint32(i))
			if i%1000 == 0 {
				require.LessOrEqual(t, s.MemoryBytes(), 64*capTerms)
			}
		}
		assert.Equal(t, capTerms, s.Len())
		assert.Equal(t, uint64(total-capTerms), s.Evictions())
		for i, fp := range fps[total-capTerms:] {
			ts, ok := s.Lookup(fp)
			require.True(t, ok, "recent term %d evicted", i)
			require.Equal(t, uint32(total-capTerms+i), ts)
		}
		assert.Equal(t, fps[total-capTerms:], order(s))
		assert.LessOrEqual(t, s.MemoryBytes(), 64*capTerms)
		checkInvariants(t, s)
		t.Logf("tracked=%v: MemoryBytes %d = %.1f bytes/term", tracked, s.MemoryBytes(), float64(s.MemoryBytes())/capTerms)
	}
}

func TestEpochWrapKeepsChanges(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	s.epoch = math.MaxUint32 - 5
	for i := range uint64(6) {
		s.Touch(i, 1)
		s.Touch(0, uint32(10+i)) // queued again in every epoch
		require.NoError(t, p.Flush(ctx, s))
		got, err := reload(t, c, "fs", 10)
		require.NoError(t, err)
		require.Equal(t, asMap(contents(s)), asMap(contents(got)), "flush %d, epoch %d", i, s.epoch)
	}
	assert.Less(t, s.epoch, uint32(100), "the epoch wrapped")
}
