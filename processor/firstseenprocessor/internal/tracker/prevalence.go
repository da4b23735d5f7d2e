package tracker

import (
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/termstore"
)

// Prevalence: an environment-scoped tracker also counts on how many
// distinct hosts each term was seen within its history (the term's host
// set, bounded; see termstore.NewWithHosts). A host that shows a held term
// it had not shown before gets:
//
//   - the tracker's own signal (as for a new term) while fewer than
//     KnownAfterHosts hosts had shown it: the term is not known yet, so one
//     host cannot teach the whole fleet a C2 address ahead of time;
//   - the rare signal while at most RareHosts hosts, or RareShare of the
//     environment's active hosts, had shown it: the second, third, … host a
//     worm reaches;
//   - nothing beyond.
//
// A host that showed the term before is not flagged for it again:
// prevalence counts hosts, not sightings. These prevalence signals wait
// for the host's own learning period (a new host running its role's
// binaries is not evidence), taken from the host-scoped trackers; a host
// none of them has seen counts as past learning.

// MaxPrevalenceTerms bounds max_terms of a tracker with prevalence (host
// set indices take 29 bits).
const MaxPrevalenceTerms = 1<<29 - 2

// maxBlocked bounds the terms a tracker keeps blocked after taints.
const maxBlocked = 1 << 16

type prevalence struct {
	on   bool
	rare bool
	// hostCap is the host-set bound: enough to tell known_after_hosts and
	// the largest rare threshold apart; a set that reaches it is saturated.
	hostCap    int
	knownAfter int
	rareHosts  int
	rareShare  float64
}

func newPrevalence(spec *Spec) (prevalence, error) {
	var errs error
	if spec.KnownAfterHosts < 0 || spec.KnownAfterHosts > termstore.MaxHosts {
		errs = errors.Join(errs, fmt.Errorf("known_after_hosts must be between 1 and %d", termstore.MaxHosts))
	}
	if spec.RareHosts < 0 || spec.RareHosts >= termstore.MaxHosts {
		errs = errors.Join(errs, fmt.Errorf("rare_hosts must be between 0 and %d", termstore.MaxHosts-1))
	}
	if !(spec.RareShare >= 0 && spec.RareShare <= 1) {
		errs = errors.Join(errs, errors.New("rare_share must be between 0 and 1"))
	}
	if errs != nil || spec.Scope != ScopeEnvironment {
		return prevalence{}, errs
	}
	p := prevalence{
		knownAfter: max(spec.KnownAfterHosts, 1),
		rare:       spec.RareSignal != "" && (spec.RareHosts > 0 || spec.RareShare > 0),
		rareHosts:  spec.RareHosts,
		rareShare:  spec.RareShare,
	}
	p.hostCap = p.knownAfter
	if p.rare {
		p.hostCap = max(p.hostCap, p.rareHosts+1)
		if p.rareShare > 0 {
			// A share of the active hosts can ask for any count: count up
			// to the bound.
			p.hostCap = termstore.MaxHosts
		}
	}
	p.on = p.hostCap > 1
	return p, nil
}

// HasPrevalence reports whether the tracker counts hosts per term.
func (t *Tracker) HasPrevalence() bool { return t.prev.on }

// RareSignal is the signal of rare raises, "" when the tracker has none.
func (t *Tracker) RareSignal() string {
	if !t.prev.rare {
		return ""
	}
	return t.spec.RareSignal
}

// UsesShare reports whether the tracker needs active-host counts.
func (t *Tracker) UsesShare() bool { return t.prev.rare && t.prev.rareShare > 0 }

// HostCap is the host-set bound (0 without prevalence).
func (t *Tracker) HostCap() int {
	if !t.prev.on {
		return 0
	}
	return t.prev.hostCap
}

// RareThreshold is the most hosts a term may have been seen on and still be
// rare, for the event's environment, from the local count of active hosts.
func (t *Tracker) RareThreshold(env *Env) int {
	n := 0
	if t.UsesShare() && env.Active != nil {
		n = env.Active.Count(env.env32)
	}
	return t.RareThresholdFor(n)
}

// RareThresholdFor is RareThreshold for a given number of active hosts.
func (t *Tracker) RareThresholdFor(active int) int {
	if !t.prev.rare {
		return 0
	}
	th := t.prev.rareHosts
	if t.prev.rareShare > 0 {
		th = max(th, int(t.prev.rareShare*float64(active)))
	}
	return min(th, t.prev.hostCap-1)
}

// PrevalentAt decides a held term on a host (host64, as host-scoped trackers
// key it) that had not shown it, seen before on hosts distinct hosts (see
// the comment above); rareMax is the rare threshold, clock the processor's.
func (t *Tracker) PrevalentAt(hosts int, scope uint64, ts uint32, rareMax int, clock uint32, host64 uint64) Result {
	var res Result
	switch {
	case hosts < t.prev.knownAfter:
		res = NewTerm
	case t.prev.rare && hosts <= rareMax:
		res = RareTerm
	default:
		return Seen
	}
	first := t.rememberScope(scope, ts, clock)
	if t.InLearning(first, ts) || t.HostLearning(host64, ts) {
		return NewTermLearning
	}
	return res
}

// HostLearning reports whether a host is inside the learning period of a
// host-scoped tracker that knows it.
func (t *Tracker) HostLearning(host64 uint64, ts uint32) bool {
	for _, h := range t.hostTrackers {
		if first, ok := h.LookupScope(host64); ok && h.InLearning(first, ts) {
			return true
		}
	}
	return false
}

// recordBlocked decides a term a taint keeps out of the baseline, until the
// time stored with it: each host that shows it is flagged once, as for a
// new term, and nothing is recorded. ok is false when the term is not
// blocked (any more).
func (t *Tracker) recordBlocked(term, scope uint64, ts uint32, env *Env) (Result, bool) {
	until, ok := t.Blocked.Lookup(term)
	if !ok {
		return 0, false
	}
	if ts >= until {
		t.Blocked.Delete(term)
		return 0, false
	}
	t.blocked = true
	host := uint32(1) // a host-scoped term is its host's already
	if t.spec.Scope == ScopeEnvironment {
		host = env.Host32()
	}
	if t.Blocked.TouchHost(term, until, host, 1<<32-1).Had {
		return Seen, true
	}
	return t.firstSighting(scope, ts, env), true
}

// Forget takes back what an event taught (see Taught): a term it put into
// the baseline is deleted and kept out of it until until (event seconds; 0:
// no block); a host it added to a term's host set is removed from it. It
// reports whether anything held was changed.
func (t *Tracker) Forget(term uint64, host uint32, what Taught, until uint32) bool {
	switch what {
	case TaughtTerm:
		deleted := t.Terms.Delete(term)
		if until > 0 {
			t.Block(term, until)
		}
		return deleted
	case TaughtHost:
		return t.Terms.RemoveHost(term, host)
	}
	return false
}

// Block keeps term out of the baseline until until (event seconds); a
// later block of the same term extends it.
func (t *Tracker) Block(term uint64, until uint32) {
	t.Blocked.Touch(term, until)
}

// Host32 is the event's 32-bit host fingerprint (of the event a tracker's
// Term, or EventHost, last saw), worked out on first use.
func (env *Env) Host32() uint32 {
	env.ensureHost()
	return env.host32
}

// HostFingerprint is Host32, for termstore's host sets (termstore.HostOf).
func (env *Env) HostFingerprint() uint32 { return env.Host32() }

// Host64 is the event's host fingerprint, as host-scoped trackers key the
// host's scope.
func (env *Env) Host64() uint64 {
	env.ensureHost()
	return env.host64
}

// Env32 is the event's environment fingerprint.
func (env *Env) Env32() uint32 {
	env.ensureHost()
	return env.env32
}

// EventHost points env at the event (as Term does) and works out its host
// and environment fingerprints now.
func (env *Env) EventHost(v *event.View) {
	env.view = v
	env.ensureHost()
}

// ensureHost works out the event's host and environment fingerprints once
// per event: host64 is what host-scoped trackers use as the host's scope
// (an absent host.name is the empty name, one host of its own), host32 its
// non-zero 32-bit form for host sets; env32 the environment field's value.
func (env *Env) ensureHost() {
	if env.hostSet && env.hostEvent == env.Event {
		return
	}
	env.hostSet, env.hostEvent = true, env.Event
	v, envField := env.view, env.envField
	if v == nil {
		envField = nil
	}
	b := env.scratch[:0]
	if v != nil {
		if val, ok := v.Get(event.HostName); ok {
			b, _ = event.AppendValue(b, val)
		}
	}
	env.host64 = xxhash.Sum64(b)
	env.host32 = max(uint32(env.host64>>32), 1)
	env.env32 = noEnv32
	if envField != nil {
		b = b[:0]
		if val, ok := v.Get(envField); ok {
			b, _ = event.AppendValue(b, val)
		}
		env.env32 = uint32(xxhash.Sum64(b))
	}
	env.scratch = b
}

// noEnv32 is the environment of events without the environment field (and
// of every event without environment_field): the empty value's.
var noEnv32 = uint32(xxhash.Sum64(nil))
