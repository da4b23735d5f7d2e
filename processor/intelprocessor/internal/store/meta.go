package store

import (
	"time"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Entry is one feed entry found by a lookup. It is four bytes, so that
// the per-value arrays stay small and hold no pointers for the GC to scan:
// the verdict sits in the top bits, so the common "is any match bad, is
// any benign" check needs no table access, and the rest indexes the
// store's metadata rows. Use Store.Meta for the details.
type Entry struct{ v uint32 }

const (
	verdictShift = 30
	rowMask      = 1<<verdictShift - 1
	// maxRows bounds the number of distinct metadata rows an Entry can
	// address.
	maxRows = rowMask + 1
)

func makeEntry(v indicator.Verdict, row uint32) Entry {
	return Entry{uint32(v)<<verdictShift | row}
}

// Verdict is the entry's verdict.
func (e Entry) Verdict() indicator.Verdict { return indicator.Verdict(e.v >> verdictShift) }

func (e Entry) row() uint32 { return e.v & rowMask }

// Meta is the metadata of one feed entry, rebuilt from the store's shared
// tables on each call (it is returned by value, so it never allocates).
type Meta struct {
	Verdict indicator.Verdict
	// Provider names the feed or source.
	Provider string
	// Name is the threat or malware name, empty when unknown.
	Name string
	// Confidence is 0–100, or -1 when the feed gives none.
	Confidence int
	// Port is set for ip:port indicators; 0 otherwise. LookupIP returns
	// port-specific entries too: the caller compares Port with the event.
	Port int
	// The times are the same instants as the indicator's, in UTC; zero
	// when unknown or unbounded.
	FirstSeen             time.Time
	ValidFrom, ValidUntil time.Time
}

// ValidAt reports whether the entry applies at event time t, with the same
// rule as indicator.Indicator.ValidAt.
func (m *Meta) ValidAt(t time.Time) bool {
	return indicator.ValidBetween(t, m.ValidFrom, m.ValidUntil)
}

// attr is the part of the metadata that a feed repeats on line after line
// (few distinct values even in a 1M-line feed).
type attr struct {
	provider   string
	name       string
	verdict    indicator.Verdict
	confidence int8
	port       uint16
}

// row is one distinct metadata record. The times are kept apart from attr
// because feeds such as MalwareBazaar give every line its own first-seen
// time: were they in attr, a 1M-line feed would have ~1M attrs of ~50 bytes
// each. As packed 32-bit codes a row is 16 bytes.
type row struct {
	attr                   uint32
	firstSeen, from, until timeCode
}

// timeCode packs a time into 32 bits without losing anything:
//   - 0 is the zero time;
//   - a whole second in [timeEpoch, timeEpoch+2^31-2] is stored inline as
//     seconds since timeEpoch plus one (2000-01-01 to 2068, which covers
//     nearly every first-seen and validity time feeds carry);
//   - anything else (sub-second precision, far past or future such as a
//     STIX valid_until of 9999) has the top bit set and indexes an exact
//     side table, deduplicated.
type timeCode uint32

const timeExact timeCode = 1 << 31

var timeEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// inlineTime returns the inline code of t, or false when t needs the exact
// table.
func inlineTime(t time.Time) (timeCode, bool) {
	if t.IsZero() {
		return 0, true
	}
	s := t.Unix() - timeEpoch
	if t.Nanosecond() != 0 || s < 0 || s > int64(timeExact)-2 {
		return 0, false
	}
	return timeCode(s + 1), true
}

func (s *Store) decodeTime(c timeCode) time.Time {
	switch {
	case c == 0:
		return time.Time{}
	case c&timeExact != 0:
		return s.times[c&^timeExact]
	}
	return time.Unix(int64(c)-1+timeEpoch, 0).UTC()
}

// Meta returns the metadata of an entry returned by one of s's lookups.
func (s *Store) Meta(e Entry) Meta {
	r := &s.rows[e.row()]
	a := &s.attrs[r.attr]
	return Meta{
		Verdict:    a.verdict,
		Provider:   a.provider,
		Name:       a.name,
		Confidence: int(a.confidence),
		Port:       int(a.port),
		FirstSeen:  s.decodeTime(r.firstSeen),
		ValidFrom:  s.decodeTime(r.from),
		ValidUntil: s.decodeTime(r.until),
	}
}
