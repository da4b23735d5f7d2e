package tracker

import (
	"time"

	"github.com/cairnsec/cairn/internal/termstore"
)

// ActiveHosts counts, per environment, the hosts whose newest trusted event
// lies within a window (the longest history of the trackers using
// rare_share): the denominator of rare_share. It is one bounded LRU store
// keyed by environment (high 32 bits) and host (low 32 bits) fingerprints
// holding each host's last trusted event time, plus a count per
// environment. Hosts leave it when their last event falls out of the window
// (Expire, from the least recently seen end: cost per host that leaves) or
// when the bound pushes them out. About 40 bytes per host.
type ActiveHosts struct {
	// Store is persisted like a tracker's stores.
	Store  *termstore.Store
	window uint32
	perEnv map[uint32]int

	// The last key seen: runs of events of one host (an agent's batch) cost
	// a comparison.
	lastKey uint64
	lastTS  uint32
	lastOK  bool
}

// NewActiveHosts returns an empty table of at most max hosts.
func NewActiveHosts(max int, window time.Duration) *ActiveHosts {
	return &ActiveHosts{Store: termstore.New(max), window: secs(window), perEnv: map[uint32]int{}}
}

// See records a trusted event of host host32 in environment env32 at ts.
// Events dated too far ahead must not be passed: they would keep a host
// active for as long as their date says.
func (a *ActiveHosts) See(env32, host32, ts uint32) {
	key := uint64(env32)<<32 | uint64(host32)
	if a.lastOK && key == a.lastKey && ts <= a.lastTS {
		return
	}
	if a.Store.Len() >= a.Store.Cap() {
		if _, held := a.Store.Lookup(key); !held {
			// Make room ourselves, so the environment's count follows.
			if fp, _, ok := a.Store.Oldest(); ok {
				a.Store.Delete(fp)
				a.dec(uint32(fp >> 32))
			}
		}
	}
	prev, found := a.Store.Touch(key, ts)
	if !found {
		a.perEnv[env32]++
	}
	a.lastKey, a.lastTS, a.lastOK = key, max(prev, ts), true
}

// Expire drops the hosts last seen more than the window before clock.
func (a *ActiveHosts) Expire(clock uint32) {
	for {
		fp, ts, ok := a.Store.Oldest()
		if !ok || ts+a.window >= clock || ts+a.window < ts {
			return
		}
		a.Store.Delete(fp)
		a.dec(uint32(fp >> 32))
		if fp == a.lastKey {
			a.lastOK = false
		}
	}
}

// Count reports the active hosts of an environment.
func (a *ActiveHosts) Count(env32 uint32) int { return a.perEnv[env32] }

// Rebuild recounts the environments from the store (after loading it).
func (a *ActiveHosts) Rebuild() {
	clear(a.perEnv)
	a.lastOK = false
	a.Store.Range(func(fp uint64, _ uint32) bool {
		a.perEnv[uint32(fp>>32)]++
		return true
	})
}

func (a *ActiveHosts) dec(env32 uint32) {
	if n := a.perEnv[env32]; n <= 1 {
		delete(a.perEnv, env32)
	} else {
		a.perEnv[env32] = n - 1
	}
}
