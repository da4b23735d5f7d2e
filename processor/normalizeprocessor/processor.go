// Package normalizeprocessor implements the cairn_normalize processor: it
// turns log records whose body holds a sensor's native record (Tetragon,
// Zeek or Falco JSON, Sysmon for Linux XML) or an ECS document into the ECS
// events the cairn_file receiver makes of the same record, through the same
// decoding path (internal/normalize, then internal/ingest), so the
// attributes, the time and the content event.id are the same whichever way
// the record came in. See README.md.
package normalizeprocessor

import (
	"bytes"
	"context"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/normalize"
	"github.com/cairnsec/cairn/processor/normalizeprocessor/internal/metadata"
)

// Kinds of the records metric.
const (
	kindNormalized = "normalized"
	kindUnknown    = "unknown"
	kindRefused    = "refused"
	kindSkipped    = "skipped"
)

// journaldMessage is the member of a journald entry (a map body) holding
// the message.
const journaldMessage = "MESSAGE"

type normalizeProcessor struct {
	cfg    *Config
	logger *zap.Logger
	tb     *metadata.TelemetryBuilder
	// workers: a Decoder and a Normalizer are not safe for concurrent
	// use, and batches may come concurrently; each batch takes one.
	workers sync.Pool
}

// countKey is one series of the records metric.
type countKey struct {
	format, typ, kind string
}

// worker decodes the records of one batch at a time.
type worker struct {
	// norm is nil with format ecs.
	norm    *normalize.Normalizer
	dec     *ingest.Decoder
	scratch plog.LogRecordSlice
	buf     []byte
	// last: the normaliser's counts already published.
	last map[countKey]int64
	// own counts of the batch, published by flush.
	own     map[countKey]int64
	refused map[ingest.Reason]int64
}

func newNormalizeProcessor(set processor.Settings, cfg *Config) (*normalizeProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	if cfg.Format != normalize.FormatECS {
		// Fail at creation, not on the first batch, for a format the
		// normaliser does not know.
		if _, err := normalize.New(cfg.Format); err != nil {
			return nil, err
		}
	}
	p := &normalizeProcessor{cfg: cfg, logger: set.Logger, tb: tb}
	p.workers.New = func() any { return p.newWorker() }
	return p, nil
}

func (p *normalizeProcessor) newWorker() *worker {
	o := ingest.DefaultOptions()
	// The body's bound is checked before normalisation; the document
	// made of it is bounded by the normaliser and by MaxValues.
	o.MaxLineBytes = ingest.MaxMaxLineBytes
	o.OnError = ingest.OnErrorDrop
	w := &worker{
		dec:     ingest.NewDecoder(o),
		scratch: plog.NewLogRecordSlice(),
		last:    map[countKey]int64{},
		own:     map[countKey]int64{},
		refused: map[ingest.Reason]int64{},
	}
	if p.cfg.Format != normalize.FormatECS {
		w.norm, _ = normalize.New(p.cfg.Format) // checked at creation
	}
	return w
}

func (p *normalizeProcessor) shutdown(context.Context) error {
	p.tb.Shutdown()
	return nil
}

func (p *normalizeProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	w := p.workers.Get().(*worker)
	defer p.workers.Put(w)
	event.Each(ld, func(_ pcommon.Resource, rec plog.LogRecord) { p.record(w, rec) })
	p.flush(ctx, w)
	return ld, nil
}

// record normalises one record in place, or leaves it unchanged.
func (p *normalizeProcessor) record(w *worker, lr plog.LogRecord) {
	text := w.bodyText(lr.Body())
	rec := find(text)
	if rec == nil {
		w.own[countKey{kind: kindSkipped}]++
		return
	}
	ecsFormat := w.norm == nil
	if len(rec) > p.cfg.MaxBodyBytes {
		f := ""
		if ecsFormat {
			f = normalize.FormatECS
		}
		w.own[countKey{format: f, kind: kindRefused}]++
		w.refused[ingest.ReasonTooLong]++
		return
	}
	doc := rec
	if !ecsFormat {
		d, o, err := w.norm.Record(rec)
		switch o {
		case normalize.Event:
			doc = d
		case normalize.Malformed:
			// Counted refused by the normaliser.
			w.refused[ingest.ReasonOf(err)]++
			return
		default:
			// Passthrough: a sensor record of a type with no mapping
			// (counted unknown by the normaliser), or one no sensor
			// format claims (an ECS document, or other JSON: counted
			// native by the normaliser, published as skipped); Skip: a
			// Zeek TSV header. Left unchanged.
			return
		}
	}
	res, err := w.dec.Line(doc, w.scratch)
	if res != ingest.Decoded {
		if res == ingest.Malformed {
			w.refused[ingest.ReasonOf(err)]++
		}
		if ecsFormat {
			w.own[countKey{format: normalize.FormatECS, kind: kindRefused}]++
		}
		w.scratch.RemoveIf(func(plog.LogRecord) bool { return true })
		return
	}
	if ecsFormat {
		w.own[countKey{format: normalize.FormatECS, kind: kindNormalized}]++
	}
	src := w.scratch.At(0)
	src.Attributes().MoveTo(lr.Attributes())
	if ts := src.Timestamp(); ts != 0 {
		lr.SetTimestamp(ts)
	}
	if !p.cfg.KeepBody {
		pcommon.NewValueEmpty().CopyTo(lr.Body())
	}
	w.scratch.RemoveIf(func(plog.LogRecord) bool { return true })
}

// bodyText returns the text of a body: a string, bytes, or the MESSAGE of
// a journald entry (a map body); nil for any other body.
func (w *worker) bodyText(v pcommon.Value) []byte {
	if v.Type() == pcommon.ValueTypeMap {
		m, ok := v.Map().Get(journaldMessage)
		if !ok {
			return nil
		}
		v = m
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		w.buf = append(w.buf[:0], v.Str()...)
		return w.buf
	case pcommon.ValueTypeBytes:
		return v.Bytes().AsRaw()
	}
	return nil
}

var (
	jsonStart  = []byte("{")
	eventStart = []byte("<Event")
)

// find returns the sensor record in a body: the whole body (trimmed) when
// it starts as a JSON object or an XML <Event> does, else the rest of the
// body from the first "{" or "<Event" (a syslog line's message: Sysmon's
// "sysmon: <Event>...", a Falco alert after its program tag); nil when
// there is neither.
func find(text []byte) []byte {
	text = ingest.TrimLine(text)
	if len(text) == 0 {
		return nil
	}
	if text[0] == '{' || bytes.HasPrefix(text, eventStart) {
		return text
	}
	i := bytes.Index(text, jsonStart)
	if j := bytes.Index(text, eventStart); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return nil
	}
	return text[i:]
}

// flush publishes the counts of a batch.
func (p *normalizeProcessor) flush(ctx context.Context, w *worker) {
	if w.norm != nil {
		for _, c := range w.norm.Counts() {
			k := countKey{format: c.Format, typ: c.Type, kind: c.Kind.String()}
			d := c.N - w.last[k]
			if d <= 0 {
				continue
			}
			w.last[k] = c.N
			if c.Kind == normalize.Native {
				// No sensor format claimed it: left unchanged.
				k = countKey{kind: kindSkipped}
			}
			w.own[k] += d
		}
	}
	for k, n := range w.own {
		p.tb.ProcessorCairnNormalizeRecords.Add(ctx, n, metric.WithAttributes(
			attribute.String("format", k.format), attribute.String("type", k.typ), attribute.String("kind", k.kind)))
		delete(w.own, k)
	}
	for r, n := range w.refused {
		p.tb.ProcessorCairnNormalizeRefusedRecords.Add(ctx, n, metric.WithAttributes(attribute.String("reason", string(r))))
		delete(w.refused, r)
	}
}
