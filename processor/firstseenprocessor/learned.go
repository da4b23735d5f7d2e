package firstseenprocessor

import (
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/cairnsec/cairn/internal/taint"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/tracker"
)

// What events taught the baseline, kept so that a taint can take it back.
//
// The correlate processor runs after this one: by the time it raises an
// alert, the events behind it have taught their binaries, addresses and
// domains. It publishes their event.ids (internal/taint); each batch starts
// by draining them and, for every record of what such an event taught,
// forgets it (tracker.Forget): a term the event put into the baseline is
// deleted and blocked until the mark's time, a host it added to a term's
// host set is removed. The record is a ring of the last maxTeachings
// teachings (about 2 MiB), in event order; correlate publishes an alert's
// events within its window (an hour by default), so teachings older than
// learnedWindow are not expected to be asked for. A teaching overwritten
// while younger than that is counted (fell_out): the ring was too small for
// the rate of new terms.

const (
	maxTeachings = 1 << 16
	// learnedWindow is, in event seconds, how long a teaching is expected
	// to be needed: correlate's default window with room to spare.
	learnedWindow = uint32(2 * time.Hour / time.Second)
)

type teaching struct {
	id   uint64 // xxhash of the event.id
	term uint64
	host uint32
	ts   uint32
	tr   uint16
	what tracker.Taught
}

type learned struct {
	ring []teaching
	next int
	// fellOut counts teachings overwritten within learnedWindow of the
	// clock (reported and reset per batch).
	fellOut int64

	marks map[uint64]uint32 // scratch of forget: id -> until
	found map[uint64]bool
}

func (l *learned) add(t teaching, clock uint32) {
	if len(l.ring) < maxTeachings {
		l.ring = append(l.ring, t)
		return
	}
	old := &l.ring[l.next]
	if old.id != 0 && old.ts+learnedWindow > clock {
		l.fellOut++
	}
	*old = t
	l.next = (l.next + 1) % maxTeachings
}

func idKey(id string) uint64 { return xxhash.Sum64String(id) }

// forget takes back what the marked events taught. It returns how many
// terms or hosts were taken back and how many marks matched no teaching
// (events that taught nothing here, or whose teachings fell out).
func (p *firstSeen) forget(marks []taint.Mark) (forgotten, unknown int64) {
	l := &p.learned
	if l.marks == nil {
		l.marks, l.found = map[uint64]uint32{}, map[uint64]bool{}
	}
	clear(l.marks)
	clear(l.found)
	for _, m := range marks {
		until := tracker.EventSeconds(m.Until)
		if m.Until.IsZero() {
			until = 0
		}
		k := idKey(m.EventID)
		if until > l.marks[k] {
			l.marks[k] = until
		} else if _, ok := l.marks[k]; !ok {
			l.marks[k] = until
		}
	}
	for i := range l.ring {
		t := &l.ring[i]
		until, ok := l.marks[t.id]
		if !ok {
			continue
		}
		l.found[t.id] = true
		if until <= p.env.Clock {
			// The alert is over already: take the teaching back, block
			// nothing.
			until = 0
		}
		tr := p.trackers[t.tr]
		if tr.Forget(t.term, t.host, t.what, until) {
			forgotten++
		}
		if p.shared != nil {
			if st := p.shared.byTracker[t.tr]; st != nil {
				p.shared.forget(st, t.term, t.host)
			}
		}
	}
	unknown = int64(len(l.marks) - len(l.found))
	return forgotten, unknown
}
