// Package engine is the correlation state machine of the correlate
// processor, free of any pdata (event.Enrichment, the one type it takes
// from the event model, is a plain struct): per-entity windows of signal observations,
// rule evaluation, open alerts with their suppression, and the bounds that
// keep memory flat. The processor turns log records into Events and the
// Outcomes back into alert records.
//
// Time is event time in Unix nanoseconds throughout: windows, suppression
// and expiry never look at the wall clock, so replaying old logs yields the
// alerts live processing would have.
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
type RuleSignal struct {
	// Weight is added to the score per occurrence (times the event's
	// modifiers); 0 means the rule ignores the signal.
	Weight float64
	// Cap bounds what the signal adds in one window or alert. 0: only its
	// strongest occurrence counts, so repeats add nothing.
	Cap float64
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
}

// MaxEnrichments bounds the enrichments one Evidence keeps. An event
// matches one feed entry per field and feed, so a few cover the usual case
// (a hash on one or two feeds); an event listing hundreds must not make an
// entity's state, held in memory and written to storage, grow with it.
const MaxEnrichments = 4

// Hit is one signal raised by an event, with the event's modifiers applied.
type Hit struct {
	Signal int
	Mult   float64
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
}

// Contribution is one signal of one event counted in an alert.
type Contribution struct {
	Signal   int
	Weight   float64 // what it added to the score
	Evidence *Evidence
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
}

// observation is one signal of one event held in an entity's window.
type observation struct {
	time   int64
	signal int32
	mult   float32
	// skip has the bit of every rule the observation does not count for:
	// excepted by it, or already part of one of its alerts (so that evidence
	// fires a rule once).
	skip uint64
	ev   *Evidence
}

// Entity is the state of one correlated entity (a host, by default).
type Entity struct {
	Key    string
	Latest int64
	obs    []observation
	alerts []*Alert
}
