package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
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

	reported int
}

func newSummary() *Summary { return &Summary{Signals: map[string]int{}} }

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

// Write prints the summary for people.
func (s *Summary) Write(w io.Writer) {
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "events: %d in, %d out in %s (%.0f events/s)\n", s.EventsIn, s.EventsOut, s.Elapsed.Round(time.Millisecond), s.EventsPerSecond())
	fmt.Fprintf(w, "malformed lines: %d\n", s.Malformed)
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
// one ECS document per line and counts what came out.
type encoderSink struct {
	w   *bufio.Writer
	enc ecs.Encoder
	buf []byte
	v   *event.View
	sum *Summary
	err error
	mu  sync.Mutex
}

func (s *encoderSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *encoderSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.v == nil {
		s.v = event.NewView()
	}
	event.Each(ld, func(res pcommon.Resource, rec plog.LogRecord) {
		s.v.Reset(res, rec)
		// Every written event carries an id: the processors give one to
		// the events they change, the output to all others.
		s.v.EnsureID()
		s.count()
		s.buf = s.enc.Append(s.buf[:0], res, rec)
		s.buf = append(s.buf, '\n')
		if s.err == nil {
			if _, err := s.w.Write(s.buf); err != nil {
				s.err = err
			}
		}
	})
	return s.err
}

func (s *encoderSink) count() {
	s.sum.EventsOut++
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
