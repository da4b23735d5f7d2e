// Package store is the intel processor's index of threat-intel indicators.
//
// A Store is built once per feed (re)load with a Builder and never changes
// afterwards, so the processor can swap it in atomically and readers never
// lock. It is laid out for size and lookup speed: a 1M-line SHA-256 feed
// takes 40–56 MB, and a lookup that finds nothing, the common case, costs
// two cache misses into arrays of 4 bytes per row, without allocating.
//
// Several feeds may list the same value: a lookup returns every entry, in
// no particular order, and leaves it to the caller to let a Benign entry
// override bad ones. An entry added twice with the same value and metadata
// is stored once.
package store

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"strings"
	"time"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Store is an immutable indicator index, safe for any number of concurrent
// readers. The zero Store is empty.
type Store struct {
	hashes  [3]fixedTable // by hashSlot
	ips     fixedTable
	domains domainTable

	rows  []row
	attrs []attr
	times []time.Time

	counts [indicator.Domain + 1]int
	n      int
	mem    int
}

func hashSlot(t indicator.Type) int {
	switch t {
	case indicator.SHA256:
		return 0
	case indicator.SHA1:
		return 1
	case indicator.MD5:
		return 2
	}
	return -1
}

// Len is the number of entries stored, after identical ones were merged.
func (s *Store) Len() int { return s.n }

// Count is the number of entries stored for type t.
func (s *Store) Count(t indicator.Type) int {
	if int(t) >= len(s.counts) {
		return 0
	}
	return s.counts[t]
}

// MemoryBytes estimates the heap the store holds: its arrays at their
// capacity plus the distinct provider and name strings.
func (s *Store) MemoryBytes() int { return s.mem }

// LookupHash returns the entries for a hash of type t (SHA256, SHA1 or
// MD5) given as hex digits in either case, as found in the event. Anything
// else, including surrounding spaces, finds nothing. The result is a view
// into the store: it must not be modified, and is only valid as long as
// the store is.
func (s *Store) LookupHash(t indicator.Type, hex string) []Entry {
	i := hashSlot(t)
	if i < 0 {
		return nil
	}
	return s.hashes[i].lookupHex(hex)
}

// LookupIP returns the entries for an address. An IPv4-mapped IPv6 address
// matches its IPv4 form, and a zone is ignored. Entries of ip:port
// indicators are included: compare Meta.Port with the event's port.
func (s *Store) LookupIP(a netip.Addr) []Entry {
	if !a.IsValid() {
		return nil
	}
	b := a.Unmap().As16()
	return s.ips.lookupIP(binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]))
}

// LookupIPString is LookupIP for an address in text, in any form
// netip.ParseAddr accepts, optionally in brackets or with a zone.
func (s *Store) LookupIPString(text string) []Entry {
	if len(text) > 1 && text[0] == '[' && text[len(text)-1] == ']' {
		text = text[1 : len(text)-1]
	}
	// The zone is ignored anyway; dropping it before parsing spares
	// netip from interning it, which may allocate.
	if i := strings.IndexByte(text, '%'); i >= 0 {
		text = text[:i]
	}
	a, err := netip.ParseAddr(text)
	if err != nil {
		return nil
	}
	return s.LookupIP(a)
}

// LookupDomain returns the entries for exactly this DNS name, in any case
// and with or without the trailing dot; surrounding spaces are not
// trimmed. It does not report entries of parent domains: a feed listing
// evil.example does not match www.evil.example. Callers wanting that must
// look up each parent.
func (s *Store) LookupDomain(name string) []Entry {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if len(name) == 0 || len(name) > maxDomain {
		return nil
	}
	t := &s.domains
	if t.n == 0 {
		return nil // also spares hashing with the zero Store's unset seed
	}
	switch letterCase(name) {
	case lowerCase:
		return lookupDomain(t, maphash.String(t.seed, name), name)
	case nonASCII:
		// Internationalised names are rare in events (DNS carries
		// punycode); strings.ToLower matches Normalize and allocates only
		// when it changes something.
		name = strings.ToLower(name)
		return lookupDomain(t, maphash.String(t.seed, name), name)
	}
	// Lower-case into a stack buffer rather than a new string, so that a
	// mixed-case name costs a copy but no allocation.
	var buf [maxDomain]byte
	low := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return lookupDomain(t, maphash.Bytes(t.seed, low), low)
}

// maxDomain is the longest name indicator.Normalize accepts.
const maxDomain = 253

const (
	lowerCase = iota
	upperASCII
	nonASCII
)

func letterCase(s string) int {
	c := lowerCase
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 0x80:
			return nonASCII
		case 'A' <= b && b <= 'Z':
			c = upperASCII
		}
	}
	return c
}
