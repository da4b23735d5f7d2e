package store

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
	"unsafe"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// hashSizes are the key sizes of the hash types, by hashSlot.
var hashSizes = [3]int{32, 20, 16}

// Builder collects indicators for a Store. It is not safe for concurrent
// use. The zero Builder is ready to use.
type Builder struct {
	hashRows [3]keyRows // decoded
	ipRows   keyRows    // 16 bytes each, IPv4 in its IPv4-mapped form
	// Domain names are copied into one arena so that the feed parser's
	// per-line strings can be freed while the feed is still being read.
	domArena  []byte
	domStarts []uint32 // name i is domArena[domStarts[i]:domStarts[i+1]]
	domEnts   []Entry

	attrs   []attr
	attrIdx map[attr]uint32
	rows    []row
	rowIdx  rowSet
	times   []time.Time
	timeIdx map[time.Time]timeCode
	strs    map[string]string
	strLen  int

	// Consecutive feed lines usually share their metadata, or at least
	// their attr: checking the previous one first skips the map lookups.
	lastAttr, lastRow       uint32
	haveLastAttr, haveLastR bool

	n int
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{} }

// Len is the number of indicators added since the builder was created or
// last built, counting identical ones each time.
func (b *Builder) Len() int { return b.n }

// Add adds an indicator. Its Value must be in indicator.Normalize form:
// Add rejects, with an error, a value that is not (rather than normalising
// it, which would hide a parser bug and cost an allocation per line), an
// unknown type or verdict, and a confidence or port out of range.
func (b *Builder) Add(ind indicator.Indicator) error {
	if ind.Verdict > indicator.Malicious {
		return fmt.Errorf("%s %q: unknown verdict %d", ind.Type, ind.Value, ind.Verdict)
	}
	if ind.Confidence < -1 || ind.Confidence > 100 {
		return fmt.Errorf("%s %q: confidence %d is outside -1..100", ind.Type, ind.Value, ind.Confidence)
	}
	if ind.Port < 0 || ind.Port > 65535 {
		return fmt.Errorf("%s %q: port %d is outside 0..65535", ind.Type, ind.Value, ind.Port)
	}
	v := ind.Value
	var hashBuf [32]byte
	var ip [16]byte
	switch ind.Type {
	case indicator.SHA256, indicator.SHA1, indicator.MD5:
		k := hashSizes[hashSlot(ind.Type)]
		if len(v) != 2*k || !decodeHex(hashBuf[:k], v, &lowerHex) {
			return notNormalised(ind)
		}
	case indicator.IP:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			return notNormalised(ind)
		}
		var buf [64]byte
		if string(a.AppendTo(buf[:0])) != v {
			return notNormalised(ind)
		}
		ip = a.As16()
	case indicator.Domain:
		if n, err := indicator.Normalize(indicator.Domain, v); err != nil || n != v {
			return notNormalised(ind)
		}
		if len(b.domArena)+len(v) > 1<<32-1 {
			return fmt.Errorf("domain %q: too many domain bytes for one store", v)
		}
	default:
		return fmt.Errorf("%q: unknown indicator type %d", v, ind.Type)
	}

	e, err := b.entry(&ind)
	if err != nil {
		return err
	}
	switch ind.Type {
	case indicator.SHA256, indicator.SHA1, indicator.MD5:
		i := hashSlot(ind.Type)
		b.hashRows[i].add(hashBuf[:hashSizes[i]], e)
	case indicator.IP:
		b.ipRows.add(ip[:], e)
	case indicator.Domain:
		if len(b.domStarts) == 0 {
			b.domStarts = append(b.domStarts, 0)
		}
		b.domArena = append(b.domArena, v...)
		b.domStarts = append(b.domStarts, uint32(len(b.domArena)))
		b.domEnts = append(b.domEnts, e)
	}
	b.n++
	return nil
}

func notNormalised(ind indicator.Indicator) error {
	return fmt.Errorf("%s value %q is not in indicator.Normalize form", ind.Type, ind.Value)
}

// entry interns the indicator's metadata.
func (b *Builder) entry(ind *indicator.Indicator) (Entry, error) {
	a := attr{
		provider:   ind.Provider,
		name:       ind.Name,
		verdict:    ind.Verdict,
		confidence: int8(ind.Confidence),
		port:       uint16(ind.Port),
	}
	var ai uint32
	if b.haveLastAttr && b.attrs[b.lastAttr] == a {
		ai = b.lastAttr
	} else {
		var ok bool
		if ai, ok = b.attrIdx[a]; !ok {
			if b.attrIdx == nil {
				b.attrIdx = make(map[attr]uint32)
			}
			// Keep one copy of each string whatever the parser handed us:
			// the store outlives the parser's buffers.
			a.provider, a.name = b.intern(a.provider), b.intern(a.name)
			ai = uint32(len(b.attrs))
			b.attrs = append(b.attrs, a)
			b.attrIdx[a] = ai
		}
		b.lastAttr, b.haveLastAttr = ai, true
	}

	r := row{attr: ai, firstSeen: b.timeCode(ind.FirstSeen), from: b.timeCode(ind.ValidFrom), until: b.timeCode(ind.ValidUntil)}
	var ri uint32
	if b.haveLastR && b.rows[b.lastRow] == r {
		ri = b.lastRow
	} else {
		var ok bool
		if ri, ok = b.rowIdx.find(b.rows, r); !ok {
			if len(b.rows) >= maxRows {
				return Entry{}, fmt.Errorf("%s %q: more than %d distinct metadata records", ind.Type, ind.Value, maxRows)
			}
			ri = uint32(len(b.rows))
			b.rows = append(b.rows, r)
			b.rowIdx.insert(b.rows)
		}
		b.lastRow, b.haveLastR = ri, true
	}
	return makeEntry(ind.Verdict, ri), nil
}

// keyRows collects fixed-size keys with their entries in blocks of
// blockRows rows, so that growing never copies the rows already there.
// Appending to one slice did: past 256 elements append grows a slice by
// about a quarter, so a 1M-line feed's 32 MB of SHA-256 keys were copied
// some twenty times over, most of the builder's memmove. The first block
// still grows by append, so that a small feed takes little room; every
// later block is allocated whole, so the spare room is at most one block.
type keyRows struct {
	keys [][]byte // blockRows keys per block, concatenated
	ents [][]Entry
	n    int
}

const (
	blockShift = 15
	blockRows  = 1 << blockShift
)

func (r *keyRows) add(key []byte, e Entry) {
	b := r.n >> blockShift
	if b == len(r.keys) {
		var keys []byte
		var ents []Entry
		if b > 0 {
			keys = make([]byte, 0, blockRows*len(key))
			ents = make([]Entry, 0, blockRows)
		}
		r.keys = append(r.keys, keys)
		r.ents = append(r.ents, ents)
	}
	r.keys[b] = append(r.keys[b], key...)
	r.ents[b] = append(r.ents[b], e)
	r.n++
}

// key returns row i's key, of k bytes.
func (r *keyRows) key(i, k int) []byte {
	o := (i & (blockRows - 1)) * k
	return r.keys[i>>blockShift][o : o+k]
}

func (r *keyRows) ent(i int) Entry { return r.ents[i>>blockShift][i&(blockRows-1)] }

// rowSet indexes the builder's rows. It replaces a map[row]uint32, which
// at 1M distinct rows (a feed with per-line first-seen times) made row
// interning half of the time spent in Add: a lookup then an insert, each
// probing, with the growth rehashing on top. Here a slot holds the low 32
// bits of the row's hash beside its index, so probing past other rows
// rarely reads them, growing needs no rehashing (tables stay below 2^32
// slots), and a miss leaves the slot to fill.
type rowSet struct {
	slots []uint64 // hash<<32 | index+1; 0 is empty
	n     int
	last  int // the empty slot where the last failed find stopped
	h     uint64
}

func hashRow(r row) uint64 {
	return mix2(uint64(r.attr)<<32|uint64(r.firstSeen), uint64(r.from)<<32|uint64(r.until), 0x2545f4914f6cdd1d)
}

// find returns the index of r in rows, if it is there.
func (s *rowSet) find(rows []row, r row) (uint32, bool) {
	if len(s.slots) == 0 {
		s.slots = make([]uint64, 64)
	}
	h := hashRow(r) & (1<<32 - 1)
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			s.last, s.h = int(i), h
			return 0, false
		}
		if v>>32 == h && rows[uint32(v)-1] == r {
			return uint32(v) - 1, true
		}
	}
}

// insert adds the last of rows, which the previous find did not find.
func (s *rowSet) insert(rows []row) {
	s.slots[s.last] = s.h<<32 | uint64(len(rows))
	s.n++
	if s.n*2 <= len(s.slots) {
		return
	}
	// Keep the load at most 1/2 so that probes stay short.
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := v >> 32 & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = v
	}
}

func (b *Builder) intern(s string) string {
	if v, ok := b.strs[s]; ok {
		return v
	}
	if b.strs == nil {
		b.strs = make(map[string]string)
	}
	// A substring of a parser's line buffer would pin the whole buffer.
	s = string(append([]byte(nil), s...))
	b.strs[s] = s
	b.strLen += len(s)
	return s
}

func (b *Builder) timeCode(t time.Time) timeCode {
	if c, ok := inlineTime(t); ok {
		return c
	}
	// UTC drops the location and monotonic reading, so equal instants
	// are equal map keys.
	t = t.UTC()
	if c, ok := b.timeIdx[t]; ok {
		return c
	}
	if b.timeIdx == nil {
		b.timeIdx = make(map[time.Time]timeCode)
	}
	c := timeExact | timeCode(len(b.times))
	b.times = append(b.times, t)
	b.timeIdx[t] = c
	return c
}

// Build returns a Store of everything added, and resets the builder so
// that its memory can be freed (or reused for the next load) while the
// store is in use.
func (b *Builder) Build() *Store {
	s := &Store{}
	for i, k := range hashSizes {
		s.hashes[i] = buildFixed(k, 4, &b.hashRows[i], 0, func(key []byte) uint64 {
			return binary.BigEndian.Uint64(key)
		})
		// Free each input as soon as it is indexed, to lower the peak.
		b.hashRows[i] = keyRows{}
	}
	seed := rand.Uint64()
	s.ips = buildFixed(16, 0, &b.ipRows, seed, func(key []byte) uint64 {
		return mix2(binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:]), seed)
	})
	b.ipRows = keyRows{}
	s.domains = buildDomains(b.domArena, b.domStarts, b.domEnts)
	b.domArena, b.domStarts, b.domEnts = nil, nil, nil

	// Exact-size copies: the builder's append-grown slices may be up to
	// twice as large.
	s.rows = exact(b.rows)
	s.attrs = exact(b.attrs)
	s.times = exact(b.times)

	s.counts[indicator.SHA256] = len(s.hashes[0].ents)
	s.counts[indicator.SHA1] = len(s.hashes[1].ents)
	s.counts[indicator.MD5] = len(s.hashes[2].ents)
	s.counts[indicator.IP] = len(s.ips.ents)
	s.counts[indicator.Domain] = len(s.domains.ents)
	for _, c := range s.counts {
		s.n += c
	}

	s.mem = int(unsafe.Sizeof(*s)) + b.strLen +
		cap(s.rows)*int(unsafe.Sizeof(row{})) +
		cap(s.attrs)*int(unsafe.Sizeof(attr{})) +
		cap(s.times)*int(unsafe.Sizeof(time.Time{})) +
		s.ips.memoryBytes() + s.domains.memoryBytes()
	for i := range s.hashes {
		s.mem += s.hashes[i].memoryBytes()
	}

	*b = Builder{}
	return s
}

func exact[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func (x *index) memoryBytes() int { return 4*cap(x.dir) + 4*cap(x.fps) + 8*cap(x.filter) }

func (t *fixedTable) memoryBytes() int {
	return t.index.memoryBytes() + cap(t.rest) + 4*cap(t.ents)
}

func (t *domainTable) memoryBytes() int {
	return t.index.memoryBytes() + 4*cap(t.offs) + cap(t.lens) + 4*cap(t.ents) + cap(t.arena)
}
