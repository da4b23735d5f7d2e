package store

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"sort"
)

// Every table is laid out the same way: one row per (value, entry) pair,
// sorted by a 64-bit hash h of the value, and a directory dir where the
// rows of bucket b (the top bits of h) are [dir[b], dir[b+1]). A value
// with several entries is a run of adjacent rows, so a lookup returns a
// sub-slice of the entry column, and there is no per-value offset array:
// most values have one entry, and repeating the key for the rare extra
// ones costs less than an offset per value.
//
// For hashes h is the first 8 bytes of the hash itself (uniform already,
// and it keeps the rows in key order); for IPs a seeded mix of the
// address; for domains a seeded maphash of the name.
//
// Rows keep the top 32 bits of h as a fingerprint, in a column of their
// own, and the rest of the value in another. At 1M rows a lookup's time is
// its cache and TLB misses: a miss, the common case, reads the directory
// and a few fingerprints, from arrays of 4 bytes per row, and only a
// fingerprint match reads the rest of the value. Measured at 1M, scanning
// a 4-byte column took half the time of scanning 32-byte keys; comparing
// without branches, a directory small enough to stay in cache, and
// fixed-size blocks of 16-bit fingerprints gained little or nothing.
//
// The directory has 2^floor(log2 n) buckets: one to two rows per bucket,
// for at most 4 bytes per row, instead of the empty slots open addressing
// needs.

// maxScan is the bucket size beyond which a lookup binary-searches. Real
// buckets hold Poisson(1–2) rows and never come near it; a crafted feed
// (many hashes sharing their first bytes) fills one bucket, and must not
// make lookups linear.
const maxScan = 32

type index struct {
	shift uint     // 64 - directory bits
	dir   []uint32 // len buckets+1
	fps   []uint32 // per row: the top 32 bits of h
	n     int      // rows
	// filter has bit (h & fmask) set for every row: a lookup whose bit is
	// clear is a miss after one read of an array of 2 bits per row, small
	// enough to stay in cache, instead of reading the directory and the
	// fingerprints (two dependent reads that miss the cache on large
	// feeds). It uses h's low bits, independent of the directory's top ones.
	filter []uint64
	fmask  uint64
}

// filterBits sizes the filter at 8 to 16 bits per row (a power of two):
// 6–11% of misses get past it.
func filterBits(n int) uint { return min(dirBits(n)+4, 40) }

// mayHave reports whether a row with hash h may exist.
func (x *index) mayHave(h uint64) bool {
	if len(x.filter) == 0 {
		return false // an empty table
	}
	b := h & x.fmask
	return x.filter[b>>6]&(1<<(b&63)) != 0
}

// dirBits is floor(log2 n), at most 32 so that the bucket is a prefix of
// the fingerprint.
func dirBits(n int) uint {
	if n <= 1 {
		return 0
	}
	return min(uint(bits.Len(uint(n)))-1, 32)
}

// first returns where the rows of fingerprint q start (or would) in h's
// bucket, scanning it or, when oversized, binary-searching; and the end
// of the bucket.
func (x *index) first(h uint64) (i, end int) {
	if x.n == 0 {
		return 0, 0
	}
	b := h >> x.shift
	lo, hi := int(x.dir[b]), int(x.dir[b+1])
	q := uint32(h >> 32)
	if hi-lo > maxScan {
		return lo + sort.Search(hi-lo, func(i int) bool { return x.fps[lo+i] >= q }), hi
	}
	for lo < hi && x.fps[lo] < q {
		lo++
	}
	return lo, hi
}

// indexBuild is an index being built: rows keep their full hash until
// they are sorted and merged.
type indexBuild struct {
	index
	hs []uint64
}

// layoutIndex puts rows with hashes hs into bucket order. It calls
// move(from, to) to place input row from at output row to, for every row
// in input order, so that the caller reads its inputs sequentially. The
// rows of each bucket are then still to be sorted (sortBuckets) and
// merged (finish).
//
// Moving the rows once with a counting-sort scatter, and doing everything
// else over adjacent memory, is what keeps a 1M build near 100 ms: going
// through a permutation instead reads the keys from random places on every
// pass, a cache miss each.
func layoutIndex(hs []uint64, move func(from, to int)) *indexBuild {
	n := len(hs)
	nbits := dirBits(n)
	x := &indexBuild{index: index{shift: 64 - nbits, n: n}}
	nb := 1 << nbits
	dir := make([]uint32, nb+1)
	for _, h := range hs {
		dir[h>>x.shift+1]++
	}
	for b := 1; b <= nb; b++ {
		dir[b] += dir[b-1]
	}
	x.hs = make([]uint64, n)
	for i, h := range hs {
		b := h >> x.shift
		to := dir[b]
		dir[b]++
		x.hs[to] = h
		move(i, int(to))
	}
	// The scatter advanced every start to the next bucket's start.
	copy(dir[1:], dir[:nb])
	dir[0] = 0
	x.dir = dir
	return x
}

// sortBuckets calls sort for the rows of each bucket with more than one.
func (x *indexBuild) sortBuckets(sort func(lo, hi int)) {
	for b := 0; b+1 < len(x.dir); b++ {
		if x.dir[b+1]-x.dir[b] > 1 {
			sort(int(x.dir[b]), int(x.dir[b+1]))
		}
	}
}

// cmpHash orders rows i and j by their full hash.
func (x *indexBuild) cmpHash(i, j int) int {
	switch {
	case x.hs[i] < x.hs[j]:
		return -1
	case x.hs[i] > x.hs[j]:
		return 1
	}
	return 0
}

// finish drops the rows for which dup(i, w) reports row i identical to
// the last kept row w (rows are sorted, so identical rows are adjacent),
// calling keep(i, w) to move row i to w; it fixes the directory and makes
// the fingerprints.
func (x *indexBuild) finish(dup func(i, w int) bool, keep func(i, w int)) index {
	w, lo := 0, 0
	for b := 0; b+1 < len(x.dir); b++ {
		hi := int(x.dir[b+1])
		x.dir[b] = uint32(w)
		for i := lo; i < hi; i++ {
			if w > int(x.dir[b]) && x.hs[i] == x.hs[w-1] && dup(i, w-1) {
				continue
			}
			if i != w {
				x.hs[w] = x.hs[i]
				keep(i, w)
			}
			w++
		}
		lo = hi
	}
	x.dir[len(x.dir)-1] = uint32(w)
	x.n = w
	x.fps = make([]uint32, w)
	for i, h := range x.hs[:w] {
		x.fps[i] = uint32(h >> 32)
	}
	fb := filterBits(w)
	x.fmask = 1<<fb - 1
	x.filter = make([]uint64, max(1<<fb/64, 1))
	for _, h := range x.hs[:w] {
		b := h & x.fmask
		x.filter[b>>6] |= 1 << (b & 63)
	}
	x.hs = nil
	return x.index
}

// sortRows sorts rows [lo, hi) with cmp, moving them with swap: an
// insertion sort, as buckets hold a few rows, except for crafted feeds,
// which get an index sort and then apply.
func sortRows(lo, hi int, cmp func(i, j int) int, swap func(i, j int), apply func(lo int, order []int)) {
	if hi-lo <= 12 {
		for i := lo + 1; i < hi; i++ {
			for j := i; j > lo && cmp(j-1, j) > 0; j-- {
				swap(j-1, j)
			}
		}
		return
	}
	order := make([]int, hi-lo)
	for i := range order {
		order[i] = lo + i
	}
	slices.SortFunc(order, cmp)
	apply(lo, order)
}

// fixedTable indexes fixed-size binary keys: decoded hashes, and IPs in
// 16-byte form. Row i keeps the key bytes its fingerprint does not already
// hold (all but the first skip) in rest.
type fixedTable struct {
	index
	seed uint64 // for IPs: their bytes are far from uniform (IPv4 addresses share their first 10)
	k    int    // key size
	skip int    // key bytes held by the fingerprint: 4 for hashes, 0 for IPs
	rest []byte // k-skip bytes per row
	ents []Entry
}

func (t *fixedTable) restOf(i int) []byte {
	r := t.k - t.skip
	return t.rest[i*r : (i+1)*r]
}

// run returns the entries of row i and of the following rows with the same
// value. The capacity is clipped so that a caller's append cannot write
// into the store.
func (t *fixedTable) run(i int) []Entry {
	j := i + 1
	for j < t.n && t.fps[j] == t.fps[i] && bytes.Equal(t.restOf(j), t.restOf(i)) {
		j++
	}
	return t.ents[i:j:j]
}

// lookupHex finds the hash whose hex digits (either case) are s.
func (t *fixedTable) lookupHex(s string) []Entry {
	if t.n == 0 || len(s) != 2*t.k {
		return nil
	}
	// Only h (the first 8 bytes) is decoded up front; a miss, the common
	// case, never looks at the rest, and most misses stop at the filter.
	q, ok := hex8(s[:8])
	lo, ok2 := hex8(s[8:16])
	if !ok || !ok2 {
		return nil
	}
	if !t.mayHave(uint64(q)<<32 | uint64(lo)) {
		return nil
	}
	i, end := t.first(uint64(q) << 32)
	if end-i > maxScan {
		// Only a crafted feed makes a bucket this big, and rows sharing
		// a fingerprint could then be as many.
		return t.searchHex(s, i, end)
	}
	for ; i < end && t.fps[i] == q; i++ {
		if hexEqual(t.restOf(i), s[8:]) {
			return t.run(i)
		}
	}
	return nil
}

// searchHex binary-searches rows [lo, end), which start with those of the
// query's fingerprint in key order, for the hash whose hex digits are s.
func (t *fixedTable) searchHex(s string, lo, end int) []Entry {
	var buf [32]byte
	key := buf[:t.k]
	if !decodeHex(key, s, &unhex) {
		return nil
	}
	q, rest := binary.BigEndian.Uint32(key), key[t.skip:]
	i := lo + sort.Search(end-lo, func(i int) bool {
		return t.fps[lo+i] != q || bytes.Compare(t.restOf(lo+i), rest) >= 0
	})
	if i == end || t.fps[i] != q || !bytes.Equal(t.restOf(i), rest) {
		return nil
	}
	return t.run(i)
}

// lookupIP finds a 16-byte address given as two big-endian words.
func (t *fixedTable) lookupIP(hi, lo uint64) []Entry {
	h := mix2(hi, lo, t.seed)
	if !t.mayHave(h) {
		return nil
	}
	q := uint32(h >> 32)
	i, end := t.first(h)
	for ; i < end && t.fps[i] == q; i++ {
		r := t.restOf(i)
		if binary.BigEndian.Uint64(r) == hi && binary.BigEndian.Uint64(r[8:]) == lo {
			return t.run(i)
		}
	}
	return nil
}

// mix2 hashes two words with a seed (two rounds of the 64×64→128-bit
// multiply-fold used by wyhash-style hashes). The seed is random per
// store, so a feed cannot be crafted to pile its IPs into one bucket.
func mix2(a, b, seed uint64) uint64 {
	h, l := bits.Mul64(a^seed, b^0x9e3779b97f4a7c15)
	h, l = bits.Mul64(h^l^0xbf58476d1ce4e5b9, seed^0x94d049bb133111eb)
	return h ^ l
}

// buildFixed indexes rows of k-byte keys with their entries; hashOf gives
// a key's h, whose fingerprint holds the key's first skip bytes. Identical
// (key, entry) rows are merged.
func buildFixed(k, skip int, rows *keyRows, seed uint64, hashOf func([]byte) uint64) fixedTable {
	t := fixedTable{seed: seed, k: k, skip: skip}
	n := rows.n
	if n == 0 {
		return t
	}
	r := k - skip
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = hashOf(rows.key(i, k))
	}
	t.rest = make([]byte, n*r)
	t.ents = make([]Entry, n)
	x := layoutIndex(hs, func(from, to int) {
		copy(t.rest[to*r:(to+1)*r], rows.key(from, k)[skip:])
		t.ents[to] = rows.ent(from)
	})
	hs = nil
	// By h, then the rest of the key, then the entry: for hashes the
	// first two together are key order, which searchHex relies on.
	cmp := func(i, j int) int {
		if c := x.cmpHash(i, j); c != 0 {
			return c
		}
		if c := bytes.Compare(t.restOf(i), t.restOf(j)); c != 0 {
			return c
		}
		return int(t.ents[i].v) - int(t.ents[j].v)
	}
	var tmp [32]byte
	swap := func(i, j int) {
		x.hs[i], x.hs[j] = x.hs[j], x.hs[i]
		copy(tmp[:r], t.restOf(i))
		copy(t.restOf(i), t.restOf(j))
		copy(t.restOf(j), tmp[:r])
		t.ents[i], t.ents[j] = t.ents[j], t.ents[i]
	}
	apply := func(lo int, order []int) {
		hs := make([]uint64, len(order))
		rest := make([]byte, len(order)*r)
		ents := make([]Entry, len(order))
		for o, i := range order {
			hs[o], ents[o] = x.hs[i], t.ents[i]
			copy(rest[o*r:], t.restOf(i))
		}
		copy(x.hs[lo:], hs)
		copy(t.rest[lo*r:], rest)
		copy(t.ents[lo:], ents)
	}
	x.sortBuckets(func(lo, hi int) { sortRows(lo, hi, cmp, swap, apply) })
	t.index = x.finish(
		func(i, w int) bool { return t.ents[i] == t.ents[w] && bytes.Equal(t.restOf(i), t.restOf(w)) },
		func(i, w int) {
			copy(t.restOf(w), t.restOf(i))
			t.ents[w] = t.ents[i]
		})
	if t.n < n {
		// Exact sizes, so that a feed full of duplicates does not keep
		// the room they took.
		t.rest = append([]byte(nil), t.rest[:t.n*r]...)
		t.ents = append([]Entry(nil), t.ents[:t.n]...)
	}
	return t
}

// domainTable indexes names by a seeded hash; the names themselves live in
// one byte arena, each distinct name once.
type domainTable struct {
	index
	seed  maphash.Seed
	offs  []uint32 // per row: where the name starts in arena; rows of one name share it
	lens  []uint8  // per row: the name's length (names are at most 253 bytes)
	ents  []Entry
	arena []byte
}

func (t *domainTable) name(i int) []byte {
	o := int(t.offs[i])
	return t.arena[o : o+int(t.lens[i])]
}

// lookupDomain finds a normalised name whose hash with t.seed is h.
func lookupDomain[S string | []byte](t *domainTable, h uint64, name S) []Entry {
	if t.n == 0 || !t.mayHave(h) {
		return nil
	}
	q := uint32(h >> 32)
	i, end := t.first(h)
	for ; i < end && t.fps[i] == q; i++ {
		if string(t.name(i)) != string(name) {
			continue
		}
		j := i + 1
		for j < t.n && t.offs[j] == t.offs[i] {
			j++
		}
		return t.ents[i:j:j]
	}
	return nil
}

// buildDomains indexes the names arena[starts[i]:starts[i+1]] with
// entries ents. Domain feeds are far smaller than hash feeds, so this
// builds through a permutation rather than moving the names.
func buildDomains(arena []byte, starts []uint32, ents []Entry) domainTable {
	t := domainTable{seed: maphash.MakeSeed()}
	n := len(ents)
	if n == 0 {
		return t
	}
	name := func(i int) []byte { return arena[starts[i]:starts[i+1]] }
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = maphash.Bytes(t.seed, name(i))
	}
	perm := make([]int, n) // output row -> input row
	x := layoutIndex(hs, func(from, to int) { perm[to] = from })
	x.sortBuckets(func(lo, hi int) {
		slices.SortFunc(perm[lo:hi], func(a, b int) int {
			switch {
			case hs[a] < hs[b]:
				return -1
			case hs[a] > hs[b]:
				return 1
			}
			if c := bytes.Compare(name(a), name(b)); c != 0 {
				return c
			}
			return int(ents[a].v) - int(ents[b].v)
		})
		for i := lo; i < hi; i++ {
			x.hs[i] = hs[perm[i]]
		}
	})
	same := func(i, w int) bool { return bytes.Equal(name(perm[i]), name(perm[w])) }
	t.index = x.finish(
		func(i, w int) bool { return ents[perm[i]] == ents[perm[w]] && same(i, w) },
		func(i, w int) { perm[w] = perm[i] })
	perm = perm[:t.n]

	size := 0
	for o, i := range perm {
		if o == 0 || !same(o, o-1) {
			size += len(name(i))
		}
	}
	t.offs = make([]uint32, t.n)
	t.lens = make([]uint8, t.n)
	t.ents = make([]Entry, t.n)
	t.arena = make([]byte, 0, size)
	for o, i := range perm {
		if o > 0 && same(o, o-1) {
			t.offs[o] = t.offs[o-1]
		} else {
			t.offs[o] = uint32(len(t.arena))
			t.arena = append(t.arena, name(i)...)
		}
		t.lens[o] = uint8(len(name(i)))
		t.ents[o] = ents[i]
	}
	return t
}
