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
}

// trackerStats accumulates counts during a batch so that metrics are
// recorded once per batch, not once per event.
type trackerStats struct {
	attrs         metric.MeasurementOption
	termsAttrs    metric.MeasurementOption
	scopesAttrs   metric.MeasurementOption
	flagged       int64
	learning      int64
	malformed     map[string]int64
	malformedOpts map[string]metric.MeasurementOption
	termEvicted   uint64
	scopeEvicted  uint64
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
	}
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
		p.stats = append(p.stats, trackerStats{
			attrs:         metric.WithAttributeSet(attribute.NewSet(name)),
			termsAttrs:    metric.WithAttributeSet(attribute.NewSet(name, attribute.String("table", "terms"))),
			scopesAttrs:   metric.WithAttributeSet(attribute.NewSet(name, attribute.String("table", "scopes"))),
			malformed:     map[string]int64{},
			malformedOpts: map[string]metric.MeasurementOption{},
		})
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

func (p *firstSeen) start(ctx context.Context, host component.Host) error {
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
	st.load(ctx, p.trackers)
	p.mu.Unlock()
	p.state = st
	st.startFlushing(&p.mu, p.trackers, p.cfg.FlushInterval)
	return nil
}

func (p *firstSeen) shutdown(ctx context.Context) error {
	var err error
	if p.shared != nil {
		err = p.shared.shutdown(p)
	}
	if p.state != nil {
		err = errors.Join(err, p.state.close(ctx, &p.mu, p.trackers))
		p.state = nil
	}
	p.telemetry.Shutdown()
	return err
}

func (p *firstSeen) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	events := 0
	v := p.view
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		v.Reset(res, rec)
		p.observe(v, events)
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

// observe runs every tracker on the event with index idx of the batch. The
// trackers with a shared store only collect requests here (see shared).
func (p *firstSeen) observe(v *event.View, idx int) {
	t, ok := v.Time()
	if !ok {
		// An event without any time can only be placed at arrival.
		t = p.now()
	}
	ts := tracker.EventSeconds(t)
	p.env.Event++
	allIDs := p.cfg.EventIDs == eventIDsAll
	if allIDs {
		v.EnsureID()
	}
	for i, tr := range p.trackers {
		if p.shared != nil && p.shared.byTracker[i] != nil {
			p.shared.observeShared(p, i, v, ts, idx)
			continue
		}
		switch tr.Observe(v, ts, &p.env) {
		case tracker.NewTerm:
			if !allIDs {
				// A flagged event will be referred to by later stages: give it
				// its id now. (The id leaves cairn.* out, so the order of
				// writes does not matter.)
				v.EnsureID()
			}
			v.AddSignal(tr.Name())
			v.SetFlag(tr.FlagKey)
			p.stats[i].flagged++
		case tracker.NewTermLearning:
			p.stats[i].learning++
		case tracker.Malformed:
			p.stats[i].malformed[tr.LastReason()]++
		}
	}
}

func (p *firstSeen) record(ctx context.Context, events int) {
	tb := p.telemetry
	tb.ProcessorFirstseenEvents.Add(ctx, int64(events))
	for i, tr := range p.trackers {
		s := &p.stats[i]
		if s.flagged > 0 {
			tb.ProcessorFirstseenSignals.Add(ctx, s.flagged, s.attrs)
			s.flagged = 0
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
		if ev := tr.Terms.Evictions(); ev != s.termEvicted {
			tb.ProcessorFirstseenEvictions.Add(ctx, int64(ev-s.termEvicted), s.termsAttrs)
			s.termEvicted = ev
		}
		if ev := tr.Scopes.Evictions(); ev != s.scopeEvicted {
			tb.ProcessorFirstseenEvictions.Add(ctx, int64(ev-s.scopeEvicted), s.scopesAttrs)
			s.scopeEvicted = ev
		}
	}
}
