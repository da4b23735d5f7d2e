// Package engine is the correlation state machine of the correlate
// processor, free of any pdata (event.Enrichment, the one type it takes
// from the event model, is a plain struct): per-entity windows of signal observations,
// rule evaluation, open alerts with their suppression, and the bounds that
// keep memory flat. The processor turns log records into Events and the
// Outcomes back into alert records.
//
// Time is event time in Unix nanoseconds throughout: windows, suppression
// and expiry never look at the wall clock, so replaying old logs yields the
// alerts live processing would have. The processor decides which times to
// trust: an event dated too far ahead of its clock is marked Skewed and
// carries its receipt time, which never moves an entity's clock, the
// watermark of the sweep, or anything that outlives the event.
package engine

import (
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
)

// Signal describes a signal name known to the engine.
type Signal struct {
	Name string
	// Tactic is the attack.Tactic.Index of the signal's tactic, -1 for none.
	Tactic    int
	Technique attack.Technique // zero when none
	// Label is a few words for alert messages ("binary new on this host").
	Label string
}

// RuleSignal is what one signal is worth to one rule.
//
// Raises of a signal with the same key (the same binary, destination, rule,
// …) count once, at their strongest; distinct keys add with diminishing
// weight, strongest first: w1 + w2·Ratio + w3·Ratio² + …, at most Cap.
type RuleSignal struct {
	// Weight is what one raise adds (times the event's modifiers); 0 means
	// the rule ignores the signal.
	Weight float64
	// Cap bounds what the signal adds in one window or alert; 0: no bound
	// beyond the series itself (at most Weight/(1-Ratio) per modifier).
	Cap float64
	// Ratio is what each further distinct raise weighs relative to the one
	// before: 0 counts the strongest only, 1 adds every distinct raise in
	// full (up to Cap).
	Ratio float64
}

// Rule is a compiled correlation rule.
type Rule struct {
	// Index is the rule's position in Config.Rules and its bit in masks.
	Index int
	ID    string
	Name  string
	// Window is the span of event time whose signals are weighed together.
	Window int64
	// Signals is indexed like Config.Signals.
	Signals  []RuleSignal
	Criteria []criteria.Criterion
	// SuppressFor: after firing, evidence for the entity until this much
	// event time has passed updates the same alert.
	SuppressFor int64
	// SupersededBy lists rule indices whose open alert for the entity stops
	// this rule from opening one of its own.
	SupersededBy []int
}

// MaxRules is the number of rules an engine supports: observations keep a
// per-rule bitmask.
const MaxRules = 64

// Config is the engine's compiled configuration.
type Config struct {
	Signals []Signal
	// Rules, indexed by Rule.Index.
	Rules []*Rule
	// Lateness: an event older than its entity's latest event by more than
	// this is dropped (counted) rather than placed in the windows.
	Lateness int64
	// MaxEntities bounds the entities held; the least recently active go.
	MaxEntities int
	// MaxObservations bounds the signal observations held per entity.
	MaxObservations int
	// MaxContributions bounds the contributions listed on one alert; later
	// ones still count towards its score and are counted as omitted.
	MaxContributions int
	// MaxFuture is how far ahead of the wall clock restored state may be
	// dated: state written before skewed events were recognised may hold an
	// entity clock, observations or alerts from a broken clock (2099), which
	// Restore leaves out instead of bringing back.
	MaxFuture int64
	// TrackChanges keeps the set of changed and dropped entities for
	// TakeDirty; without persistence it would only cost memory.
	TrackChanges bool
}

// Kind says what an event was, for the alert's wording.
type Kind uint8

// Event kinds.
const (
	KindOther Kind = iota
	KindProcess
	KindConnection
	KindDNS
)

// Evidence is what an alert keeps of a contributing event: enough to explain
// it without a second query.
type Evidence struct {
	EventID string `json:"id"`
	Time    int64  `json:"t"`
	Kind    Kind   `json:"k,omitempty"`
	Port    int64  `json:"port,omitempty"`
	// Host is set when it differs from the entity (which then is not a
	// host name).
	Host Text `json:"host,omitzero"`
	Exe  Text `json:"exe,omitzero"`
	User Text `json:"user,omitzero"`
	Hash Text `json:"hash,omitzero"`
	// IP and Domain are plain strings: the destinations behind signals are
	// new by definition, so interning them would only add its own cost.
	IP     string `json:"ip,omitempty"`
	Domain string `json:"domain,omitempty"`
	// Provider and Verdict of the threat-intel match, if any.
	Provider Text `json:"provider,omitzero"`
	Verdict  Text `json:"verdict,omitzero"`
	// Enrichments are the event's threat.enrichments, so that the alert
	// carries the threat-intel matches of its evidence: at most
	// MaxEnrichments, the rest counted in EnrichmentsCut. State written
	// before they were kept has neither (an alert then shows none).
	Enrichments    []event.Enrichment `json:"enr,omitempty"`
	EnrichmentsCut int                `json:"enr_cut,omitempty"`
	// Details are what detectors said about the event's raises beyond the
	// signal names (cairn.signal_details): labels and ATT&CK of the raises
	// that observations and contributions point at. At most MaxDetails.
	Details []Detail `json:"det,omitempty"`
}

// Detail is what a detector said about one raise of a signal: the phrase
// for the alert's explanation (a Sigma rule's title and author) and the
// ATT&CK tactics and techniques that replace the catalog's for this raise.
type Detail struct {
	// Label replaces the catalog's label; zero: the catalog's.
	Label Text
	// Tactics is a mask over attack.Tactic.Index; 0: the catalog's tactic.
	Tactics uint32
	// Techniques are technique ids joined by commas (interned: a rule's
	// set repeats on every match); zero: the catalog's technique.
	Techniques Text
}

// Bounds of what one event's details may hold, so that an event (or state
// from elsewhere) cannot grow an entity's memory with them.
const (
	// MaxDetails is the number of details one Evidence keeps.
	MaxDetails = 8
	// MaxLabel is the length of a label in bytes (a Sigma rule's title and
	// authors take a fraction of it).
	MaxLabel = 1024
	// MaxTechniques is the number of technique ids one detail keeps.
	MaxTechniques = 8
)

// MaxEnrichments bounds the enrichments one Evidence keeps. An event
// matches one feed entry per field and feed, so a few cover the usual case
// (a hash on one or two feeds); an event listing hundreds must not make an
// entity's state, held in memory and written to storage, grow with it.
const MaxEnrichments = 4

// Hit is one raise of a signal by an event, with the event's modifiers
// applied. One event raises a signal once per distinct key (two Sigma rules
// of the same level are two raises).
type Hit struct {
	Signal int
	Mult   float64
	// Key tells raises of the signal apart; 0: the signal's one unkeyed
	// raise.
	Key uint64
	// Detail is 1 + the index of the raise's detail in Evidence.Details;
	// 0: none.
	Detail uint8
}

// Event is the input of Observe.
type Event struct {
	Entity string
	Time   int64
	Hits   []Hit
	// Except has the bit of every rule that this event must not contribute
	// to (rule exceptions).
	Except   uint64
	Evidence *Evidence
	// Skewed: Time is the receipt time of an event whose own time was not
	// trusted (dated too far ahead). It is placed in the windows at Time,
	// is never late, and never moves the entity's clock or the watermark.
	Skewed bool
}

// Action is what happened to an alert.
type Action uint8

// Actions.
const (
	Fired Action = iota + 1
	Updated
	// Superseded: the rule's condition would be evaluated, but an open
	// alert of a rule that supersedes it covers the entity.
	Superseded
)

func (a Action) String() string {
	switch a {
	case Fired:
		return "fired"
	case Updated:
		return "updated"
	case Superseded:
		return "superseded"
	}
	return "unknown"
}

// Outcome reports an alert fired or updated by an event (Alert is nil for
// Superseded).
type Outcome struct {
	Action Action
	Rule   *Rule
	Alert  *Alert
	// Added is the evidence this outcome counted in the alert for the first
	// time (every contributing event when it fired, listed or not; the
	// event's own when it updated), each once. It is valid until the next
	// Observe.
	Added []*Evidence
}

// Contribution is one raise of one event counted in an alert.
type Contribution struct {
	Signal   int
	Weight   float64 // what it added to the score
	Evidence *Evidence
	// Det is 1 + the index of the raise's detail in Evidence.Details; 0:
	// none (see Detail).
	Det uint8
}

// Detail returns the raise's detail, nil when it has none.
func (c *Contribution) Detail() *Detail { return c.Evidence.detail(c.Det) }

func (ev *Evidence) detail(i uint8) *Detail {
	if i == 0 || int(i) > len(ev.Details) {
		return nil
	}
	return &ev.Details[i-1]
}

// Alert is an open (or recently closed) alert of one rule for one entity.
type Alert struct {
	Rule   *Rule
	ID     string
	Entity string
	// Start and End span the contributing evidence.
	Start, End int64
	// Fired is the time of the deciding event.
	Fired int64
	// Until is the end of suppression: evidence before it updates this alert.
	Until         int64
	Contributions []Contribution
	// Omitted counts contributions beyond MaxContributions.
	Omitted int
	// Tally holds the score, the signals present and their tactics.
	Tally criteria.Tally
	// Sums is what each signal added so far, indexed like Config.Signals.
	Sums []float64
	// keys are the distinct raises counted so far, for the diminishing
	// weights of further ones.
	keys sheet
}

// observation is one raise of one event held in an entity's window.
type observation struct {
	time   int64
	signal int32
	mult   float32
	// skip has the bit of every rule the observation does not count for:
	// excepted by it, or already part of one of its alerts (so that evidence
	// fires a rule once).
	skip uint64
	ev   *Evidence
	key  uint64
	det  uint8
	// tactics is the raise's tactic mask (its detail's, else its
	// signal's), kept here because every window evaluation reads it.
	tactics uint32
}

// Entity is the state of one correlated entity (a host, by default).
type Entity struct {
	Key string
	// Latest is the entity's clock: its latest trusted event time (0 while
	// it has none). Skewed events never move it.
	Latest int64
	obs    []observation
	alerts []*Alert

	// events counts placed events (up to 255): the second one moves the
	// entity out of probation in the table.
	events uint8
	// lateRun counts consecutive events beyond the lateness: enough of them
	// mean the entity's clock went back, and it is followed.
	lateRun uint8
	// touched: an event arrived since the last sweep.
	touched bool
	// Table links (see table).
	seg        int8
	prev, next *Entity
}
