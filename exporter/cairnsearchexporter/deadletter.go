package cairnsearchexporter

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/zeebo/xxh3"

	"github.com/cairnsec/cairn/internal/document"
)

// deadLetters builds the dead-letter documents of refused items: one per
// item, into logs-<dataset>-<namespace> of the item's namespace, with the
// original document as text (event.original), the reason (error.*) and
// where it was meant to go (cairn.dlq.*). The _id is derived from the
// original target and id, and written with create, so a dead letter is
// stored once however often its batch is retried.
type deadLetters struct {
	dataset string
	maxDoc  int
	names   map[string]string // namespace -> data stream
}

func newDeadLetters(cfg *Config) *deadLetters {
	return &deadLetters{dataset: cfg.DeadLetter.Dataset, maxDoc: cfg.DeadLetter.MaxDocumentBytes, names: map[string]string{}}
}

func (d *deadLetters) stream(ns string) string {
	n, ok := d.names[ns]
	if !ok {
		n = document.Type + "-" + d.dataset + "-" + ns
		if len(d.names) < 1024 {
			d.names[ns] = n
		}
	}
	return n
}

// add appends the dead letter of src.items[i] (refused with r) to dst; it
// keeps the original item's record reference.
func (d *deadLetters) add(dst *batch, src *batch, i int, r result, now time.Time) {
	orig := &src.items[i]
	ns := orig.namespace
	index := d.stream(ns)
	h := xxh3.HashString128(orig.index + "\x00" + orig.id)
	var idb [32]byte
	id := string(appendHex64(appendHex64(idb[:0], h.Hi), h.Lo))

	it := item{start: len(dst.buf), ref: orig.ref, index: index, namespace: ns, id: id}
	dst.buf = appendAction(dst.buf, false, index, id, 0)
	it.doc = len(dst.buf)

	b := dst.buf
	b = append(b, `{"@timestamp":"`...)
	b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","data_stream":{"type":"logs","dataset":`...)
	b = appendJSONString(b, d.dataset)
	b = append(b, `,"namespace":`...)
	b = appendJSONString(b, ns)
	b = append(b, `},"event":{"kind":"pipeline_error","original":`...)
	doc := src.source(i)
	truncated := len(doc) > d.maxDoc
	if truncated {
		cut := d.maxDoc
		for cut > 0 && !utf8.RuneStart(doc[cut]) {
			cut--
		}
		doc = doc[:cut]
	}
	b = appendJSONString(b, string(doc))
	b = append(b, `},"error":{"type":`...)
	b = appendJSONString(b, r.errType)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, r.reason)
	b = append(b, `,"code":"`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, `"},"cairn":{"dlq":{"index":`...)
	b = appendJSONString(b, orig.index)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, orig.id)
	b = append(b, `,"action":`...)
	if orig.alert {
		b = append(b, `"index"`...)
	} else {
		b = append(b, `"create"`...)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, truncated)
	b = append(b, `,"original_bytes":`...)
	b = strconv.AppendInt(b, int64(orig.end-1-orig.doc), 10)
	b = append(b, "}}}\n"...)
	dst.buf = b
	it.end = len(dst.buf)
	dst.items = append(dst.items, it)
}

func appendHex64(dst []byte, x uint64) []byte {
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, hexDigits[(x>>uint(s))&15])
	}
	return dst
}
