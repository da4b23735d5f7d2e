package store

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
)

// All tables share one shape: rows sorted by bucket, a directory dir where
// bucket b's rows are [dir[b], dir[b+1]), and one row per (value, entry)
// pair, so a value with several entries is a run of adjacent rows and a
// lookup returns a sub-slice of the entry column. There is no per-value
// offset array: most values have a single entry, and repeating the key for
// the rare extra ones costs less than an offset per value.
//
// The directory has 2^floor(log2 n) buckets, i.e. one to two rows per
// bucket and at most 4 bytes per row, instead of the empty slots open
// addressing needs; with sorted buckets a miss usually stops after one key.

// maxScan is the bucket size beyond which a lookup binary-searches instead
// of scanning. Real hashes and seeded hashes never fill buckets this much;
// only a crafted feed (many values sharing a prefix) does, and it must not
// turn every lookup into a linear scan.
const maxScan = 8

// dirBits is floor(log2 n), so that there are 1–2 rows per bucket.
func dirBits(n int) uint {
	if n <= 1 {
		return 0
	}
	return uint(bits.Len(uint(n))) - 1
}

// groupByBucket sorts row numbers by bucket with a counting sort, which is
// linear and, unlike a comparison sort of 1M keys, takes a few ms. It
// returns the permutation and the bucket start offsets (len nb+1).
func groupByBucket(bkt []uint32, nb int) (perm, start []uint32) {
	start = make([]uint32, nb+1)
	for _, b := range bkt {
		start[b+1]++
	}
	for i := 1; i <= nb; i++ {
		start[i] += start[i-1]
	}
	perm = make([]uint32, len(bkt))
	for i, b := range bkt {
		perm[start[b]] = uint32(i)
		start[b]++
	}
	// The scatter advanced every start to the next bucket's start.
	copy(start[1:], start[:nb])
	start[0] = 0
	return perm, start
}

// sortBuckets orders the rows within each bucket.
func sortBuckets(perm, start []uint32, cmp func(a, b uint32) int) {
	for b := 0; b+1 < len(start); b++ {
		r := perm[start[b]:start[b+1]]
		if len(r) < 2 {
			continue
		}
		if len(r) <= 12 {
			for i := 1; i < len(r); i++ {
				for j := i; j > 0 && cmp(r[j-1], r[j]) > 0; j-- {
					r[j-1], r[j] = r[j], r[j-1]
				}
			}
			continue
		}
		slices.SortFunc(r, cmp)
	}
}

// fixedTable indexes fixed-size binary keys: decoded hashes, IPv6-form IPs.
type fixedTable struct {
	k     int  // key size in bytes
	shift uint // 64 - directory bits
	// seed is set for IPs, whose bytes are far from uniform (every IPv4
	// address shares its first 10 bytes), so they are bucketed by a seeded
	// mix. Hashes are bucketed by their first 8 bytes as they are: uniform
	// already, and it keeps the bucket order lexicographic, which the
	// early exit of a scan and the binary search rely on.
	seed uint64
	dir  []uint32
	keys []byte // len(ents)*k
	ents []Entry
}

func (t *fixedTable) key(i int) []byte { return t.keys[i*t.k : (i+1)*t.k] }

// run returns the entries of row i and of the following rows with the same
// key. The capacity is clipped so that a caller's append cannot write into
// the store.
func (t *fixedTable) run(i, end int) []Entry {
	j := i + 1
	for j < end && bytes.Equal(t.key(j), t.key(i)) {
		j++
	}
	return t.ents[i:j:j]
}

// lookupHex finds the hash whose hex digits (either case) are s.
func (t *fixedTable) lookupHex(s string) []Entry {
	if len(s) != 2*t.k || len(t.dir) == 0 {
		return nil
	}
	// Decode only the first 8 bytes up front: that picks the bucket and
	// rejects nearly every non-matching row, so a miss, the common case,
	// never decodes the rest.
	p, ok := hexWord(s[:16])
	if !ok {
		return nil
	}
	b := p >> t.shift
	lo, hi := int(t.dir[b]), int(t.dir[b+1])
	if hi-lo > maxScan {
		return t.searchHex(s, lo, hi)
	}
	k := t.k
	for i := lo; i < hi; i++ {
		kp := binary.BigEndian.Uint64(t.keys[i*k:])
		if kp < p {
			continue
		}
		if kp > p {
			return nil
		}
		c, ok := cmpHexRest(t.keys[i*k+8:(i+1)*k], s[16:])
		if !ok || c > 0 {
			return nil
		}
		if c == 0 {
			return t.run(i, hi)
		}
	}
	return nil
}

// cmpHexRest compares stored key bytes with the hex digits that encode the
// query's same bytes, word by word, decoding as it goes.
func cmpHexRest(key []byte, s string) (int, bool) {
	for len(key) > 0 {
		n := min(8, len(key))
		q, ok := hexWord(s[:2*n])
		if !ok {
			return 0, false
		}
		if w := keyWord(key[:n]); w != q {
			if w < q {
				return -1, true
			}
			return 1, true
		}
		key, s = key[n:], s[2*n:]
	}
	return 0, true
}

// searchHex is the path for oversized buckets: decode the whole key and
// binary-search the bucket.
func (t *fixedTable) searchHex(s string, lo, hi int) []Entry {
	var buf [32]byte
	q := buf[:t.k]
	if !decodeHex(q, s, &unhex) {
		return nil
	}
	i, found := t.search(q, lo, hi)
	if !found {
		return nil
	}
	return t.run(i, hi)
}

// search finds the first row in [lo, hi) whose key is >= q.
func (t *fixedTable) search(q []byte, lo, hi int) (int, bool) {
	end := hi
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(t.key(m), q) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < end && bytes.Equal(t.key(lo), q)
}

// lookupIP finds a 16-byte address given as two big-endian words.
func (t *fixedTable) lookupIP(hi, lo uint64) []Entry {
	if len(t.dir) == 0 {
		return nil
	}
	b := mix2(hi, lo, t.seed) >> t.shift
	first, end := int(t.dir[b]), int(t.dir[b+1])
	for i := first; i < end; i++ {
		k := t.keys[i*16 : i*16+16]
		if binary.BigEndian.Uint64(k) == hi && binary.BigEndian.Uint64(k[8:]) == lo {
			return t.run(i, end)
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

// buildFixed indexes rows of k-byte keys; bucketOf gives the 64-bit value
// whose top bits pick a key's bucket. It deduplicates identical
// (key, entry) rows.
//
// The rows are moved into bucket order once, by a counting-sort scatter,
// and everything after that (sorting each bucket, merging duplicates) runs
// over adjacent memory. Going through a permutation instead would read the
// 32-byte keys from random places on every pass, a cache miss each.
func buildFixed(k int, keys []byte, ents []Entry, seed uint64, bucketOf func([]byte) uint64) fixedTable {
	t := fixedTable{k: k, seed: seed}
	n := len(ents)
	if n == 0 {
		return t
	}
	nbits := dirBits(n)
	t.shift = 64 - nbits
	nb := 1 << nbits

	bkt := make([]uint32, n)
	dir := make([]uint32, nb+1)
	for i := range n {
		b := uint32(bucketOf(keys[i*k:(i+1)*k]) >> t.shift)
		bkt[i] = b
		dir[b+1]++
	}
	for b := 1; b <= nb; b++ {
		dir[b] += dir[b-1]
	}
	t.keys = make([]byte, n*k)
	t.ents = make([]Entry, n)
	for i, b := range bkt {
		p := dir[b]
		dir[b]++
		copy(t.keys[int(p)*k:int(p+1)*k], keys[i*k:(i+1)*k])
		t.ents[p] = ents[i]
	}
	// The scatter advanced every start to the next bucket's start.
	copy(dir[1:], dir[:nb])
	dir[0] = 0

	var tmp [32]byte
	w, lo := 0, 0
	for b := range nb {
		hi := int(dir[b+1])
		t.sortRun(lo, hi, tmp[:k])
		dir[b] = uint32(w)
		for i := lo; i < hi; i++ {
			if w > int(dir[b]) && t.ents[i] == t.ents[w-1] && bytes.Equal(t.key(i), t.key(w-1)) {
				continue
			}
			if i != w {
				copy(t.keys[w*k:(w+1)*k], t.key(i))
				t.ents[w] = t.ents[i]
			}
			w++
		}
		lo = hi
	}
	dir[nb] = uint32(w)
	t.dir = dir
	if w < n {
		// Exact sizes, so that a feed full of duplicates does not keep
		// the room they took.
		t.keys = append([]byte(nil), t.keys[:w*k]...)
		t.ents = append([]Entry(nil), t.ents[:w]...)
	}
	return t
}

// cmpRows orders rows by key, then entry, so that identical rows end up
// adjacent.
func (t *fixedTable) cmpRows(i, j int) int {
	if c := bytes.Compare(t.key(i), t.key(j)); c != 0 {
		return c
	}
	return int(t.ents[i].v) - int(t.ents[j].v)
}

// sortRun sorts rows [lo, hi) in place; tmp is scratch of one key.
func (t *fixedTable) sortRun(lo, hi int, tmp []byte) {
	k := t.k
	swap := func(i, j int) {
		copy(tmp, t.key(i))
		copy(t.key(i), t.key(j))
		copy(t.key(j), tmp)
		t.ents[i], t.ents[j] = t.ents[j], t.ents[i]
	}
	if hi-lo <= 12 {
		for i := lo + 1; i < hi; i++ {
			for j := i; j > lo && t.cmpRows(j-1, j) > 0; j-- {
				swap(j-1, j)
			}
		}
		return
	}
	// Only oversized buckets get here (crafted feeds): sort an index, then
	// move the rows through copies.
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = lo + i
	}
	slices.SortFunc(idx, t.cmpRows)
	keys := make([]byte, len(idx)*k)
	ents := make([]Entry, len(idx))
	for x, i := range idx {
		copy(keys[x*k:], t.key(i))
		ents[x] = t.ents[i]
	}
	copy(t.keys[lo*k:hi*k], keys)
	copy(t.ents[lo:hi], ents)
}

// domainTable indexes names by a seeded 64-bit hash; the names themselves
// live in one byte arena, each distinct name once.
type domainTable struct {
	shift uint
	seed  maphash.Seed
	dir   []uint32
	hs    []uint64 // per row: the name's hash, so most non-matches never touch the arena
	offs  []uint32 // per row: where the name starts in arena; rows of one name share it
	lens  []uint8  // per row: the name's length (names are at most 253 bytes)
	ents  []Entry
	arena []byte
}

// lookup finds a normalised name; h is its hash with t.seed.
func lookupDomain[S string | []byte](t *domainTable, h uint64, name S) []Entry {
	if len(t.dir) == 0 {
		return nil
	}
	b := h >> t.shift
	first, end := int(t.dir[b]), int(t.dir[b+1])
	for i := first; i < end; i++ {
		if t.hs[i] != h || int(t.lens[i]) != len(name) {
			continue
		}
		off := int(t.offs[i])
		if string(t.arena[off:off+len(name)]) != string(name) {
			continue
		}
		j := i + 1
		for j < end && t.offs[j] == t.offs[i] {
			j++
		}
		return t.ents[i:j:j]
	}
	return nil
}

// buildDomains indexes the names arena[starts[i]:starts[i+1]] with ents[i].
func buildDomains(arena []byte, starts []uint32, ents []Entry) domainTable {
	t := domainTable{seed: maphash.MakeSeed()}
	n := len(ents)
	if n == 0 {
		return t
	}
	nbits := dirBits(n)
	t.shift = 64 - nbits
	nb := 1 << nbits
	name := func(i uint32) []byte { return arena[starts[i]:starts[i+1]] }

	hs := make([]uint64, n)
	bkt := make([]uint32, n)
	for i := range hs {
		hs[i] = maphash.Bytes(t.seed, name(uint32(i)))
		bkt[i] = uint32(hs[i] >> t.shift)
	}
	perm, dir := groupByBucket(bkt, nb)
	sortBuckets(perm, dir, func(a, b uint32) int {
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

	// First pass: which rows stay, and how big the arena of distinct names is.
	m, size := 0, 0
	for x, i := range perm {
		if x > 0 {
			p := perm[x-1]
			if bytes.Equal(name(p), name(i)) {
				if ents[p] != ents[i] {
					m++
				}
				continue
			}
		}
		m++
		size += len(name(i))
	}
	t.hs = make([]uint64, m)
	t.offs = make([]uint32, m)
	t.lens = make([]uint8, m)
	t.ents = make([]Entry, m)
	t.arena = make([]byte, 0, size)
	clear(dir)
	o := 0
	for x, i := range perm {
		var off uint32
		if x > 0 && bytes.Equal(name(perm[x-1]), name(i)) {
			if ents[perm[x-1]] == ents[i] {
				continue
			}
			off = t.offs[o-1]
		} else {
			off = uint32(len(t.arena))
			t.arena = append(t.arena, name(i)...)
		}
		t.hs[o], t.offs[o], t.lens[o], t.ents[o] = hs[i], off, uint8(len(name(i))), ents[i]
		dir[bkt[i]+1]++
		o++
	}
	for b := 1; b <= nb; b++ {
		dir[b] += dir[b-1]
	}
	t.dir = dir
	return t
}
