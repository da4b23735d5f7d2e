package cairnsearchexporter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"
)

// outcome of one document in a _bulk request.
type outcome uint8

const (
	outDelivered outcome = iota // stored (200/201)
	outExists                   // 409: already there (a retried create) or a newer alert version
	outRetry                    // 429, 5xx, 404, or the request failed: try again later
	outReject                   // refused for good (mapping or parse error...): dead-letter
)

// result of one document.
type result struct {
	outcome outcome
	status  int    // HTTP status of the item, 0 when the request failed
	errType string // error.type of the item, or a short cause
	reason  string
}

// sender posts items to _bulk and works out each one's outcome.
type sender struct {
	client   func() searchClient
	maxBytes int
	tel      *metadata.TelemetryBuilder
	parsers  fastjson.ParserPool
	bodies   sync.Pool
}

func newSender(client func() searchClient, maxBytes int, tel *metadata.TelemetryBuilder) *sender {
	s := &sender{client: client, maxBytes: maxBytes, tel: tel}
	s.bodies.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	return s
}

// send sends the items of b listed in list, in requests of at most
// maxBytes, and writes each one's result to res (indexed like b.items).
func (s *sender) send(ctx context.Context, b *batch, list []int, res []result) {
	start, size := 0, 0
	for i, idx := range list {
		n := b.items[idx].end - b.items[idx].start
		if i > start && size+n > s.maxBytes {
			s.sendChunk(ctx, b, list[start:i], res)
			start, size = i, 0
		}
		size += n
	}
	if start < len(list) {
		s.sendChunk(ctx, b, list[start:], res)
	}
}

var (
	attrOK      = metric.WithAttributes(attribute.String("outcome", "ok"))
	attrPartial = metric.WithAttributes(attribute.String("outcome", "item_errors"))
	attrFailed  = metric.WithAttributes(attribute.String("outcome", "request_failed"))
)

// sendChunk sends one request. A 413 (body too large) or a request-level
// 400 splits the chunk in halves until the culprit is alone; that one is
// refused for good. Every other request-level failure (connection refused,
// timeout, 401, 403, 404, 429, 5xx...) leaves the whole chunk to retry.
func (s *sender) sendChunk(ctx context.Context, b *batch, chunk []int, res []result) {
	bp := s.bodies.Get().(*[]byte)
	body := (*bp)[:0]
	for _, idx := range chunk {
		it := &b.items[idx]
		body = append(body, b.buf[it.start:it.end]...)
	}
	t0 := time.Now()
	r, err := s.client().do(ctx, "POST", "/_bulk", body)
	ms := float64(time.Since(t0).Microseconds()) / 1000
	*bp = body[:0]
	s.bodies.Put(bp)
	s.tel.ExporterCairnSearchDocsSent.Add(ctx, int64(len(chunk)))
	if err != nil {
		s.tel.ExporterCairnSearchBulkLatency.Record(ctx, ms, attrFailed)
		setAll(chunk, res, result{outcome: outRetry, errType: "request_failed", reason: err.Error()})
		return
	}
	switch {
	case r.status == 200:
		partial, perr := s.parseItems(r.body, chunk, res)
		switch {
		case perr != nil:
			s.tel.ExporterCairnSearchBulkLatency.Record(ctx, ms, attrFailed)
			setAll(chunk, res, result{outcome: outRetry, status: 200, errType: "bad_response", reason: perr.Error()})
		case partial:
			s.tel.ExporterCairnSearchBulkLatency.Record(ctx, ms, attrPartial)
		default:
			s.tel.ExporterCairnSearchBulkLatency.Record(ctx, ms, attrOK)
		}
		return
	case r.status == 413 || r.status == 400:
		s.tel.ExporterCairnSearchBulkLatency.Record(ctx, ms, metric.WithAttributes(attribute.String("outcome", "http_"+strconv.Itoa(r.status))))
		if len(chunk) > 1 {
			half := len(chunk) / 2
			s.sendChunk(ctx, b, chunk[:half], res)
			s.sendChunk(ctx, b, chunk[half:], res)
			return
		}
		typ := "request_too_large"
		if r.status == 400 {
			typ = "bad_request"
		}
		setAll(chunk, res, result{outcome: outReject, status: r.status, errType: typ, reason: errorSummary(r.body)})
	default:
		s.tel.ExporterCairnSearchBulkLatency.Record(ctx, ms, metric.WithAttributes(attribute.String("outcome", "http_"+strconv.Itoa(r.status))))
		setAll(chunk, res, result{outcome: outRetry, status: r.status, errType: "http_" + strconv.Itoa(r.status), reason: errorSummary(r.body)})
	}
}

func setAll(chunk []int, res []result, r result) {
	for _, idx := range chunk {
		res[idx] = r
	}
}

var errItemCount = errors.New("the _bulk answer does not have one item per document")

// parseItems reads a 200 answer of _bulk. With "errors": false every item
// was stored; otherwise each item's status decides. It reports whether any
// item failed.
func (s *sender) parseItems(body []byte, chunk []int, res []result) (bool, error) {
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return false, fmt.Errorf("unreadable _bulk answer: %w", err)
	}
	items := v.GetArray("items")
	if len(items) != len(chunk) {
		return false, fmt.Errorf("%w: %d items for %d documents", errItemCount, len(items), len(chunk))
	}
	if !v.GetBool("errors") {
		setAll(chunk, res, result{outcome: outDelivered, status: 201})
		return false, nil
	}
	partial := false
	for i, it := range items {
		obj, err := it.Object()
		if err != nil {
			return false, fmt.Errorf("unreadable _bulk item %d: %w", i, err)
		}
		var op *fastjson.Value
		obj.Visit(func(_ []byte, v *fastjson.Value) {
			if op == nil {
				op = v
			}
		})
		if op == nil {
			return false, fmt.Errorf("empty _bulk item %d", i)
		}
		r := classify(op)
		if r.outcome != outDelivered {
			partial = true
		}
		res[chunk[i]] = r
	}
	return partial, nil
}

// classify turns one item of a _bulk answer into a result.
func classify(op *fastjson.Value) result {
	status := op.GetInt("status")
	r := result{status: status}
	if e := op.Get("error"); e != nil {
		r.errType = string(e.GetStringBytes("type"))
		r.reason = string(e.GetStringBytes("reason"))
		if c := e.Get("caused_by"); c != nil {
			if cr := c.GetStringBytes("reason"); len(cr) > 0 {
				r.reason += ": " + string(c.GetStringBytes("type")) + ": " + string(cr)
			}
		}
	}
	switch {
	case status >= 200 && status < 300:
		r.outcome = outDelivered
	case status == 409:
		r.outcome = outExists
	case status == 429 || status >= 500 || status == 0 ||
		status == 401 || status == 403 || status == 404 || status == 408:
		// Overload, server trouble, a blocked index or missing rights, or
		// a target that does not exist and cannot be created: none is the
		// document's fault, and each can be fixed without it.
		r.outcome = outRetry
	default:
		r.outcome = outReject
	}
	return r
}
