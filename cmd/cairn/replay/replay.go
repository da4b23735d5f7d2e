// Package replay runs the processors of a collector configuration's logs
// pipeline over a file of ECS events, with the same factories and
// configuration as the collector, so a backtest gives the same tags and
// alerts as production. It is the engine of `cairn replay`.
package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/normalize"
	"github.com/cairnsec/cairn/receiver/filereceiver"
)

// Options configure one replay run.
type Options struct {
	ConfigPath string
	// Pipeline names the logs pipeline; empty picks "logs" or the only one.
	Pipeline string
	// InputPath and OutputPath are files; "-" means stdin / stdout.
	InputPath  string
	OutputPath string
	// StateDir replaces the storage extension's directory. Empty: state is
	// kept in memory and discarded, leaving the live baseline untouched.
	StateDir string
	// BatchSize is the number of records per batch handed to the
	// processors; 0 takes max_batch_events of the pipeline's cairn_file
	// receiver, else DefaultBatchSize.
	BatchSize int
	// Stderr receives malformed-line reports and progress.
	Stderr io.Writer
	// Stdin and Stdout serve the "-" paths; nil means the process's own.
	Stdin  io.Reader
	Stdout io.Writer
	// Progress prints a live counter (for terminals).
	Progress bool
	// Processors and Extensions are the factories replay can run.
	Processors map[component.Type]processor.Factory
	Extensions map[component.Type]extension.Factory
	// Logger for components; nil logs warnings to Stderr.
	Logger *zap.Logger
	// Decoding are the line decoder's options; Run takes them from the
	// pipeline's cairn_file receiver when the configuration has one, so
	// that replay decodes exactly as the collector does.
	Decoding ingest.Options
	// Format, when set, replaces the decoding option format (the
	// receiver's or Decoding's): ecs, tetragon, zeek, falco, sysmon or auto.
	Format string
	// Observer, when set, sees every batch the processors hand on, in
	// order, before it is written: what `cairn eval` scores, batch
	// boundaries included (an alert must come in the batch of the event
	// that decided it). It must not keep or change the batch.
	Observer func(plog.Logs)
}

// DefaultBatchSize is the batch size without one configured: the cairn_file
// receiver's default max_batch_events.
const DefaultBatchSize = 4096

// UsageError marks failures caused by arguments or configuration; the CLI
// exits with status 2 for them.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, a ...any) error { return &UsageError{Err: fmt.Errorf(format, a...)} }

// maxReported bounds malformed-line messages on stderr; the rest are counted.
const maxReported = 100

// skipped are processors that shape delivery, not content: replay feeds
// records straight through instead.
var skipped = map[string]string{
	"batch":          "batching only groups records for delivery",
	"memory_limiter": "it only refuses data under memory pressure",
}

// Run executes a replay.
func Run(ctx context.Context, o Options) (*Summary, error) {
	if o.ConfigPath == "" || o.InputPath == "" || o.OutputPath == "" {
		return nil, usage("--config, --input and --output are required")
	}
	// Both before anything is opened for writing (the output is truncated
	// when it is opened).
	if err := checkPaths(o); err != nil {
		return nil, err
	}
	if err := stateInUse(o.StateDir); err != nil {
		return nil, err
	}
	if o.Format != "" && !normalize.Valid(o.Format) {
		return nil, usage("--format must be one of %s, got %q", strings.Join(normalize.Names(), ", "), o.Format)
	}

	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	logger := o.Logger
	if logger == nil {
		logger = stderrLogger(o.Stderr)
	}
	cc, err := loadConfig(ctx, o.ConfigPath, o.Pipeline)
	if err != nil {
		return nil, usage("config %s: %w", o.ConfigPath, err)
	}
	// Lines are decoded and batched as the pipeline's cairn_file receiver
	// does it (batch boundaries decide which alert states are written).
	input, inputID, err := cc.fileInput()
	if err != nil {
		return nil, usage("config %s: %w", o.ConfigPath, err)
	}
	var inputNote string
	if input != nil {
		if o.Decoding == (ingest.Options{}) {
			o.Decoding = filereceiver.IngestOptions(input)
		}
		if o.BatchSize <= 0 {
			o.BatchSize = input.MaxBatchEvents
		}
		inputNote = fmt.Sprintf("lines decoded and batched (%d records per batch) as receiver %s does", o.BatchSize, inputID)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Decoding == (ingest.Options{}) {
		o.Decoding = ingest.DefaultOptions()
	}
	if o.Format != "" {
		o.Decoding.Format = o.Format
	}
	if err := o.Decoding.Validate(); err != nil {
		return nil, usage("decoding options: %w", err)
	}

	in, closeIn, err := openInput(o.InputPath, o.Stdin)
	if err != nil {
		return nil, usage("input: %w", err)
	}
	defer closeIn()
	out, closeOut, err := openOutput(o.OutputPath, o.Stdout)
	if err != nil {
		return nil, usage("output: %w", err)
	}

	tel := component.TelemetrySettings{
		Logger:         logger,
		TracerProvider: nooptrace.NewTracerProvider(),
		MeterProvider:  noopmetric.NewMeterProvider(),
		Resource:       pcommon.NewResource(),
	}
	build := component.BuildInfo{Command: "cairn", Description: "Cairn replay", Version: Version}

	h := &host{exts: map[component.ID]component.Component{}}
	if err := startExtensions(ctx, cc, o, tel, build, h); err != nil {
		h.shutdown(ctx)
		closeOut()
		return nil, err
	}

	sum := newSummary()
	sink := &encoderSink{w: bufio.NewWriterSize(out, 1<<20), sum: sum, observe: o.Observer}
	chain, procs, notes, err := buildChain(ctx, cc, o, tel, build, sink)
	if err != nil {
		h.shutdown(ctx)
		closeOut()
		return nil, err
	}
	sum.Notes = notes
	if inputNote != "" {
		sum.Notes = append([]string{inputNote}, sum.Notes...)
	}
	// Start in reverse pipeline order, as the collector does, so a
	// processor never emits into one that is not running yet.
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].Start(ctx, h); err != nil {
			for j := len(procs) - 1; j > i; j-- {
				_ = procs[j].Shutdown(ctx)
			}
			h.shutdown(ctx)
			closeOut()
			// Another process took the state between the check above
			// and the storage's open: bbolt only says "timeout".
			if inUse := stateInUse(o.StateDir); inUse != nil {
				return nil, inUse
			}
			return nil, usage("starting processor: %w", err)
		}
	}

	start := time.Now()
	runErr := feed(ctx, in, chain, o, sum, start)
	var errs []error
	if runErr != nil {
		errs = append(errs, runErr)
	}
	for _, p := range procs {
		if err := p.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutting down processor: %w", err))
		}
	}
	if err := sink.w.Flush(); err != nil && sink.err == nil {
		sink.err = err
	}
	if sink.err != nil {
		errs = append(errs, fmt.Errorf("writing output: %w", sink.err))
	}
	if err := closeOut(); err != nil {
		errs = append(errs, fmt.Errorf("closing output: %w", err))
	}
	if err := h.shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	sum.Elapsed = time.Since(start)
	if o.Progress {
		fmt.Fprint(o.Stderr, "\r\033[K")
	}
	return sum, errors.Join(errs...)
}

func stderrLogger(w io.Writer) *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.TimeKey = ""
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(cfg), zapcore.AddSync(w), zap.WarnLevel))
}

func openInput(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { _ = f.Close() }, nil
}

func openOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "-" {
		if stdout == nil {
			stdout = os.Stdout
		}
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	closed := false
	return f, func() error {
		if closed {
			return nil
		}
		closed = true
		return f.Close()
	}, nil
}

func startExtensions(ctx context.Context, cc *collectorConfig, o Options, tel component.TelemetrySettings, build component.BuildInfo, h *host) error {
	for _, id := range cc.extensions {
		f, known := o.Extensions[id.Type()]
		if !known {
			// health_check, pprof and the like serve a running collector only.
			continue
		}
		if o.StateDir == "" {
			h.add(id, newMemStorage())
			continue
		}
		cfg := f.CreateDefaultConfig()
		sub, err := cc.componentConf("extensions", id)
		if err != nil {
			return usage("%w", err)
		}
		if err := sub.Unmarshal(cfg); err != nil {
			return usage("extension %s: %w", id, err)
		}
		if err := os.MkdirAll(o.StateDir, 0o750); err != nil {
			return usage("--state: %w", err)
		}
		// The state directory replaces the configured one.
		if err := confmap.NewFromStringMap(map[string]any{"directory": o.StateDir}).Unmarshal(cfg); err != nil {
			return usage("extension %s: cannot set directory: %w", id, err)
		}
		if err := confmap.Validate(cfg); err != nil {
			return usage("extension %s: %w", id, err)
		}
		ext, err := f.Create(ctx, extension.Settings{ID: id, TelemetrySettings: tel, BuildInfo: build}, cfg)
		if err != nil {
			return usage("extension %s: %w", id, err)
		}
		if err := ext.Start(ctx, h); err != nil {
			return usage("extension %s: %w", id, err)
		}
		h.add(id, ext)
	}
	return nil
}

func buildChain(ctx context.Context, cc *collectorConfig, o Options, tel component.TelemetrySettings, build component.BuildInfo, sink consumer.Logs) (consumer.Logs, []processor.Logs, []string, error) {
	var notes []string
	type planned struct {
		id  component.ID
		f   processor.Factory
		cfg component.Config
	}
	var plan []planned
	for _, id := range cc.processors {
		if why, ok := skipped[id.Type().String()]; ok {
			notes = append(notes, fmt.Sprintf("processor %s skipped: %s", id, why))
			continue
		}
		f, ok := o.Processors[id.Type()]
		if !ok {
			return nil, nil, nil, usage("processor %s: type %q cannot run in replay (replay runs: %s)", id, id.Type(), factoryNames(o.Processors))
		}
		cfg := f.CreateDefaultConfig()
		sub, err := cc.componentConf("processors", id)
		if err != nil {
			return nil, nil, nil, usage("%w", err)
		}
		if err := sub.Unmarshal(cfg); err != nil {
			return nil, nil, nil, usage("processor %s: %w", id, err)
		}
		if err := confmap.Validate(cfg); err != nil {
			return nil, nil, nil, usage("processor %s: %w", id, err)
		}
		plan = append(plan, planned{id: id, f: f, cfg: cfg})
	}
	next := sink
	procs := make([]processor.Logs, len(plan))
	for i := len(plan) - 1; i >= 0; i-- {
		p := plan[i]
		set := processor.Settings{ID: p.id, TelemetrySettings: tel, BuildInfo: build}
		pl, err := p.f.CreateLogs(ctx, set, p.cfg, next)
		if err != nil {
			return nil, nil, nil, usage("processor %s: %w", p.id, err)
		}
		procs[i] = pl
		next = pl
	}
	return next, procs, notes, nil
}

func factoryNames(m map[component.Type]processor.Factory) string {
	names := make([]string, 0, len(m)+len(skipped))
	for t := range m {
		names = append(names, t.String())
	}
	for t := range skipped {
		names = append(names, t+" (skipped)")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// feed reads lines, decodes them into batches and pushes them through the
// processors. Decoding runs in its own goroutine, a few batches ahead, so on
// a machine with two or more cores it overlaps with processing and encoding;
// on one core the result is the same, only serial.
func feed(ctx context.Context, in io.Reader, chain consumer.Logs, o Options, sum *Summary, start time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan plog.Logs, 4)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- decodeAll(ctx, in, o, sum, start, batches)
	}()
	var consumeErr error
	for ld := range batches {
		if consumeErr != nil {
			continue // drain so the reader can stop
		}
		if err := chain.ConsumeLogs(ctx, ld); err != nil {
			consumeErr = fmt.Errorf("the pipeline refused a batch: %w", err)
			cancel()
		}
	}
	if err := <-readErr; err != nil && consumeErr == nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if consumeErr != nil {
		return consumeErr
	}
	return ctx.Err()
}

func decodeAll(ctx context.Context, in io.Reader, o Options, sum *Summary, start time.Time, out chan<- plog.Logs) error {
	r := bufio.NewReaderSize(in, 1<<20)
	// The collector's file input decodes with the same decoder and
	// options (see decoderOptions), so both paths make the same records.
	dec := ingest.NewDecoder(o.Decoding)
	// refusedEarly: lines refused before their format is looked at (too
	// long, too many values), which the format counts leave out.
	refusedEarly := 0
	defer func() {
		sum.Format = o.Decoding.Format
		if sum.Format == "" {
			sum.Format = ingest.FormatECS
		}
		if sum.Formats = dec.FormatCounts(); sum.Formats == nil {
			// Format ecs: every other non-blank line was read as an
			// ECS document.
			sum.Formats = []normalize.Count{{Format: normalize.FormatECS, Kind: normalize.Native, N: int64(sum.Lines - sum.Blank - refusedEarly)}}
		}
	}()
	maxLine := o.Decoding.MaxLineBytes
	lineNo := 0
	var ld plog.Logs
	var recs plog.LogRecordSlice
	newBatch := func() {
		ld = plog.NewLogs()
		recs = ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		recs.EnsureCapacity(o.BatchSize)
	}
	send := func() error {
		if recs.Len() == 0 {
			return nil
		}
		select {
		case out <- ld:
		case <-ctx.Done():
			return ctx.Err()
		}
		newBatch()
		return nil
	}
	newBatch()
	lastProgress := start
	var long []byte
	for {
		line, err := r.ReadSlice('\n')
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it, keeping at most
			// maxLine bytes of it (the rest is read and dropped).
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				if room := maxLine + 2 - len(long); room > 0 {
					long = append(long, line[:min(room, len(line))]...)
				}
			}
			line = long
			tooLong = len(ingest.TrimLine(line)) > maxLine
		}
		if len(line) > 0 {
			lineNo++
			sum.Lines++
			before := recs.Len()
			var res ingest.Result
			var derr error
			if tooLong {
				res, derr = ingest.Malformed, dec.TooLong(line[:maxLine], recs)
			} else {
				res, derr = dec.Line(line, recs)
			}
			switch res {
			case ingest.Blank:
				sum.Blank++
			case ingest.Malformed:
				sum.malformed(o.Stderr, lineNo, derr.Error())
				if r := ingest.ReasonOf(derr); r == ingest.ReasonTooLong || r == ingest.ReasonTooManyValues {
					refusedEarly++
				}
			}
			sum.EventsIn += recs.Len() - before
			if recs.Len() >= o.BatchSize {
				if serr := send(); serr != nil {
					return serr
				}
			}
			if o.Progress && sum.Lines%4096 == 0 {
				if now := time.Now(); now.Sub(lastProgress) > 250*time.Millisecond {
					lastProgress = now
					el := now.Sub(start).Seconds()
					fmt.Fprintf(o.Stderr, "\r\033[K%d events, %.0f events/s", sum.EventsIn, float64(sum.EventsIn)/el)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
	}
	return send()
}

// host gives processors the extensions replay started.
type host struct {
	exts  map[component.ID]component.Component
	order []component.ID
}

func (h *host) GetExtensions() map[component.ID]component.Component { return h.exts }

func (h *host) add(id component.ID, c component.Component) {
	h.exts[id] = c
	h.order = append(h.order, id)
}

func (h *host) shutdown(ctx context.Context) error {
	var errs []error
	for i := len(h.order) - 1; i >= 0; i-- {
		id := h.order[i]
		if err := h.exts[id].Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("extension %s: %w", id, err))
		}
	}
	h.order = nil
	return errors.Join(errs...)
}
