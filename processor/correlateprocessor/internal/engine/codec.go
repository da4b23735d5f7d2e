package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
)

// The persisted form of an entity refers to signals and rules by name and
// id, not by index, so that state written under one configuration loads
// under another: observations of signals no longer known are dropped, and
// alerts of removed rules too. Fields added since the first release are
// optional, so that older state loads: raises without a key ("k") count as
// their signal's one unkeyed raise, alerts without "keys" count what they
// had per signal as one raise, evidence without "det" has no details.
type entityJSON struct {
	Key      string            `json:"key"`
	Latest   int64             `json:"latest"`
	Evidence []*Evidence       `json:"evidence"`
	Obs      []observationJSON `json:"obs"`
	Alerts   []alertJSON       `json:"alerts,omitempty"`
}

type observationJSON struct {
	Time   int64    `json:"t"`
	Signal string   `json:"s"`
	Mult   float32  `json:"m"`
	Skip   []string `json:"skip,omitempty"`
	Ev     int      `json:"e"`
	Key    uint64   `json:"k,omitempty"`
	Det    uint8    `json:"d,omitempty"`
}

type alertJSON struct {
	Rule          string             `json:"rule"`
	ID            string             `json:"id"`
	Start         int64              `json:"start"`
	End           int64              `json:"end"`
	Fired         int64              `json:"fired"`
	Until         int64              `json:"until"`
	Omitted       int                `json:"omitted,omitempty"`
	Sums          map[string]float64 `json:"sums"`
	Keys          []keyJSON          `json:"keys,omitempty"`
	Contributions []contributionJSON `json:"contributions"`
}

type keyJSON struct {
	Signal string  `json:"s"`
	Key    uint64  `json:"k,omitempty"`
	W      float64 `json:"w"`
}

type contributionJSON struct {
	Signal string  `json:"s"`
	Weight float64 `json:"w"`
	Ev     int     `json:"e"`
	Det    uint8   `json:"d,omitempty"`
}

// detailJSON is the persisted Detail: tactics by id, so that state does not
// depend on the order of attack's table.
type detailJSON struct {
	Label      Text     `json:"l,omitzero"`
	Tactics    []string `json:"ta,omitempty"`
	Techniques Text     `json:"te,omitzero"`
}

// MarshalJSON implements json.Marshaler.
func (d Detail) MarshalJSON() ([]byte, error) {
	dj := detailJSON{Label: d.Label, Techniques: d.Techniques}
	for i := 0; i < 32; i++ {
		if d.Tactics&(1<<i) != 0 {
			dj.Tactics = append(dj.Tactics, attack.TacticByIndex(i).ID)
		}
	}
	return json.Marshal(dj)
}

// UnmarshalJSON implements json.Unmarshaler; tactics this release does not
// know are left out, and the bounds of a detail are applied.
func (d *Detail) UnmarshalJSON(b []byte) error {
	var dj detailJSON
	if err := json.Unmarshal(b, &dj); err != nil {
		return err
	}
	*d = Detail{Label: Intern(TruncateLabel(dj.Label.String())), Techniques: Intern(BoundTechniques(dj.Techniques.String()))}
	for _, id := range dj.Tactics {
		if t, ok := attack.FindTactic(id); ok {
			d.Tactics |= 1 << t.Index
		}
	}
	return nil
}

// TruncateLabel bounds a label to MaxLabel bytes, cut at a character
// boundary with "…" to show it was cut.
func TruncateLabel(s string) string {
	if len(s) <= MaxLabel {
		return s
	}
	cut := MaxLabel - len("…")
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// BoundTechniques keeps the first MaxTechniques of comma-joined technique
// ids.
func BoundTechniques(s string) string {
	if strings.Count(s, ",") < MaxTechniques {
		return s
	}
	parts := strings.SplitN(s, ",", MaxTechniques+1)
	return strings.Join(parts[:MaxTechniques], ",")
}

// TechniqueIDs returns the detail's technique ids.
func (d *Detail) TechniqueIDs() []string {
	if d.Techniques.IsZero() {
		return nil
	}
	return strings.Split(d.Techniques.String(), ",")
}

// Encode serialises an entity's state.
func (e *Engine) Encode(ent *Entity) ([]byte, error) {
	out := entityJSON{Key: ent.Key, Latest: ent.Latest}
	index := map[*Evidence]int{}
	ref := func(ev *Evidence) int {
		if i, ok := index[ev]; ok {
			return i
		}
		index[ev] = len(out.Evidence)
		out.Evidence = append(out.Evidence, ev)
		return index[ev]
	}
	for _, o := range ent.obs {
		oj := observationJSON{Time: o.time, Signal: e.cfg.Signals[o.signal].Name, Mult: o.mult, Ev: ref(o.ev),
			Key: o.key, Det: o.det}
		for _, r := range e.cfg.Rules {
			if o.skip&(1<<r.Index) != 0 {
				oj.Skip = append(oj.Skip, r.ID)
			}
		}
		out.Obs = append(out.Obs, oj)
	}
	for _, a := range ent.alerts {
		aj := alertJSON{Rule: a.Rule.ID, ID: a.ID, Start: a.Start, End: a.End, Fired: a.Fired,
			Until: a.Until, Omitted: a.Omitted, Sums: map[string]float64{}}
		for i, v := range a.Sums {
			if v != 0 {
				aj.Sums[e.cfg.Signals[i].Name] = v
			}
		}
		for _, k := range a.keys {
			aj.Keys = append(aj.Keys, keyJSON{Signal: e.cfg.Signals[k.signal].Name, Key: k.key, W: k.w})
		}
		for _, c := range a.Contributions {
			aj.Contributions = append(aj.Contributions, contributionJSON{Signal: e.cfg.Signals[c.Signal].Name, Weight: c.Weight,
				Ev: ref(c.Evidence), Det: c.Det})
		}
		out.Alerts = append(out.Alerts, aj)
	}
	return json.Marshal(out)
}

// Restore loads an entity written by Encode, replacing any state held for
// its key. What the current configuration no longer knows is left out, and
// so is anything dated beyond the wall clock plus MaxFuture: state written
// before skewed events were recognised can hold a clock a broken host
// pushed to 2099, which would make every later event of the entity late
// (and an alert "open" until then), restart after restart.
func (e *Engine) Restore(data []byte) error {
	var in entityJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decoding entity state: %w", err)
	}
	if in.Key == "" {
		return fmt.Errorf("decoding entity state: no key")
	}
	signals := map[string]int{}
	for i, s := range e.cfg.Signals {
		signals[s.Name] = i
	}
	rules := map[string]*Rule{}
	for _, r := range e.cfg.Rules {
		rules[r.ID] = r
	}
	evidence := func(i int) (*Evidence, error) {
		if i < 0 || i >= len(in.Evidence) || in.Evidence[i] == nil {
			return nil, fmt.Errorf("decoding entity %q: evidence %d out of range", in.Key, i)
		}
		return in.Evidence[i], nil
	}
	for _, ev := range in.Evidence {
		// The bounds hold for state from anywhere (another release, a
		// shared Redis), not only for what this one wrote.
		if ev != nil && len(ev.Enrichments) > MaxEnrichments {
			ev.EnrichmentsCut += len(ev.Enrichments) - MaxEnrichments
			// A copy, so the decoded array's tail is not kept alive.
			ev.Enrichments = slices.Clone(ev.Enrichments[:MaxEnrichments])
		}
		if ev != nil && len(ev.Details) > MaxDetails {
			ev.Details = slices.Clone(ev.Details[:MaxDetails])
		}
	}
	// det is a reference to a detail that exists, else none.
	det := func(ev *Evidence, d uint8) uint8 {
		if int(d) > len(ev.Details) {
			return 0
		}
		return d
	}
	limit := e.now() + e.cfg.MaxFuture
	ent := &Entity{Key: in.Key, Latest: in.Latest}
	poisoned := in.Latest > limit
	if poisoned {
		ent.Latest = 0
	}
	for _, oj := range in.Obs {
		sig, ok := signals[oj.Signal]
		if !ok {
			continue
		}
		if oj.Time > limit {
			poisoned = true
			continue
		}
		ev, err := evidence(oj.Ev)
		if err != nil {
			return err
		}
		o := observation{time: oj.Time, signal: int32(sig), mult: oj.Mult, ev: ev, key: oj.Key, det: det(ev, oj.Det)}
		o.tactics = e.tactics(o.signal, ev, o.det)
		for _, id := range oj.Skip {
			if r, ok := rules[id]; ok {
				o.skip |= 1 << r.Index
			}
		}
		ent.obs = append(ent.obs, o)
	}
	for i := 1; i < len(ent.obs); i++ {
		if ent.obs[i].time < ent.obs[i-1].time {
			return fmt.Errorf("decoding entity %q: observations out of order", in.Key)
		}
	}
	if len(ent.obs) > e.cfg.MaxObservations {
		// The bound was lowered: keep the newest.
		ent.obs = ent.obs[len(ent.obs)-e.cfg.MaxObservations:]
	}
	for _, aj := range in.Alerts {
		r, ok := rules[aj.Rule]
		if !ok {
			continue
		}
		if aj.Fired > limit || aj.End > limit {
			// Decided at a time that has not come: an alert "open" until
			// then would swallow every later alert of the entity.
			poisoned = true
			continue
		}
		a := &Alert{Rule: r, ID: aj.ID, Entity: in.Key, Start: aj.Start, End: aj.End, Fired: aj.Fired,
			Until: aj.Until, Omitted: aj.Omitted, Sums: make([]float64, len(e.cfg.Signals))}
		a.Tally.Reset(len(e.cfg.Signals))
		for name, v := range aj.Sums {
			if i, ok := signals[name]; ok {
				a.Sums[i] = v
				a.Tally.Score += v
				a.Tally.Add(i)
			}
		}
		for _, kj := range aj.Keys {
			if i, ok := signals[kj.Signal]; ok && a.Sums[i] > 0 {
				a.keys.raise(int32(i), kj.Key, kj.W)
			}
		}
		for i, v := range a.Sums {
			if v > 0 && !slices.ContainsFunc(a.keys, func(k keyWeight) bool { return k.signal == int32(i) }) {
				// State from before keys were kept: what the signal added
				// counts as its one unkeyed raise.
				a.keys.raise(int32(i), 0, v)
			}
		}
		for _, cj := range aj.Contributions {
			i, ok := signals[cj.Signal]
			if !ok {
				continue
			}
			ev, err := evidence(cj.Ev)
			if err != nil {
				return err
			}
			a.Tally.Tactics |= e.tactics(int32(i), ev, det(ev, cj.Det))
			if len(a.Contributions) < e.cfg.MaxContributions {
				a.Contributions = append(a.Contributions, Contribution{Signal: i, Weight: cj.Weight, Evidence: ev, Det: det(ev, cj.Det)})
			} else {
				a.Omitted++
			}
		}
		for i, v := range a.Sums {
			// Signals whose contributions were not listed still bring
			// their catalog tactic, as they did when the alert fired.
			if v > 0 && !slices.ContainsFunc(a.Contributions, func(c Contribution) bool { return c.Signal == i }) {
				if t := e.cfg.Signals[i].Tactic; t >= 0 {
					a.Tally.Tactics |= 1 << t
				}
			}
		}
		ent.alerts = append(ent.alerts, a)
	}
	if poisoned {
		e.stats.Poisoned++
		if ent.Latest == 0 || ent.Latest > limit {
			ent.Latest = 0
			for _, o := range ent.obs {
				ent.Latest = max(ent.Latest, o.time)
			}
		}
	}
	evs := map[*Evidence]struct{}{}
	for _, o := range ent.obs {
		evs[o.ev] = struct{}{}
	}
	ent.events = uint8(min(len(evs), 255))
	if old, ok := e.entities.peek(ent.Key); ok {
		e.entities.remove(old.Key)
	}
	// An entity with an alert or evidence from several events is protected
	// from floods at once (see table).
	e.entities.add(ent, len(ent.alerts) > 0 || ent.events >= 2)
	delete(e.removed, ent.Key)
	return nil
}

// TakeDirty returns the entities changed since the last call, and the keys
// of entities dropped since then (evicted or swept), for persistence.
func (e *Engine) TakeDirty() (changed []*Entity, removed []string) {
	for _, ent := range e.dirty {
		changed = append(changed, ent)
	}
	clear(e.dirty)
	for k := range e.removed {
		removed = append(removed, k)
	}
	clear(e.removed)
	return changed, removed
}

// Entities calls fn for every entity held: those on probation, then the
// protected ones, each from the least recently active. It works on a
// snapshot of the table, so fn may restore entities.
func (e *Engine) Entities(fn func(*Entity)) {
	var all []*Entity
	e.entities.each(func(ent *Entity) { all = append(all, ent) })
	for _, ent := range all {
		fn(ent)
	}
}

// Requeue puts back what TakeDirty returned when writing it failed, so the
// next flush tries again. Entities dropped since are not put back.
func (e *Engine) Requeue(changed []*Entity, removed []string) {
	for _, ent := range changed {
		if cur, ok := e.entities.peek(ent.Key); ok && cur == ent {
			e.dirty[ent.Key] = ent
		}
	}
	for _, k := range removed {
		if _, ok := e.entities.peek(k); !ok {
			e.removed[k] = struct{}{}
		}
	}
}

// Latest returns the latest event time held for an entity.
func (e *Engine) Latest(key string) (int64, bool) {
	ent, ok := e.entities.peek(key)
	if !ok {
		return 0, false
	}
	return ent.Latest, true
}

// EncodeKey serialises the state of the entity with this key, if held.
func (e *Engine) EncodeKey(key string) ([]byte, bool, error) {
	ent, ok := e.entities.peek(key)
	if !ok {
		return nil, false, nil
	}
	data, err := e.Encode(ent)
	return data, true, err
}

// LatestOf reads the latest event time from state written by Encode,
// without restoring it.
func LatestOf(data []byte) (int64, error) {
	var head struct {
		Latest int64 `json:"latest"`
	}
	err := json.Unmarshal(data, &head)
	return head.Latest, err
}

// Horizon is how long, in event time, an entity's state can still matter
// after its latest event: the longest window or suppression, plus lateness.
func (e *Engine) Horizon() int64 {
	h := e.maxWindow
	for _, r := range e.cfg.Rules {
		h = max(h, r.SuppressFor)
	}
	return h + e.cfg.Lateness
}
