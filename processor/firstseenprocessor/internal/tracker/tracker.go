// Package tracker holds the first-seen trackers: each follows one kind of
// term (a binary on a host, an external IP in the environment, …) and says
// whether an event shows a term for the first time in its scope.
//
// A tracker is generic: which fields make its term, its scope, history,
// learning period, filter and exclusions come from configuration. What
// differs between an IP, a domain, a hash and plain text lives in one Kind
// per file.
package tracker

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/condition"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/glob"
	"github.com/cairnsec/cairn/internal/netclass"
	"github.com/cairnsec/cairn/internal/termstore"
)

// Scope is what a term is new within.
type Scope uint8

const (
	// ScopeHost: new on this host (per host.name).
	ScopeHost Scope = iota
	// ScopeEnvironment: new anywhere in the environment.
	ScopeEnvironment
)

// MaxFields bounds the fields of one term, like Elastic's new-terms rule.
const MaxFields = 3

// Spec is a tracker's compiled configuration.
type Spec struct {
	Name string
	// Fields: one entry per term component; each lists alternative fields,
	// the first present one is used (process.hash.sha256, else process.executable).
	Fields           [][]string
	Scope            Scope
	EnvironmentField string
	History          time.Duration
	Learning         time.Duration
	When             condition.Condition
	// WhenKey identifies the condition's content, so trackers with equal
	// conditions can share one Memo.
	WhenKey      string
	Exclude      []string
	OnlyExternal bool
	MaxTerms     int
	MaxScopes    int

	// Prevalence, for environment-scoped trackers (ignored for host scope;
	// see prevalence.go). KnownAfterHosts: a term counts as known only once
	// seen on this many distinct hosts (0 or 1: on the first). RareHosts and
	// RareShare: a known term seen on at most this many hosts, or this share
	// of the environment's active hosts, raises RareSignal on a further
	// host. No RareSignal: no rare raises.
	KnownAfterHosts int
	RareHosts       int
	RareShare       float64
	RareSignal      string
}

// Env holds settings shared by all trackers of a processor, and scratch
// state that kinds use while building a term.
type Env struct {
	Classifier    *netclass.Classifier
	MaxValueBytes int

	onlyExternal bool

	// The last IP text parsed and what it was: trackers of one event read
	// the same address.
	ipValid, ipOK, ipExternal bool
	ipText                    string
	ipAddr                    netip.Addr

	// Event counts the events observed; shared `when` results are valid for
	// one event.
	Event uint64

	// Set by the processor for each event:
	//
	// Clock is the newest trusted event time seen (never taken from an event
	// dated too far ahead): it decides which learning scopes are done.
	Clock uint32
	// NoLearn: the event's terms must not enter the baseline (a malicious
	// intel verdict); trackers only look them up.
	NoLearn bool
	// Active counts the hosts active per environment, for rare_share; nil
	// when no tracker uses it.
	Active *ActiveHosts
	// envField is the environment field of environment-scoped trackers
	// (one per processor), nil for none.
	envField *event.Field

	// The event's host and environment fingerprints, worked out at most
	// once per event and only when asked (see Host32): trackers set view.
	view      *event.View
	hostEvent uint64
	hostSet   bool
	host64    uint64
	host32    uint32
	env32     uint32
	scratch   []byte
}

// SetEnvironmentField names the field that splits environments (empty:
// one environment), for EventHost.
func (env *Env) SetEnvironmentField(name string) {
	env.envField = nil
	if name != "" {
		env.envField = event.Lookup(name)
	}
}

// Memo shares one `when` condition between trackers that use the same one
// (the two binary trackers do), evaluating it once per event.
type Memo struct {
	cond  condition.Condition
	event uint64
	set   bool
	res   bool
}

// NewMemo wraps a condition.
func NewMemo(c condition.Condition) *Memo { return &Memo{cond: c} }

// Match evaluates the condition once per event.
func (m *Memo) Match(v *event.View, env *Env) bool {
	if !m.set || m.event != env.Event {
		m.res = m.cond.Match(v)
		m.event, m.set = env.Event, true
	}
	return m.res
}

// Result is what Observe concluded for one event.
type Result uint8

const (
	// NotApplicable: the event is not for this tracker (when: did not match,
	// or a term field is absent).
	NotApplicable Result = iota
	// Seen: the term was known and recent.
	Seen
	// NewTerm: a first sighting, to be flagged.
	NewTerm
	// NewTermLearning: a first sighting inside the scope's learning period:
	// recorded, not flagged.
	NewTermLearning
	// Excluded: matched an exclusion; not recorded.
	Excluded
	// Ignored: a value the tracker does not follow, such as an internal IP.
	Ignored
	// Malformed: a value could not be used; see Tracker.LastReason.
	Malformed
	// Located: Term found the event's term; Record (or a shared store)
	// decides whether it is new.
	Located
	// RareTerm: a known term, but seen on few hosts (prevalence), on a host
	// that had not shown it: the tracker's rare signal.
	RareTerm
)

// Taught says what Record added to the baseline for the event, so that a
// taint can take it back (Forget).
type Taught uint8

const (
	// TaughtNothing: the term was known here already, or not recorded.
	TaughtNothing Taught = iota
	// TaughtTerm: the event put the term into the baseline (a first
	// sighting, or the first after its history ran out).
	TaughtTerm
	// TaughtHost: the event added its host to a held term's host set.
	TaughtHost
)

type alt struct {
	field *event.Field
	kind  Kind
}

type component struct{ alts []alt }

type compSpan struct {
	start, end int
	kind       Kind
	raw        string
	addr       netip.Addr
}

type exclusion struct {
	prefix  netip.Prefix
	isCIDR  bool
	pattern string // as written
	lower   string // for case-insensitive kinds
	isGlob  bool
}

// Tracker follows one kind of term. It is not safe for concurrent use.
type Tracker struct {
	spec       Spec
	when       *Memo
	comps      []component
	exclusions []exclusion
	envField   *event.Field
	history    uint32
	learning   uint32

	// Terms maps fingerprint(scope, term) to last-seen time and, with
	// prevalence, the term's host set.
	Terms *termstore.Store
	// Scopes and Learning map fingerprint(scope) to the time of the scope's
	// first event for this tracker or, when earlier, for a sibling tracker
	// (see ShareScopeBirth): it starts the scope's learning period. Scopes
	// holds the scopes done learning, Learning those still in it, each
	// bounded by max_scopes: a flood of made-up host names evicts only
	// other scopes still learning (see rememberScope).
	Scopes   *termstore.Store
	Learning *termstore.Store
	// Blocked holds terms a taint took out of the baseline, until the
	// (event) time stored with them, and the hosts that showed them since.
	Blocked *termstore.Store
	// siblings are the trackers with the same kind of scope; hostTrackers
	// the host-scoped trackers, whose scopes say whether a host is still
	// learning (prevalence signals wait for that).
	siblings     []*Tracker
	hostTrackers []*Tracker

	// FlagKey is the attribute set on flagged events, RareFlagKey on events
	// that raise the rare signal.
	FlagKey     string
	RareFlagKey string

	prev prevalence

	// What the last Record did, for the processor and the shared store.
	taught   Taught
	blocked  bool
	sighting termstore.HostSighting

	buf        []byte
	spans      [MaxFields]compSpan
	lastReason string
}

// New compiles a tracker.
func New(spec Spec) (*Tracker, error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("tracker name is required")
	}
	if len(spec.Fields) == 0 || len(spec.Fields) > MaxFields {
		return nil, fmt.Errorf("tracker %q: fields must list 1 to %d fields, got %d", spec.Name, MaxFields, len(spec.Fields))
	}
	if spec.MaxTerms <= 0 || spec.MaxScopes <= 0 {
		return nil, fmt.Errorf("tracker %q: max_terms and max_scopes must be positive", spec.Name)
	}
	if spec.History <= 0 {
		return nil, fmt.Errorf("tracker %q: history must be positive", spec.Name)
	}
	if spec.Learning < 0 {
		return nil, fmt.Errorf("tracker %q: learning must not be negative", spec.Name)
	}
	pv, err := newPrevalence(&spec)
	if err != nil {
		return nil, fmt.Errorf("tracker %q: %w", spec.Name, err)
	}
	t := &Tracker{
		spec:     spec,
		history:  secs(spec.History),
		learning: secs(spec.Learning),
		Scopes:   termstore.New(spec.MaxScopes),
		Learning: termstore.New(spec.MaxScopes),
		Blocked:  termstore.NewWithHosts(min(spec.MaxTerms, maxBlocked), termstore.MaxHosts),
		FlagKey:  event.FirstSeenFlag(spec.Name),
		prev:     pv,
		buf:      make([]byte, 0, 256),
	}
	if pv.on {
		if spec.MaxTerms > MaxPrevalenceTerms {
			return nil, fmt.Errorf("tracker %q: max_terms above %d with prevalence", spec.Name, MaxPrevalenceTerms)
		}
		t.Terms = termstore.NewWithHosts(spec.MaxTerms, pv.hostCap)
	} else {
		t.Terms = termstore.New(spec.MaxTerms)
	}
	if pv.rare {
		t.RareFlagKey = event.FirstSeenFlag(spec.RareSignal)
	}
	for _, alts := range spec.Fields {
		if len(alts) == 0 {
			return nil, fmt.Errorf("tracker %q: empty field", spec.Name)
		}
		var c component
		for _, name := range alts {
			if name == "" {
				return nil, fmt.Errorf("tracker %q: empty field name", spec.Name)
			}
			c.alts = append(c.alts, alt{field: event.Lookup(name), kind: kindFor(name)})
		}
		t.comps = append(t.comps, c)
	}
	if spec.Scope == ScopeEnvironment && spec.EnvironmentField != "" {
		t.envField = event.Lookup(spec.EnvironmentField)
	}
	for _, p := range spec.Exclude {
		ex, err := compileExclusion(p)
		if err != nil {
			return nil, fmt.Errorf("tracker %q: exclude: %w", spec.Name, err)
		}
		t.exclusions = append(t.exclusions, ex)
	}
	if t.spec.When == nil {
		t.spec.When = condition.All{}
	}
	t.when = NewMemo(t.spec.When)
	return t, nil
}

// ShareWhen makes the tracker evaluate its condition through m, shared with
// other trackers whose Spec.WhenKey is the same.
func (t *Tracker) ShareWhen(m *Memo) { t.when = m }

// ShareScopeBirth tells the tracker about the other trackers whose scopes
// are the same (same scope kind and environment field). A scope's learning
// period then starts at its first sighting by any of them, not by this
// tracker alone: a host that ran programs for days and only now reaches
// its first external IP is past learning, and that first IP is flagged.
//
// It also gives environment-scoped trackers the host-scoped ones, whose
// scopes tell whether a host is still learning.
func (t *Tracker) ShareScopeBirth(all []*Tracker) {
	t.siblings = t.siblings[:0]
	t.hostTrackers = t.hostTrackers[:0]
	for _, o := range all {
		if o != t && o.spec.Scope == t.spec.Scope && o.spec.EnvironmentField == t.spec.EnvironmentField {
			t.siblings = append(t.siblings, o)
		}
		if t.spec.Scope == ScopeEnvironment && o.spec.Scope == ScopeHost {
			t.hostTrackers = append(t.hostTrackers, o)
		}
	}
}

func compileExclusion(p string) (exclusion, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return exclusion{}, fmt.Errorf("empty pattern")
	}
	if strings.Contains(p, "/") && !strings.HasPrefix(p, "/") {
		if pre, err := netip.ParsePrefix(p); err == nil {
			return exclusion{prefix: pre.Masked(), isCIDR: true, pattern: p}, nil
		}
	}
	lower := strings.TrimSuffix(strings.ToLower(p), ".")
	return exclusion{pattern: p, lower: lower, isGlob: glob.IsPattern(p)}, nil
}

func secs(d time.Duration) uint32 {
	s := d / time.Second
	if s > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(s)
}

// EventSeconds converts an event time to the store's clock: unix seconds,
// clamped to what a uint32 holds (1970–2106).
func EventSeconds(t time.Time) uint32 {
	s := t.Unix()
	switch {
	case s < 1:
		return 1
	case s > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}

// Name returns the tracker's name, which is also its signal name.
func (t *Tracker) Name() string { return t.spec.Name }

// Spec returns the compiled configuration.
func (t *Tracker) Spec() Spec { return t.spec }

// LastReason names why the last Observe returned Malformed.
func (t *Tracker) LastReason() string { return t.lastReason }

// Definition is a digest of everything that shapes the tracker's terms; a
// stored baseline is only reused when it matches, because a baseline built
// from other fields would make every term look new.
func (t *Tracker) Definition() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v1|%d|%s|", t.spec.Scope, t.spec.EnvironmentField)
	for _, alts := range t.spec.Fields {
		b.WriteString(strings.Join(alts, ","))
		b.WriteByte(';')
	}
	fmt.Fprintf(&b, "|%t", t.spec.OnlyExternal)
	return fmt.Sprintf("%016x", xxhash.Sum64String(b.String()))
}

// Observe decides whether the event shows a new term, records the term, and
// reports the result. ts is the event time in store seconds.
func (t *Tracker) Observe(v *event.View, ts uint32, env *Env) Result {
	term, scope, res := t.Term(v, env)
	if res != Located {
		return res
	}
	return t.Record(term, scope, ts, env)
}

// Term works out the event's term without recording it: the fingerprints of
// scope+term and of the scope alone, with Located; or why the event has no
// term for this tracker (NotApplicable, Excluded, Ignored, Malformed).
func (t *Tracker) Term(v *event.View, env *Env) (term, scope uint64, res Result) {
	// What Record reports is about this event only.
	t.taught, t.blocked = TaughtNothing, false
	env.view = v
	if !t.when.Match(v, env) {
		return 0, 0, NotApplicable
	}
	buf := t.buf[:0]
	// Scope prefix.
	switch t.spec.Scope {
	case ScopeHost:
		h, ok := v.Get(event.HostName)
		if !ok {
			t.lastReason = "missing_host"
			return 0, 0, Malformed
		}
		var good bool
		if buf, good = event.AppendValue(buf, h); !good {
			t.lastReason = "missing_host"
			return 0, 0, Malformed
		}
	case ScopeEnvironment:
		if t.envField != nil {
			if e, ok := v.Get(t.envField); ok {
				buf, _ = event.AppendValue(buf, e)
			}
		}
	}
	scopeLen := len(buf)
	buf = append(buf, 0)

	env.onlyExternal = t.spec.OnlyExternal
	for i := range t.comps {
		var (
			val  pcommon.Value
			kind Kind
			ok   bool
		)
		for _, a := range t.comps[i].alts {
			if val, ok = v.Get(a.field); ok {
				kind = a.kind
				break
			}
		}
		if !ok {
			t.buf = buf
			return 0, 0, NotApplicable
		}
		start := len(buf)
		var out Outcome
		var reason string
		buf, out, reason = kind.Append(buf, val, env)
		switch out {
		case ValueMalformed:
			t.buf = buf
			t.lastReason = reason
			return 0, 0, Malformed
		case ValueIgnored:
			t.buf = buf
			return 0, 0, Ignored
		}
		sp := &t.spans[i]
		sp.start, sp.end, sp.kind = start, len(buf), kind
		if _, isIP := kind.(ipKind); isIP {
			// The address ipKind.Append just parsed.
			sp.raw, sp.addr = val.Str(), env.ipAddr
		}
		buf = append(buf, 0x1f)
	}
	t.buf = buf
	if len(t.exclusions) > 0 && t.excluded(buf) {
		return 0, 0, Excluded
	}
	return xxhash.Sum64(buf), xxhash.Sum64(buf[:scopeLen]), Located
}

// Record records a term found by Term in the tracker's own stores at event
// time ts and says whether it is new here: Seen, NewTerm, RareTerm or
// NewTermLearning. With env.NoLearn it decides the same way but records
// nothing of the term. Taught then says what it added to the baseline.
func (t *Tracker) Record(term, scope uint64, ts uint32, env *Env) Result {
	t.taught, t.blocked, t.sighting = TaughtNothing, false, termstore.HostSighting{}
	if t.Blocked.Len() > 0 {
		if res, ok := t.recordBlocked(term, scope, ts, env); ok {
			return res
		}
	}
	if !t.prev.on {
		var prev uint32
		var found bool
		if env.NoLearn {
			prev, found = t.Terms.Lookup(term)
		} else {
			prev, found = t.Terms.Touch(term, ts)
		}
		if found && !t.Expired(prev, ts) {
			// A known term implies a known scope: its learning start was
			// recorded with the term's first sighting, so the common path
			// skips the scope tables altogether.
			return Seen
		}
		t.sighting = termstore.HostSighting{Prev: prev, Found: found, Expired: found}
		if !env.NoLearn {
			t.taught = TaughtTerm
		}
		return t.firstSighting(scope, ts, env)
	}
	var sg termstore.HostSighting
	if env.NoLearn {
		sg = t.Terms.PeekHostOf(term, ts, t.history, env)
	} else {
		sg = t.Terms.TouchHostOf(term, ts, t.history, env)
	}
	t.sighting = sg
	if sg.New() {
		if !env.NoLearn {
			t.taught = TaughtTerm
		}
		return t.firstSighting(scope, ts, env)
	}
	if sg.Had || int(sg.Hosts) >= t.prev.hostCap {
		return Seen
	}
	if !env.NoLearn {
		t.taught = TaughtHost
	}
	return t.PrevalentAt(int(sg.Hosts), scope, ts, t.RareThreshold(env), env.Clock, env.Host64())
}

// firstSighting decides a term seen for the first time (in its history):
// new, unless its scope is learning.
func (t *Tracker) firstSighting(scope uint64, ts uint32, env *Env) Result {
	first := t.rememberScope(scope, ts, env.Clock)
	if t.InLearning(first, ts) {
		return NewTermLearning
	}
	return NewTerm
}

// rememberScope records the scope's first event (the earlier of what is
// held and ts) and returns it. A scope new to this tracker starts at its
// earliest sighting by a sibling, and goes to the done table when that lies
// a learning period before the clock, else to the learning table.
func (t *Tracker) rememberScope(scope uint64, ts, clock uint32) uint32 {
	if _, ok := t.Scopes.Lookup(scope); ok {
		first, _ := t.Scopes.Remember(scope, ts)
		return first
	}
	if _, ok := t.Learning.Lookup(scope); ok {
		first, _ := t.Learning.Remember(scope, ts)
		return first
	}
	born := ts
	for _, o := range t.siblings {
		if f, ok := o.LookupScope(scope); ok && f < born {
			born = f
		}
	}
	if t.doneBy(born, clock) {
		t.Scopes.Remember(scope, born)
		return born
	}
	t.insertLearning(scope, born, clock)
	return born
}

// insertLearning adds a scope to the learning table. When the table is
// full, the scopes at its least recently used end that are done learning by
// now move to the done table first, so the eviction that makes room takes
// a scope still learning: a flood of made-up hosts pushes out only its own
// kind, never a host that finished learning. Each scope moves once, so the
// cost stays constant per insertion.
func (t *Tracker) insertLearning(scope uint64, born, clock uint32) {
	for t.Learning.Len() >= t.Learning.Cap() {
		fp, first, _ := t.Learning.Oldest()
		if !t.doneBy(first, clock) {
			break
		}
		t.Learning.Delete(fp)
		t.Scopes.Remember(fp, first)
	}
	t.Learning.Remember(scope, born)
}

// doneBy reports whether a scope first seen at first has finished learning
// by clock, the newest trusted event time.
func (t *Tracker) doneBy(first, clock uint32) bool {
	return t.learning == 0 || clock >= first && clock-first >= t.learning
}

// LookupScope returns the first-event time of a scope held in either table.
func (t *Tracker) LookupScope(scope uint64) (uint32, bool) {
	if f, ok := t.Scopes.Lookup(scope); ok {
		return f, true
	}
	return t.Learning.Lookup(scope)
}

// Taught says what the last Record added to the baseline.
func (t *Tracker) Taught() Taught { return t.taught }

// LastBlocked reports whether the last Record decided from the taint blocks
// (the term is kept out of the baseline): no shared store is asked then.
func (t *Tracker) LastBlocked() bool { return t.blocked }

// LastSighting is what the last Record found in the term store.
func (t *Tracker) LastSighting() termstore.HostSighting { return t.sighting }

// Expired reports whether a term last seen at prev is new again at ts: more
// than the history window later. Earlier events never make a term new.
func (t *Tracker) Expired(prev, ts uint32) bool {
	return ts > prev && ts-prev > t.history
}

// InLearning reports whether ts falls inside the learning period of a scope
// whose first event was at first.
func (t *Tracker) InLearning(first, ts uint32) bool {
	return ts >= first && ts-first < t.learning
}

func (t *Tracker) excluded(buf []byte) bool {
	for i := range t.comps {
		sp := &t.spans[i]
		_, isIP := sp.kind.(ipKind)
		var s string
		if isIP {
			s = sp.raw
		} else {
			b := buf[sp.start:sp.end]
			s = unsafe.String(unsafe.SliceData(b), len(b))
		}
		_, fold := sp.kind.(domainKind)
		if _, h := sp.kind.(hashKind); h {
			fold = true
		}
		for j := range t.exclusions {
			ex := &t.exclusions[j]
			switch {
			case ex.isCIDR:
				if isIP && ex.prefix.Contains(sp.addr) {
					return true
				}
			case ex.isGlob:
				p := ex.pattern
				if fold {
					p = ex.lower
				}
				if glob.Match(p, s) {
					return true
				}
			default:
				if fold && ex.lower == s || !fold && ex.pattern == s {
					return true
				}
			}
		}
	}
	return false
}
