package termstore

import (
	"fmt"
	"unsafe"
)

// Host sets: a store made by NewWithHosts also remembers, per term, which
// hosts saw it (32-bit host fingerprints), up to a bound: prevalence, for
// trackers that count on how many hosts a term was seen. A term seen on
// maxHosts hosts is saturated: its hosts are dropped and it counts as seen
// on maxHosts from then on, so common terms cost nothing extra.
//
// The first host sits inline next to the entry (8 bytes per term, host set
// or not); further hosts go to a slab in an arena, recycled through a free
// list. A set holds at most maxHosts-1 hosts (the next one saturates it),
// so slabs need maxHosts-2 slots: up to 7 of them, one slab size serves
// every set (a bound of 6, the default, costs 16 bytes per term on 2 to 5
// hosts); larger bounds grow through slabs of 3, 7, 15 and then the rest
// (up to 30 slots), moving to the next size when full. Memory therefore
// follows the hosts actually held: 8 bytes for a term seen on one host or
// saturated, at most 8+4*(maxHosts-2) plus the freed smaller slabs left in
// their arenas for reuse. No allocation happens once the arenas have grown.

// MaxHosts is the largest host-set bound NewWithHosts accepts.
const MaxHosts = 32

// maxHostTerms keeps slab indices within 29 bits of hostRef.ext.
const maxHostTerms = 1<<29 - 2

// maxClasses bounds the slab classes of a store.
const maxClasses = 4

// slabWidths returns the slot counts of the slab classes of a store whose
// sets hold up to maxHosts-1 hosts: one class when that fits 7 slots, else
// 3, 7, 15 and the rest.
func slabWidths(maxHosts int) []uint32 {
	extra := uint32(maxHosts - 2)
	if extra == 0 {
		return nil
	}
	if extra <= 7 {
		return []uint32{extra}
	}
	var w []uint32
	for c := uint32(3); c < extra; c = 2*c + 1 {
		w = append(w, c)
	}
	return append(w, extra)
}

const (
	extNone      = 0
	extSaturated = ^uint32(0)
	extClassBits = 29
)

// hostRef is one term's host set: the first host inline and, in ext,
// extNone, extSaturated, or the slab class (top 3 bits) and slab index + 1.
type hostRef struct {
	first uint32
	ext   uint32
}

type hostSets struct {
	max    int
	widths []uint32
	refs   []hostRef // parallel to Store.entries, [0] unused
	arena  [maxClasses][]uint32
	free   [maxClasses][]uint32
}

// NewWithHosts returns an empty store that also keeps each term's host set,
// counting up to maxHosts distinct hosts (2..MaxHosts). It panics on bounds
// outside those ranges, or maxTerms beyond 2^29-2.
func NewWithHosts(maxTerms, maxHosts int) *Store {
	if maxHosts < 2 || maxHosts > MaxHosts {
		panic(fmt.Sprintf("termstore: maxHosts %d outside [2, %d]", maxHosts, MaxHosts))
	}
	if maxTerms > maxHostTerms {
		panic(fmt.Sprintf("termstore: maxTerms %d with host sets above %d", maxTerms, maxHostTerms))
	}
	s := New(maxTerms)
	s.hs = &hostSets{max: maxHosts, widths: slabWidths(maxHosts), refs: make([]hostRef, 1, cap(s.entries))}
	return s
}

// MaxHosts reports the host-set bound, 0 for a store without host sets.
func (s *Store) MaxHosts() int {
	if s.hs == nil {
		return 0
	}
	return s.hs.max
}

// HostSighting is what TouchHost and PeekHost found.
type HostSighting struct {
	// Prev is the term's last-seen time before the call, Found whether the
	// term was held at all.
	Prev  uint32
	Found bool
	// Expired: the term was held but last seen more than the history before
	// ts, so it counts as new: its host set starts again.
	Expired bool
	// Had reports whether host was one of the hosts that had seen the term
	// (never once saturated).
	Had bool
	// Hosts is how many distinct hosts had seen the term before this
	// sighting (0 when new or expired; the bound once saturated), when Had
	// is false (with Had it is at least 1, not counted further). Eight bits
	// keep the whole result in one register.
	Hosts uint8
}

// New reports whether the sighting found no live term.
func (h HostSighting) New() bool { return !h.Found || h.Expired }

// HostOf supplies a sighting's host fingerprint, asked only when the host
// set needs it: a saturated set (a term common in the fleet) does not, so
// the caller need not work out the host of most events.
type HostOf interface {
	HostFingerprint() uint32
}

type fixedHost uint32

func (h fixedHost) HostFingerprint() uint32 { return uint32(h) }

// TouchHost is Touch for a store with host sets: it records that host saw
// term fp at ts and reports what was known before. A term last seen more
// than history seconds before ts is new again and its host set restarts
// with host; otherwise host joins the set unless it is full. Host
// fingerprint 0 is taken as 1.
func (s *Store) TouchHost(fp uint64, ts, host, history uint32) HostSighting {
	return s.TouchHostOf(fp, ts, history, fixedHost(host))
}

// TouchHostOf is TouchHost with the host asked of h when needed.
func (s *Store) TouchHostOf(fp uint64, ts, history uint32, h HostOf) HostSighting {
	i := s.find(fp)
	if i == 0 {
		i = s.add(fp, ts)
		s.hs.reset(i, max(h.HostFingerprint(), 1))
		s.hostsChanged(i)
		return HostSighting{}
	}
	e := &s.entries[i]
	out := HostSighting{Prev: e.ts, Found: true}
	if ts > e.ts {
		old := e.ts
		e.ts = ts
		s.changed(e, old)
	}
	s.moveToFront(i)
	if ts > out.Prev && ts-out.Prev > history {
		out.Expired = true
		s.hs.reset(i, max(h.HostFingerprint(), 1))
		s.hostsChanged(i)
		return out
	}
	if s.hs.refs[i].ext == extSaturated {
		out.Hosts = uint8(s.hs.max)
		return out
	}
	host := max(h.HostFingerprint(), 1)
	n, had := s.hs.countHas(i, host)
	out.Hosts, out.Had = uint8(n), had
	if !had && n < s.hs.max {
		s.hs.add(i, host)
		s.hostsChanged(i)
	}
	return out
}

// PeekHost reports what TouchHost would have found, changing nothing (not
// even recency): for events whose terms must not enter the baseline.
func (s *Store) PeekHost(fp uint64, ts, host, history uint32) HostSighting {
	return s.PeekHostOf(fp, ts, history, fixedHost(host))
}

// PeekHostOf is PeekHost with the host asked of h when needed.
func (s *Store) PeekHostOf(fp uint64, ts, history uint32, h HostOf) HostSighting {
	i := s.find(fp)
	if i == 0 {
		return HostSighting{}
	}
	out := HostSighting{Prev: s.entries[i].ts, Found: true}
	if ts > out.Prev && ts-out.Prev > history {
		out.Expired = true
		return out
	}
	if s.hs.refs[i].ext == extSaturated {
		out.Hosts = uint8(s.hs.max)
		return out
	}
	n, had := s.hs.countHas(i, max(h.HostFingerprint(), 1))
	out.Hosts, out.Had = uint8(n), had
	return out
}

// HostCount reports how many distinct hosts saw fp (the bound once
// saturated) and whether fp is held.
func (s *Store) HostCount(fp uint64) (n int, found bool) {
	i := s.find(fp)
	if i == 0 {
		return 0, false
	}
	return s.hs.count(i), true
}

// RemoveHost takes host out of fp's host set (forgetting that host's
// sighting) and reports whether it was there. A saturated set no longer
// knows its hosts and is left as it is.
func (s *Store) RemoveHost(fp uint64, host uint32) bool {
	host = max(host, 1)
	i := s.find(fp)
	if i == 0 || !s.hs.remove(i, host) {
		return false
	}
	s.hostsChanged(i)
	return true
}

// hostsChanged queues entry i for the journal: host sets change rarely (at
// most maxHosts times per term), so unlike times they are not bucketed.
func (s *Store) hostsChanged(i uint32) {
	e := &s.entries[i]
	if s.journaling && e.mark != s.epoch {
		e.mark = s.epoch
		s.dirty = append(s.dirty, e.fp)
		s.checkBacklog()
	}
}

func (h *hostSets) memoryBytes() int {
	n := cap(h.refs) * int(unsafe.Sizeof(hostRef{}))
	for c := range h.arena {
		n += (cap(h.arena[c]) + cap(h.free[c])) * 4
	}
	return n
}

func slabOf(ext uint32) (class, idx uint32) {
	return ext >> extClassBits, ext&(1<<extClassBits-1) - 1
}

func (h *hostSets) slab(ext uint32) []uint32 {
	c, idx := slabOf(ext)
	w := h.widths[c]
	return h.arena[c][idx*w : (idx+1)*w]
}

func (h *hostSets) count(i uint32) int {
	r := h.refs[i]
	switch {
	case r.ext == extSaturated:
		return h.max
	case r.first == 0:
		return 0
	case r.ext == extNone:
		return 1
	}
	n := 1
	for _, x := range h.slab(r.ext) {
		if x == 0 {
			break
		}
		n++
	}
	return n
}

// countHas is has and, when the host is not in the set, count, in one
// scan: hosts are packed, so the scan ends at the host or at the first free
// slot, whose position is the count. (The count of a set that has the host
// is not needed and not reported.)
func (h *hostSets) countHas(i, host uint32) (int, bool) {
	r := h.refs[i]
	switch {
	case r.ext == extSaturated:
		return h.max, false
	case r.first == host:
		return 1, true
	case r.first == 0:
		return 0, false
	case r.ext == extNone:
		return 1, false
	}
	c, idx := slabOf(r.ext)
	w := h.widths[c]
	sl := h.arena[c][idx*w : idx*w+w]
	for k, x := range sl {
		if x == host {
			return k + 2, true
		}
		if x == 0 {
			return k + 1, false
		}
	}
	return len(sl) + 1, false
}

func (h *hostSets) has(i, host uint32) bool {
	r := h.refs[i]
	switch {
	case r.ext == extSaturated:
		return false
	case r.first == host:
		return true
	case r.ext == extNone:
		return false
	}
	for _, x := range h.slab(r.ext) {
		if x == host {
			return true
		}
		if x == 0 {
			return false
		}
	}
	return false
}

// add puts host into entry i's set; the caller checked it is absent and
// the set is not full. The host that fills the set saturates it.
func (h *hostSets) add(i, host uint32) {
	r := &h.refs[i]
	n := h.count(i)
	switch {
	case n+1 >= h.max:
		h.release(i)
		r.ext = extSaturated
		return
	case r.first == 0:
		r.first = host
		return
	case r.ext == extNone:
		r.ext = h.alloc(0)
		h.slab(r.ext)[0] = host
		return
	}
	sl := h.slab(r.ext)
	if k := n - 1; k < len(sl) {
		sl[k] = host
		return
	}
	// Full: move to the next class.
	c, _ := slabOf(r.ext)
	next := h.alloc(c + 1)
	copy(h.slab(next), sl)
	h.slab(next)[len(sl)] = host
	h.freeSlab(r.ext)
	r.ext = next
}

// reset makes {host} entry i's set.
func (h *hostSets) reset(i, host uint32) {
	h.release(i)
	h.refs[i] = hostRef{first: host}
}

func (h *hostSets) remove(i, host uint32) bool {
	r := &h.refs[i]
	if r.ext == extSaturated || r.first == 0 {
		return false
	}
	if r.ext == extNone {
		if r.first != host {
			return false
		}
		r.first = 0
		return true
	}
	sl := h.slab(r.ext)
	n := 0
	for n < len(sl) && sl[n] != 0 {
		n++
	}
	if r.first == host {
		// The last slab host moves inline.
		r.first = sl[n-1]
		sl[n-1] = 0
	} else {
		k := 0
		for k < n && sl[k] != host {
			k++
		}
		if k == n {
			return false
		}
		sl[k] = sl[n-1]
		sl[n-1] = 0
	}
	if n == 1 {
		h.freeSlab(r.ext)
		r.ext = extNone
	}
	return true
}

// release frees entry i's slab, if any, and clears its set.
func (h *hostSets) release(i uint32) {
	r := &h.refs[i]
	if r.ext != extNone && r.ext != extSaturated {
		h.freeSlab(r.ext)
	}
	*r = hostRef{}
}

func (h *hostSets) alloc(c uint32) uint32 {
	w := h.widths[c]
	var idx uint32
	if f := h.free[c]; len(f) > 0 {
		idx = f[len(f)-1]
		h.free[c] = f[:len(f)-1]
	} else {
		idx = uint32(len(h.arena[c])) / w
		var zero [MaxHosts]uint32
		h.arena[c] = append(h.arena[c], zero[:w]...)
	}
	return c<<extClassBits | (idx + 1)
}

func (h *hostSets) freeSlab(ext uint32) {
	clear(h.slab(ext))
	c, idx := slabOf(ext)
	h.free[c] = append(h.free[c], idx)
}

// list appends entry i's hosts to dst; saturated sets report true and no
// hosts.
func (h *hostSets) list(i uint32, dst []uint32) ([]uint32, bool) {
	r := h.refs[i]
	if r.ext == extSaturated {
		return dst, true
	}
	if r.first == 0 {
		return dst, false
	}
	dst = append(dst, r.first)
	if r.ext != extNone {
		for _, x := range h.slab(r.ext) {
			if x == 0 {
				break
			}
			dst = append(dst, x)
		}
	}
	return dst, false
}

// restoreList sets entry i's hosts as persisted: saturated, or the listed
// hosts (duplicates and zeros dropped, at most the bound).
func (h *hostSets) restoreList(i uint32, saturated bool, hosts []byte) {
	h.release(i)
	if saturated {
		h.refs[i].ext = extSaturated
		return
	}
	for b := hosts; len(b) >= 4; b = b[4:] {
		x := le.Uint32(b)
		if x == 0 || h.has(i, x) {
			continue
		}
		if h.count(i) >= h.max {
			return
		}
		h.add(i, x)
	}
}
