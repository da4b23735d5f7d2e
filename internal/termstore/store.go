package termstore

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// MaxCap is the largest maxTerms New accepts. It keeps an entry index plus at
// least one tag bit inside a uint32 index slot and the table within 2^32 slots.
const MaxCap = 1 << 30

const (
	// hashMul spreads fingerprints over the table even when callers hand in
	// structured values (tests, sequential ids); xxhash output would not need it.
	hashMul = 0x9E3779B97F4A7C15

	minTableBits   = 4
	initialEntries = 8

	// dirtySlack lets small stores keep journaling even when most of their
	// terms changed, so a store that is still filling up does not fall back to
	// full snapshots on every flush.
	dirtySlack = 4096
)

// entry is 24 bytes: the uint64 forces 8-byte alignment, so mark costs nothing.
type entry struct {
	fp   uint64
	ts   uint32
	prev uint32 // neighbour towards the most recently used end
	next uint32 // neighbour towards the least recently used end
	// mark equals Store.epoch while the term waits in Store.dirty, which keeps
	// a hot term from being queued again on every bucket change.
	mark uint32
}

// Store is a bounded least-recently-used set of 64-bit fingerprints, each with
// a 32-bit event time. It is not safe for concurrent use.
//
// Entries live densely in one slice, linked into a circular LRU list through
// a sentinel at index 0, so a zero slot in the open-addressing index can mean
// "empty" while fingerprint 0 stays an ordinary key. Each occupied index slot
// holds the entry index in its low idxBits bits and a few more hash bits above
// them, so most probes of a collision chain are rejected without touching the
// (much larger, cache-cold) entry array.
type Store struct {
	entries []entry  // [0] is the sentinel: next = MRU, prev = LRU
	index   []uint32 // 0 = empty, else tag | entry index
	shift   uint     // 64 - log2(len(index)); the top hash bits pick the home slot
	idxBits uint
	idxMask uint32
	max     int

	evictions uint64

	// hs holds the host sets of a store made by NewWithHosts, else nil.
	hs *hostSets

	// Change tracking, switched on by a Persister (see attach). journaling is
	// tracking && !needSnap, cached because Touch tests it on every change.
	tracking   bool
	journaling bool
	needSnap   bool // changes stopped being listed; the next flush must snapshot
	gran       uint32
	epoch      uint32
	dirty      []uint64 // fingerprints inserted or moved to another time bucket
	deleted    []uint64 // fingerprints removed by Delete
}

// New returns an empty store holding at most maxTerms terms. Memory grows with
// use, not with maxTerms. It panics if maxTerms is outside [1, MaxCap].
func New(maxTerms int) *Store {
	if maxTerms < 1 || maxTerms > MaxCap {
		panic(fmt.Sprintf("termstore: maxTerms %d outside [1, %d]", maxTerms, MaxCap))
	}
	ib := uint(bits.Len32(uint32(maxTerms)))
	s := &Store{
		max:     maxTerms,
		idxBits: ib,
		idxMask: uint32(1)<<ib - 1,
		epoch:   1,
	}
	s.entries = make([]entry, 1, 1+min(initialEntries, maxTerms))
	s.resetIndex(minTableBits)
	return s
}

// Len reports how many terms are held.
func (s *Store) Len() int { return len(s.entries) - 1 }

// Cap reports the maximum number of terms held before eviction.
func (s *Store) Cap() int { return s.max }

// Evictions reports how many terms were dropped to make room since New.
func (s *Store) Evictions() uint64 { return s.evictions }

// MemoryBytes reports the bytes held by the store's backing arrays, including
// unused capacity and pending change lists.
func (s *Store) MemoryBytes() int {
	n := cap(s.entries)*int(unsafe.Sizeof(entry{})) +
		cap(s.index)*4 +
		(cap(s.dirty)+cap(s.deleted))*8
	if s.hs != nil {
		n += s.hs.memoryBytes()
	}
	return n
}

// Touch records that fp was seen at event time ts. It returns the previous
// last-seen time and whether the term was held. The stored time becomes
// max(prev, ts), so late events do not move it backwards. The term becomes the
// most recently used; inserting into a full store evicts the least recently
// used term.
func (s *Store) Touch(fp uint64, ts uint32) (prev uint32, found bool) {
	if i := s.find(fp); i != 0 {
		e := &s.entries[i]
		prev = e.ts
		if ts > prev {
			e.ts = ts
			s.changed(e, prev)
		}
		s.moveToFront(i)
		return prev, true
	}
	s.add(fp, ts)
	return 0, false
}

// Remember records fp keeping the earliest time seen. It returns the stored
// (earliest) time after the update and whether the term was already held. The
// term becomes the most recently used and may evict another.
func (s *Store) Remember(fp uint64, ts uint32) (first uint32, found bool) {
	if i := s.find(fp); i != 0 {
		e := &s.entries[i]
		if ts < e.ts {
			prev := e.ts
			e.ts = ts
			s.changed(e, prev)
		}
		s.moveToFront(i)
		return e.ts, true
	}
	s.add(fp, ts)
	return ts, false
}

// Lookup returns the stored time of fp without changing recency.
func (s *Store) Lookup(fp uint64) (ts uint32, found bool) {
	if i := s.find(fp); i != 0 {
		return s.entries[i].ts, true
	}
	return 0, false
}

// Delete removes fp and reports whether it was held.
func (s *Store) Delete(fp uint64) bool {
	i := s.find(fp)
	if i == 0 {
		return false
	}
	s.remove(i)
	if s.journaling {
		s.deleted = append(s.deleted, fp)
		s.checkBacklog()
	}
	return true
}

// Oldest returns the least recently used term without changing recency.
func (s *Store) Oldest() (fp uint64, ts uint32, ok bool) {
	i := s.entries[0].prev
	if i == 0 {
		return 0, 0, false
	}
	return s.entries[i].fp, s.entries[i].ts, true
}

// Range calls fn for each term from least to most recently used until fn
// returns false. fn must not modify the store.
func (s *Store) Range(fn func(fp uint64, ts uint32) bool) {
	for i := s.entries[0].prev; i != 0; {
		e := &s.entries[i]
		if !fn(e.fp, e.ts) {
			return
		}
		i = e.prev
	}
}

// find returns the entry index of fp, or 0.
func (s *Store) find(fp uint64) uint32 {
	h := fp * hashMul
	want := uint32(h>>(s.shift-32)) &^ s.idxMask
	index := s.index
	mask := uint(len(index) - 1)
	for p := uint(h >> s.shift); ; p = (p + 1) & mask {
		v := index[p&mask]
		if v == 0 {
			return 0
		}
		if v&^s.idxMask == want && s.entries[v&s.idxMask].fp == fp {
			return v & s.idxMask
		}
	}
}

// changed queues e for the next journal record when its time left the bucket
// it was last persisted in. Comparing with the old value is enough: a term not
// queued always sits in the bucket of its persisted time.
func (s *Store) changed(e *entry, old uint32) {
	if s.journaling && e.mark != s.epoch && old/s.gran != e.ts/s.gran {
		e.mark = s.epoch
		s.dirty = append(s.dirty, e.fp)
		s.checkBacklog()
	}
}

// checkBacklog stops listing changes once they outnumber half the held terms:
// a journal record would then be about as large as a snapshot, and the lists
// would otherwise grow without bound under a cardinality flood.
func (s *Store) checkBacklog() {
	if len(s.dirty)+len(s.deleted) > s.Len()/2+dirtySlack {
		s.needSnap = true
		s.journaling = false
		s.dirty = s.dirty[:0]
		s.deleted = s.deleted[:0]
	}
}

func (s *Store) add(fp uint64, ts uint32) uint32 {
	e := entry{fp: fp, ts: ts}
	if s.journaling {
		e.mark = s.epoch
		s.dirty = append(s.dirty, fp)
	}
	var i uint32
	if s.Len() >= s.max {
		// The new term takes the evicted one's place in the dense array,
		// which spares moving the last entry into the hole.
		i = s.entries[0].prev
		s.clearSlot(s.slotOf(i))
		s.unlink(i)
		s.evictions++
		s.entries[i] = e
		if s.hs != nil {
			s.hs.release(i)
		}
	} else {
		if len(s.entries) == cap(s.entries) {
			grown := make([]entry, len(s.entries), min(2*(cap(s.entries)-1), s.max)+1)
			copy(grown, s.entries)
			s.entries = grown
			if s.hs != nil {
				refs := make([]hostRef, len(s.hs.refs), cap(grown))
				copy(refs, s.hs.refs)
				s.hs.refs = refs
			}
		}
		if len(s.entries)*4 > len(s.index)*3 {
			s.resetIndex(uint(bits.Len(uint(len(s.index)))))
		}
		i = uint32(len(s.entries))
		s.entries = append(s.entries, e)
		if s.hs != nil {
			s.hs.refs = append(s.hs.refs, hostRef{})
		}
	}
	s.place(fp, i)
	s.pushFront(i)
	if s.journaling {
		s.checkBacklog()
	}
	return i
}

// place stores entry index i for fp in the first free slot of its probe run.
func (s *Store) place(fp uint64, i uint32) {
	h := fp * hashMul
	tag := uint32(h>>(s.shift-32)) &^ s.idxMask
	mask := uint(len(s.index) - 1)
	p := uint(h >> s.shift)
	for s.index[p] != 0 {
		p = (p + 1) & mask
	}
	s.index[p] = tag | i
}

// resetIndex allocates a table of 2^tableBits slots and rehashes every entry.
// Tags depend on the table size, so slots cannot simply be copied.
func (s *Store) resetIndex(tableBits uint) {
	s.index = make([]uint32, 1<<tableBits)
	s.shift = 64 - tableBits
	for i := 1; i < len(s.entries); i++ {
		s.place(s.entries[i].fp, uint32(i))
	}
}

// slotOf returns the index slot that points at entry i.
func (s *Store) slotOf(i uint32) uint {
	mask := uint(len(s.index) - 1)
	p := uint((s.entries[i].fp * hashMul) >> s.shift)
	for s.index[p]&s.idxMask != i {
		p = (p + 1) & mask
	}
	return p
}

// remove drops entry i and keeps the entry array dense by moving the last
// entry into the hole.
func (s *Store) remove(i uint32) {
	s.clearSlot(s.slotOf(i))
	s.unlink(i)
	last := uint32(len(s.entries) - 1)
	if s.hs != nil {
		s.hs.release(i)
	}
	if i != last {
		p := s.slotOf(last)
		s.index[p] = s.index[p]&^s.idxMask | i
		e := s.entries[last]
		s.entries[i] = e
		s.entries[e.prev].next = i
		s.entries[e.next].prev = i
		if s.hs != nil {
			s.hs.refs[i] = s.hs.refs[last]
		}
	}
	s.entries = s.entries[:last]
	if s.hs != nil {
		s.hs.refs = s.hs.refs[:last]
	}
}

// clearSlot empties slot p using backward-shift deletion: later members of
// the probe run move up when the hole lies between their home and their
// current slot, so lookups never need tombstones.
func (s *Store) clearSlot(p uint) {
	mask := uint(len(s.index) - 1)
	hole := p
	for j := (p + 1) & mask; ; j = (j + 1) & mask {
		v := s.index[j]
		if v == 0 {
			break
		}
		home := uint((s.entries[v&s.idxMask].fp * hashMul) >> s.shift)
		if (j-home)&mask >= (j-hole)&mask {
			s.index[hole] = v
			hole = j
		}
	}
	s.index[hole] = 0
}

func (s *Store) unlink(i uint32) {
	e := &s.entries[i]
	s.entries[e.prev].next = e.next
	s.entries[e.next].prev = e.prev
}

func (s *Store) pushFront(i uint32) {
	head := s.entries[0].next
	s.entries[i].prev = 0
	s.entries[i].next = head
	s.entries[head].prev = i
	s.entries[0].next = i
}

func (s *Store) moveToFront(i uint32) {
	if s.entries[0].next == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

// restore sets fp to exactly ts as the most recently used term and returns
// its entry; replay uses it because persisted values are already the result
// of max or min updates.
func (s *Store) restore(fp uint64, ts uint32) uint32 {
	if i := s.find(fp); i != 0 {
		s.entries[i].ts = ts
		s.moveToFront(i)
		return i
	}
	return s.add(fp, ts)
}

// attach switches on change tracking. Terms already held are not known to be
// persisted, so unless the caller just replayed them from storage the next
// flush must be a snapshot.
func (s *Store) attach(granularity uint32, persisted bool) {
	s.tracking = true
	s.gran = max(granularity, 1)
	s.needSnap = !persisted
	s.journaling = persisted
	s.dirty = s.dirty[:0]
	s.deleted = s.deleted[:0]
	s.advanceEpoch()
}

// detach switches tracking off, e.g. while replaying persisted state.
func (s *Store) detach() {
	s.tracking = false
	s.journaling = false
	s.needSnap = false
	s.dirty = s.dirty[:0]
	s.deleted = s.deleted[:0]
}

// advanceEpoch makes every mark stale at once instead of visiting entries.
// Epochs move by two because a flush in progress uses epoch+1; on wrap-around
// the marks are reset so an ancient mark cannot alias the new epoch.
func (s *Store) advanceEpoch() {
	if s.epoch >= math.MaxUint32-3 {
		for i := range s.entries {
			s.entries[i].mark = 0
		}
		s.epoch = 1
		return
	}
	s.epoch += 2
}

// beginFlush hands each queued term that is still held once, then each
// deleted fingerprint that is not held again. Terms come most recently queued
// first, so a term queued twice (evicted and re-inserted) is reported at its
// later position; the caller reverses them to replay oldest first. Visited
// entries are marked epoch+1 to skip duplicates; endFlush settles or reverts
// that marking.
func (s *Store) beginFlush(up func(i uint32), del func(fp uint64)) {
	for k := len(s.dirty) - 1; k >= 0; k-- {
		i := s.find(s.dirty[k])
		if i == 0 {
			continue // evicted or deleted since; evictions need no record
		}
		e := &s.entries[i]
		if e.mark != s.epoch {
			continue
		}
		e.mark = s.epoch + 1
		up(i)
	}
	slices.Sort(s.deleted)
	s.deleted = slices.Compact(s.deleted)
	for _, fp := range s.deleted {
		if s.find(fp) == 0 {
			del(fp)
		}
	}
}

// endFlush completes a beginFlush. On success the lists are emptied and all
// marks go stale; on failure the visited terms are queued again as they were.
func (s *Store) endFlush(ok bool) {
	if ok {
		s.dirty = s.dirty[:0]
		s.deleted = s.deleted[:0]
		s.advanceEpoch()
		return
	}
	for _, fp := range s.dirty {
		if i := s.find(fp); i != 0 && s.entries[i].mark == s.epoch+1 {
			s.entries[i].mark = s.epoch
		}
	}
}

// snapshotDone records that every held term is now persisted.
func (s *Store) snapshotDone(granularity uint32) {
	s.attach(granularity, true)
}
