package online

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomHash(t *testing.T) string {
	var b [32]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// gate holds the first request on the wire until opened, so the queue can
// be filled while the worker is busy, and records the order in which the
// service sees hashes.
type gate struct {
	mu    sync.Mutex
	order []string
	first chan struct{}
	open  chan struct{}
	once  sync.Once
}

func holdFirst(h *harness) *gate {
	g := &gate{first: make(chan struct{}), open: make(chan struct{})}
	h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, _ int) {
		g.mu.Lock()
		g.order = append(g.order, hash)
		n := len(g.order)
		g.mu.Unlock()
		if n == 1 {
			close(g.first)
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
		}
		h.vt.standard(w, r, hash)
	})
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// position is where hash came in the service's order, -1 if it never did.
func (g *gate) position(hash string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, x := range g.order {
		if x == hash {
			return i
		}
	}
	return -1
}

func (g *gate) calls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.order)
}

var (
	attacker = Origin{Host: "compromised-01"}
	victim   = Origin{Host: "web-03"}
)

// TestFloodFromOneHostDoesNotStarveAnother: with one first-come queue, a
// host running thousands of random binaries filled it, and every other
// host's lookups were dropped until the flood stopped.
func TestFloodFromOneHostDoesNotStarveAnother(t *testing.T) {
	h := newHarness(t, hopts{})
	g := holdFirst(h)
	h.c.RequestFrom(randomHash(t), attacker)
	<-g.first
	for range 10_000 {
		h.c.RequestFrom(randomHash(t), attacker)
	}
	real := hashN(42)
	h.vt.setReport(real, report{mal: 30, und: 30})
	results := make(chan Result, 1)
	go func() {
		r, _ := h.c.WaitFrom(context.Background(), real, victim, patience)
		results <- r
	}()
	eventually(t, func() bool { return h.c.Stats().Queued == DefaultHostQueueSize+1 }, "the real hash is not queued")
	g.release()
	r := <-results
	require.NoError(t, r.Err)
	assert.True(t, r.Found)
	// Hosts are served in turn: the held request, one of the flood's, then
	// the other host's.
	assert.Equal(t, 2, g.position(real))
	s := h.c.Stats()
	assert.Equal(t, uint64(10_000-DefaultHostQueueSize), s.HostQueueFull, "the flood beyond its host's share is refused")
	assert.Zero(t, s.Dropped)
}

// TestHostDailyCap: the flood's host cannot spend the daily quota; the
// other hosts' lookups still get made, and the cap starts again at 00:00
// UTC.
func TestHostDailyCap(t *testing.T) {
	h := newHarness(t, hopts{fake: true, cfg: func(c *Config) {
		c.RequestsPerDay = 10
		c.HostRequestsPerDay = 3
	}})
	for range 5 {
		h.c.RequestFrom(randomHash(t), attacker)
	}
	h.fc.drive(t, time.Millisecond, func() bool {
		s := h.c.Stats()
		return s.NotFound == 3 && s.HostDailyCap == 2
	})
	// Refused when asked, now that the host's budget is known to be spent.
	r, ok := h.c.WaitFrom(context.Background(), randomHash(t), attacker, time.Second)
	assert.False(t, ok)
	assert.ErrorIs(t, r.Err, ErrHostDailyCap)
	assert.Equal(t, uint64(3), h.c.Stats().HostDailyCap)

	// Another host's lookup is made.
	real := hashN(7)
	h.c.RequestFrom(real, victim)
	h.fc.drive(t, time.Millisecond, func() bool { return h.vt.callsFor(real) == 1 })

	// A hash both asked for is charged to the one with budget left.
	shared := hashN(8)
	h.c.RequestFrom(shared, victim)
	h.c.RequestFrom(shared, attacker)
	h.fc.drive(t, time.Millisecond, func() bool { return h.vt.callsFor(shared) == 1 })
	assert.Equal(t, 5, h.vt.totalCalls(), "the quota went to the other host, not the flood")

	// The next UTC day the host has its budget again.
	h.fc.Advance(12 * time.Hour)
	next := randomHash(t)
	h.c.RequestFrom(next, attacker)
	h.fc.drive(t, time.Millisecond, func() bool { return h.vt.callsFor(next) == 1 })
}

// TestCorroboratedHashesGoFirst: a hash several hosts ask about is looked
// up before the queued hashes of single hosts, even one refused for its
// first host's full queue.
func TestCorroboratedHashesGoFirst(t *testing.T) {
	h := newHarness(t, hopts{cfg: func(c *Config) { c.HostQueueSize = 5 }})
	g := holdFirst(h)
	h.c.RequestFrom(randomHash(t), attacker)
	<-g.first
	for range 5 {
		h.c.RequestFrom(randomHash(t), attacker)
		h.c.RequestFrom(randomHash(t), victim)
	}
	// Queued for one host, then asked for by another: moved up.
	pending := hashN(1)
	third := Origin{Host: "db-01"}
	h.c.RequestFrom(pending, third)
	h.c.RequestFrom(pending, victim) // the victim's queue is full, but the hash is queued already
	// Refused for a full queue, then asked for by another host.
	refused := hashN(2)
	h.c.RequestFrom(refused, attacker)
	assert.Equal(t, uint64(1), h.c.Stats().HostQueueFull)
	h.c.RequestFrom(refused, third)
	assert.Equal(t, uint64(2), h.c.Stats().Corroborated)
	g.release()
	eventually(t, func() bool { return g.calls() == 13 }, "not all looked up")
	// Corroborated hashes take every other turn, ahead of the hosts'
	// queues.
	assert.Equal(t, 1, g.position(pending))
	assert.Equal(t, 3, g.position(refused))
}

// TestCorroborationCannotStarveSingleHosts: two flooding hosts that run
// the same made-up binaries make every hash corroborated; they still get
// only every other turn and half the queue.
func TestCorroborationCannotStarveSingleHosts(t *testing.T) {
	h := newHarness(t, hopts{cfg: func(c *Config) { c.QueueSize = 40 }})
	g := holdFirst(h)
	h.c.RequestFrom(randomHash(t), attacker)
	<-g.first
	second := Origin{Host: "compromised-02"}
	for range 100 {
		hash := randomHash(t)
		h.c.RequestFrom(hash, attacker)
		h.c.RequestFrom(hash, second)
	}
	real := hashN(9)
	h.c.RequestFrom(real, victim)
	s := h.c.Stats()
	assert.Equal(t, uint64(20), s.Corroborated, "half the queue")
	// The rest wait in the hosts' own queues, within their bounds, which
	// share the full queue between them, and make room for the victim.
	assert.Equal(t, 40, s.Queued)
	assert.Positive(t, s.Evicted)
	g.release()
	eventually(t, func() bool { return g.position(real) >= 0 }, "the single host's hash was not looked up")
	// held, corroborated, compromised-01's queue, corroborated,
	// compromised-02's... the victim's turn comes in the first round.
	assert.LessOrEqual(t, g.position(real), 6)
}

// TestFullQueueMakesRoomForAnotherHost: when the whole queue is full, the
// host with the most waiting gives up its newest lookup for a host with
// fewer.
func TestFullQueueMakesRoomForAnotherHost(t *testing.T) {
	h := newHarness(t, hopts{cfg: func(c *Config) {
		c.QueueSize = 10
		c.HostQueueSize = 10
	}})
	g := holdFirst(h)
	h.c.RequestFrom(randomHash(t), attacker)
	<-g.first
	other := Origin{Host: "compromised-02"}
	newest := map[Origin]string{}
	for range 5 {
		for _, o := range []Origin{attacker, other} {
			newest[o] = randomHash(t)
			h.c.RequestFrom(newest[o], o)
		}
	}
	evicted := make(chan Result, 2)
	for _, o := range []Origin{attacker, other} {
		go func() {
			r, _ := h.c.WaitFrom(context.Background(), newest[o], o, patience)
			evicted <- r
		}()
	}
	eventually(t, func() bool { return h.c.Stats().Deduplicated == 2 }, "waiters not attached")
	// A host cannot push out its own lookups, nor those of a host with no
	// more waiting than it would have.
	for _, o := range []Origin{attacker, other} {
		r, ok := h.c.WaitFrom(context.Background(), randomHash(t), o, 0)
		assert.False(t, ok)
		assert.ErrorIs(t, r.Err, ErrQueueFull)
	}
	assert.Equal(t, uint64(2), h.c.Stats().Dropped)

	real := hashN(3)
	h.c.RequestFrom(real, victim)
	r := <-evicted
	assert.ErrorIs(t, r.Err, ErrEvicted, "the newest lookup of one of the two hosts made room")
	s := h.c.Stats()
	assert.Equal(t, uint64(1), s.Evicted)
	assert.Equal(t, 10, s.Queued)
	g.release()
	r = <-evicted
	assert.NoError(t, r.Err, "the other one was looked up")
	eventually(t, func() bool { return g.calls() == 11 }, "not all looked up")
	assert.Equal(t, 3, g.position(real), "after one of each other host's")
}

// TestPrioritySignalGoesFirstWithinItsHost: a signalled hash overtakes its
// own host's other lookups, not other hosts'.
func TestPrioritySignalGoesFirstWithinItsHost(t *testing.T) {
	h := newHarness(t, hopts{})
	g := holdFirst(h)
	h.c.RequestFrom(randomHash(t), victim)
	<-g.first
	for range 3 {
		h.c.RequestFrom(randomHash(t), victim)
	}
	signalled := hashN(5)
	h.c.RequestFrom(signalled, Origin{Host: victim.Host, Priority: true})
	g.release()
	eventually(t, func() bool { return g.calls() == 5 }, "not all looked up")
	assert.Equal(t, 1, g.position(signalled))
}

func TestLongHostNamesAreBounded(t *testing.T) {
	h := newHarness(t, hopts{noStart: true})
	long := string(make([]byte, 1<<20))
	h.c.RequestFrom(hashN(1), Origin{Host: long})
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	for host := range h.c.sched.lanes {
		assert.LessOrEqual(t, len(host), maxHostKey)
	}
}
