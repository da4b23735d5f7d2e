package engine

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/zeebo/xxh3"
)

// Engine correlates signal observations per entity. It is not safe for
// concurrent use: the processor serialises batches.
type Engine struct {
	cfg Config
	// order evaluates rules that supersede others first, so that one event
	// which meets both conditions opens only the superseding alert.
	order     []*Rule
	maxWindow int64

	entities *table
	removed  map[string]struct{}

	stats   Stats
	scratch scratch
	// dirty holds the entities changed since the last TakeDirty.
	dirty map[string]*Entity
	// wm is the watermark the sweep goes by (see Watermark).
	wm watermark
	// now is the wall clock, for what Restore accepts (SetNow).
	now func() int64
}

// clockBackAfter is how many consecutive events of an entity beyond the
// lateness mean that its clock went back (a reset real-time clock, a
// restored VM) rather than a few stragglers: the entity's clock then
// follows, instead of every later event being dropped until the old time
// comes round again. A host can be blinded for two events at most.
const clockBackAfter = 3

// Stats are cumulative counters, read by the processor for its metrics.
type Stats struct {
	// EntityEvictions: entities dropped because MaxEntities was reached.
	EntityEvictions uint64
	// ObservationEvictions: observations dropped because an entity held
	// MaxObservations.
	ObservationEvictions uint64
	// Late: events dropped for arriving later than Lateness allows.
	Late uint64
	// ClockBack: entities whose clock went back, which was followed.
	ClockBack uint64
	// Poisoned: restored entities from which times beyond the wall clock
	// (plus MaxFuture) were left out.
	Poisoned uint64
}

// New builds an engine. The configuration must be valid (see Validate).
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, removed: map[string]struct{}{}, dirty: map[string]*Entity{},
		now: func() int64 { return time.Now().UnixNano() }}
	for _, r := range cfg.Rules {
		if r.Window > e.maxWindow {
			e.maxWindow = r.Window
		}
	}
	order, err := evaluationOrder(cfg.Rules)
	if err != nil {
		return nil, err
	}
	e.order = order
	e.entities = newTable(cfg.MaxEntities, func(ent *Entity) {
		e.stats.EntityEvictions++
		e.dropped(ent.Key)
	})
	return e, nil
}

// SetNow replaces the wall clock (Unix nanoseconds) Restore checks state
// against; the processor gives its own, tests a fixed one.
func (e *Engine) SetNow(now func() int64) { e.now = now }

// dropped records, for persistence, that an entity left the table.
func (e *Engine) dropped(key string) {
	if e.cfg.TrackChanges {
		e.removed[key] = struct{}{}
		delete(e.dirty, key)
	}
}

// Validate checks what the engine relies on.
func (c *Config) Validate() error {
	if len(c.Rules) > MaxRules {
		return fmt.Errorf("at most %d rules are supported, got %d", MaxRules, len(c.Rules))
	}
	if c.MaxEntities <= 0 || c.MaxObservations <= 0 || c.MaxContributions <= 0 {
		return fmt.Errorf("entity, observation and contribution bounds must be positive")
	}
	if c.Lateness < 0 || c.MaxFuture < 0 {
		return fmt.Errorf("lateness and max_future must not be negative")
	}
	for i, r := range c.Rules {
		if r.Index != i {
			return fmt.Errorf("rule %q: index %d at position %d", r.ID, r.Index, i)
		}
		if len(r.Signals) != len(c.Signals) {
			return fmt.Errorf("rule %q: %d signal weights for %d signals", r.ID, len(r.Signals), len(c.Signals))
		}
		if r.Window <= 0 || r.SuppressFor < 0 {
			return fmt.Errorf("rule %q: window must be positive and suppress_for not negative", r.ID)
		}
		for _, rs := range r.Signals {
			if rs.Ratio < 0 || rs.Ratio > 1 || rs.Weight < 0 || rs.Cap < 0 {
				return fmt.Errorf("rule %q: weights and caps must not be negative, ratios must be within [0, 1]", r.ID)
			}
		}
		for _, s := range r.SupersededBy {
			if s < 0 || s >= len(c.Rules) || s == i {
				return fmt.Errorf("rule %q: bad superseding rule %d", r.ID, s)
			}
		}
	}
	return nil
}

// evaluationOrder sorts rules so that every rule comes after the rules that
// supersede it; a cycle is an error.
func evaluationOrder(rules []*Rule) ([]*Rule, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(rules))
	var order []*Rule
	var visit func(r *Rule) error
	visit = func(r *Rule) error {
		switch state[r.Index] {
		case visiting:
			return fmt.Errorf("rule %q: superseded_by forms a cycle", r.ID)
		case done:
			return nil
		}
		state[r.Index] = visiting
		for _, s := range r.SupersededBy {
			if err := visit(rules[s]); err != nil {
				return err
			}
		}
		state[r.Index] = done
		order = append(order, r)
		return nil
	}
	for _, r := range rules {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Signals returns the signal catalog.
func (e *Engine) Signals() []Signal { return e.cfg.Signals }

// Stats returns the cumulative counters.
func (e *Engine) Stats() Stats { return e.stats }

// Len is the number of entities held.
func (e *Engine) Len() int { return e.entities.len() }

// watermark follows the latest trusted event time confirmed by two
// entities: the second highest of the entities' latest times. One entity
// alone (a forged event, a host whose clock runs ahead within the
// tolerance) cannot move it, so it cannot make the sweep drop every other
// entity's evidence.
type watermark struct {
	top, second int64
	topKey      string
}

func (w *watermark) see(key string, t int64) {
	switch {
	case key == w.topKey:
		w.top = max(w.top, t)
	case t > w.top:
		w.second, w.top, w.topKey = w.top, t, key
	case t > w.second:
		w.second = t
	}
}

// Watermark is the event time the sweep may go by: the latest trusted
// event time that two different entities have reached (0 before that).
func (e *Engine) Watermark() int64 { return e.wm.second }

// Observe places an event's raises in its entity's windows, evaluates the
// rules and appends to out what happened to alerts. It reports false when
// the event came later than the lateness allows and was dropped.
func (e *Engine) Observe(ev *Event, out []Outcome) ([]Outcome, bool) {
	if len(ev.Hits) == 0 {
		return out, true
	}
	clear(e.scratch.added)
	e.scratch.added = e.scratch.added[:0]
	ent, ok := e.entities.get(ev.Entity)
	if !ok {
		ent = &Entity{Key: ev.Entity}
		e.entities.add(ent, false)
		delete(e.removed, ev.Entity)
	}
	if !ev.Skewed && ent.Latest != 0 && ev.Time < ent.Latest-e.cfg.Lateness {
		// Late, per entity: other entities' clocks do not matter.
		if ent.lateRun++; ent.lateRun < clockBackAfter {
			e.stats.Late++
			return out, false
		}
		ent.Latest = ev.Time
		e.forgetAfter(ent, ev.Time+e.cfg.Lateness)
		e.stats.ClockBack++
	}
	ent.lateRun = 0
	ent.touched = true
	if e.cfg.TrackChanges {
		e.dirty[ent.Key] = ent
	}
	if !ev.Skewed {
		ent.Latest = max(ent.Latest, ev.Time)
		e.wm.see(ent.Key, ev.Time)
	}
	e.expire(ent)
	first := e.insert(ent, ev)
	if ent.events < 255 {
		ent.events++
	}
	out = e.evaluate(ent, ev, first, out)
	if ent.events >= 2 || len(ent.alerts) > 0 {
		e.entities.promote(ent)
	}
	return out, true
}

// forgetAfter drops what an entity holds from after limit: when its clock
// went back, the observations and alerts of the abandoned time line would
// otherwise sit "in the future" of every new event, so a window around a new
// event would reach evidence days away, and an alert opened then would stay
// open and take the new evidence as its own.
func (e *Engine) forgetAfter(ent *Entity, limit int64) {
	n := sort.Search(len(ent.obs), func(i int) bool { return ent.obs[i].time > limit })
	clear(ent.obs[n:])
	ent.obs = ent.obs[:n]
	alerts := ent.alerts[:0]
	for _, a := range ent.alerts {
		if a.Fired <= limit {
			alerts = append(alerts, a)
		}
	}
	clear(ent.alerts[len(alerts):])
	ent.alerts = alerts
}

// clock is the time an entity's state is aged by: its own clock, or for an
// entity with skewed events only, the newest of their receipt times.
func (ent *Entity) clock() int64 {
	if ent.Latest != 0 || len(ent.obs) == 0 {
		return ent.Latest
	}
	return ent.obs[len(ent.obs)-1].time
}

// active is the latest time anything happened to the entity, for the sweep.
func (ent *Entity) active() int64 {
	t := ent.Latest
	if n := len(ent.obs); n > 0 {
		t = max(t, ent.obs[n-1].time)
	}
	return t
}

// expire drops observations that no window can reach any more and alerts
// whose suppression ended longer ago than the lateness (a late event may
// still belong to them until then).
func (e *Engine) expire(ent *Entity) {
	clock := ent.clock()
	horizon := clock - e.maxWindow - e.cfg.Lateness
	n := 0
	for n < len(ent.obs) && ent.obs[n].time < horizon {
		n++
	}
	if n > 0 {
		ent.obs = append(ent.obs[:0], ent.obs[n:]...)
	}
	alerts := ent.alerts[:0]
	for _, a := range ent.alerts {
		if a.Until+e.cfg.Lateness > clock {
			alerts = append(alerts, a)
		}
	}
	clear(ent.alerts[len(alerts):])
	ent.alerts = alerts
}

// insert adds the event's observations in time order (after any of equal
// time) and returns the index of the first, after enforcing the bound.
func (e *Engine) insert(ent *Entity, ev *Event) int {
	at := sort.Search(len(ent.obs), func(i int) bool { return ent.obs[i].time > ev.Time })
	n := len(ev.Hits)
	ent.obs = append(ent.obs, make([]observation, n)...)
	copy(ent.obs[at+n:], ent.obs[at:len(ent.obs)-n])
	for i, h := range ev.Hits {
		ent.obs[at+i] = observation{time: ev.Time, signal: int32(h.Signal), mult: float32(h.Mult), skip: ev.Except,
			ev: ev.Evidence, key: h.Key, det: h.Detail, tactics: e.tactics(int32(h.Signal), ev.Evidence, h.Detail)}
	}
	for len(ent.obs) > e.cfg.MaxObservations {
		victim := e.victim(ent, at, at+n)
		ent.obs = append(ent.obs[:victim], ent.obs[victim+1:]...)
		if victim < at {
			at--
		} else if victim < at+n {
			// The bound is smaller than one event's signals.
			n--
		}
		e.stats.ObservationEvictions++
	}
	if n == 0 {
		return -1
	}
	return at
}

// victim chooses the observation to drop when an entity is full: the oldest
// of the signal with the most observations, so that a flood of one signal
// cannot push rarer evidence out of the window. The new event's own
// observations [lo, hi) go last.
func (e *Engine) victim(ent *Entity, lo, hi int) int {
	counts := e.scratch.counts[:0]
	counts = append(counts, make([]int, len(e.cfg.Signals))...)
	e.scratch.counts = counts
	for _, o := range ent.obs {
		counts[o.signal]++
	}
	best, bestN := -1, 0
	for i, o := range ent.obs {
		if i >= lo && i < hi {
			continue
		}
		if c := counts[o.signal]; c > bestN {
			best, bestN = i, c
		}
	}
	if best < 0 {
		return lo
	}
	return best
}

// evaluate runs the rules for the event whose observations start at first.
func (e *Engine) evaluate(ent *Entity, ev *Event, first int, out []Outcome) []Outcome {
	if first < 0 {
		return out
	}
	mine := ent.obs[first : first+e.countOwn(ent, first, ev)]
	for _, r := range e.order {
		bit := uint64(1) << r.Index
		if !e.counts(r, mine, bit) {
			continue
		}
		from := len(e.scratch.added)
		e.scratch.addedFrom = from
		if a := ent.openAlert(r, ev.Time); a != nil {
			e.extend(a, r, mine, bit)
			out = append(out, Outcome{Action: Updated, Rule: r, Alert: a, Added: e.scratch.added[from:len(e.scratch.added):len(e.scratch.added)]})
			continue
		}
		if e.superseded(ent, r, ev.Time) {
			// Reported only when the rule would have fired: the count of
			// firings stood down.
			if _, ok := e.search(ent, r, ev.Time, bit); ok {
				out = append(out, Outcome{Action: Superseded, Rule: r})
			}
			continue
		}
		if start, ok := e.search(ent, r, ev.Time, bit); ok {
			a := e.open(ent, r, bit, start, start+r.Window, ev.Time)
			ent.alerts = append(ent.alerts, a)
			out = append(out, Outcome{Action: Fired, Rule: r, Alert: a, Added: e.scratch.added[from:len(e.scratch.added):len(e.scratch.added)]})
		}
	}
	return out
}

// countOwn is how many observations from first on belong to ev (the bound
// may have dropped some of them).
func (e *Engine) countOwn(ent *Entity, first int, ev *Event) int {
	n := 0
	for i := first; i < len(ent.obs) && ent.obs[i].ev == ev.Evidence && ent.obs[i].time == ev.Time; i++ {
		n++
	}
	return n
}

func (e *Engine) counts(r *Rule, obs []observation, bit uint64) bool {
	for i := range obs {
		if obs[i].skip&bit == 0 && r.Signals[obs[i].signal].Weight > 0 {
			return true
		}
	}
	return false
}

// openAlert returns the rule's alert whose suppression covers t.
func (ent *Entity) openAlert(r *Rule, t int64) *Alert {
	var found *Alert
	for _, a := range ent.alerts {
		if a.Rule == r && t < a.Until && (found == nil || a.Until > found.Until) {
			found = a
		}
	}
	return found
}

func (e *Engine) superseded(ent *Entity, r *Rule, t int64) bool {
	for _, s := range r.SupersededBy {
		if ent.openAlert(e.cfg.Rules[s], t) != nil {
			return true
		}
	}
	return false
}

// search looks for a window of rule r that contains t and meets its
// criteria, and returns the start of the first (earliest) one found.
//
// A window is [start, start+Window] for a start at an observation in
// [t-Window, t]. Criteria are monotone, so the largest windows are enough,
// and when nothing later than t is held (the live, in-order case) the
// earliest start gives a superset of every other window: one evaluation.
func (e *Engine) search(ent *Entity, r *Rule, t int64, bit uint64) (start int64, ok bool) {
	latest := int64(-1 << 63)
	for i := range ent.obs {
		if e.relevant(r, &ent.obs[i], bit) && ent.obs[i].time > latest {
			latest = ent.obs[i].time
		}
	}
	prevStart := int64(-1 << 63)
	for i := range ent.obs {
		o := &ent.obs[i]
		if o.time < t-r.Window || o.time > t {
			continue
		}
		if !e.relevant(r, o, bit) || o.time == prevStart {
			continue
		}
		prevStart = o.time
		end := o.time + r.Window
		if e.windowMet(ent, r, bit, o.time, end) {
			return o.time, true
		}
		if latest <= t {
			break
		}
	}
	return 0, false
}

func (e *Engine) relevant(r *Rule, o *observation, bit uint64) bool {
	return o.skip&bit == 0 && r.Signals[o.signal].Weight > 0
}

// scratch is reused across evaluations so that they do not allocate.
type scratch struct {
	window Alert
	counts []int
	// added backs Outcome.Added; the outcome being built has its entries
	// from addedFrom on.
	added     []*Evidence
	addedFrom int
}

func (e *Engine) windowMet(ent *Entity, r *Rule, bit uint64, start, end int64) bool {
	a := &e.scratch.window
	n := len(e.cfg.Signals)
	if len(a.Sums) != n {
		a.Sums = make([]float64, n)
	}
	clear(a.Sums)
	a.keys = a.keys[:0]
	a.Tally.Reset(n)
	for i := range ent.obs {
		o := &ent.obs[i]
		if o.time >= start && o.time <= end && e.relevant(r, o, bit) {
			e.add(a, r, o)
		}
	}
	return allMet(r, a)
}

// add counts one observation in a tally and returns what it added: the
// growth of its signal's total (see score.go) — nothing for a key already
// counted at least as strongly.
func (e *Engine) add(a *Alert, r *Rule, o *observation) float64 {
	rs := r.Signals[o.signal]
	var added float64
	if a.keys.raise(o.signal, o.key, rs.Weight*float64(o.mult)) {
		cur := a.Sums[o.signal]
		added = max(0, a.keys.total(o.signal, rs.Ratio, rs.Cap)-cur)
		a.Sums[o.signal] = cur + added
	}
	a.Tally.Score += added
	a.Tally.Add(int(o.signal))
	a.Tally.Tactics |= o.tactics
	return added
}

// tactics is the tactic mask of a raise: its detail's tactics, else the
// catalog's tactic of its signal.
func (e *Engine) tactics(sig int32, ev *Evidence, det uint8) uint32 {
	if d := ev.detail(det); d != nil && d.Tactics != 0 {
		return d.Tactics
	}
	if t := e.cfg.Signals[sig].Tactic; t >= 0 {
		return 1 << t
	}
	return 0
}

func allMet(r *Rule, a *Alert) bool {
	for _, c := range r.Criteria {
		if !c.Met(&a.Tally) {
			return false
		}
	}
	return true
}

// open creates the alert for window [start, end] decided at t, and marks
// its observations as used by the rule.
func (e *Engine) open(ent *Entity, r *Rule, bit uint64, start, end, t int64) *Alert {
	a := &Alert{Rule: r, Entity: ent.Key, Fired: t, Until: t + r.SuppressFor,
		Start: start, End: start, Sums: make([]float64, len(e.cfg.Signals))}
	a.Tally.Reset(len(e.cfg.Signals))
	a.ID = AlertID(r.ID, ent.Key, start)
	for i := range ent.obs {
		o := &ent.obs[i]
		if o.time >= start && o.time <= end && e.relevant(r, o, bit) {
			e.contribute(a, r, o)
			o.skip |= bit
		}
	}
	return a
}

// extend adds an event's observations to an open alert.
func (e *Engine) extend(a *Alert, r *Rule, obs []observation, bit uint64) {
	for i := range obs {
		o := &obs[i]
		if e.relevant(r, o, bit) {
			e.contribute(a, r, o)
			o.skip |= bit
		}
	}
}

func (e *Engine) contribute(a *Alert, r *Rule, o *observation) {
	added := e.add(a, r, o)
	a.Start = min(a.Start, o.time)
	a.End = max(a.End, o.time)
	e.noteAdded(o.ev)
	if len(a.Contributions) < e.cfg.MaxContributions {
		a.Contributions = append(a.Contributions, Contribution{Signal: int(o.signal), Weight: added, Evidence: o.ev, Det: o.det})
		return
	}
	a.Omitted++
}

// noteAdded lists ev in the Added of the outcome being built, once (an
// entity holds at most MaxObservations, so the scan is short).
func (e *Engine) noteAdded(ev *Evidence) {
	for _, x := range e.scratch.added[e.scratch.addedFrom:] {
		if x == ev {
			return
		}
	}
	e.scratch.added = append(e.scratch.added, ev)
}

// AlertID is the stable id of the alert of rule for entity whose evidence
// starts at start: an update carries the same id and so replaces the
// earlier document downstream.
func AlertID(rule, entity string, start int64) string {
	buf := make([]byte, 0, len(rule)+len(entity)+10)
	buf = append(buf, rule...)
	buf = append(buf, 0)
	buf = append(buf, entity...)
	buf = append(buf, 0)
	buf = binary.BigEndian.AppendUint64(buf, uint64(start))
	sum := xxh3.Hash128(buf).Bytes()
	return hex.EncodeToString(sum[:])
}

// Sweep drops entities with nothing left that a new event could use:
// every observation beyond the windows and every alert closed, as of
// watermark (see Watermark), and no event since the previous sweep. The
// last condition keeps an entity that is active but whose clock lags (or
// went back) from losing its state to other entities' clocks. It returns
// how many it dropped.
func (e *Engine) Sweep(watermark int64) int {
	horizon := watermark - e.maxWindow - e.cfg.Lateness
	var idle []string
	e.entities.each(func(ent *Entity) {
		if ent.touched {
			ent.touched = false
			return
		}
		if ent.active() >= horizon {
			return
		}
		for _, a := range ent.alerts {
			if a.Until+e.cfg.Lateness > watermark {
				return
			}
		}
		idle = append(idle, ent.Key)
	})
	for _, key := range idle {
		e.entities.remove(key)
		e.dropped(key)
	}
	return len(idle)
}
