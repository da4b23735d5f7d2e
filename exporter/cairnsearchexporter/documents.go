package cairnsearchexporter

import (
	"strconv"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/document"
	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
)

// recRef is the position of a record in the plog.Logs it came from.
type recRef struct{ rl, sl, lr int }

// item is one document of a batch: its action line and source, both
// newline-terminated, at buf[start:doc] and buf[doc:end].
type item struct {
	start, doc, end int
	ref             recRef
	index           string
	namespace       string
	id              string
	alert           bool
	// version is an alert's external version (0: none).
	version int64
}

// batch holds the encoded documents of one push.
type batch struct {
	buf   []byte
	items []item
}

func (b *batch) reset() {
	b.buf = b.buf[:0]
	b.items = b.items[:0]
}

func (b *batch) action(i int) []byte { it := &b.items[i]; return b.buf[it.start:it.doc] }

// source is the document without its newline.
func (b *batch) source(i int) []byte { it := &b.items[i]; return b.buf[it.doc : it.end-1] }

// docEncoder turns records into bulk items. One per goroutine.
type docEncoder struct {
	view   *event.View
	enc    ecs.Encoder
	x      ecs.Extra
	router *router
	now    func() time.Time
	// static: no data_stream.* fields (the static index options).
	namespace string
}

func newDocEncoder(cfg *Config) *docEncoder {
	return &docEncoder{view: event.NewView(), router: newRouter(cfg), now: time.Now, namespace: cfg.Namespace}
}

// encode appends every record of ld to b, leaving the records as they are
// (the exporter does not mutate its input, so the collector need not copy a
// batch that another exporter also reads). What the document adds to the
// record is handed to the encoder instead: the fields every writer adds
// (internal/document: event.id, ecs.version, event.dataset) and the
// exporter's bookkeeping, data_stream.* matching the target data stream and
// event.ingested. A record without any time is stamped with the export time,
// as data streams need @timestamp.
func (d *docEncoder) encode(ld plog.Logs, b *batch) {
	now := d.now()
	ingested := now.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource()
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				rec := lrs.At(k)
				d.view.Reset(res, rec)
				tgt := d.router.route(d.view)
				document.Fill(&d.x, d.view, tgt.dataset)
				id := d.x.ID
				if id == "" {
					id, _ = d.view.Str(event.EventID)
				}
				if tgt.dataset != "" {
					d.x.DataStreamType = document.Type
					d.x.DataStreamDataset = tgt.dataset
					d.x.DataStreamNamespace = tgt.namespace
				}
				d.x.Ingested = ingested
				d.x.Now = now.UnixNano()
				var version int64
				if tgt.alert {
					version = alertVersion(d.view, rec)
				}
				ns := tgt.namespace
				if ns == "" {
					ns = d.namespace
				}
				it := item{start: len(b.buf), ref: recRef{i, j, k}, index: tgt.index, namespace: ns, id: id, alert: tgt.alert, version: version}
				b.buf = appendAction(b.buf, tgt.alert, tgt.index, id, version)
				it.doc = len(b.buf)
				b.buf = d.enc.AppendDoc(b.buf, res, rec, &d.x)
				b.buf = append(b.buf, '\n')
				it.end = len(b.buf)
				b.items = append(b.items, it)
			}
		}
	}
	d.view.Release()
}

// alertVersion is the external version of an alert document: its event.end
// (else its time) in epoch milliseconds. Written with version_type
// external_gte, a later state replaces an earlier one, and an earlier state
// that arrives late (a retried batch) is refused with 409 instead of
// overwriting the newer one. 0 means unknown: no versioning.
func alertVersion(v *event.View, rec plog.LogRecord) int64 {
	if val, ok := v.Get(fieldEventEnd); ok {
		switch val.Type() {
		case pcommon.ValueTypeStr:
			if t, err := time.Parse(time.RFC3339Nano, val.Str()); err == nil && t.UnixMilli() > 0 {
				return t.UnixMilli()
			}
		case pcommon.ValueTypeInt:
			if val.Int() > 0 {
				return val.Int()
			}
		case pcommon.ValueTypeDouble:
			if val.Double() >= 1 && val.Double() < 1e15 {
				return int64(val.Double())
			}
		}
	}
	if t, ok := v.Time(); ok && t.UnixMilli() > 0 {
		return t.UnixMilli()
	}
	if ts := rec.Timestamp(); ts > 0 {
		return int64(ts) / 1e6
	}
	return 0
}

// appendAction writes the action line: create for events (a retried event
// then gets 409, never a duplicate), index with an external version for
// alerts (replaced in place by a later state).
func appendAction(dst []byte, alert bool, index, id string, version int64) []byte {
	if alert {
		dst = append(dst, `{"index":{"_index":`...)
	} else {
		dst = append(dst, `{"create":{"_index":`...)
	}
	dst = appendJSONString(dst, index)
	dst = append(dst, `,"_id":`...)
	dst = appendJSONString(dst, id)
	if alert && version > 0 {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, version, 10)
		dst = append(dst, `,"version_type":"external_gte"`...)
	}
	return append(dst, "}}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
