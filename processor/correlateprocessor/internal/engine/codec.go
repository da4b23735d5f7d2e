package engine

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The persisted form of an entity refers to signals and rules by name and
// id, not by index, so that state written under one configuration loads
// under another: observations of signals no longer known are dropped, and
// alerts of removed rules too.
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
	Contributions []contributionJSON `json:"contributions"`
}

type contributionJSON struct {
	Signal string  `json:"s"`
	Weight float64 `json:"w"`
	Ev     int     `json:"e"`
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
		oj := observationJSON{Time: o.time, Signal: e.cfg.Signals[o.signal].Name, Mult: o.mult, Ev: ref(o.ev)}
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
		for _, c := range a.Contributions {
			aj.Contributions = append(aj.Contributions, contributionJSON{Signal: e.cfg.Signals[c.Signal].Name, Weight: c.Weight, Ev: ref(c.Evidence)})
		}
		out.Alerts = append(out.Alerts, aj)
	}
	return json.Marshal(out)
}

// Restore loads an entity written by Encode, replacing any state held for
// its key. What the current configuration no longer knows is left out.
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
		// The bound holds for state from anywhere (another release, a
		// shared Redis), not only for what this one wrote.
		if ev != nil && len(ev.Enrichments) > MaxEnrichments {
			ev.EnrichmentsCut += len(ev.Enrichments) - MaxEnrichments
			// A copy, so the decoded array's tail is not kept alive.
			ev.Enrichments = slices.Clone(ev.Enrichments[:MaxEnrichments])
		}
	}
	ent := &Entity{Key: in.Key, Latest: in.Latest}
	for _, oj := range in.Obs {
		sig, ok := signals[oj.Signal]
		if !ok {
			continue
		}
		ev, err := evidence(oj.Ev)
		if err != nil {
			return err
		}
		o := observation{time: oj.Time, signal: int32(sig), mult: oj.Mult, ev: ev}
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
		a := &Alert{Rule: r, ID: aj.ID, Entity: in.Key, Start: aj.Start, End: aj.End, Fired: aj.Fired,
			Until: aj.Until, Omitted: aj.Omitted, Sums: make([]float64, len(e.cfg.Signals))}
		a.Tally.Reset(len(e.cfg.Signals))
		for name, v := range aj.Sums {
			if i, ok := signals[name]; ok {
				a.Sums[i] = v
				a.Tally.Score += v
				a.Tally.Add(i)
				if t := e.cfg.Signals[i].Tactic; t >= 0 {
					a.Tally.Tactics |= 1 << t
				}
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
			if len(a.Contributions) < e.cfg.MaxContributions {
				a.Contributions = append(a.Contributions, Contribution{Signal: i, Weight: cj.Weight, Evidence: ev})
			} else {
				a.Omitted++
			}
		}
		ent.alerts = append(ent.alerts, a)
	}
	e.entities.Add(ent.Key, ent)
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

// Entities calls fn for every entity held, least recently active first.
func (e *Engine) Entities(fn func(*Entity)) {
	for _, k := range e.entities.Keys() {
		ent, _ := e.entities.Peek(k)
		fn(ent)
	}
}

// Requeue puts back what TakeDirty returned when writing it failed, so the
// next flush tries again. Entities dropped since are not put back.
func (e *Engine) Requeue(changed []*Entity, removed []string) {
	for _, ent := range changed {
		if cur, ok := e.entities.Peek(ent.Key); ok && cur == ent {
			e.dirty[ent.Key] = ent
		}
	}
	for _, k := range removed {
		if !e.entities.Contains(k) {
			e.removed[k] = struct{}{}
		}
	}
}

// Latest returns the latest event time held for an entity.
func (e *Engine) Latest(key string) (int64, bool) {
	ent, ok := e.entities.Peek(key)
	if !ok {
		return 0, false
	}
	return ent.Latest, true
}

// EncodeKey serialises the state of the entity with this key, if held.
func (e *Engine) EncodeKey(key string) ([]byte, bool, error) {
	ent, ok := e.entities.Peek(key)
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
