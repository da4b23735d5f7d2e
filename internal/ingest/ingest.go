// Package ingest turns lines of input into log records: the one decoding
// path shared by the cairn_file receiver and `cairn replay`, so that the same
// line gives the same record (and so the same document and event.id) in the
// collector and in a backtest.
//
// A line holds one ECS document (NDJSON). It becomes one record whose
// attributes are the document's fields, with the types as written (integers
// stay integers), and whose Timestamp is the document's @timestamp (see
// internal/ecs). A document without an event.id gets its content id (see
// internal/event) there. The raw line is not kept unless
// Options.EventOriginal asks for it, in event.original (which the id leaves
// out).
//
// A line that is not a valid document (bad JSON, not an object, too long,
// nested too deep) is malformed. With OnError "send" it becomes an ECS
// pipeline error record: event.kind "pipeline_error", error.message saying
// why, the line (cut to MaxLineBytes) in event.original, and the time it was
// read as its only time, so nothing read is lost without trace; with "drop"
// it is only counted. Blank lines are skipped.
//
// Options.Format says what a line holds: "ecs" (the default, all of the
// above), or the native records of another sensor ("tetragon", "zeek"), or
// "auto" to tell them apart record by record. Native records are first
// normalised into ECS documents by internal/normalize, and those documents
// are then decoded exactly as an ECS line would be, so a record's content
// event.id is summed over its normalised document: the same line always
// gives the same document and id, in the collector and in replay. The raw
// line is what event.original keeps. Header lines (Zeek TSV) give no record
// and are reported as Blank; a record the normaliser refuses is malformed
// (invalid_value).
package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/normalize"
)

// Error policies for malformed lines.
const (
	OnErrorSend = "send"
	OnErrorDrop = "drop"
)

// Defaults shared by the receiver's config and replay.
const (
	DefaultMaxLineBytes = 1 << 20
	// DefaultMaxValues bounds the values (members and array elements,
	// at any depth) of one document: an ECS event has tens to hundreds.
	DefaultMaxValues = 10000
	// MaxMaxValues bounds the option.
	MaxMaxValues = 1 << 20
	// MaxMaxLineBytes bounds the option: a line is held whole in memory
	// while it is decoded.
	MaxMaxLineBytes = 64 << 20
)

// Options are the decoding options. The zero value is not valid: start from
// DefaultOptions.
type Options struct {
	// MaxLineBytes: longer lines are malformed ("line too long"); the
	// reader must not hand over more than this many bytes of such a line.
	MaxLineBytes int
	// EventOriginal keeps the raw line in event.original (ECS), off by
	// default: it doubles the stored size of every event.
	EventOriginal bool
	// OnError is OnErrorSend or OnErrorDrop.
	OnError string
	// MaxValues: a document with more values than this (members and array
	// elements at any depth) is malformed. The byte cap alone does not
	// bound the work: a 15 MB line of one-digit array elements holds 7.5
	// million values, and building them would take gigabytes.
	MaxValues int
	// Format is what a line holds: FormatECS ("ecs", also when empty),
	// normalize.FormatTetragon, normalize.FormatZeek or
	// normalize.FormatAuto.
	Format string
}

// FormatECS is the default format: every line is an ECS document.
const FormatECS = normalize.FormatECS

// DefaultOptions are the options of a receiver or replay left unset.
func DefaultOptions() Options {
	return Options{MaxLineBytes: DefaultMaxLineBytes, OnError: OnErrorSend, MaxValues: DefaultMaxValues, Format: FormatECS}
}

// Validate checks the options; each error names the receiver option, and
// every bad option is reported.
func (o Options) Validate() error {
	var errs []error
	if o.MaxLineBytes < 64 || o.MaxLineBytes > MaxMaxLineBytes {
		errs = append(errs, fmt.Errorf("max_line_bytes must be between 64 and %d, got %d", MaxMaxLineBytes, o.MaxLineBytes))
	}
	if o.OnError != OnErrorSend && o.OnError != OnErrorDrop {
		errs = append(errs, fmt.Errorf("on_error must be %q or %q, got %q", OnErrorSend, OnErrorDrop, o.OnError))
	}
	if o.MaxValues < 16 || o.MaxValues > MaxMaxValues {
		errs = append(errs, fmt.Errorf("max_values must be between 16 and %d, got %d", MaxMaxValues, o.MaxValues))
	}
	if !normalize.Valid(o.Format) {
		errs = append(errs, fmt.Errorf("format must be one of %s, got %q", strings.Join(normalize.Names(), ", "), o.Format))
	}
	return errors.Join(errs...)
}

// Reason says why a line was refused, for metrics: ReasonOf.
type Reason string

const (
	ReasonTooLong       Reason = "too_long"
	ReasonInvalidJSON   Reason = "invalid_json"
	ReasonNotObject     Reason = "not_object"
	ReasonInvalidValue  Reason = "invalid_value"
	ReasonTooManyValues Reason = "too_many_values"
)

// LineError is the error of a Malformed line.
type LineError struct {
	Reason Reason
	Err    error
}

func (e *LineError) Error() string { return e.Err.Error() }
func (e *LineError) Unwrap() error { return e.Err }

// ReasonOf returns the reason of an error of Line or TooLong
// (ReasonInvalidValue for any other error).
func ReasonOf(err error) Reason {
	var le *LineError
	if errors.As(err, &le) {
		return le.Reason
	}
	return ReasonInvalidValue
}

func lineError(err error) *LineError {
	r := ReasonInvalidValue
	switch {
	case errors.Is(err, ecs.ErrSyntax):
		r = ReasonInvalidJSON
	case errors.Is(err, ecs.ErrNotObject):
		r = ReasonNotObject
	}
	return &LineError{Reason: r, Err: err}
}

func tooLong(max int) *LineError {
	return &LineError{Reason: ReasonTooLong, Err: fmt.Errorf("line longer than %d bytes", max)}
}

// Result says what became of a line.
type Result uint8

const (
	// Decoded: one record was appended.
	Decoded Result = iota
	// Blank: nothing to decode, nothing appended.
	Blank
	// Malformed: the line was refused; a pipeline error record was
	// appended when OnError is "send".
	Malformed
)

// Decoder decodes lines. Not safe for concurrent use; keep one per reader.
type Decoder struct {
	opts Options
	ecs  ecs.Decoder
	// scratch receives a document before it is known to be valid, so
	// that a bad line leaves nothing half-built in the batch.
	scratch plog.LogRecord
	view    *event.View
	noRes   pcommon.Resource
	// norm normalises native records; nil for ECS lines.
	norm *normalize.Normalizer
	// formatErr: the options named no known format (they were not
	// validated); every line is then refused with it.
	formatErr error
}

// NewDecoder returns a decoder with validated options.
func NewDecoder(o Options) *Decoder {
	d := &Decoder{opts: o, scratch: plog.NewLogRecord(), view: event.NewView(), noRes: pcommon.NewResource()}
	if o.Format != "" && o.Format != FormatECS {
		d.norm, d.formatErr = normalize.New(o.Format)
	}
	return d
}

// UseStream makes s the input the next lines come from, for a format that
// carries state from line to line (Zeek TSV headers): a decoder reading
// several inputs in turn (several files) keeps one Stream per input and
// switches before each input's lines; nil returns to the decoder's own,
// which is right for a single input. It does nothing for ECS lines.
func (d *Decoder) UseStream(s *normalize.Stream) {
	if d.norm != nil {
		d.norm.Use(s)
	}
}

// FormatCounts returns the records normalised so far, by format, type and
// kind (normalize.Count); nil when the format is ecs.
func (d *Decoder) FormatCounts() []normalize.Count {
	if d.norm == nil {
		return nil
	}
	return d.norm.Counts()
}

// Options returns the decoder's options.
func (d *Decoder) Options() Options { return d.opts }

// Line decodes one line, with or without its line ending, and appends the
// record it gives to recs. err says why a Malformed line was refused.
func (d *Decoder) Line(line []byte, recs plog.LogRecordSlice) (Result, error) {
	body := TrimLine(line)
	if len(body) == 0 {
		return Blank, nil
	}
	if len(body) > d.opts.MaxLineBytes {
		err := tooLong(d.opts.MaxLineBytes)
		d.malformed(body, err, recs)
		return Malformed, err
	}
	// Every value but the first takes at least one separator, so only a
	// line this long can hold too many; counting them costs a scan, which
	// short lines (nearly all) are spared.
	if len(body) > 2*d.opts.MaxValues && countValues(body) > d.opts.MaxValues {
		err := &LineError{Reason: ReasonTooManyValues, Err: fmt.Errorf("more than %d values in the document", d.opts.MaxValues)}
		d.malformed(body, err, recs)
		return Malformed, err
	}
	doc := body
	if d.norm != nil || d.formatErr != nil {
		var res Result
		var err error
		if doc, res, err = d.normalize(body); res != Decoded {
			if res == Malformed {
				d.malformed(body, err, recs)
			}
			return res, err
		}
	}
	rec := d.scratch
	idr, derr := d.ecs.DecodeID(doc, rec)
	if derr != nil {
		d.scratch = plog.NewLogRecord() // drop what a failed decode left
		err := lineError(derr)
		d.malformed(body, err, recs)
		return Malformed, err
	}
	if !idr.HasID {
		// Every event gets its content id here, where it is cheapest: the
		// decoder summed it on the way. The same line always gets the
		// same id, whichever path (collector or replay) decoded it.
		// (The view is not released after: it then points at the scratch
		// record, which MoveTo below empties.)
		d.view.Reset(d.noRes, rec)
		if idr.Summed {
			d.view.SetID(d.view.FormatID(idr.Sum))
		} else {
			d.view.SetID(d.view.ContentID())
		}
	}
	if d.opts.EventOriginal {
		ecs.PutEventOriginal(rec.Attributes(), body)
	}
	rec.MoveTo(recs.AppendEmpty())
	return Decoded, nil
}

// normalize turns a native record into the ECS document to decode: Decoded
// with the document, Blank for a header line, or Malformed.
func (d *Decoder) normalize(body []byte) ([]byte, Result, error) {
	if d.formatErr != nil {
		return nil, Malformed, &LineError{Reason: ReasonInvalidValue, Err: d.formatErr}
	}
	doc, o, err := d.norm.Record(body)
	switch o {
	case normalize.Skip:
		return nil, Blank, nil
	case normalize.Malformed:
		return nil, Malformed, &LineError{Reason: ReasonInvalidValue, Err: err}
	}
	// The document made of a record is bounded like a line: a Zeek set
	// of a million elements becomes an array of a million values.
	if len(doc) > 2*d.opts.MaxValues && countValues(doc) > d.opts.MaxValues {
		return nil, Malformed, &LineError{Reason: ReasonTooManyValues, Err: fmt.Errorf("more than %d values in the normalised document", d.opts.MaxValues)}
	}
	return doc, Decoded, nil
}

// TooLong reports a line the reader cut because it exceeded MaxLineBytes;
// head is what it kept of the line (at most MaxLineBytes).
func (d *Decoder) TooLong(head []byte, recs plog.LogRecordSlice) error {
	err := tooLong(d.opts.MaxLineBytes)
	d.malformed(head, err, recs)
	return err
}

// malformed appends the pipeline error record of a refused line when the
// policy says so.
func (d *Decoder) malformed(line []byte, err error, recs plog.LogRecordSlice) {
	if d.opts.OnError != OnErrorSend {
		return
	}
	if len(line) > d.opts.MaxLineBytes {
		line = line[:d.opts.MaxLineBytes]
	}
	rec := recs.AppendEmpty()
	// A refused line has no event time of its own: it is dated when it
	// was read (its ObservedTimestamp), as data streams need @timestamp.
	rec.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	a := rec.Attributes()
	ev := a.PutEmptyMap("event")
	ev.PutStr("kind", "pipeline_error")
	ev.PutStr("original", string(line))
	a.PutEmptyMap("error").PutStr("message", err.Error())
}

// countValues counts an upper bound of the values of a JSON text: the
// commas and openings ([ and {) outside strings, plus one.
func countValues(b []byte) int {
	n := 1
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',', '[', '{':
			n++
		}
	}
	return n
}

// TrimLine drops the line ending, surrounding blanks and a UTF-8 byte order
// mark.
func TrimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		b = b[3:]
	}
	return b
}
