package firstseenprocessor

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/netclass"
	"github.com/cairnsec/cairn/internal/taint"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/metadata"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/tracker"
)

// firstSeen tags events that show a term for the first time.
type firstSeen struct {
	logger *zap.Logger
	cfg    *Config
	id     component.ID

	// mu serialises batches: trackers and their stores are not thread-safe,
	// and a batch is processed in well under a millisecond.
	mu       sync.Mutex
	trackers []*tracker.Tracker
	env      tracker.Env
	view     *event.View
	now      func() time.Time

	telemetry *metadata.TelemetryBuilder
	stats     []trackerStats
	state     *state
	// shared is set when some trackers keep their terms in Redis.
	shared *shared

	// maxFuture: events dated further ahead of the collector's clock are
	// decided at their receipt time (see observe).
	maxFuture time.Duration
	skewField *event.Field
	enrich    []event.Enrichment
	// active counts the hosts active per environment (rare_share); nil
	// when no tracker uses it.
	active *tracker.ActiveHosts

	// taint is the registry of baseline_group, drained each batch;
	// learned records what events taught, for it.
	taint       *taint.Registry
	unsubscribe func()
	learned     learned
	taught      []teaching // scratch of one event

	// Per-batch counts.
	skewed, malicious, tainted int64

	optsNotMalicious, optsNotTainted                          metric.MeasurementOption
	optsForgotten, optsUnknown, optsFellOut, optsTaintDropped metric.MeasurementOption
}

// verdictMalicious is the intel verdict (threat.enrichments'
// cairn.intel.verdict) whose events never teach the baseline.
const verdictMalicious = "malicious"

// trackerStats accumulates counts during a batch so that metrics are
// recorded once per batch, not once per event.
type trackerStats struct {
	attrs         metric.MeasurementOption
	termsAttrs    metric.MeasurementOption
	learningAttrs metric.MeasurementOption
	doneAttrs     metric.MeasurementOption
	blockedAttrs  metric.MeasurementOption
	flagged       int64
	rare          int64
	learning      int64
	malformed     map[string]int64
	malformedOpts map[string]metric.MeasurementOption
	termEvicted   uint64
	learnEvicted  uint64
	doneEvicted   uint64
	blockEvicted  uint64
}

func newFirstSeen(set processor.Settings, cfg *Config) (*firstSeen, error) {
	specs, err := cfg.specs()
	if err != nil {
		return nil, err
	}
	classifier, err := netclass.New(cfg.InternalNetworks, cfg.ExternalNetworks)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &firstSeen{
		logger:    set.Logger,
		cfg:       cfg,
		id:        set.ID,
		view:      event.NewView(),
		now:       time.Now,
		telemetry: tb,
		env:       tracker.Env{Classifier: classifier, MaxValueBytes: cfg.MaxValueBytes},
		maxFuture: cfg.MaxFuture,
		skewField: event.Lookup(event.TimeSkewedKey),

		optsNotMalicious: outcome("reason", "malicious_verdict"),
		optsNotTainted:   outcome("reason", "tainted"),
		optsForgotten:    outcome("outcome", "forgotten"),
		optsUnknown:      outcome("outcome", "unknown"),
		optsFellOut:      outcome("outcome", "fell_out"),
		optsTaintDropped: outcome("outcome", "dropped"),
	}
	p.env.SetEnvironmentField(cfg.EnvironmentField)
	memos := map[string]*tracker.Memo{}
	for _, spec := range specs {
		t, err := tracker.New(spec)
		if err != nil {
			return nil, err
		}
		m := memos[spec.WhenKey]
		if m == nil {
			m = tracker.NewMemo(spec.When)
			memos[spec.WhenKey] = m
		}
		t.ShareWhen(m)
		p.trackers = append(p.trackers, t)
		name := attribute.String("tracker", spec.Name)
		scopes := attribute.String("table", "scopes")
		p.stats = append(p.stats, trackerStats{
			attrs:         metric.WithAttributeSet(attribute.NewSet(name)),
			termsAttrs:    metric.WithAttributeSet(attribute.NewSet(name, attribute.String("table", "terms"))),
			learningAttrs: metric.WithAttributeSet(attribute.NewSet(name, scopes, attribute.String("kind", "learning"))),
			doneAttrs:     metric.WithAttributeSet(attribute.NewSet(name, scopes, attribute.String("kind", "done"))),
			blockedAttrs:  metric.WithAttributeSet(attribute.NewSet(name, attribute.String("table", "blocked"))),
			malformed:     map[string]int64{},
			malformedOpts: map[string]metric.MeasurementOption{},
		})
	}
	// Active hosts are counted over the longest history of the trackers
	// that use rare_share, bounded like their scopes.
	var window time.Duration
	maxHosts := 0
	for _, t := range p.trackers {
		if t.UsesShare() {
			window = max(window, t.Spec().History)
			maxHosts = max(maxHosts, t.Spec().MaxScopes)
		}
	}
	if maxHosts > 0 {
		p.active = tracker.NewActiveHosts(maxHosts, window)
		p.env.Active = p.active
	}
	names, err := cfg.sharedTrackers()
	if err != nil {
		return nil, err
	}
	if len(names) > 0 {
		p.shared = newShared(p, names)
	}
	for _, t := range p.trackers {
		t.ShareScopeBirth(p.trackers)
	}
	err = tb.RegisterProcessorFirstseenTermsCallback(func(_ context.Context, o metric.Int64Observer) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, t := range p.trackers {
			o.Observe(int64(t.Terms.Len()), p.stats[i].attrs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func outcome(key, value string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(key, value)))
}

func (p *firstSeen) start(ctx context.Context, host component.Host) error {
	p.taint = taint.Get(p.cfg.BaselineGroup)
	p.unsubscribe = p.taint.Subscribe()
	if p.shared != nil {
		if err := p.shared.start(ctx); err != nil {
			return err
		}
	}
	if p.cfg.Storage == nil {
		return nil
	}
	st, err := openState(ctx, host, *p.cfg.Storage, p.id, p.cfg, p.logger, p.telemetry)
	if err != nil {
		return err
	}
	p.mu.Lock()
	st.load(ctx, p.trackers, p.active)
	p.mu.Unlock()
	p.state = st
	st.startFlushing(&p.mu, p.trackers, p.active, p.cfg.FlushInterval)
	return nil
}

func (p *firstSeen) shutdown(ctx context.Context) error {
	if p.unsubscribe != nil {
		p.unsubscribe()
		p.unsubscribe = nil
	}
	var err error
	if p.shared != nil {
		err = p.shared.shutdown(p)
	}
	if p.state != nil {
		err = errors.Join(err, p.state.close(ctx, &p.mu, p.trackers, p.active))
		p.state = nil
	}
	p.telemetry.Shutdown()
	return err
}

func (p *firstSeen) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The collector's clock, read once per batch: event times beyond it by
	// more than max_future are not trusted.
	now := p.now()
	p.beginBatch(ctx)
	events := 0
	v := p.view
	limit := now.Add(p.maxFuture)
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		v.Reset(res, rec)
		p.observe(v, events, now, limit)
		events++
	})
	if s := p.shared; s != nil {
		s.exec(ctx, p)
		s.decide(p)
		s.apply(p, ld)
		s.reset(ctx, p)
	}
	// Between batches, hold nothing of this one.
	v.Release()
	p.record(ctx, events)
	return ld, nil
}

// beginBatch takes back what tainted events taught (the marks correlate
// published since the last batch) and lets hosts inactive for longer than
// the window leave the active counts. The caller holds mu.
func (p *firstSeen) beginBatch(ctx context.Context) {
	if p.taint != nil {
		marks, dropped := p.taint.Drain()
		if len(marks) > 0 {
			forgotten, unknown := p.forget(marks)
			if forgotten > 0 {
				p.telemetry.ProcessorFirstseenTaint.Add(ctx, forgotten, p.optsForgotten)
			}
			if unknown > 0 {
				p.telemetry.ProcessorFirstseenTaint.Add(ctx, unknown, p.optsUnknown)
			}
		}
		if dropped > 0 {
			p.telemetry.ProcessorFirstseenTaint.Add(ctx, int64(dropped), p.optsTaintDropped)
		}
	}
	if p.active != nil {
		p.active.Expire(p.env.Clock)
	}
}

// observe runs every tracker on the event with index idx of the batch. The
// trackers with a shared store only collect requests here (see shared).
//
// Time: the event's time is trusted unless it lies more than max_future
// ahead of now (a broken clock or a forged date). Then the event is marked
// cairn.time.skewed and decided, learned and aged at its receipt time,
// and it moves no clock: not the processor's (which decides when learning
// scopes are done and which hosts are active) nor any host's last activity.
func (p *firstSeen) observe(v *event.View, idx int, now, limit time.Time) {
	env := &p.env
	t, ok := v.Time()
	skewed := false
	if ok && t.After(limit) {
		// limit is now+max_future, worked out once per batch; SkewedTime
		// has the rule for what to use instead.
		t, skewed, ok = v.SkewedTime(now, p.maxFuture)
	}
	if !ok {
		// An event without any time can only be placed at arrival.
		t = now
	}
	ts := tracker.EventSeconds(t)
	env.Event++
	allIDs := p.cfg.EventIDs == eventIDsAll
	if allIDs {
		v.EnsureID()
	}
	if skewed {
		p.skewed++
		if _, marked := v.Get(p.skewField); !marked {
			if !allIDs {
				v.EnsureID() // a changed event gets its id, as a flagged one
			}
			v.SetFlag(event.TimeSkewedKey)
		}
	} else if ts > env.Clock {
		env.Clock = ts
	}
	env.NoLearn = p.maliciousVerdict(v)
	if env.NoLearn {
		p.malicious++
	}
	if p.active != nil && !skewed {
		env.EventHost(v)
		p.active.See(env.Env32(), env.Host32(), ts)
		if p.shared != nil && p.shared.usesShare {
			p.shared.noteActive(env.Env32(), env.Host32(), ts, env.Clock)
		}
	}
	taught := p.taught[:0]
	blocked := false
	for i, tr := range p.trackers {
		if p.shared != nil && p.shared.byTracker[i] != nil {
			p.shared.observeShared(p, i, v, ts, idx)
			taught = p.noteTaught(taught, i, tr)
			blocked = blocked || tr.LastBlocked()
			continue
		}
		term, scope, res := tr.Term(v, env)
		if res == tracker.Located {
			res = tr.Record(term, scope, ts, env)
			if tr.Taught() != tracker.TaughtNothing {
				taught = append(taught, teaching{term: term, host: p.teachingHost(tr), ts: ts, tr: uint16(i), what: tr.Taught()})
			}
			blocked = blocked || tr.LastBlocked()
		}
		p.apply(v, i, res, allIDs)
	}
	if blocked {
		p.tainted++
	}
	if len(taught) > 0 {
		// Record under the event.id correlate will know the event by: its
		// own, the one given above when flagged, else its content id (what
		// every later stage and output gives it).
		id, ok := v.Str(event.EventID)
		if !ok {
			id = v.ContentID()
		}
		k := idKey(id)
		for _, t := range taught {
			t.id = k
			p.learned.add(t, env.Clock)
		}
	}
	p.taught = taught
}

// noteTaught adds a shared tracker's local teaching (see observeShared).
func (p *firstSeen) noteTaught(taught []teaching, i int, tr *tracker.Tracker) []teaching {
	if tr.Taught() == tracker.TaughtNothing {
		return taught
	}
	return append(taught, teaching{term: p.shared.lastTerm, host: p.teachingHost(tr), ts: p.shared.lastTS, tr: uint16(i), what: tr.Taught()})
}

// teachingHost is the host a teaching records: the event's, for trackers
// that count hosts (forgetting takes it out of the term's host set); none
// otherwise, which spares working it out.
func (p *firstSeen) teachingHost(tr *tracker.Tracker) uint32 {
	if !tr.HasPrevalence() {
		return 0
	}
	return p.env.Host32()
}

// apply writes tracker i's verdict on the event.
func (p *firstSeen) apply(v *event.View, i int, res tracker.Result, allIDs bool) {
	tr := p.trackers[i]
	switch res {
	case tracker.NewTerm, tracker.RareTerm:
		if !allIDs {
			// A flagged event will be referred to by later stages: give it
			// its id now. (The id leaves cairn.* out, so the order of
			// writes does not matter.)
			v.EnsureID()
		}
		if res == tracker.NewTerm {
			v.AddSignal(tr.Name())
			v.SetFlag(tr.FlagKey)
			p.stats[i].flagged++
		} else {
			v.AddSignal(tr.RareSignal())
			v.SetFlag(tr.RareFlagKey)
			p.stats[i].rare++
		}
	case tracker.NewTermLearning:
		p.stats[i].learning++
	case tracker.Malformed:
		p.stats[i].malformed[tr.LastReason()]++
	}
}

// maliciousVerdict reports whether an intel stage found the event
// malicious (threat.enrichments with cairn.intel.verdict: malicious): its
// terms are flagged as usual but never become baseline.
func (p *firstSeen) maliciousVerdict(v *event.View) bool {
	if _, ok := v.Get(event.ThreatEnrichments); !ok {
		return false
	}
	p.enrich = v.Enrichments(p.enrich[:0])
	found := false
	for i := range p.enrich {
		if p.enrich[i].Verdict == verdictMalicious {
			found = true
		}
	}
	// Hold no strings of this batch.
	clear(p.enrich)
	return found
}

func (p *firstSeen) record(ctx context.Context, events int) {
	tb := p.telemetry
	tb.ProcessorFirstseenEvents.Add(ctx, int64(events))
	if p.skewed > 0 {
		tb.ProcessorFirstseenSkewed.Add(ctx, p.skewed)
		p.skewed = 0
	}
	if p.malicious > 0 {
		tb.ProcessorFirstseenNotLearned.Add(ctx, p.malicious, p.optsNotMalicious)
		p.malicious = 0
	}
	if p.tainted > 0 {
		tb.ProcessorFirstseenNotLearned.Add(ctx, p.tainted, p.optsNotTainted)
		p.tainted = 0
	}
	if p.learned.fellOut > 0 {
		tb.ProcessorFirstseenTaint.Add(ctx, p.learned.fellOut, p.optsFellOut)
		p.learned.fellOut = 0
	}
	for i, tr := range p.trackers {
		s := &p.stats[i]
		if s.flagged > 0 {
			tb.ProcessorFirstseenSignals.Add(ctx, s.flagged, s.attrs)
			s.flagged = 0
		}
		if s.rare > 0 {
			tb.ProcessorFirstseenRare.Add(ctx, s.rare, s.attrs)
			s.rare = 0
		}
		if s.learning > 0 {
			tb.ProcessorFirstseenLearning.Add(ctx, s.learning, s.attrs)
			s.learning = 0
		}
		for reason, n := range s.malformed {
			if n == 0 {
				continue
			}
			opt, ok := s.malformedOpts[reason]
			if !ok {
				opt = metric.WithAttributeSet(attribute.NewSet(attribute.String("tracker", tr.Name()), attribute.String("reason", reason)))
				s.malformedOpts[reason] = opt
			}
			tb.ProcessorFirstseenMalformed.Add(ctx, n, opt)
			s.malformed[reason] = 0
		}
		evicted(ctx, tb, tr.Terms.Evictions(), &s.termEvicted, s.termsAttrs)
		evicted(ctx, tb, tr.Learning.Evictions(), &s.learnEvicted, s.learningAttrs)
		evicted(ctx, tb, tr.Scopes.Evictions(), &s.doneEvicted, s.doneAttrs)
		evicted(ctx, tb, tr.Blocked.Evictions(), &s.blockEvicted, s.blockedAttrs)
	}
}

func evicted(ctx context.Context, tb *metadata.TelemetryBuilder, now uint64, last *uint64, opt metric.MeasurementOption) {
	if now != *last {
		tb.ProcessorFirstseenEvictions.Add(ctx, int64(now-*last), opt)
		*last = now
	}
}
