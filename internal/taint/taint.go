// Package taint carries, inside one collector process, what the correlate
// processor knows and the firstseen processor needs to keep its baseline
// clean: which events an open alert is built from. firstseen runs before
// correlate, so by the time an alert fires the events behind it have already
// taught the baseline their binaries, addresses and domains; without this, a
// second host infected by the same tool would find all of them "known".
//
// correlate calls Taint with the event.ids of an alert's contributions and
// the (event) time the alert stays open until; firstseen calls Drain at the
// start of each batch, forgets what those events taught, and keeps those
// terms out of the baseline until that time.
//
// A Registry is process-wide per group name (the processors' shared
// `baseline_group` option, "" by default), so processors of different
// pipelines can keep their state apart. It is bounded: at maxPending
// undrained ids the oldest quarter is dropped and counted.
package taint

import (
	"sync"
	"time"
)

// maxPending bounds the ids waiting for a Drain.
const maxPending = 1 << 16

// Mark is one tainted event: its id and when the taint ends.
type Mark struct {
	EventID string
	Until   time.Time
}

// Registry holds the marks of one group.
type Registry struct {
	mu      sync.Mutex
	pending []Mark
	dropped uint64
	// readers counts the Drain callers registered with Subscribe: with
	// none, Taint keeps nothing (no firstseen processor would ever drain).
	readers int
}

var (
	mu     sync.Mutex
	groups = map[string]*Registry{}
)

// Get returns the registry of a group, created on first use.
func Get(group string) *Registry {
	mu.Lock()
	defer mu.Unlock()
	r, ok := groups[group]
	if !ok {
		r = &Registry{}
		groups[group] = r
	}
	return r
}

// Subscribe registers a reader (a firstseen processor) until the returned
// function is called.
func (r *Registry) Subscribe() (unsubscribe func()) {
	r.mu.Lock()
	r.readers++
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			r.readers--
			if r.readers == 0 {
				r.pending = nil
			}
			r.mu.Unlock()
		})
	}
}

// Taint marks events as part of an alert that stays open until until.
func (r *Registry) Taint(eventIDs []string, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readers == 0 {
		return
	}
	for _, id := range eventIDs {
		if id == "" {
			continue
		}
		if len(r.pending) >= maxPending {
			// The oldest quarter goes at once: constant cost per mark.
			k := maxPending / 4
			n := copy(r.pending, r.pending[k:])
			r.pending = r.pending[:n]
			r.dropped += uint64(k)
		}
		r.pending = append(r.pending, Mark{EventID: id, Until: until})
	}
}

// Drain returns the marks added since the last Drain, and how many were
// dropped for want of room since then. With several readers each mark goes
// to one of them only; give each pipeline its own group.
func (r *Registry) Drain() (marks []Mark, dropped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	marks, r.pending = r.pending, nil
	dropped, r.dropped = r.dropped, 0
	return marks, dropped
}
