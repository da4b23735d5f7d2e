package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/document"
	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/normalize"
)

// Version is Cairn's version, set at build time.
var Version = "dev"

// TuneGC makes the garbage collector run less often (GOGC=400) unless the
// user set GOGC: replay is a batch job whose live heap is small next to the
// garbage that decoding produces, so fewer collections buy throughput for
// a modest amount of memory. Call it from main, not from a library user.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// Summary describes a finished replay.
type Summary struct {
	Lines     int
	Blank     int
	EventsIn  int
	EventsOut int
	Malformed int
	// Signals counts output events per signal name in cairn.signals.
	Signals map[string]int
	Notes   []string
	Elapsed time.Duration
	// Alerts are the alert records written, each in its latest state (an
	// update re-sends an alert under the same event.id), in order of first
	// appearance.
	Alerts []Alert
	// AlertRecords counts alert records written, updates included.
	AlertRecords int
	// Format is the decoding option format the lines were read with
	// ("ecs", "tetragon", "zeek" or "auto").
	Format string
	// Formats counts the records read by format, type and kind
	// (ingest.Decoder.FormatCounts; with format ecs, one count of the
	// lines read as ECS documents). Lines refused before their format is
	// looked at (too long, too many values) and blank lines are not in it.
	Formats []normalize.Count

	alertIndex map[string]int

	reported int
}

func newSummary() *Summary { return &Summary{Signals: map[string]int{}, alertIndex: map[string]int{}} }

// Alert is what the summary shows of an alert record.
type Alert struct {
	ID, Rule, Severity, Entity, Message string
	Time                                time.Time
	Score                               float64
	Contributions                       []Contribution
}

// Contribution is one line of an alert's explanation.
type Contribution struct {
	Signal, Summary string
	Weight          float64
	Time            time.Time
}

var (
	ruleName        = event.Lookup("rule.name")
	alertScore      = event.Lookup(event.AlertScoreKey)
	alertSeverity   = event.Lookup(event.AlertSeverityKey)
	alertContribs   = event.Lookup(event.AlertContributionsKey)
	alertHostFields = []*event.Field{event.HostName, event.HostID, event.Lookup("container.id"), event.UserName}
)

// alert records an alert record, replacing the earlier state of the same id.
func (s *Summary) alert(v *event.View) {
	s.AlertRecords++
	a := AlertOf(v)
	if i, ok := s.alertIndex[a.ID]; ok {
		s.Alerts[i] = a
		return
	}
	s.alertIndex[a.ID] = len(s.Alerts)
	s.Alerts = append(s.Alerts, a)
}

// AlertOf reads what the summary shows of the alert record under v
// (correlate's fields: rule, severity, score, entity, contributions).
func AlertOf(v *event.View) Alert {
	a := Alert{}
	a.ID, _ = v.Str(event.EventID)
	a.Rule, _ = v.Str(ruleName)
	a.Severity, _ = v.Str(alertSeverity)
	a.Message, _ = v.Str(event.Message)
	for _, f := range alertHostFields {
		if e, ok := v.Str(f); ok {
			a.Entity = e
			break
		}
	}
	a.Time, _ = v.Time()
	if val, ok := v.Get(alertScore); ok {
		a.Score = val.Double()
	}
	if val, ok := v.Get(alertContribs); ok && val.Type() == pcommon.ValueTypeSlice {
		for i := 0; i < val.Slice().Len(); i++ {
			e := val.Slice().At(i)
			if e.Type() != pcommon.ValueTypeMap {
				continue
			}
			m := e.Map()
			c := Contribution{}
			if x, ok := m.Get(event.ContributionSignal); ok {
				c.Signal = x.Str()
			}
			if x, ok := m.Get(event.ContributionSummary); ok {
				c.Summary = x.Str()
			}
			if x, ok := m.Get(event.ContributionWeight); ok {
				c.Weight = x.Double()
			}
			if x, ok := m.Get(event.ContributionTime); ok {
				c.Time, _ = time.Parse(time.RFC3339Nano, x.Str())
			}
			a.Contributions = append(a.Contributions, c)
		}
	}
	return a
}

// writeAlerts prints each alert with its explanation.
func (s *Summary) writeAlerts(w io.Writer) {
	if len(s.Alerts) == 0 {
		fmt.Fprintln(w, "alerts: none")
		return
	}
	fmt.Fprintf(w, "alerts: %d (%d alert records written, updates included)\n", len(s.Alerts), s.AlertRecords)
	for _, a := range s.Alerts {
		fmt.Fprintf(w, "  [%s] %s: %s at %s, score %g (event.id %s)\n", a.Severity, a.Rule, a.Entity,
			a.Time.UTC().Format(time.RFC3339Nano), a.Score, a.ID)
		fmt.Fprintf(w, "    %s\n", a.Message)
		for _, c := range a.Contributions {
			fmt.Fprintf(w, "    %+6g  %-26s %s  %s\n", c.Weight, c.Signal, c.Time.UTC().Format("15:04:05.000"), c.Summary)
		}
	}
}

func (s *Summary) malformed(w io.Writer, line int, reason string) {
	s.Malformed++
	if s.reported < maxReported {
		s.reported++
		fmt.Fprintf(w, "line %d: %s\n", line, reason)
		if s.reported == maxReported {
			fmt.Fprintf(w, "(further malformed lines are counted, not shown)\n")
		}
	}
}

// EventsPerSecond is the end-to-end throughput.
func (s *Summary) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.EventsIn) / s.Elapsed.Seconds()
}

// writeFormats prints the records read per format, then for each sensor
// format its records by kind and type:
//
//	formats: ecs 0, tetragon 43, zeek 0 (format auto)
//	  tetragon: normalized 40 (process_exec 12, process_exit 10, process_kprobe 18), unknown 3 (process_tracepoint 3), refused 0
func (s *Summary) writeFormats(w io.Writer) {
	totals := map[string]int64{normalize.FormatECS: 0}
	switch s.Format {
	case normalize.FormatAuto:
		for _, f := range normalize.Names() {
			if f != normalize.FormatAuto {
				totals[f] = 0
			}
		}
	case normalize.FormatTetragon, normalize.FormatZeek, normalize.FormatFalco, normalize.FormatSysmon:
		totals[s.Format] = 0
	}
	for _, c := range s.Formats {
		totals[c.Format] += c.N
	}
	names := make([]string, 0, len(totals))
	for n := range totals {
		if n != normalize.FormatECS {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	fmt.Fprintf(w, "formats: ecs %d", totals[normalize.FormatECS])
	for _, n := range names {
		fmt.Fprintf(w, ", %s %d", n, totals[n])
	}
	if s.Format != "" && s.Format != normalize.FormatECS {
		fmt.Fprintf(w, " (format %s)", s.Format)
	}
	fmt.Fprintln(w)
	kinds := []normalize.Kind{normalize.Normalized, normalize.Unknown, normalize.Refused}
	for _, n := range names {
		fmt.Fprintf(w, "  %s:", n)
		for i, k := range kinds {
			var total int64
			var types []string
			for _, c := range s.Formats { // sorted by format, kind, type
				if c.Format == n && c.Kind == k {
					total += c.N
					types = append(types, fmt.Sprintf("%s %d", c.Type, c.N))
				}
			}
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(w, "%s %s %d", sep, k, total)
			if len(types) > 0 {
				fmt.Fprintf(w, " (%s)", strings.Join(types, ", "))
			}
		}
		fmt.Fprintln(w)
	}
}

// Write prints the summary for people.
func (s *Summary) Write(w io.Writer) {
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "events: %d in, %d out in %s (%.0f events/s)\n", s.EventsIn, s.EventsOut, s.Elapsed.Round(time.Millisecond), s.EventsPerSecond())
	fmt.Fprintf(w, "malformed lines: %d\n", s.Malformed)
	s.writeFormats(w)
	defer s.writeAlerts(w)
	if len(s.Signals) == 0 {
		fmt.Fprintln(w, "signals: none")
		return
	}
	names := make([]string, 0, len(s.Signals))
	width := 0
	for n := range s.Signals {
		names = append(names, n)
		if len(n) > width {
			width = len(n)
		}
	}
	sort.Strings(names)
	fmt.Fprintln(w, "signals (events flagged):")
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %d\n", width, n, s.Signals[n])
	}
}

// encoderSink is the end of the replay pipeline: it writes every record as
// one ECS document per line, as the cairn_search exporter writes it (the
// same internal/document fields and encoder, without the exporter's
// bookkeeping: data_stream.* and event.ingested), and counts what came out.
type encoderSink struct {
	w   *bufio.Writer
	enc ecs.Encoder
	x   ecs.Extra
	buf []byte
	v   *event.View
	sum *Summary
	err error
	mu  sync.Mutex
	// observe is Options.Observer.
	observe func(plog.Logs)
}

func (s *encoderSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *encoderSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.observe != nil {
		s.observe(ld)
	}
	if s.v == nil {
		s.v = event.NewView()
	}
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		s.v.Reset(res, rec)
		alert := document.IsAlert(s.v)
		document.Fill(&s.x, s.v, document.Dataset(s.v, alert))
		s.count(alert)
		s.buf = s.enc.AppendDoc(s.buf[:0], res, rec, &s.x)
		s.buf = append(s.buf, '\n')
		if s.err == nil {
			if _, err := s.w.Write(s.buf); err != nil {
				s.err = err
			}
		}
	})
	s.v.Release()
	return s.err
}

func (s *encoderSink) count(alert bool) {
	s.sum.EventsOut++
	if alert {
		s.sum.alert(s.v)
	}
	val, ok := s.v.Signals()
	if !ok {
		return
	}
	switch val.Type() {
	case pcommon.ValueTypeStr:
		s.sum.Signals[val.Str()]++
	case pcommon.ValueTypeSlice:
		sl := val.Slice()
		for i := 0; i < sl.Len(); i++ {
			if e := sl.At(i); e.Type() == pcommon.ValueTypeStr {
				s.sum.Signals[e.Str()]++
			}
		}
	}
}
