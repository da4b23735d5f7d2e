package termstore

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const noExpiry = 1<<32 - 1

func TestNewWithHostsBounds(t *testing.T) {
	assert.Panics(t, func() { NewWithHosts(10, 1) })
	assert.Panics(t, func() { NewWithHosts(10, MaxHosts+1) })
	assert.Panics(t, func() { NewWithHosts(maxHostTerms+1, 4) })
	assert.Equal(t, 4, NewWithHosts(10, 4).MaxHosts())
	assert.Zero(t, New(10).MaxHosts())
}

func TestTouchHost(t *testing.T) {
	s := NewWithHosts(10, 4)
	got := s.TouchHost(7, 100, 1, noExpiry)
	assert.True(t, got.New())
	assert.Equal(t, HostSighting{}, got)

	got = s.TouchHost(7, 110, 1, noExpiry)
	assert.Equal(t, HostSighting{Prev: 100, Found: true, Hosts: 1, Had: true}, got, "the same host again")
	got = s.TouchHost(7, 120, 2, noExpiry)
	assert.Equal(t, HostSighting{Prev: 110, Found: true, Hosts: 1}, got, "a second host")
	got = s.TouchHost(7, 120, 2, noExpiry)
	assert.Equal(t, 2, int(got.Hosts))
	assert.True(t, got.Had)
	s.TouchHost(7, 130, 3, noExpiry)
	// The fourth host fills the bound: the set saturates and forgets its hosts.
	got = s.TouchHost(7, 140, 4, noExpiry)
	assert.Equal(t, 3, int(got.Hosts))
	n, ok := s.HostCount(7)
	assert.True(t, ok)
	assert.Equal(t, 4, n)
	got = s.TouchHost(7, 150, 1, noExpiry)
	assert.Equal(t, 4, int(got.Hosts))
	assert.False(t, got.Had, "a saturated set no longer knows its hosts")
	assert.False(t, s.RemoveHost(7, 1), "nor can it forget one")
	checkInvariants(t, s)
}

func TestTouchHostExpiry(t *testing.T) {
	s := NewWithHosts(10, 8)
	s.TouchHost(1, 100, 1, 50)
	s.TouchHost(1, 120, 2, 50)
	got := s.TouchHost(1, 200, 3, 50)
	assert.True(t, got.Expired)
	assert.True(t, got.New())
	assert.Equal(t, uint32(120), got.Prev)
	n, _ := s.HostCount(1)
	assert.Equal(t, 1, n, "the set starts again with the host that saw it anew")
	got = s.TouchHost(1, 210, 1, 50)
	assert.False(t, got.Had, "hosts from before the expiry are forgotten")
	// An older event never expires a term nor moves its time back.
	got = s.TouchHost(1, 10, 4, 50)
	assert.False(t, got.Expired)
	ts, _ := s.Lookup(1)
	assert.Equal(t, uint32(210), ts)
	checkInvariants(t, s)
}

func TestPeekHostChangesNothing(t *testing.T) {
	s := NewWithHosts(10, 8)
	assert.Equal(t, HostSighting{}, s.PeekHost(1, 100, 1, noExpiry))
	assert.Zero(t, s.Len(), "a peek does not insert")
	s.TouchHost(1, 100, 1, noExpiry)
	s.TouchHost(2, 100, 1, noExpiry)
	got := s.PeekHost(1, 200, 2, noExpiry)
	assert.Equal(t, HostSighting{Prev: 100, Found: true, Hosts: 1}, got)
	n, _ := s.HostCount(1)
	assert.Equal(t, 1, n, "a peek does not add the host")
	ts, _ := s.Lookup(1)
	assert.Equal(t, uint32(100), ts, "nor move the time")
	assert.Equal(t, []uint64{1, 2}, order(s), "nor the recency")
	assert.True(t, s.PeekHost(1, 200, 2, 50).Expired)
}

func TestHostSetGrowsThroughClassesAndShrinks(t *testing.T) {
	s := NewWithHosts(10, MaxHosts)
	for h := uint32(1); h < MaxHosts; h++ {
		got := s.TouchHost(9, h, h, noExpiry)
		require.Equal(t, int(h-1), int(got.Hosts))
		checkInvariants(t, s)
	}
	n, _ := s.HostCount(9)
	require.Equal(t, MaxHosts-1, n)
	for c := range 3 {
		assert.Len(t, s.hs.free[c], 1, "class %d slab was given back when the set moved up", c)
	}
	// Forget them in a mixed order: the first host, a middle one, the last.
	order := []uint32{1, 15, 31, 2, 30}
	for h := uint32(3); h < 30; h++ {
		if h != 15 {
			order = append(order, h)
		}
	}
	for k, h := range order {
		require.True(t, s.RemoveHost(9, h), "host %d", h)
		require.False(t, s.RemoveHost(9, h))
		n, _ := s.HostCount(9)
		require.Equal(t, MaxHosts-2-k, n)
		checkInvariants(t, s)
	}
	n, _ = s.HostCount(9)
	assert.Zero(t, n)
	assert.Equal(t, s.hs.refs[1], hostRef{}, "every slab returned")
	// The term itself stays: forgetting a host is not forgetting the term.
	_, ok := s.Lookup(9)
	assert.True(t, ok)
}

func TestHostSetsFollowEntries(t *testing.T) {
	s := NewWithHosts(3, 8)
	for fp := uint64(1); fp <= 3; fp++ {
		for h := uint32(1); h <= uint32(fp)*2; h++ {
			s.TouchHost(fp, 1, h, noExpiry)
		}
	}
	// Deleting the first entry moves the last one into its place.
	require.True(t, s.Delete(1))
	checkInvariants(t, s)
	n, _ := s.HostCount(3)
	assert.Equal(t, 6, n)
	// Eviction reuses the evicted entry's slot and frees its slab.
	s.TouchHost(4, 2, 1, noExpiry)
	s.TouchHost(5, 2, 1, noExpiry)
	_, ok := s.Lookup(2)
	assert.False(t, ok)
	checkInvariants(t, s)
	n, _ = s.HostCount(5)
	assert.Equal(t, 1, n, "a new term starts with its own host only")
	assert.Equal(t, uint64(1), s.Evictions())
}

// TestHostSetsRandomized drives a store with host sets against a map model
// through inserts, sightings, removals, deletions and evictions.
func TestHostSetsRandomized(t *testing.T) {
	const maxTerms, maxHosts = 64, 12
	rng := rand.New(rand.NewPCG(7, 7))
	s := NewWithHosts(maxTerms, maxHosts)
	type state struct {
		hosts     map[uint32]bool
		saturated bool
	}
	want := map[uint64]*state{}
	for step := range 20_000 {
		fp := uint64(rng.IntN(100))
		host := uint32(rng.IntN(20)) + 1
		switch op := rng.IntN(10); {
		case op < 7:
			got := s.TouchHost(fp, 1, host, noExpiry)
			st, ok := want[fp]
			if !ok {
				require.True(t, got.New(), "step %d", step)
				want[fp] = &state{hosts: map[uint32]bool{host: true}}
				break
			}
			n := len(st.hosts)
			if st.saturated {
				n = maxHosts
			}
			require.Equal(t, st.hosts[host], got.Had, "step %d", step)
			if !got.Had {
				require.Equal(t, n, int(got.Hosts), "step %d", step)
			}
			if !st.saturated && !st.hosts[host] {
				if n+1 >= maxHosts {
					st.saturated, st.hosts = true, map[uint32]bool{}
				} else {
					st.hosts[host] = true
				}
			}
		case op < 9:
			st, ok := want[fp]
			removed := s.RemoveHost(fp, host)
			require.Equal(t, ok && st.hosts[host], removed, "step %d", step)
			if removed {
				delete(st.hosts, host)
			}
		default:
			_, ok := want[fp]
			require.Equal(t, ok, s.Delete(fp))
			delete(want, fp)
		}
		// Evictions: drop from the model what the store no longer holds.
		for fp := range want {
			if _, ok := s.Lookup(fp); !ok {
				delete(want, fp)
			}
		}
		require.Equal(t, len(want), s.Len())
		if step%500 == 0 {
			checkInvariants(t, s)
		}
	}
	checkInvariants(t, s)
}

func TestHostSetsMemory(t *testing.T) {
	const terms = 100_000
	one := NewWithHosts(terms, MaxHosts)
	plain := New(terms)
	for i := range uint64(terms) {
		one.TouchHost(i*7919, 1, 1, noExpiry)
		plain.Touch(i*7919, 1)
	}
	extra := float64(one.MemoryBytes()-plain.MemoryBytes()) / terms
	assert.LessOrEqual(t, extra, 8.5, "a term seen on one host costs its inline host only")
	for i := range uint64(terms) {
		for h := uint32(2); h <= 8; h++ {
			one.TouchHost(i*7919, 1, h, noExpiry)
		}
	}
	extra = float64(one.MemoryBytes()-plain.MemoryBytes()) / terms
	assert.LessOrEqual(t, extra, 8+28*1.3, "eight hosts: one 7-slot slab")
	t.Logf("8 hosts per term: %.1f bytes/term above a plain store", extra)
	checkInvariants(t, one)
}

func hostsOf(s *Store, fp uint64) ([]uint32, bool) {
	i := s.find(fp)
	if i == 0 {
		return nil, false
	}
	hosts, sat := s.hs.list(i, nil)
	slices.Sort(hosts)
	return hosts, sat
}

func TestHostSetsPersist(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := NewWithHosts(100, 8)
	p := NewPersister(c, "fs", 3600)
	require.NoError(t, p.Load(ctx, s))
	s.TouchHost(1, 10, 5, noExpiry)
	s.TouchHost(1, 10, 6, noExpiry)
	for h := uint32(1); h <= 8; h++ {
		s.TouchHost(2, 10, h, noExpiry) // saturates
	}
	s.TouchHost(3, 10, 1, noExpiry)
	require.NoError(t, p.Snapshot(ctx, s))

	// A host joining within the same time bucket is journaled all the same:
	// the time did not move, the set did.
	s.TouchHost(3, 11, 2, noExpiry)
	s.RemoveHost(1, 5)
	require.NoError(t, p.Flush(ctx, s))
	require.Len(t, c.keys("/j/"), 1)

	got := NewWithHosts(100, 8)
	require.NoError(t, NewPersister(c, "fs", 3600).Load(ctx, got))
	checkInvariants(t, got)
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))
	for _, fp := range []uint64{1, 2, 3} {
		wantHosts, wantSat := hostsOf(s, fp)
		gotHosts, gotSat := hostsOf(got, fp)
		assert.Equal(t, wantHosts, gotHosts, "term %d", fp)
		assert.Equal(t, wantSat, gotSat, "term %d", fp)
	}
	h3, _ := hostsOf(got, 3)
	assert.Equal(t, []uint32{1, 2}, h3)
	_, sat := hostsOf(got, 2)
	assert.True(t, sat)

	// Loaded into a store without host sets (prevalence switched off), the
	// terms load and the hosts are dropped.
	plain := New(100)
	require.NoError(t, NewPersister(c, "fs", 3600).Load(ctx, plain))
	assert.Equal(t, asMap(contents(s)), asMap(contents(plain)))
}

// TestPlainStateMigratesToHostSets: state written by a store without host
// sets (format version 1, all state before host sets existed) loads into a
// store with host sets with every term saturated: known everywhere, as it
// was, instead of seen on no host, which would make all of it new again.
func TestPlainStateMigratesToHostSets(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	old := New(100)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, old))
	old.Touch(1, 10)
	old.Touch(2, 10)
	require.NoError(t, p.Snapshot(ctx, old))
	old.Touch(3, 20)
	require.NoError(t, p.Flush(ctx, old))
	for _, k := range c.keys("fs/") {
		if k != "fs/m" {
			assert.Equal(t, byte(formatVersion), c.m[k][0], "%s is version 1", k)
		}
	}

	s := NewWithHosts(100, 8)
	p = NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	checkInvariants(t, s)
	for _, fp := range []uint64{1, 2, 3} {
		got := s.TouchHost(fp, 30, 9, noExpiry)
		assert.Equal(t, 8, int(got.Hosts), "term %d counts as seen everywhere", fp)
	}
	// New terms get real host sets, written as version 2 and appended to the
	// version-1 generation; both load together.
	s.TouchHost(4, 30, 9, noExpiry)
	require.NoError(t, p.Flush(ctx, s))
	j := c.keys("/j/")
	assert.Equal(t, byte(hostsVersion), c.m[j[len(j)-1]][0])
	again := NewWithHosts(100, 8)
	require.NoError(t, NewPersister(c, "fs", 1).Load(ctx, again))
	assert.Equal(t, asMap(contents(s)), asMap(contents(again)))
	n, _ := again.HostCount(4)
	assert.Equal(t, 1, n)
	n, _ = again.HostCount(1)
	assert.Equal(t, 8, n)
}

func TestHostSetChunksAndCorruption(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := NewWithHosts(1000, MaxHosts)
	p := NewPersister(c, "fs", 1)
	p.chunkTerms = 16
	require.NoError(t, p.Load(ctx, s))
	for fp := range uint64(100) {
		for h := range uint32(fp % 20) {
			s.TouchHost(fp, 1, h+1, noExpiry)
		}
	}
	require.NoError(t, p.Snapshot(ctx, s))
	for _, k := range c.keys("/s/") {
		assert.LessOrEqual(t, len(c.m[k]), chunkHead+16*termLen+(termLen+1+4*MaxHosts)+crcLen, "%s: chunks are bounded in bytes too", k)
	}
	for fp := range uint64(100) {
		s.TouchHost(fp, 2, 25, noExpiry)
	}
	require.NoError(t, p.Flush(ctx, s))
	assert.Greater(t, len(c.keys("/j/")), 1, "the journal splits by bytes")
	got := NewWithHosts(1000, MaxHosts)
	require.NoError(t, NewPersister(c, "fs", 1).Load(ctx, got))
	checkInvariants(t, got)
	for fp := range uint64(100) {
		want, wantSat := hostsOf(s, fp)
		have, haveSat := hostsOf(got, fp)
		require.Equal(t, want, have, "term %d", fp)
		require.Equal(t, wantSat, haveSat)
	}

	// A host count beyond the bound is corruption, caught by the decoder.
	k := c.keys("/s/")[0]
	b := c.m[k]
	b[chunkHead+termLen] = MaxHosts + 1
	c.m[k] = appendCRC(b[:len(b)-crcLen])
	err := NewPersister(c, "fs", 1).Load(ctx, NewWithHosts(1000, MaxHosts))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), k)
}

func TestSlabWidths(t *testing.T) {
	assert.Empty(t, slabWidths(2), "two hosts: the inline one, then saturated")
	assert.Equal(t, []uint32{1}, slabWidths(3))
	assert.Equal(t, []uint32{4}, slabWidths(6), "the default bound: one slab size, no moves")
	assert.Equal(t, []uint32{7}, slabWidths(9))
	assert.Equal(t, []uint32{3, 7, 8}, slabWidths(10))
	assert.Equal(t, []uint32{3, 7, 15, 30}, slabWidths(MaxHosts))

	// With the default bound every set below saturation costs one 16-byte
	// slab: nothing is left behind by moves.
	const terms = 50_000
	s := NewWithHosts(terms, 6)
	plain := New(terms)
	for i := range uint64(terms) {
		plain.Touch(i, 1)
		for h := uint32(1); h <= 5; h++ {
			s.TouchHost(i, 1, h, noExpiry)
		}
	}
	checkInvariants(t, s)
	extra := float64(s.MemoryBytes()-plain.MemoryBytes()) / terms
	assert.LessOrEqual(t, extra, 8+16*1.3)
	t.Logf("bound 6, 5 hosts per term: %.1f bytes/term above a plain store", extra)
}
