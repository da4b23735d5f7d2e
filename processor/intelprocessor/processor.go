package intelprocessor

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/dirwatch"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/netclass"
	"github.com/cairnsec/cairn/internal/periodic"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/metadata"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/store"
)

type fieldKind uint8

const (
	kindHash fieldKind = iota
	kindIP
	kindDomain
)

// checkedField is one event field the processor matches.
type checkedField struct {
	field *event.Field
	kind  fieldKind
	// hashType is fixed by the field name (…sha256) or Unknown: guess from length.
	hashType indicator.Type
}

type intel struct {
	logger *zap.Logger
	cfg    *Config
	feeds  *feeds
	fields []checkedField
	now    func() time.Time

	telemetry *metadata.TelemetryBuilder

	// view and scratch are used under mu; batches are short.
	mu    sync.Mutex
	view  *event.View
	found []match
	// plan is what is read from events with the feeds of planSnap.
	plan     *fieldPlan
	planSnap *snapshot

	// reload re-reads changed feed files every reload_interval.
	reload *periodic.Loop

	// online is nil unless online lookups are enabled.
	online *onlineLookup
}

// match is one feed entry that applies to one event field.
type match struct {
	field    *checkedField
	value    string
	hashType indicator.Type // for hash fields
	meta     store.Meta
}

func newIntel(set processor.Settings, cfg *Config, next consumer.Logs) (*intel, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &intel{
		logger:    set.Logger,
		cfg:       cfg,
		feeds:     newFeeds(cfg, set.Logger),
		now:       time.Now,
		telemetry: tb,
		view:      event.NewView(),
	}
	for _, f := range cfg.Fields.Hashes {
		p.fields = append(p.fields, checkedField{field: event.Lookup(f), kind: kindHash, hashType: hashTypeOf(f)})
	}
	for _, f := range cfg.Fields.IPs {
		p.fields = append(p.fields, checkedField{field: event.Lookup(f), kind: kindIP})
	}
	for _, f := range cfg.Fields.Domains {
		p.fields = append(p.fields, checkedField{field: event.Lookup(f), kind: kindDomain})
	}
	p.feeds.onLoad = func(path, format string, n int) {
		tb.ProcessorIntelFeedLoads.Add(context.Background(), 1, metric.WithAttributes(attribute.String("format", format)))
	}
	p.feeds.onError = func(string, error) {
		tb.ProcessorIntelFeedErrors.Add(context.Background(), 1)
	}
	p.feeds.onRefused = func(_, reason string) {
		tb.ProcessorIntelFeedRefused.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", reason)))
	}
	p.feeds.onSkipped = func(malformed, limited int) {
		if malformed > 0 {
			tb.ProcessorIntelFeedEntriesSkipped.Add(context.Background(), int64(malformed), metric.WithAttributes(attribute.String("reason", "malformed")))
		}
		if limited > 0 {
			tb.ProcessorIntelFeedEntriesSkipped.Add(context.Background(), int64(limited), metric.WithAttributes(attribute.String("reason", "limit")))
		}
	}
	err = tb.RegisterProcessorIntelIndicatorsCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(p.feeds.snapshot().total))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cfg.Online.Enabled {
		if p.online, err = newOnlineLookup(&cfg.Online, set.Logger, tb, next); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// fieldPlan is the fields worth reading from events with one snapshot of
// the feeds. A field whose kind of indicator no feed holds (an md5 field
// when only SHA-256 hashes are loaded, an IP field without IP indicators)
// can match nothing, so it is not read: reading fields is most of the
// per-event cost, the more so for absent ones, whose every name and alias
// is searched for. The results are the same as reading every field.
type fieldPlan struct {
	fields []*checkedField
	set    *event.FieldSet
	vals   []pcommon.Value
	ok     []bool
}

// planFor returns the plan for snap, reusing the last one while the
// snapshot stays the same. Called under mu.
func (p *intel) planFor(snap *snapshot) *fieldPlan {
	if p.plan != nil && p.planSnap == snap {
		return p.plan
	}
	pl := &fieldPlan{}
	var set []*event.Field
	for i := range p.fields {
		cf := &p.fields[i]
		if p.mayMatch(cf, snap) {
			pl.fields = append(pl.fields, cf)
			set = append(set, cf.field)
		}
	}
	pl.set = event.NewFieldSet(set...)
	pl.vals = make([]pcommon.Value, len(set))
	pl.ok = make([]bool, len(set))
	p.plan, p.planSnap = pl, snap
	return pl
}

// mayMatch reports whether a value of cf could find anything: an
// indicator of its type in some feed, or, for SHA-256 hashes, the online
// lookup.
func (p *intel) mayMatch(cf *checkedField, snap *snapshot) bool {
	switch cf.kind {
	case kindHash:
		if p.online != nil && (cf.hashType == indicator.SHA256 || cf.hashType == indicator.Unknown) {
			return true
		}
		if cf.hashType != indicator.Unknown {
			return snap.counts[cf.hashType] > 0
		}
		return snap.counts[indicator.SHA256]+snap.counts[indicator.SHA1]+snap.counts[indicator.MD5] > 0
	case kindIP:
		return snap.counts[indicator.IP] > 0
	}
	return snap.counts[indicator.Domain] > 0
}

// typeOf is the hash type of a value of this field: fixed by the field's
// name, else guessed from the value's length (Unknown: not a hash).
func (cf *checkedField) typeOf(value string) indicator.Type {
	if cf.hashType != indicator.Unknown {
		return cf.hashType
	}
	return indicator.HashType(value)
}

func hashTypeOf(field string) indicator.Type {
	switch {
	case strings.HasSuffix(field, ".sha256"):
		return indicator.SHA256
	case strings.HasSuffix(field, ".sha1"):
		return indicator.SHA1
	case strings.HasSuffix(field, ".md5"):
		return indicator.MD5
	}
	return indicator.Unknown
}

func (p *intel) start(_ context.Context, _ component.Host) error {
	if d := p.cfg.FeedsDir; d != "" {
		if err := dirwatch.CheckDir("feeds_dir", d); err != nil {
			return err
		}
	}
	// A feed that cannot be read at start is reported; the others load, so
	// one bad file does not take detection down.
	if err := p.feeds.refresh(true); err != nil {
		p.logger.Warn("Some feeds could not be loaded", zap.Error(err))
	}
	if p.cfg.ReloadInterval > 0 {
		p.reload = periodic.Start(p.cfg.ReloadInterval, func() {
			if err := p.feeds.refresh(false); err != nil {
				p.logger.Warn("Reloading feeds failed", zap.Error(err))
			}
		})
	}
	if p.online != nil {
		return p.online.start()
	}
	return nil
}

func (p *intel) shutdown(ctx context.Context) error {
	if p.reload != nil {
		p.reload.Stop()
		p.reload = nil
	}
	var err error
	if p.online != nil {
		err = p.online.shutdown(ctx)
	}
	p.telemetry.Shutdown()
	return err
}

func (p *intel) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	snap := p.feeds.snapshot()
	if len(snap.stores) == 0 && p.online == nil {
		return ld, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	plan := p.planFor(snap)
	var matched, events int64
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		events++
		p.view.Reset(res, rec)
		if p.enrich(p.view, snap, plan) {
			matched++
		}
	})
	// Between batches, hold nothing of this one.
	p.view.Release()
	clear(plan.vals)
	p.telemetry.ProcessorIntelEvents.Add(ctx, events)
	if matched > 0 {
		p.telemetry.ProcessorIntelMatchedEvents.Add(ctx, matched)
	}
	return ld, nil
}

// enrich matches the event's fields and writes enrichments and signals. It
// reports whether anything matched.
func (p *intel) enrich(v *event.View, snap *snapshot, plan *fieldPlan) bool {
	found := p.found[:0]
	var at time.Time
	haveTime := false
	eventTime := func() time.Time {
		if !haveTime {
			at, haveTime = p.eventTime(v), true
		}
		return at
	}
	// All fields are read in one walk of the event: most are absent, and
	// the walk finds that out once per object rather than once per name.
	v.GetAll(plan.set, plan.vals, plan.ok)
	for i, cf := range plan.fields {
		val := plan.vals[i]
		if !plan.ok[i] || val.Type() != pcommon.ValueTypeStr || val.Str() == "" {
			continue
		}
		s := val.Str()
		// Resolve the value once; every feed's index is then asked with it.
		var (
			hashType indicator.Type
			addr     netip.Addr
		)
		switch cf.kind {
		case kindHash:
			if hashType = cf.typeOf(s); hashType == indicator.Unknown {
				continue
			}
		case kindIP:
			var ok bool
			if addr, ok = netclass.ParseAddr(s); !ok {
				continue
			}
		}
		start := len(found)
		for _, st := range snap.stores {
			var entries []store.Entry
			switch cf.kind {
			case kindHash:
				entries = st.LookupHash(hashType, s)
			case kindIP:
				entries = st.LookupIP(addr)
			case kindDomain:
				entries = st.LookupDomain(s)
			}
			for _, e := range entries {
				meta := st.Meta(e)
				if !meta.ValidAt(eventTime()) {
					continue
				}
				found = append(found, match{field: cf, value: s, hashType: hashType, meta: meta})
			}
		}
		// An allow-list entry for this value overrides every bad verdict.
		allowed := false
		for j := start; j < len(found); j++ {
			if found[j].meta.Verdict == indicator.Benign {
				found = found[:start]
				allowed = true
				p.telemetry.ProcessorIntelAllowed.Add(context.Background(), 1)
				break
			}
		}
		if p.online != nil && !allowed && len(found) == start && hashType == indicator.SHA256 {
			if meta, ok := p.online.lookup(v, cf, s, eventTime()); ok {
				found = append(found, match{field: cf, value: s, hashType: hashType, meta: meta})
			}
		}
	}
	p.found = found
	if len(found) == 0 {
		return false
	}
	v.EnsureID()
	for i := range found {
		m := &found[i]
		writeEnrichment(v, m, at)
		v.AddSignal(signalFor(m.field.kind, m.meta.Verdict))
		p.telemetry.ProcessorIntelMatches.Add(context.Background(), 1,
			metric.WithAttributes(attribute.String("type", kindName(m.field.kind)), attribute.String("verdict", m.meta.Verdict.String())))
	}
	return true
}

func (p *intel) eventTime(v *event.View) time.Time {
	if t, ok := v.Time(); ok {
		return t
	}
	return p.now()
}

func kindName(k fieldKind) string {
	switch k {
	case kindHash:
		return "hash"
	case kindIP:
		return "ip"
	}
	return "domain"
}

func signalFor(k fieldKind, v indicator.Verdict) string {
	switch k {
	case kindHash:
		if v == indicator.Malicious {
			return event.SignalIntelMaliciousHash
		}
		return event.SignalIntelSuspiciousHash
	case kindIP:
		return event.SignalIntelBadIP
	}
	return event.SignalIntelBadDomain
}

// ecsConfidence maps a 0–100 score to ECS threat.indicator.confidence words.
func ecsConfidence(c int) string {
	switch {
	case c < 0:
		return "Not Specified"
	case c == 0:
		return "None"
	case c < 30:
		return "Low"
	case c < 70:
		return "Medium"
	}
	return "High"
}

// writeEnrichment appends the match to the event's threat.enrichments.
func writeEnrichment(v *event.View, m *match, at time.Time) {
	e := enrichmentOf(m, at)
	v.AddEnrichment(&e)
}

// enrichmentOf is the ECS enrichment of one match.
func enrichmentOf(m *match, at time.Time) event.Enrichment {
	meta := &m.meta
	e := event.Enrichment{
		Indicator: event.Indicator{
			Provider:   meta.Provider,
			Confidence: ecsConfidence(meta.Confidence),
			Name:       meta.Name,
			FirstSeen:  meta.FirstSeen,
		},
		Matched: event.Matched{
			Atomic: m.value,
			Field:  m.field.field.Name,
			Type:   event.MatchTypeIndicatorMatchRule,
			// The match is as of the event, so a replay writes the same
			// document.
			Occurred: at,
		},
		Verdict: meta.Verdict.String(),
	}
	in := &e.Indicator
	switch m.field.kind {
	case kindHash:
		in.Type = event.IndicatorTypeFile
		h := strings.ToLower(m.value)
		switch m.hashType {
		case indicator.SHA256:
			in.FileHash.SHA256 = h
		case indicator.SHA1:
			in.FileHash.SHA1 = h
		case indicator.MD5:
			in.FileHash.MD5 = h
		}
	case kindIP:
		in.Type = ipType(m.value)
		in.IP = m.value
		in.Port = int64(meta.Port)
	case kindDomain:
		in.Type = event.IndicatorTypeDomainName
		in.Domain = strings.TrimSuffix(strings.ToLower(m.value), ".")
	}
	return e
}

func ipType(s string) string {
	if a, err := netip.ParseAddr(s); err == nil && a.Unmap().Is6() {
		return event.IndicatorTypeIPv6
	}
	return event.IndicatorTypeIPv4
}
