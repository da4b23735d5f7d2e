package sigmaprocessor

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/dirwatch"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/periodic"
	"github.com/cairnsec/cairn/internal/sigma"
	"github.com/cairnsec/cairn/processor/sigmaprocessor/internal/metadata"
)

// RulesKey is the array of the rules an event matched, one object per
// rule with its id, title, author and level, for analysts. (The signals
// and cairn.signal_details carry the same for correlate.)
const RulesKey = "cairn.sigma.rules"

// Members of one cairn.sigma.rules object.
const (
	ruleID     = "id"
	ruleTitle  = "title"
	ruleAuthor = "author"
	ruleLevel  = "level"
)

// detailKeyPrefix starts the key of a Sigma signal detail: one key per
// rule, so that correlate counts two rules of a level as two raises.
const detailKeyPrefix = "sigma:"

// signalOf is the signal a match of a rule of this level raises;
// informational rules raise none (the specification: "no case or alerting
// should be triggered by such rules").
func signalOf(l sigma.Level) string {
	switch l {
	case sigma.LevelLow:
		return event.SignalSigmaLow
	case sigma.LevelMedium:
		return event.SignalSigmaMedium
	case sigma.LevelHigh:
		return event.SignalSigmaHigh
	case sigma.LevelCritical:
		return event.SignalSigmaCritical
	}
	return ""
}

type sigmaProcessor struct {
	logger    *zap.Logger
	cfg       *Config
	loader    *loader
	telemetry *metadata.TelemetryBuilder
	reload    *periodic.Loop

	// Used under mu: batches are short.
	mu   sync.Mutex
	view *event.View
	eval *sigma.Evaluator
	keys map[string]bool
	// levelAttrs are the metric attributes of each level, made once.
	levelAttrs [sigma.LevelCritical + 1]metric.AddOption
}

func newSigmaProcessor(set processor.Settings, cfg *Config) (*sigmaProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &sigmaProcessor{logger: set.Logger, cfg: cfg, loader: newLoader(cfg, set.Logger), telemetry: tb,
		view: event.NewView(), keys: map[string]bool{}}
	for l := range p.levelAttrs {
		p.levelAttrs[l] = metric.WithAttributes(attribute.String("level", sigma.Level(l).String()))
	}
	p.loader.onLoadError = func() { tb.ProcessorSigmaLoadErrors.Add(context.Background(), 1) }
	p.loader.onRefused = func(reason string) {
		tb.ProcessorSigmaFilesRefused.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", reason)))
	}
	err = tb.RegisterProcessorSigmaRulesLoadedCallback(func(_ context.Context, o metric.Int64Observer) error {
		ls := p.loader.rules()
		for l, n := range ls.byLevel {
			o.Observe(int64(n), metric.WithAttributes(attribute.String("level", l.String())))
		}
		return nil
	})
	if err == nil {
		err = tb.RegisterProcessorSigmaRulesUnsupportedCallback(func(_ context.Context, o metric.Int64Observer) error {
			for r, n := range p.loader.rules().unsupported {
				o.Observe(int64(n), metric.WithAttributes(attribute.String("reason", string(r))))
			}
			return nil
		})
	}
	if err == nil {
		err = tb.RegisterProcessorSigmaRulesSkippedCallback(func(_ context.Context, o metric.Int64Observer) error {
			for r, n := range p.loader.rules().skipped {
				o.Observe(int64(n), metric.WithAttributes(attribute.String("reason", r)))
			}
			return nil
		})
	}
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return p, nil
}

func (p *sigmaProcessor) start(_ context.Context, _ component.Host) error {
	if d := p.cfg.RulesDir; d != "" {
		if err := dirwatch.CheckDir("rules_dir", d); err != nil {
			return err
		}
	}
	if err := p.loader.refresh(true); err != nil {
		return fmt.Errorf("sigma rules: %w", err)
	}
	if p.cfg.RulesDir != "" && p.cfg.ReloadInterval > 0 {
		p.reload = periodic.Start(p.cfg.ReloadInterval, func() {
			// Errors are logged and counted by the loader.
			_ = p.loader.refresh(false)
		})
	}
	return nil
}

func (p *sigmaProcessor) shutdown(context.Context) error {
	if p.reload != nil {
		p.reload.Stop()
		p.reload = nil
	}
	p.telemetry.Shutdown()
	return nil
}

func (p *sigmaProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	ls := p.loader.rules()
	if ls.set == nil || ls.set.Len() == 0 {
		return ld, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.eval == nil || p.eval.Set() != ls.set {
		p.eval = ls.set.NewEvaluator()
	}
	var events, matched, failed int64
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		events++
		p.view.Reset(res, rec)
		ok, err := p.evaluate()
		switch {
		case err != nil:
			failed++
			if failed == 1 {
				p.logger.Error("Sigma evaluation failed; the event is passed on unchanged", zap.Error(err))
			}
		case ok:
			matched++
		}
	})
	// Between batches, hold nothing of this one.
	p.view.Release()
	p.eval.Release()
	p.telemetry.ProcessorSigmaEvents.Add(ctx, events)
	if matched > 0 {
		p.telemetry.ProcessorSigmaMatchedEvents.Add(ctx, matched)
	}
	if failed > 0 {
		p.telemetry.ProcessorSigmaEvalErrors.Add(ctx, failed)
	}
	return ld, nil
}

// evaluate matches the event under view and writes the matches. A panic
// (a bug the event triggered) costs that event's evaluation, not the batch
// or the collector.
func (p *sigmaProcessor) evaluate() (matched bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			matched, err = false, fmt.Errorf("panic: %v", r)
		}
	}()
	rules := p.eval.Match(p.view)
	if len(rules) == 0 {
		return false, nil
	}
	p.write(rules)
	return true, nil
}

// write records the matches on the event: the signal of each rule's level
// in cairn.signals, one cairn.signal_details object per rule (its key, its
// title and author, its ATT&CK tactics and techniques), and the rules in
// cairn.sigma.rules. An event that already carries a rule's detail (one
// processed before, replayed) does not get it twice.
func (p *sigmaProcessor) write(rules []*sigma.Rule) {
	v := p.view
	// The id is derived from the event as it arrived (cairn.* fields are
	// left out of it), before anything is written.
	v.EnsureID()
	clear(p.keys)
	v.SignalDetails(func(d event.SignalDetail) bool {
		p.keys[d.Key] = true
		return true
	})
	for _, r := range rules {
		key := detailKeyPrefix + r.ID
		if p.keys[key] {
			continue
		}
		p.keys[key] = true
		if sig := signalOf(r.Level); sig != "" {
			v.AddSignal(sig)
			v.AddSignalDetail(event.SignalDetail{Signal: sig, Key: key, Label: r.Label(),
				Tactics: r.Tactics, Techniques: r.Techniques})
		}
		m := v.AppendObject(RulesKey)
		m.EnsureCapacity(4)
		m.PutStr(ruleID, r.ID)
		m.PutStr(ruleTitle, r.Title)
		if r.Author != "" {
			m.PutStr(ruleAuthor, r.Author)
		}
		m.PutStr(ruleLevel, r.Level.String())
		p.telemetry.ProcessorSigmaMatches.Add(context.Background(), 1, p.levelAttrs[r.Level])
	}
}
