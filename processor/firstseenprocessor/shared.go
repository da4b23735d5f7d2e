package firstseenprocessor

import (
	"github.com/cairnsec/cairn/internal/redisconf"

	"context"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/termstore"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/sharedstore"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/tracker"
)

// reconcileChunk bounds the terms written in one reconciliation round trip.
const reconcileChunk = 8192

// shared runs the trackers whose terms live in Redis. Every method except
// probe is called with the processor's mutex held.
//
// Per batch: pass 1 (observeShared) works out each event's terms, records
// them in the tracker's local store as store: local would, and answers from
// the cache of terms Redis confirmed recently; the others become requests.
// One round trip checks and records them all (exec); then pass 2 (apply)
// writes the verdicts. A term is new when Redis did not hold it (or held it
// for longer ago than the history) and this collector has not seen it either.
type shared struct {
	logger *zap.Logger
	// local is the processor's tracker environment (its active hosts).
	local *tracker.Env
	cfg   RedisConfig
	store *sharedstore.Store
	// gran: a confirmed term is sent again once event time moved this much
	// past what Redis holds (persist_granularity), to refresh its last-seen
	// time and TTL.
	gran time.Duration
	// byTracker is indexed like firstSeen.trackers; nil for local trackers.
	byTracker []*sharedTracker

	healthy bool
	probing bool
	// lastTrip is how long the last batch's round trip took (benchmarks).
	lastTrip time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup

	// Per-batch scratch.
	reqs     []request
	marks    []mark
	termIdx  map[reqKey]int
	scopeIdx map[reqKey]int
	groups   []*sharedstore.Group
	keyBuf   []byte

	// What the last observeShared located, for the caller's teachings.
	lastTerm uint64
	lastTS   uint32

	// Active hosts fleet-wide (rare_share): one sorted set per environment
	// in Redis. usesShare: some shared tracker needs them. active holds
	// this batch's group per environment; counts what Redis last said, and
	// when; sentActive the time last sent per (environment, host), so that
	// a host is sent once per persist_granularity.
	usesShare    bool
	activeWindow uint32
	active       map[uint32]*sharedstore.Group
	counts       map[uint32]activeCount
	sentActive   *termstore.Store

	sharedOK, sharedFailed, sharedSkipped metric.MeasurementOption
}

type activeCount struct {
	n  int
	at time.Time
}

// activeRefresh: how often (wall time) an environment's active-host count
// is asked again when nothing else needs sending.
const activeRefresh = 10 * time.Second

// maxActiveEnvs bounds the environments whose counts are cached.
const maxActiveEnvs = 4096

type sharedTracker struct {
	t      *tracker.Tracker
	prefix string // <key_prefix><tracker>:<definition>:
	// prevalence: the tracker counts hosts per term; its terms go through
	// the prevalence script and are cached per (term, host).
	prevalence bool
	// confirmed: terms Redis holds, with the last-seen time it holds (at
	// least); bounded like the tracker (max_terms). With prevalence, keyed
	// by the term when Redis holds it saturated (known on every host), else
	// by pairKey(term, host) when Redis holds the host in its set.
	confirmed *termstore.Store
	// scopes: scope fingerprint -> first event time Redis holds, and when it
	// was last refreshed (its TTL).
	scopes map[uint64]scopeInfo
	// pending: what was decided locally while Redis was unavailable, to be
	// written to it when it returns. Terms keep their latest time, scopes
	// their earliest.
	pendingTerms  map[uint64]pendingTerm
	pendingScopes map[uint64]uint32

	termGroup   sharedstore.Group
	scopeGroup  sharedstore.Group
	forgetGroup sharedstore.Group
	termFPs     []uint64
	scopeFPs    []uint64

	degradedOpt metric.MeasurementOption
	reconOpts   map[string]metric.MeasurementOption
	degraded    int64
}

type scopeInfo struct {
	first     uint32
	refreshed time.Time
}

type reqKey struct {
	tr int
	fp uint64
}

// pendingTerm is a term (with prevalence: a term on a host) decided
// locally, to be recorded in Redis.
type pendingTerm struct {
	term uint64
	host uint32
	ts   uint32
}

// pairKey keys a (term, host) pair in the confirmed cache and the pending
// map of a prevalence tracker.
func pairKey(term uint64, host uint32) uint64 {
	return term ^ (uint64(host)+1)*0x9E3779B97F4A7C15
}

type request struct {
	tr          int
	term, scope uint64
	check       uint32 // event time of the term's first event in the batch
	local       tracker.Result
	event       int
	termOp      int
	scopeOp     int // -1: the scope is confirmed in the cache
	// fixed: decided locally (a taint block, or a term that must not be
	// learned by a tracker without prevalence); nothing is sent.
	fixed bool
	// Prevalence: the event's host, the local sighting, the processor's
	// clock and the environment, for the verdict in decide.
	host     uint32
	host64   uint64
	env32    uint32
	clock    uint32
	sighting termstore.HostSighting
}

type mark struct {
	event    int
	tr       int
	res      tracker.Result
	degraded bool
}

func newShared(p *firstSeen, names map[string]bool) *shared {
	cfg := p.cfg.Redis
	s := &shared{
		local:         &p.env,
		active:        map[uint32]*sharedstore.Group{},
		counts:        map[uint32]activeCount{},
		logger:        p.logger,
		cfg:           cfg,
		gran:          p.cfg.PersistGranularity,
		byTracker:     make([]*sharedTracker, len(p.trackers)),
		healthy:       true,
		stop:          make(chan struct{}),
		termIdx:       map[reqKey]int{},
		scopeIdx:      map[reqKey]int{},
		sharedOK:      metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "ok"))),
		sharedFailed:  metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "failed"))),
		sharedSkipped: metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "skipped"))),
	}
	for i, t := range p.trackers {
		if !names[t.Name()] {
			continue
		}
		spec := t.Spec()
		name := attribute.String("tracker", t.Name())
		st := &sharedTracker{
			t:             t,
			prefix:        cfg.KeyPrefix + t.Name() + ":" + t.Definition() + ":",
			prevalence:    t.HasPrevalence(),
			confirmed:     termstore.New(spec.MaxTerms),
			scopes:        map[uint64]scopeInfo{},
			pendingTerms:  map[uint64]pendingTerm{},
			pendingScopes: map[uint64]uint32{},
			termGroup:     sharedstore.Group{TTL: spec.History},
			scopeGroup:    sharedstore.Group{Scopes: true, TTL: spec.History + spec.Learning},
			forgetGroup:   sharedstore.Group{Kind: sharedstore.Forget, TTL: spec.History},
			degradedOpt:   metric.WithAttributeSet(attribute.NewSet(name)),
			reconOpts:     map[string]metric.MeasurementOption{},
		}
		if st.prevalence {
			st.termGroup.Kind = sharedstore.Prevalence
			st.termGroup.HostCap = t.HostCap()
			st.termGroup.History = uint32(spec.History / time.Second)
		}
		if t.UsesShare() {
			s.usesShare = true
			s.activeWindow = max(s.activeWindow, uint32(spec.History/time.Second))
			if s.sentActive == nil {
				s.sentActive = termstore.New(spec.MaxScopes)
			}
		}
		for _, o := range []string{"recorded", "known", "dropped"} {
			st.reconOpts[o] = metric.WithAttributeSet(attribute.NewSet(name, attribute.String("outcome", o)))
		}
		s.byTracker[i] = st
	}
	return s
}

func (s *shared) start(ctx context.Context) error {
	s.cfg.LogWarnings(s.logger, "firstseen")
	cc, err := s.cfg.ClientConfig(ctx)
	if err != nil {
		return err
	}
	client, cluster := redisconf.NewClient(cc)
	s.store = sharedstore.New(client, cluster)
	// Not reaching Redis at start is no reason to stop the pipeline: the
	// first batch finds out, falls back, and the probe takes over.
	lctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	_ = s.store.LoadScripts(lctx)
	return nil
}

func (s *shared) shutdown(p *firstSeen) error {
	p.mu.Lock()
	close(s.stop)
	p.mu.Unlock()
	s.wg.Wait()
	if s.store == nil {
		return nil
	}
	// Terms decided locally while Redis was unavailable are written before
	// leaving, if Redis answers now, so that other collectors do not flag
	// them again; bounded, so a Redis still down does not hold the
	// shutdown.
	deadline := time.Now().Add(max(s.cfg.DialTimeout, 10*s.cfg.Timeout))
	for time.Now().Before(deadline) {
		done, err := s.reconcileOnce(p)
		if done || err != nil {
			break
		}
	}
	return s.store.Close()
}

// observeShared is pass 1 for one shared tracker and one event.
func (s *shared) observeShared(p *firstSeen, i int, v *event.View, ts uint32, idx int) {
	st := s.byTracker[i]
	t := st.t
	env := &p.env
	s.lastTerm, s.lastTS = 0, ts
	term, scope, res := t.Term(v, env)
	if res != tracker.Located {
		if res == tracker.Malformed {
			p.stats[i].malformed[t.LastReason()]++
		}
		return
	}
	local := t.Record(term, scope, ts, env)
	s.lastTerm = term
	if t.LastBlocked() || env.NoLearn && !st.prevalence {
		// Decided here: a taint keeps the term out of the baseline in this
		// collector, and the term script of a tracker without prevalence
		// cannot look without recording.
		s.reqs = append(s.reqs, request{tr: i, event: idx, local: local, fixed: true, termOp: -1, scopeOp: -1})
		return
	}
	host := env.Host32()
	ck := term
	if st.prevalence {
		ck = pairKey(term, host)
	}
	k := reqKey{i, ck}
	if j, dup := s.termIdx[k]; dup {
		// Later events of the batch with the same term (and host): the
		// first one carries the verdict; record the latest time.
		op := &st.termGroup.Ops[s.reqs[j].termOp]
		op.TS = max(op.TS, ts)
		op.Learn = op.Learn || !env.NoLearn
		return
	}
	if s.confirmedFresh(st, term, ck, ts) {
		return
	}
	r := request{tr: i, term: term, scope: scope, check: ts, local: local, event: idx, scopeOp: -1,
		host: host, host64: env.Host64(), env32: env.Env32(), clock: env.Clock, sighting: t.LastSighting()}
	r.termOp = len(st.termGroup.Ops)
	st.termGroup.Ops = append(st.termGroup.Ops, sharedstore.Op{Key: s.key(st.prefix, 't', term), TS: ts, Host: host, Learn: !env.NoLearn})
	st.termFPs = append(st.termFPs, term)
	if info, ok := st.scopes[scope]; !ok || time.Since(info.refreshed) >= s.gran {
		sk := reqKey{i, scope}
		j, dup := s.scopeIdx[sk]
		if !dup {
			first := ts
			if f, ok := t.Scopes.Lookup(scope); ok {
				first = min(f, ts)
			}
			j = len(st.scopeGroup.Ops)
			st.scopeGroup.Ops = append(st.scopeGroup.Ops, sharedstore.Op{Key: s.key(st.prefix, 's', scope), TS: first})
			st.scopeFPs = append(st.scopeFPs, scope)
			s.scopeIdx[sk] = j
		}
		r.scopeOp = j
	}
	s.termIdx[k] = len(s.reqs)
	s.reqs = append(s.reqs, r)
}

// confirmedFresh reports whether Redis confirmed recently (within
// persist_granularity of event time) that it holds the term (for any host:
// without prevalence, or saturated) or this host's sighting of it.
func (s *shared) confirmedFresh(st *sharedTracker, term, pair uint64, ts uint32) bool {
	fresh := func(k uint64) bool {
		c, ok := st.confirmed.Lookup(k)
		if ok && (ts <= c || time.Duration(ts-c)*time.Second < s.gran) {
			st.confirmed.Touch(k, c) // recency only
			return true
		}
		return false
	}
	return fresh(term) || st.prevalence && fresh(pair)
}

// noteActive queues a trusted event's host for the fleet-wide active count
// of its environment, once per persist_granularity of event time per host,
// and asks for the count again when it is older than activeRefresh.
func (s *shared) noteActive(env32, host32, ts, clock uint32) {
	g := s.active[env32]
	key := uint64(env32)<<32 | uint64(host32)
	if last, ok := s.sentActive.Lookup(key); !ok || ts > last && time.Duration(ts-last)*time.Second >= s.gran {
		s.sentActive.Touch(key, ts)
		g = s.activeGroup(env32)
		g.Ops = append(g.Ops, sharedstore.Op{Host: host32, TS: ts})
	}
	if c, ok := s.counts[env32]; !ok || time.Since(c.at) >= activeRefresh {
		g = s.activeGroup(env32)
	}
	if g != nil && clock > s.activeWindow {
		g.MinTS = max(g.MinTS, clock-s.activeWindow)
	}
}

func (s *shared) activeGroup(env32 uint32) *sharedstore.Group {
	g := s.active[env32]
	if g == nil {
		g = &sharedstore.Group{Kind: sharedstore.Active, Key: s.cfg.KeyPrefix + "hosts:" + sharedstore.HostHex(env32),
			TTL: time.Duration(s.activeWindow)*time.Second + time.Hour}
		s.active[env32] = g
	}
	return g
}

// activeCount is the fleet-wide count of active hosts Redis last gave for
// an environment (0 when unknown).
func (s *shared) activeCount(env32 uint32) int { return s.counts[env32].n }

// forget undoes in this collector's cache, and queues for Redis, what a
// tainted event taught a shared tracker: its host leaves the term's host
// set (with prevalence; without, Redis keeps the term, see the README).
func (s *shared) forget(st *sharedTracker, term uint64, host uint32) {
	st.confirmed.Delete(term)
	if !st.prevalence {
		return
	}
	pk := pairKey(term, host)
	st.confirmed.Delete(pk)
	delete(st.pendingTerms, pk)
	st.forgetGroup.Ops = append(st.forgetGroup.Ops, sharedstore.Op{Key: s.key(st.prefix, 't', term), Host: host})
}

func (s *shared) key(prefix string, kind byte, fp uint64) string {
	b := append(s.keyBuf[:0], prefix...)
	b = append(b, kind, ':')
	b = strconv.AppendUint(b, fp, 16)
	s.keyBuf = b
	return string(b)
}

// exec sends the batch's requests in one round trip, unless Redis is known
// to be unavailable. The round trip is bounded by the latency budget.
func (s *shared) exec(ctx context.Context, p *firstSeen) {
	s.lastTrip = 0
	s.groups = s.groups[:0]
	for _, st := range s.byTracker {
		if st == nil {
			continue
		}
		if len(st.termGroup.Ops) > 0 {
			s.groups = append(s.groups, &st.termGroup)
		}
		if len(st.scopeGroup.Ops) > 0 {
			s.groups = append(s.groups, &st.scopeGroup)
		}
		if len(st.forgetGroup.Ops) > 0 {
			s.groups = append(s.groups, &st.forgetGroup)
		}
	}
	for _, g := range s.active {
		s.groups = append(s.groups, g)
	}
	if len(s.groups) == 0 {
		return
	}
	tb := p.telemetry
	if !s.healthy {
		tb.ProcessorFirstseenShared.Add(ctx, 1, s.sharedSkipped)
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	t0 := time.Now()
	err := s.store.Exec(rctx, s.groups)
	s.lastTrip = time.Since(t0)
	cancel()
	if err != nil {
		tb.ProcessorFirstseenShared.Add(ctx, 1, s.sharedFailed)
		s.logger.Warn("Shared first-seen store did not answer in time: deciding from the local store until it is back",
			zap.Duration("budget", s.cfg.Timeout), zap.Error(err))
		s.markDown(p)
		return
	}
	tb.ProcessorFirstseenShared.Add(ctx, 1, s.sharedOK)
}

// decide turns the round trip's answers into verdicts (pass 2 input).
func (s *shared) decide(p *firstSeen) {
	now := time.Now()
	for env32, g := range s.active {
		if g.CountDone {
			s.counts[env32] = activeCount{n: int(g.Count), at: now}
		}
	}
	if len(s.counts) > maxActiveEnvs {
		clear(s.counts) // rare: more environments than that
	}
	for _, st := range s.byTracker {
		if st == nil {
			continue
		}
		for j := range st.scopeGroup.Ops {
			op := &st.scopeGroup.Ops[j]
			if op.Done {
				st.scopes[st.scopeFPs[j]] = scopeInfo{first: op.Stored, refreshed: now}
			}
		}
		if len(st.scopes) > st.t.Spec().MaxScopes {
			clear(st.scopes) // rare: more environments than max_scopes
		}
	}
	for k := range s.reqs {
		r := &s.reqs[k]
		if r.fixed {
			s.marks = append(s.marks, mark{event: r.event, tr: r.tr, res: r.local})
			continue
		}
		st := s.byTracker[r.tr]
		t := st.t
		op := &st.termGroup.Ops[r.termOp]
		if !op.Done {
			if op.Learn {
				s.defer1(p, st, r, op.TS)
			}
			s.marks = append(s.marks, mark{event: r.event, tr: r.tr, res: r.local, degraded: true})
			continue
		}
		sharedNew := op.Stored == 0 || t.Expired(op.Stored, r.check)
		if st.prevalence {
			if res, ok := s.decidePrevalent(st, r, op, sharedNew); ok {
				s.marks = append(s.marks, mark{event: r.event, tr: r.tr, res: res})
			}
			continue
		}
		st.confirmed.Touch(r.term, max(op.Stored, op.TS))
		if !sharedNew || r.local == tracker.Seen {
			continue
		}
		res := tracker.NewTerm
		if t.InLearning(s.scopeFirst(st, r), r.check) {
			res = tracker.NewTermLearning
		}
		s.marks = append(s.marks, mark{event: r.event, tr: r.tr, res: res})
	}
}

// scopeFirst is the earliest first event of the request's scope known here
// or to Redis.
func (s *shared) scopeFirst(st *sharedTracker, r *request) uint32 {
	first, known := st.t.LookupScope(r.scope)
	if !known {
		first = r.check
	}
	if r.scopeOp >= 0 && st.scopeGroup.Ops[r.scopeOp].Done {
		first = min(first, st.scopeGroup.Ops[r.scopeOp].Stored)
	} else if info, ok := st.scopes[r.scope]; ok {
		first = min(first, info.first)
	}
	return first
}

// decidePrevalent is the verdict of a prevalence tracker: what Redis and
// this collector know of the term, whichever knows more (the most hosts;
// the host's own sighting if either has it), decided as the local tracker
// would (tracker.Prevalent). ok is false for Seen.
func (s *shared) decidePrevalent(st *sharedTracker, r *request, op *sharedstore.Op, sharedNew bool) (tracker.Result, bool) {
	t := st.t
	rn, rhad := op.Hosts, op.Had
	if sharedNew {
		rn, rhad = 0, false
	}
	if op.Learn {
		// Redis holds the host now: cache the pair, or the term once its set
		// is saturated (known on every host).
		held := max(op.Stored, op.TS)
		if rn+1 >= t.HostCap() {
			st.confirmed.Touch(r.term, held)
		} else {
			st.confirmed.Touch(pairKey(r.term, r.host), held)
		}
	} else if rn >= t.HostCap() {
		st.confirmed.Touch(r.term, op.Stored)
	}
	ln, lhad := int(r.sighting.Hosts), r.sighting.Had
	if r.sighting.New() {
		ln, lhad = 0, false
	}
	n, had := max(rn, ln), rhad || lhad
	switch {
	case n == 0:
		res := tracker.NewTerm
		if t.InLearning(s.scopeFirst(st, r), r.check) {
			res = tracker.NewTermLearning
		}
		return res, true
	case had || n >= t.HostCap():
		return tracker.Seen, false
	}
	// Active hosts: the fleet's count from Redis, or this collector's own
	// when it knows more (Redis not asked yet).
	active := s.activeCount(r.env32)
	if p := s.local.Active; p != nil {
		active = max(active, p.Count(r.env32))
	}
	res := t.PrevalentAt(n, r.scope, r.check, t.RareThresholdFor(active), r.clock, r.host64)
	return res, res != tracker.Seen
}

// defer1 keeps a locally decided term (and its scope) for reconciliation.
func (s *shared) defer1(p *firstSeen, st *sharedTracker, r *request, ts uint32) {
	st.degraded++
	pk := r.term
	if st.prevalence {
		pk = pairKey(r.term, r.host)
	}
	if old, ok := st.pendingTerms[pk]; ok {
		old.ts = max(old.ts, ts)
		st.pendingTerms[pk] = old
	} else if len(st.pendingTerms) < st.t.Spec().MaxTerms {
		st.pendingTerms[pk] = pendingTerm{term: r.term, host: r.host, ts: ts}
	} else {
		p.telemetry.ProcessorFirstseenReconciled.Add(context.Background(), 1, st.reconOpts["dropped"])
	}
	first := r.check
	if f, ok := st.t.LookupScope(r.scope); ok {
		first = min(first, f)
	}
	if old, ok := st.pendingScopes[r.scope]; !ok || first < old {
		st.pendingScopes[r.scope] = first
	}
}

// apply is pass 2: it writes the verdicts of the batch's requests.
func (s *shared) apply(p *firstSeen, ld plog.Logs) {
	if len(s.marks) == 0 {
		return
	}
	v := p.view
	allIDs := p.cfg.EventIDs == eventIDsAll
	k, idx := 0, 0
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		if k >= len(s.marks) || s.marks[k].event != idx {
			idx++
			return
		}
		v.Reset(res, rec)
		degraded := false
		for ; k < len(s.marks) && s.marks[k].event == idx; k++ {
			m := s.marks[k]
			degraded = degraded || m.degraded
			if m.res != tracker.Malformed {
				p.apply(v, m.tr, m.res, allIDs)
			}
		}
		if degraded {
			v.SetFlag(event.FirstSeenDegradedKey)
		}
		idx++
	})
}

// reset clears the per-batch scratch and records per-batch metrics.
func (s *shared) reset(ctx context.Context, p *firstSeen) {
	for _, st := range s.byTracker {
		if st == nil {
			continue
		}
		if st.degraded > 0 {
			p.telemetry.ProcessorFirstseenDegraded.Add(ctx, st.degraded, st.degradedOpt)
			st.degraded = 0
		}
		st.termGroup.Ops = st.termGroup.Ops[:0]
		st.scopeGroup.Ops = st.scopeGroup.Ops[:0]
		st.forgetGroup.Ops = st.forgetGroup.Ops[:0]
		st.termFPs = st.termFPs[:0]
		st.scopeFPs = st.scopeFPs[:0]
	}
	// Active groups are made again when needed: an environment without
	// news costs nothing.
	clear(s.active)
	s.reqs = s.reqs[:0]
	s.marks = s.marks[:0]
	clear(s.termIdx)
	clear(s.scopeIdx)
}

// markDown switches to local decisions and starts the probe.
func (s *shared) markDown(p *firstSeen) {
	s.healthy = false
	if s.probing {
		return
	}
	s.probing = true
	s.wg.Add(1)
	go s.probe(p)
}

// probe waits for Redis to answer, then writes what was decided locally
// meanwhile. It runs without the processor's mutex except to swap state.
func (s *shared) probe(p *firstSeen) {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.RetryInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DialTimeout)
		err := s.store.Ping(ctx)
		if err == nil {
			// A restarted Redis has lost its scripts: load them before
			// batches need them.
			_ = s.store.LoadScripts(ctx)
		}
		cancel()
		if err != nil {
			continue
		}
		p.mu.Lock()
		if !s.healthy {
			s.logger.Info("Shared first-seen store answers again: reconciling the terms decided locally")
		}
		// New batches use Redis again right away; a term still pending is
		// known locally, so Redis answering "absent" for it does not make it
		// new.
		s.healthy = true
		p.mu.Unlock()
		if s.reconcile(p) {
			return
		}
	}
}

type reconOp struct {
	st *sharedTracker
	fp uint64 // the pending key (a scope, a term, or a term and host)
	pt pendingTerm
}

// reconcile writes the pending terms and scopes in chunks. It reports true
// when nothing is left (the probe ends), false after a failure.
func (s *shared) reconcile(p *firstSeen) bool {
	for {
		p.mu.Lock()
		select {
		case <-s.stop:
			p.mu.Unlock()
			return true
		default:
		}
		p.mu.Unlock()
		done, err := s.reconcileOnce(p)
		if done {
			return true
		}
		if err != nil {
			p.mu.Lock()
			s.healthy = false
			p.mu.Unlock()
			s.logger.Warn("Reconciling with the shared first-seen store failed; retrying", zap.Error(err))
			return false
		}
	}
}

// reconcileOnce writes one chunk of the terms and scopes decided locally
// to Redis, putting back what did not go through. done: nothing was left.
func (s *shared) reconcileOnce(p *firstSeen) (done bool, err error) {
	p.mu.Lock()
	var groups []*sharedstore.Group
	var owners [][]reconOp
	n := 0
	for _, st := range s.byTracker {
		if st == nil || n >= reconcileChunk {
			continue
		}
		tg := &sharedstore.Group{TTL: st.termGroup.TTL, Kind: st.termGroup.Kind, HostCap: st.termGroup.HostCap, History: st.termGroup.History}
		var to []reconOp
		for pk, pt := range st.pendingTerms {
			if n >= reconcileChunk {
				break
			}
			tg.Ops = append(tg.Ops, sharedstore.Op{Key: s.key(st.prefix, 't', pt.term), TS: pt.ts, Host: pt.host, Learn: true})
			to = append(to, reconOp{st, pk, pt})
			delete(st.pendingTerms, pk)
			n++
		}
		sg := &sharedstore.Group{Scopes: true, TTL: st.scopeGroup.TTL}
		var so []reconOp
		for fp, ts := range st.pendingScopes {
			sg.Ops = append(sg.Ops, sharedstore.Op{Key: s.key(st.prefix, 's', fp), TS: ts})
			so = append(so, reconOp{st: st, fp: fp})
			delete(st.pendingScopes, fp)
		}
		groups = append(groups, tg, sg)
		owners = append(owners, to, so)
	}
	if n == 0 && allEmpty(groups) {
		s.probing = false
		p.mu.Unlock()
		return true, nil
	}
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.DialTimeout, 10*s.cfg.Timeout))
	err = s.store.Exec(ctx, groups)
	cancel()

	p.mu.Lock()
	now := time.Now()
	for gi, g := range groups {
		for j := range g.Ops {
			op := &g.Ops[j]
			o := owners[gi][j]
			if !op.Done {
				// Put it back for the next attempt.
				if g.Scopes {
					if old, ok := o.st.pendingScopes[o.fp]; !ok || op.TS < old {
						o.st.pendingScopes[o.fp] = op.TS
					}
				} else if old, ok := o.st.pendingTerms[o.fp]; !ok || op.TS > old.ts {
					o.st.pendingTerms[o.fp] = o.pt
				}
				continue
			}
			if g.Scopes {
				o.st.scopes[o.fp] = scopeInfo{first: op.Stored, refreshed: now}
				continue
			}
			o.st.confirmed.Touch(o.fp, max(op.Stored, op.TS))
			outcome := "known"
			switch {
			case op.Stored == 0 || o.st.t.Expired(op.Stored, op.TS):
				outcome = "recorded"
			case o.st.prevalence && !op.Had && op.Hosts < o.st.t.HostCap():
				// The term was known, this host's sighting was not.
				outcome = "recorded"
			}
			p.telemetry.ProcessorFirstseenReconciled.Add(context.Background(), 1, o.st.reconOpts[outcome])
		}
	}
	p.mu.Unlock()
	return false, err
}

func allEmpty(groups []*sharedstore.Group) bool {
	for _, g := range groups {
		if len(g.Ops) > 0 {
			return false
		}
	}
	return true
}
