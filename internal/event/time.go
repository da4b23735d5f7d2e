package event

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/timestamp"
)

// Event time is defined here once; the processors (through View.Time), the
// ECS encoder (the stored @timestamp) and the exporter all use it, so what a
// processor windowed on is what the index sorts by. Event time, not arrival
// time, drives first-seen history and correlation windows so that a replay of
// old logs behaves like live processing.
//
// The time of a record is, in order:
//  1. its Timestamp, when set (Cairn's decoders put the document's
//     @timestamp there; OTLP senders set it);
//  2. else an "@timestamp" field of its attributes (then of a Map body) in
//     either ECS form, an RFC 3339 string or epoch milliseconds: what a
//     parser that leaves the record time empty produces;
//  3. else its ObservedTimestamp, the time it was read.

// TimeSource says where a record's time came from.
type TimeSource uint8

const (
	// NoTime: the record has no time at all.
	NoTime TimeSource = iota
	// FromTimestamp: the record Timestamp.
	FromTimestamp
	// FromField: an @timestamp field of the attributes or Map body.
	FromField
	// FromObserved: the ObservedTimestamp.
	FromObserved
)

// RecordTime returns a record's event time in Unix nanoseconds and where it
// came from (see above).
func RecordTime(rec plog.LogRecord) (int64, TimeSource) {
	if ts := rec.Timestamp(); ts != 0 {
		return int64(ts), FromTimestamp
	}
	if val, found := lookup(rec.Attributes(), Timestamp.Name); found {
		if ns, ok := parseTime(val); ok {
			return ns, FromField
		}
	}
	if body := rec.Body(); body.Type() == pcommon.ValueTypeMap {
		if val, found := lookup(body.Map(), Timestamp.Name); found {
			if ns, ok := parseTime(val); ok {
				return ns, FromField
			}
		}
	}
	if ts := rec.ObservedTimestamp(); ts != 0 {
		return int64(ts), FromObserved
	}
	return 0, NoTime
}

// Time returns the event time (see RecordTime); ok is false when the event
// carries no time at all.
func (v *View) Time() (t time.Time, ok bool) {
	ns, src := RecordTime(v.rec)
	if src == NoTime {
		return time.Time{}, false
	}
	return time.Unix(0, ns).UTC(), true
}

// parseTime reads RFC 3339 strings and epoch milliseconds, the two forms of
// ECS @timestamp in the wild. Times at or before the epoch read as no time:
// a record Timestamp (unsigned) cannot hold them, so the stored @timestamp
// could not be the time the processors used.
func parseTime(val pcommon.Value) (int64, bool) {
	var ns int64
	var ok bool
	switch val.Type() {
	case pcommon.ValueTypeStr:
		ns, ok = timestamp.ParseRFC3339String(val.Str())
	case pcommon.ValueTypeInt:
		ns, ok = timestamp.EpochMillis(true, val.Int(), 0)
	case pcommon.ValueTypeDouble:
		ns, ok = timestamp.EpochMillis(false, 0, val.Double())
	}
	return ns, ok && ns > 0
}

// DefaultMaxFuture is how far ahead of the collector's clock an event may be
// dated before its time is distrusted (SkewedTime).
const DefaultMaxFuture = 5 * time.Minute

// SkewedTime is the time the stateful processors use for an event: its
// event time (Time), unless that lies more than maxFuture ahead of now (the
// collector's clock) — a broken clock or a forged event. Then the event's
// receipt time (its ObservedTimestamp, else now) is used instead and skewed
// is true; such an event must never move any state's clock forward. ok is
// false when the event has no time at all.
func (v *View) SkewedTime(now time.Time, maxFuture time.Duration) (t time.Time, skewed, ok bool) {
	t, ok = v.Time()
	if !ok || !t.After(now.Add(maxFuture)) {
		return t, false, ok
	}
	if obs := v.rec.ObservedTimestamp(); obs != 0 && !obs.AsTime().After(now.Add(maxFuture)) {
		return obs.AsTime().UTC(), true, true
	}
	return now.UTC(), true, true
}
