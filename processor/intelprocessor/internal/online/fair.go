package online

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Fair queuing. Whoever can run binaries on a host, or send events, can
// ask about as many made-up hashes as they like. Served first come first
// served, such a flood filled the queue, so that every other host's
// lookups were dropped, and spent the daily quota. Lookups are therefore
// queued per entity (the asking event's host.name) and the entities served
// in turn, with:
//
//   - a bound on the lookups waiting per entity (HostQueueSize);
//   - a bound on the requests charged to an entity per UTC day
//     (HostRequestsPerDay), so one entity cannot spend the whole quota;
//   - when the whole queue is full, the newest lookup of the entity with
//     the most waiting makes room for an entity with fewer, so an entity
//     with nothing queued always gets its first lookup in;
//   - a hash that several entities ask about (CorroboratingHosts) is not
//     held to the per-entity queue bound and is served in every other turn,
//     ahead of the entities' queues, which share the turns between: a
//     binary seen on several hosts is both likelier to matter and something
//     a single flooding host cannot produce. Alternating rather than going
//     strictly first keeps two flooding hosts that run the same made-up
//     binaries from holding everyone else back; and corroborated hashes
//     take at most half the queue;
//   - a hash whose event carries a priority signal goes before the same
//     entity's other lookups.
//
// Entities are what the events say they are: a sender that can write any
// host.name can pose as many hosts. The per-entity bounds then stop a
// compromised agent, not a forger; the global queue and daily bounds hold
// either way.

// Origin says who asked for a lookup.
type Origin struct {
	// Host is the entity charged for the lookup: the asking event's
	// host.name. Events without one share the entity "".
	Host string
	// Priority: the asking event carries a signal that puts the hash before
	// the entity's other lookups.
	Priority bool
}

// tier orders lookups: corroborated ones first, then, entity by entity in
// turn, signalled ones, then the rest.
type tier uint8

const (
	tierNormal tier = iota
	tierSignal
	tierCorroborated
)

// maxCorroborating bounds the entities remembered per hash.
const maxCorroborating = 16

// maxHostKey bounds an entity name kept in memory: host.name comes from
// events.
const maxHostKey = 256

// maxTrackedHosts bounds the entities whose daily usage is remembered. An
// entity forgotten (after this many others asked since) starts its day's
// count again, which only matters to someone posing as that many hosts.
const maxTrackedHosts = 1 << 14

// lane is one entity's queue.
type lane struct {
	host   string
	fifo   [2][]string // by tier: tierNormal, tierSignal
	inRing [2]bool
}

func (l *lane) len() int { return len(l.fifo[tierNormal]) + len(l.fifo[tierSignal]) }

// remove takes h out of the lane's queues; it reports whether h was there.
func (l *lane) remove(h string) bool {
	for t := range l.fifo {
		for i, x := range l.fifo[t] {
			if x == h {
				l.fifo[t] = append(l.fifo[t][:i], l.fifo[t][i+1:]...)
				return true
			}
		}
	}
	return false
}

// scheduler holds the queued hashes. It is guarded by Client.mu.
type scheduler struct {
	corroborated []string
	// tookCorroborated: the last pop served a corroborated hash, so the
	// next goes to the entities' queues if they have any.
	tookCorroborated bool
	lanes            map[string]*lane
	// rings hold, per tier, the lanes with lookups of that tier, in the
	// order they are served. A lane emptied from outside (a hash moved to
	// the corroborated queue, evicted) stays until its turn comes.
	rings [2][]*lane
	n     int
}

func newScheduler() scheduler { return scheduler{lanes: map[string]*lane{}} }

func (s *scheduler) lane(host string) *lane {
	l := s.lanes[host]
	if l == nil {
		l = &lane{host: host}
		s.lanes[host] = l
	}
	return l
}

func (s *scheduler) hostLen(host string) int {
	if l := s.lanes[host]; l != nil {
		return l.len()
	}
	return 0
}

// push queues h for host in tier t.
func (s *scheduler) push(h, host string, t tier) {
	s.n++
	if t == tierCorroborated {
		s.corroborated = append(s.corroborated, h)
		return
	}
	l := s.lane(host)
	l.fifo[t] = append(l.fifo[t], h)
	if !l.inRing[t] {
		l.inRing[t] = true
		s.rings[t] = append(s.rings[t], l)
	}
}

// promote moves h from host's lane to the corroborated queue.
func (s *scheduler) promote(h, host string) bool {
	l := s.lanes[host]
	if l == nil || !l.remove(h) {
		return false
	}
	s.dropIfEmpty(l)
	s.corroborated = append(s.corroborated, h)
	return true
}

// pop returns the next hash to look up, "" when nothing is queued.
func (s *scheduler) pop() string {
	if len(s.corroborated) > 0 && (!s.tookCorroborated || len(s.corroborated) == s.n) {
		h := s.corroborated[0]
		s.corroborated = shift(s.corroborated)
		s.n--
		s.tookCorroborated = true
		return h
	}
	s.tookCorroborated = false
	for _, t := range [...]tier{tierSignal, tierNormal} {
		for len(s.rings[t]) > 0 {
			l := s.rings[t][0]
			s.rings[t] = shiftLane(s.rings[t])
			if len(l.fifo[t]) == 0 {
				l.inRing[t] = false
				continue
			}
			h := l.fifo[t][0]
			l.fifo[t] = shift(l.fifo[t])
			if len(l.fifo[t]) > 0 {
				s.rings[t] = append(s.rings[t], l) // its next turn
			} else {
				l.inRing[t] = false
			}
			s.dropIfEmpty(l)
			s.n--
			return h
		}
	}
	return ""
}

// evictFor makes room for a lookup of host in tier t by dropping the newest
// lookup of the entity with the most queued, if that entity has more than
// host would have. It returns the evicted hash, "" if there is none to take.
func (s *scheduler) evictFor(host string, t tier) string {
	var victim *lane
	for _, l := range s.lanes {
		if victim == nil || l.len() > victim.len() {
			victim = l
		}
	}
	if victim == nil || victim.len() == 0 {
		return ""
	}
	if t != tierCorroborated && (victim.host == host || victim.len() <= s.hostLen(host)+1) {
		// Taking from an entity no longer in line than host would be after
		// this lookup is no fairer than refusing it.
		return ""
	}
	vt := tierNormal
	if len(victim.fifo[vt]) == 0 {
		vt = tierSignal
	}
	q := victim.fifo[vt]
	h := q[len(q)-1]
	victim.fifo[vt] = q[:len(q)-1]
	s.dropIfEmpty(victim)
	s.n--
	return h
}

// dropIfEmpty forgets an empty lane, so the lanes map holds only entities
// with something queued. Rings may still point at it: they skip it.
func (s *scheduler) dropIfEmpty(l *lane) {
	if l.len() == 0 && s.lanes[l.host] == l {
		delete(s.lanes, l.host)
	}
}

func shift(q []string) []string {
	q[0] = ""
	q = q[1:]
	if len(q) == 0 {
		return nil
	}
	return q
}

func shiftLane(q []*lane) []*lane {
	q[0] = nil
	q = q[1:]
	if len(q) == 0 {
		return nil
	}
	return q
}

// hostUse is an entity's requests on one UTC day.
type hostUse struct {
	day time.Time
	n   int
}

// usage remembers recent entities' daily use.
type usage struct {
	cache *lru.Cache[string, hostUse]
}

func newUsage() usage {
	c, _ := lru.New[string, hostUse](maxTrackedHosts)
	return usage{cache: c}
}

func (u usage) used(host string, day time.Time) int {
	if v, ok := u.cache.Peek(host); ok && v.day.Equal(day) {
		return v.n
	}
	return 0
}

func (u usage) charge(host string, day time.Time) {
	v, ok := u.cache.Get(host)
	if !ok || !v.day.Equal(day) {
		v = hostUse{day: day}
	}
	v.n++
	u.cache.Add(host, v)
}

func hostKey(h string) string {
	if len(h) > maxHostKey {
		return h[:maxHostKey]
	}
	return h
}

func utcDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
