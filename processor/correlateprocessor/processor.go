package correlateprocessor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/zeebo/xxh3"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/taint"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// maxKeptBatchEvents bounds the per-batch index kept between batches.
const maxKeptBatchEvents = 1024

// sweepEvery is how much event time passes between sweeps of idle entities.
const sweepEvery = int64(time.Minute)

// maxRaises bounds the raises one event makes (its signals, and a signal
// once per detail): an event listing hundreds of details cannot flood its
// entity's window.
const maxRaises = 16

// skewedField is cairn.time.skewed, flat or nested.
var skewedField = event.Lookup(event.TimeSkewedKey)

// correlate weaves the signals of each entity into alerts.
type correlate struct {
	logger *zap.Logger
	cfg    *Config
	id     component.ID
	c      *compiled
	now    func() time.Time

	// mu serialises batches: the engine is not thread-safe.
	mu     sync.Mutex
	eng    *engine.Engine
	view   *event.View
	tagger *event.View
	state  *state
	shared *sharedState
	// touched lists, per batch, the entities whose state the batch changed
	// (for the shared state).
	touched   []string
	touchedIn map[string]struct{}

	// taints is the registry of the baseline group, through which the
	// events of high and critical alerts reach firstseen.
	taints *taint.Registry
	// tainting[i]: rule i is high or critical.
	tainting []bool

	// Per-batch scratch, kept to avoid allocating.
	hits        []engine.Hit
	raised      []engine.Hit
	detailed    []engine.Hit
	ids         []string
	keyBuf      []byte
	outcomes    []engine.Outcome
	enrichments []event.Enrichment
	pending     []*pendingAlert
	byAlert     map[*engine.Alert]*pendingAlert
	// batchEvents finds the records of this batch by event.id, so that an
	// alert fired late in a batch can tag its earlier contributing events.
	batchEvents map[string]batchRecord

	lastSweep int64

	telemetry *metadata.TelemetryBuilder
	stats     batchStats
	ruleAttrs map[ruleAction]metric.MeasurementOption
	sigAttrs  []metric.MeasurementOption
}

type batchRecord struct {
	res pcommon.Resource
	rec plog.LogRecord
}

// pendingAlert is an alert to write at the end of the batch, in its latest
// state, with the resource of its latest deciding event.
type pendingAlert struct {
	alert *engine.Alert
	res   pcommon.Resource
	// fired: the alert is new in this batch (else it was updated).
	fired bool
	// added are the ids of the events the batch counted in the alert, for
	// the baseline's taint (beyond the contributions it lists).
	added []string
}

type ruleAction struct {
	rule   int
	action engine.Action
}

type batchStats struct {
	events   int64
	signals  []int64
	alerts   map[ruleAction]int64
	late     int64
	noEntity int64
	skewed   int64
	evicted  engine.Stats
}

func newCorrelate(set processor.Settings, cfg *Config) (*correlate, error) {
	c, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	c.engine.TrackChanges = cfg.Storage != nil
	eng, err := engine.New(c.engine)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &correlate{
		logger:      set.Logger,
		cfg:         cfg,
		id:          set.ID,
		c:           c,
		now:         time.Now,
		eng:         eng,
		view:        event.NewView(),
		tagger:      event.NewView(),
		byAlert:     map[*engine.Alert]*pendingAlert{},
		touchedIn:   map[string]struct{}{},
		batchEvents: map[string]batchRecord{},
		telemetry:   tb,
		ruleAttrs:   map[ruleAction]metric.MeasurementOption{},
		stats:       batchStats{signals: make([]int64, len(c.engine.Signals)), alerts: map[ruleAction]int64{}},
		taints:      taint.Get(cfg.BaselineGroup),
	}
	eng.SetNow(func() int64 { return p.now().UnixNano() })
	for _, r := range c.rules {
		p.tainting = append(p.tainting, r.severity == "high" || r.severity == "critical")
	}
	for _, s := range c.engine.Signals {
		p.sigAttrs = append(p.sigAttrs, metric.WithAttributeSet(attribute.NewSet(attribute.String("signal", s.Name))))
	}
	for _, r := range c.engine.Rules {
		for _, a := range []engine.Action{engine.Fired, engine.Updated, engine.Superseded} {
			p.ruleAttrs[ruleAction{r.Index, a}] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("rule", r.ID), attribute.String("action", a.String())))
		}
	}
	err = tb.RegisterProcessorCorrelateEntitiesCallback(func(_ context.Context, o metric.Int64Observer) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		o.Observe(int64(p.eng.Len()))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *correlate) start(ctx context.Context, host component.Host) error {
	if p.cfg.Store == storeRedis {
		sh, err := newSharedState(ctx, p.cfg.Redis, p.eng, p.logger)
		if err != nil {
			return err
		}
		p.shared = sh
	}
	if p.cfg.Storage == nil {
		return nil
	}
	st, err := openState(ctx, host, *p.cfg.Storage, p.id, p.logger, p.telemetry)
	if err != nil {
		return err
	}
	p.mu.Lock()
	st.load(ctx, p.eng)
	p.mu.Unlock()
	p.state = st
	st.startFlushing(&p.mu, p.eng, p.cfg.FlushInterval)
	return nil
}

func (p *correlate) shutdown(ctx context.Context) error {
	var err error
	if p.state != nil {
		err = p.state.close(ctx, &p.mu, p.eng)
		p.state = nil
	}
	if p.shared != nil {
		err = errors.Join(err, p.shared.close())
		p.shared = nil
	}
	p.telemetry.Shutdown()
	return err
}

func (p *correlate) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.view
	if p.shared != nil {
		p.shared.load(ctx, p.eng, p.signalEntities(ld))
	}
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		p.stats.events++
		v.Reset(res, rec)
		p.observe(v, res, rec)
	})
	if p.shared != nil {
		p.shared.save(ctx, p.eng, p.touched)
		if n := p.shared.failures; n > 0 {
			p.telemetry.ProcessorCorrelateStateErrors.Add(ctx, n)
			p.shared.failures = 0
		}
	}
	clear(p.touched)
	p.touched = p.touched[:0]
	clear(p.touchedIn)
	// Between batches, hold nothing of this one.
	p.view.Release()
	p.tagger.Release()
	// Alerts leave with the batch that decided them: no added latency.
	for _, pa := range p.pending {
		p.appendAlert(ld, pa)
		p.logAlert(pa)
		p.taint(pa)
	}
	// The watermark is the latest trusted time two entities reached: a
	// skewed event never moves it, nor does one entity alone.
	if wm := p.eng.Watermark(); wm-p.lastSweep >= sweepEvery {
		p.eng.Sweep(wm)
		p.lastSweep = wm
	}
	// clear keeps a map's buckets and a slice's array: don't hold a huge
	// batch's worth of scratch between batches.
	if len(p.pending) > maxKeptBatchEvents {
		p.pending, p.byAlert = nil, map[*engine.Alert]*pendingAlert{}
	} else {
		clear(p.pending)
		p.pending = p.pending[:0]
		clear(p.byAlert)
	}
	if len(p.batchEvents) > maxKeptBatchEvents {
		p.batchEvents = map[string]batchRecord{}
	} else {
		clear(p.batchEvents)
	}
	p.record(ctx)
	return ld, nil
}

// observe handles one event. Most events carry no signal and leave after
// one attribute lookup.
func (p *correlate) observe(v *event.View, res pcommon.Resource, rec plog.LogRecord) {
	hits := p.hits[:0]
	if val, ok := v.Signals(); ok {
		event.AnyEquals(val, func(name string) bool {
			if i, ok := p.c.signalIdx[name]; ok {
				hits = appendHit(hits, engine.Hit{Signal: i})
			}
			return false
		})
	}
	for _, m := range p.c.mappings {
		if m.when.Match(v) {
			name := p.c.engine.Signals[m.signal].Name
			v.AddSignal(name)
			hits = appendHit(hits, engine.Hit{Signal: m.signal})
		}
	}
	p.hits = hits
	if len(hits) == 0 {
		return
	}
	entity, ok := p.entityOf(v)
	if !ok {
		p.stats.noEntity++
		return
	}
	// The engine keeps the key: don't let it hold the batch's memory.
	entity = strings.Clone(entity)
	// An event dated too far ahead of this collector's clock is placed at
	// its receipt time, and marked.
	now := p.now()
	t, skewed, ok := v.SkewedTime(now, p.cfg.MaxFuture)
	if !ok {
		t = now
	}
	if skewed {
		p.stats.skewed++
		if _, marked := v.Get(skewedField); !marked {
			v.SetFlag(event.TimeSkewedKey)
		}
	}
	ts := t.UnixNano()
	mult := 1.0
	for _, m := range p.c.modifiers {
		if m.when.Match(v) {
			mult *= m.mult
		}
	}
	var except uint64
	for i, conds := range p.c.exceptions {
		for _, c := range conds {
			if c.Match(v) {
				except |= 1 << i
				break
			}
		}
	}
	id := v.EnsureID()
	var evidence *engine.Evidence
	evidence, p.enrichments = evidenceOf(v, id, entity, ts, p.enrichments)
	raised := p.raises(v, hits, evidence)
	for i := range raised {
		raised[i].Mult = mult
	}
	ev := &engine.Event{Entity: entity, Time: ts, Hits: raised, Except: except, Evidence: evidence, Skewed: skewed}
	out, placed := p.eng.Observe(ev, p.outcomes[:0])
	p.outcomes = out
	if !placed {
		p.stats.late++
		return
	}
	for _, h := range hits {
		p.stats.signals[h.Signal]++
	}
	if p.shared != nil {
		if _, ok := p.touchedIn[entity]; !ok {
			p.touchedIn[entity] = struct{}{}
			p.touched = append(p.touched, entity)
		}
	}
	p.batchEvents[id] = batchRecord{res: res, rec: rec}
	for _, o := range out {
		p.stats.alerts[ruleAction{o.Rule.Index, o.Action}]++
		if o.Alert == nil {
			continue
		}
		v.AddToSet(event.AlertIDsKey, o.Alert.ID)
		pa := p.enqueue(o.Alert, res)
		if o.Action == engine.Fired {
			pa.fired = true
			p.tagEarlier(o.Alert, id)
		}
		if p.tainting[o.Rule.Index] {
			for _, a := range o.Added {
				pa.added = append(pa.added, a.EventID)
			}
		}
	}
}

// raises turns an event's signals into raises, in the order of its
// signals: one per cairn.signal_details entry of a signal (told apart by
// their keys), else one whose key comes from the signal's key fields or its
// evidence (see keyKindOf). Details with a label, tactics or techniques go
// into the evidence, where the alert finds them.
func (p *correlate) raises(v *event.View, sigs []engine.Hit, ev *engine.Evidence) []engine.Hit {
	detailed := p.detailed[:0]
	v.SignalDetails(func(d event.SignalDetail) bool {
		i, ok := p.c.signalIdx[d.Signal]
		if !ok || !slices.ContainsFunc(sigs, func(h engine.Hit) bool { return h.Signal == i }) {
			// Only what cairn.signals raises counts; a detail cannot
			// raise a signal by itself.
			return true
		}
		if len(detailed) == maxRaises {
			return false
		}
		h := engine.Hit{Signal: i}
		if h.Key = keyOf(d.Key); h.Key == 0 {
			if h.Key = p.derivedKey(v, i, ev); h.Key == 0 {
				h.Key = keyOf(d.Label)
			}
		}
		if hasRaise(detailed, h) {
			return true
		}
		if det, ok := p.detailOf(d); ok && len(ev.Details) < engine.MaxDetails {
			ev.Details = append(ev.Details, det)
			h.Detail = uint8(len(ev.Details))
		}
		detailed = append(detailed, h)
		return true
	})
	p.detailed = detailed
	out := p.raised[:0]
	for _, s := range sigs {
		n := len(out)
		for _, h := range detailed {
			if h.Signal == s.Signal && len(out) < maxRaises {
				out = append(out, h)
			}
		}
		if len(out) == n && len(out) < maxRaises {
			out = append(out, engine.Hit{Signal: s.Signal, Key: p.derivedKey(v, s.Signal, ev)})
		}
	}
	p.raised = out
	return out
}

// keyOf is a raise's key for a text; 0 (no key) for "".
func keyOf(s string) uint64 {
	if s == "" {
		return 0
	}
	if k := xxh3.HashString(s); k != 0 {
		return k
	}
	return 1
}

// derivedKey is the key of a raise without a detail key: its signal's key
// fields when configured, else the part of the evidence its name points
// at; 0 when there is none.
func (p *correlate) derivedKey(v *event.View, sig int, ev *engine.Evidence) uint64 {
	ks := p.c.keys[sig]
	if len(ks.fields) > 0 {
		b := p.keyBuf[:0]
		found := false
		for _, alts := range ks.fields {
			for _, f := range alts {
				if val, ok := v.Get(f); ok {
					if nb, ok := event.AppendValue(b, val); ok {
						b, found = nb, true
						break
					}
				}
			}
			b = append(b, 0)
		}
		p.keyBuf = b
		if !found {
			return 0
		}
		if k := xxh3.Hash(b); k != 0 {
			return k
		}
		return 1
	}
	switch ks.kind {
	case keyBinary, keyHash:
		if !ev.Hash.IsZero() {
			return keyOf(ev.Hash.String())
		}
		return keyOf(ev.Exe.String())
	case keyIP:
		return keyOf(ev.IP)
	case keyDomain:
		return keyOf(ev.Domain)
	}
	return 0
}

// detailOf keeps what a detail adds to the catalog's view of a raise; ok is
// false when it adds nothing (a key alone). Tactics and techniques this
// release does not know are left out, not errors: detectors follow newer
// ATT&CK releases than any table.
func (p *correlate) detailOf(d event.SignalDetail) (engine.Detail, bool) {
	det := engine.Detail{Label: engine.Intern(engine.TruncateLabel(d.Label))}
	for _, s := range d.Tactics {
		if t, ok := attack.FindTactic(s); ok {
			det.Tactics |= 1 << t.Index
		}
	}
	ids := p.ids[:0]
	for _, s := range d.Techniques {
		if id, ok := attack.NormalTechniqueID(s); ok && !slices.Contains(ids, id) && len(ids) < engine.MaxTechniques {
			ids = append(ids, id)
		}
	}
	switch len(ids) {
	case 0:
	case 1:
		det.Techniques = engine.Intern(ids[0])
	default:
		det.Techniques = engine.Intern(strings.Join(ids, ","))
	}
	clear(ids)
	p.ids = ids[:0]
	return det, det != (engine.Detail{})
}

func hasRaise(hits []engine.Hit, h engine.Hit) bool {
	return slices.ContainsFunc(hits, func(x engine.Hit) bool { return x.Signal == h.Signal && x.Key == h.Key })
}

// taint reports the events of a high or critical alert to firstseen (the
// baseline group's registry): what they taught the baseline is forgotten,
// and kept out until the alert's end plus its suppression. Each batch that
// changes the alert reports its listed contributions again with the alert's
// new end, and the events the batch counted beyond them.
func (p *correlate) taint(pa *pendingAlert) {
	a := pa.alert
	if !p.tainting[a.Rule.Index] {
		return
	}
	ids := make([]string, 0, len(a.Contributions)+len(pa.added))
	for _, c := range a.Contributions {
		if !slices.Contains(ids, c.Evidence.EventID) {
			ids = append(ids, c.Evidence.EventID)
		}
	}
	for _, id := range pa.added {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	p.taints.Taint(ids, time.Unix(0, a.End+a.Rule.SuppressFor).UTC())
}

// signalEntities lists the entities of the batch's events that carry (or
// will be given) a signal, once each: the ones whose shared state matters.
func (p *correlate) signalEntities(ld plog.Logs) []string {
	seen := map[string]struct{}{}
	var out []string
	v := p.tagger
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		v.Reset(res, rec)
		if _, ok := v.Signals(); !ok {
			mapped := false
			for _, m := range p.c.mappings {
				if m.when.Match(v) {
					mapped = true
					break
				}
			}
			if !mapped {
				return
			}
		}
		if e, ok := p.entityOf(v); ok {
			if _, dup := seen[e]; !dup {
				seen[e] = struct{}{}
				out = append(out, e)
			}
		}
	})
	return out
}

// appendHit adds a raise unless the event already raises that signal with
// that key.
func appendHit(hits []engine.Hit, h engine.Hit) []engine.Hit {
	if hasRaise(hits, h) {
		return hits
	}
	return append(hits, h)
}

// entityOf returns the first present entity field as text.
func (p *correlate) entityOf(v *event.View) (string, bool) {
	for _, f := range p.c.entity {
		val, ok := v.Get(f)
		if !ok {
			continue
		}
		if val.Type() == pcommon.ValueTypeStr {
			if s := val.Str(); s != "" {
				return s, true
			}
			continue
		}
		if b, ok := event.AppendValue(nil, val); ok {
			return string(b), true
		}
	}
	return "", false
}

// enqueue schedules an alert for writing at the end of the batch; the
// resource is that of the latest event deciding or updating it.
func (p *correlate) enqueue(a *engine.Alert, res pcommon.Resource) *pendingAlert {
	if pa, ok := p.byAlert[a]; ok {
		pa.res = res
		return pa
	}
	pa := &pendingAlert{alert: a, res: res}
	p.byAlert[a] = pa
	p.pending = append(p.pending, pa)
	return pa
}

// logAlert writes the console line of an alert: what a person watching the
// collector (make run) reads. New alerts at info, updates at debug.
func (p *correlate) logAlert(pa *pendingAlert) {
	if !p.cfg.LogAlerts {
		return
	}
	a := pa.alert
	info := p.c.rules[a.Rule.Index]
	fields := []zap.Field{
		zap.String("severity", info.severity), zap.String("rule", a.Rule.ID),
		zap.String(p.c.entity[0].Name, a.Entity), zap.Float64("score", round2(a.Tally.Score)),
		zap.String("event.id", a.ID),
	}
	msg := "ALERT " + message(a, p.c.engine.Signals, tactics(a).names)
	if pa.fired {
		p.logger.Info(msg, fields...)
	} else {
		p.logger.Debug("updated "+msg, fields...)
	}
}

// tagEarlier gives the alert's id to its contributing events that are
// still in this batch. (Events that left in earlier batches cannot be
// changed; the alert lists them by event.id.)
func (p *correlate) tagEarlier(a *engine.Alert, current string) {
	for _, c := range a.Contributions {
		id := c.Evidence.EventID
		if id == current {
			continue
		}
		if br, ok := p.batchEvents[id]; ok {
			p.tagger.Reset(br.res, br.rec)
			p.tagger.AddToSet(event.AlertIDsKey, a.ID)
		}
	}
}

func (p *correlate) record(ctx context.Context) {
	tb := p.telemetry
	tb.ProcessorCorrelateEvents.Add(ctx, p.stats.events)
	p.stats.events = 0
	for i, n := range p.stats.signals {
		if n > 0 {
			tb.ProcessorCorrelateSignals.Add(ctx, n, p.sigAttrs[i])
			p.stats.signals[i] = 0
		}
	}
	for k, n := range p.stats.alerts {
		if n > 0 {
			tb.ProcessorCorrelateAlerts.Add(ctx, n, p.ruleAttrs[k])
		}
	}
	clear(p.stats.alerts)
	if p.stats.late > 0 {
		tb.ProcessorCorrelateDropped.Add(ctx, p.stats.late, metric.WithAttributes(attribute.String("reason", "late")))
		p.stats.late = 0
	}
	if p.stats.noEntity > 0 {
		tb.ProcessorCorrelateDropped.Add(ctx, p.stats.noEntity, metric.WithAttributes(attribute.String("reason", "no_entity")))
		p.stats.noEntity = 0
	}
	if p.stats.skewed > 0 {
		tb.ProcessorCorrelateTimeAdjusted.Add(ctx, p.stats.skewed, metric.WithAttributes(attribute.String("reason", "skewed")))
		p.stats.skewed = 0
	}
	s := p.eng.Stats()
	if d := s.EntityEvictions - p.stats.evicted.EntityEvictions; d > 0 {
		tb.ProcessorCorrelateEvictions.Add(ctx, int64(d), metric.WithAttributes(attribute.String("table", "entities")))
	}
	if d := s.ObservationEvictions - p.stats.evicted.ObservationEvictions; d > 0 {
		tb.ProcessorCorrelateEvictions.Add(ctx, int64(d), metric.WithAttributes(attribute.String("table", "signals")))
	}
	if d := s.ClockBack - p.stats.evicted.ClockBack; d > 0 {
		tb.ProcessorCorrelateTimeAdjusted.Add(ctx, int64(d), metric.WithAttributes(attribute.String("reason", "clock_back")))
	}
	if d := s.Poisoned - p.stats.evicted.Poisoned; d > 0 {
		tb.ProcessorCorrelateTimeAdjusted.Add(ctx, int64(d), metric.WithAttributes(attribute.String("reason", "future_state")))
	}
	p.stats.evicted = s
}
