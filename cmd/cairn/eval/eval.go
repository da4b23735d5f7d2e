// Package eval scores a collector configuration's processors against
// Cairn's labeled detection corpus (package corpus): each scenario is
// replayed through the same replay code as `cairn replay`, from an empty
// in-memory state, and its alerts are checked against the labels. It is the
// engine of `cairn eval`.
package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/cmd/cairn/corpus"
	"github.com/cairnsec/cairn/cmd/cairn/replay"
	"github.com/cairnsec/cairn/internal/document"
	"github.com/cairnsec/cairn/internal/event"
)

// Options configure one evaluation.
type Options struct {
	ConfigPath string
	CorpusDir  string
	// Scenarios selects scenarios by name; empty runs them all.
	Scenarios []string
	// BatchSize is replay's batch size; 0 takes the configuration's (as
	// `cairn replay` does). `cairn eval` uses DefaultBatchSize.
	BatchSize int
	// Processors and Extensions are the factories replay can run.
	Processors map[component.Type]processor.Factory
	Extensions map[component.Type]extension.Factory
	// Logger for the processors; nil discards their logs.
	Logger *zap.Logger
}

// DefaultBatchSize is `cairn eval`'s batch size: small batches, as a live
// receiver hands them over, so that the check that an alert comes in the
// batch of its deciding event means something. (The cairn_file receiver's
// 4096 would put a whole scenario, about 3,000 events, in one batch.)
const DefaultBatchSize = 128

// UsageError marks failures caused by arguments, the configuration or the
// corpus's labels: `cairn eval` exits with status 2 for them.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Report is the outcome of an evaluation.
type Report struct {
	Config    string        `json:"config"`
	Corpus    string        `json:"corpus"`
	Scenarios []*Result     `json:"scenarios"`
	Passed    int           `json:"passed"`
	Failed    int           `json:"failed"`
	Events    int           `json:"events"`
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// Pass reports whether every scenario passed.
func (r *Report) Pass() bool { return r.Failed == 0 && len(r.Scenarios) > 0 }

// Result is one scenario's outcome.
type Result struct {
	Name   string `json:"name"`
	Title  string `json:"title"`
	Expect string `json:"expect"`
	Events int    `json:"events"`
	// Batches is the number of batches the processors handed on.
	Batches int `json:"batches"`
	// Attacked has one entry per labelled attacked host, in label order.
	Attacked []*HostResult `json:"attacked,omitempty"`
	// Detected counts attacked hosts whose attack was detected as the
	// targets require (see HostResult.Detected).
	Detected int `json:"detected"`
	// QuietAlerts are alerts on hosts that must stay quiet (listed as
	// quiet, or not named by the labels at all).
	QuietAlerts []*Alert `json:"quiet_alerts,omitempty"`
	// UnjudgedAlerts are alerts on hosts the labels leave unjudged.
	UnjudgedAlerts []*Alert `json:"unjudged_alerts,omitempty"`
	Pass           bool     `json:"pass"`
	// Failures say why the scenario did not pass.
	Failures []string      `json:"failures,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

// HostResult is the outcome on one attacked host.
type HostResult struct {
	Host string `json:"host"`
	// FirstMalicious is the labelled first malicious event's time, and
	// FirstMaliciousID its event.id as the replay derived it (empty when
	// no event of the host has that time: a label error).
	FirstMalicious   time.Time `json:"first_malicious"`
	FirstMaliciousID string    `json:"first_malicious_event_id,omitempty"`
	// High are the host's high and critical alerts; Other its lower ones.
	High  []*Alert `json:"high_alerts,omitempty"`
	Other []*Alert `json:"other_alerts,omitempty"`
	// Detected: exactly one high alert, fired at or after the first
	// malicious event, in the batch of the event that decided it.
	Detected bool `json:"detected"`
	// Latency is the event time from the first malicious event to that
	// alert's first firing.
	Latency *time.Duration `json:"latency_ns,omitempty"`
	// Signals are the signals the host's events raised from the first
	// malicious event on (cairn.signals), with how many events raised each:
	// what the processors saw of the attack, alert or not.
	Signals []Signal `json:"signals,omitempty"`
}

// Alert is one alert as the evaluation saw it: its first record (when it
// fired) and its last state (updates share the event.id).
type Alert struct {
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Host     string `json:"host"`
	// Fired is the alert's first @timestamp: the event time of the event
	// that decided it.
	Fired time.Time `json:"fired"`
	// InBatch: the first record came in the same batch as an event the
	// alert is built from (one carrying its id in cairn.alert.ids).
	InBatch bool `json:"in_batch"`
	// Batch is the 1-based batch of the first record; Updates counts the
	// records after it.
	Batch   int     `json:"batch"`
	Updates int     `json:"updates"`
	Score   float64 `json:"score"`
	// Signals are the distinct contributing signals of the last state,
	// each with the sum of what it added to the score.
	Signals       []Signal              `json:"signals"`
	Contributions []replay.Contribution `json:"contributions,omitempty"`
	Message       string                `json:"message,omitempty"`
}

// Signal is one contributing signal of an alert.
type Signal struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	Count  int     `json:"count"`
}

// IsHigh reports whether the alert is high or critical.
func (a *Alert) IsHigh() bool { return a.Severity == "high" || a.Severity == "critical" }

// Run evaluates the corpus.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.ConfigPath == "" {
		return nil, &UsageError{errors.New("--config is required")}
	}
	scs, err := corpus.Load(o.CorpusDir)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("corpus: %w", err)}
	}
	if len(o.Scenarios) > 0 {
		var picked []*corpus.Scenario
		for _, name := range o.Scenarios {
			i := slices.IndexFunc(scs, func(s *corpus.Scenario) bool { return s.Name() == name })
			if i < 0 {
				var names []string
				for _, s := range scs {
					names = append(names, s.Name())
				}
				return nil, &UsageError{fmt.Errorf("no scenario %q in %s (it has: %s)", name, o.CorpusDir, strings.Join(names, ", "))}
			}
			picked = append(picked, scs[i])
		}
		scs = picked
	}
	rep := &Report{Config: o.ConfigPath, Corpus: o.CorpusDir}
	start := time.Now()
	for _, s := range scs {
		res, err := runScenario(ctx, o, s)
		if err != nil {
			return nil, err
		}
		rep.Scenarios = append(rep.Scenarios, res)
		rep.Events += res.Events
		if res.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func runScenario(ctx context.Context, o Options, s *corpus.Scenario) (*Result, error) {
	in, err := s.OpenEvents()
	if err != nil {
		return nil, &UsageError{fmt.Errorf("scenario %s: %w", s.Name(), err)}
	}
	defer in.Close()
	obs := newObserver(s)
	var stderr bytes.Buffer
	logger := o.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	start := time.Now()
	// A fresh in-memory state per scenario: no --state, so replay gives
	// the storage extension an empty memory store.
	sum, err := replay.Run(ctx, replay.Options{
		ConfigPath: o.ConfigPath, InputPath: "-", OutputPath: "-",
		Stdin: in, Stdout: io.Discard, Stderr: &stderr,
		BatchSize: o.BatchSize, Processors: o.Processors, Extensions: o.Extensions,
		Logger: logger, Observer: obs.batch,
	})
	if err != nil {
		var ue *replay.UsageError
		if errors.As(err, &ue) {
			return nil, &UsageError{err}
		}
		return nil, fmt.Errorf("scenario %s: %w", s.Name(), err)
	}
	res := obs.result()
	res.Elapsed = time.Since(start)
	if sum.Malformed > 0 {
		res.fail("%d malformed lines in %s (%s)", sum.Malformed, s.Labels.Events, firstLine(stderr.String()))
	}
	res.Pass = len(res.Failures) == 0
	return res, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func (r *Result) fail(format string, a ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, a...))
}

var (
	alertIDsField     = event.Lookup(event.AlertIDsKey)
	alertSignalsField = event.Lookup(event.AlertSignalsKey)
)

// observer follows one scenario's replay batch by batch.
type observer struct {
	s       *corpus.Scenario
	v       *event.View
	batches int
	events  int
	hosts   map[string]bool
	// firstID: the event.id of each attacked host's first malicious event.
	firstID map[string]string
	alerts  map[string]*Alert
	order   []string
	// decided: the ids of alerts some event of the current batch belongs to.
	decided map[string]bool
	// signals counts, per attacked host, the signals of its events from
	// the first malicious event on.
	signals map[string]map[string]int
}

func newObserver(s *corpus.Scenario) *observer {
	return &observer{s: s, v: event.NewView(), hosts: map[string]bool{}, firstID: map[string]string{}, alerts: map[string]*Alert{},
		signals: map[string]map[string]int{}}
}

func (o *observer) batch(ld plog.Logs) {
	o.batches++
	o.decided = map[string]bool{}
	var alertRecs []plog.LogRecord
	var alertRes []pcommon.Resource
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		o.v.Reset(res, rec)
		if document.IsAlert(o.v) {
			alertRecs = append(alertRecs, rec)
			alertRes = append(alertRes, res)
			return
		}
		o.events++
		host, _ := o.v.Str(event.HostName)
		o.hosts[host] = true
		if first, ok := o.s.FirstMalicious[host]; ok {
			t, ok := o.v.Time()
			if ok && o.firstID[host] == "" && t.Equal(first) {
				o.firstID[host] = o.id()
			}
			if ok && !t.Before(first) {
				o.countSignals(host)
			}
		}
		if val, ok := o.v.Get(alertIDsField); ok {
			event.AnyEquals(val, func(id string) bool {
				o.decided[id] = true
				return false
			})
		}
	})
	for i, rec := range alertRecs {
		o.v.Reset(alertRes[i], rec)
		o.alert()
	}
	o.v.Release()
}

func (o *observer) countSignals(host string) {
	val, ok := o.v.Signals()
	if !ok {
		return
	}
	m := o.signals[host]
	if m == nil {
		m = map[string]int{}
		o.signals[host] = m
	}
	event.AnyEquals(val, func(s string) bool {
		m[s]++
		return false
	})
}

func (o *observer) id() string {
	if id, ok := o.v.Str(event.EventID); ok {
		return id
	}
	return o.v.ContentID()
}

func (o *observer) alert() {
	a := replay.AlertOf(o.v)
	cur, ok := o.alerts[a.ID]
	if !ok {
		cur = &Alert{ID: a.ID, Fired: a.Time, Batch: o.batches, InBatch: o.decided[a.ID]}
		o.alerts[a.ID] = cur
		o.order = append(o.order, a.ID)
	} else {
		cur.Updates++
	}
	cur.Rule, cur.Severity, cur.Host, cur.Score, cur.Message = a.Rule, a.Severity, a.Entity, a.Score, a.Message
	cur.Contributions = a.Contributions
	cur.Signals = cur.Signals[:0]
	for _, c := range a.Contributions {
		i := slices.IndexFunc(cur.Signals, func(s Signal) bool { return s.Name == c.Signal })
		if i < 0 {
			cur.Signals = append(cur.Signals, Signal{Name: c.Signal})
			i = len(cur.Signals) - 1
		}
		cur.Signals[i].Weight += c.Weight
		cur.Signals[i].Count++
	}
	if len(cur.Signals) == 0 {
		// An alert without contributions still names its signals.
		if val, ok := o.v.Get(alertSignalsField); ok {
			event.AnyEquals(val, func(s string) bool {
				cur.Signals = append(cur.Signals, Signal{Name: s})
				return false
			})
		}
	}
	sort.SliceStable(cur.Signals, func(i, j int) bool { return cur.Signals[i].Weight > cur.Signals[j].Weight })
}

// result scores the scenario against its labels.
func (o *observer) result() *Result {
	l := &o.s.Labels
	res := &Result{Name: l.Name, Title: l.Title, Expect: l.Expect, Events: o.events, Batches: o.batches}

	// The labels must describe the events: every host of the events is
	// named, every named host has events, every first malicious event exists.
	named := o.s.Hosts()
	for h := range o.hosts {
		if !slices.Contains(named, h) {
			res.fail("labels: host %s has events but is neither attacked, quiet nor unjudged", h)
		}
	}
	for _, h := range named {
		if !o.hosts[h] {
			res.fail("labels: host %s has no event", h)
		}
	}

	attacked := map[string]*HostResult{}
	for _, a := range l.Attacked {
		hr := &HostResult{Host: a.Host, FirstMalicious: o.s.FirstMalicious[a.Host], FirstMaliciousID: o.firstID[a.Host]}
		if hr.FirstMaliciousID == "" {
			res.fail("labels: %s has no event at %s, its first malicious event", a.Host, a.FirstMalicious.Time)
		}
		for name, n := range o.signals[a.Host] {
			hr.Signals = append(hr.Signals, Signal{Name: name, Count: n})
		}
		sort.Slice(hr.Signals, func(i, j int) bool { return hr.Signals[i].Name < hr.Signals[j].Name })
		attacked[a.Host] = hr
		res.Attacked = append(res.Attacked, hr)
	}
	for _, id := range o.order {
		a := o.alerts[id]
		switch hr := attacked[a.Host]; {
		case hr != nil && a.IsHigh():
			hr.High = append(hr.High, a)
		case hr != nil:
			hr.Other = append(hr.Other, a)
		case o.s.IsUnjudged(a.Host):
			res.UnjudgedAlerts = append(res.UnjudgedAlerts, a)
		default:
			res.QuietAlerts = append(res.QuietAlerts, a)
		}
	}
	for _, hr := range res.Attacked {
		switch len(hr.High) {
		case 0:
			why := "no high alert"
			if len(hr.Other) > 0 {
				a := hr.Other[0]
				why += fmt.Sprintf(" (%d lower: %s %q at %s, score %g)", len(hr.Other), a.Severity, a.Rule, clock(a.Fired), a.Score)
			}
			if len(hr.Signals) == 0 {
				why += "; no signal on its events from the first malicious event on"
			} else {
				var names []string
				for _, sg := range hr.Signals {
					names = append(names, fmt.Sprintf("%s x%d", sg.Name, sg.Count))
				}
				why += "; signals from the first malicious event on: " + strings.Join(names, ", ")
			}
			res.fail("%s: %s", hr.Host, why)
			continue
		case 1:
		default:
			res.fail("%s: %d high alerts, want exactly one (%s)", hr.Host, len(hr.High), alertList(hr.High))
			continue
		}
		a := hr.High[0]
		lat := a.Fired.Sub(hr.FirstMalicious)
		if lat < 0 {
			res.fail("%s: the high alert fired at %s, before the first malicious event at %s", hr.Host, clock(a.Fired), clock(hr.FirstMalicious))
			continue
		}
		hr.Latency = &lat
		if !a.InBatch {
			res.fail("%s: the high alert (fired %s) did not come in the batch of its deciding event", hr.Host, clock(a.Fired))
			continue
		}
		hr.Detected = true
		res.Detected++
	}
	if len(res.QuietAlerts) > 0 {
		res.fail("%d alert(s) on quiet hosts: %s", len(res.QuietAlerts), alertList(res.QuietAlerts))
	}
	return res
}

// maxListed bounds the alerts a message lists one by one.
const maxListed = 5

func alertList(as []*Alert) string {
	var parts []string
	for i, a := range as {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(as)-maxListed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s %q at %s", a.Host, a.Severity, a.Rule, clock(a.Fired)))
	}
	return strings.Join(parts, "; ")
}

// clock formats an event time for messages: the date matters across days.
func clock(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
