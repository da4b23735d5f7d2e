// Package document decides what Cairn's stored document of an event holds
// beyond the record itself, for every writer: the cairn_search exporter
// (Elasticsearch, OpenSearch, offline _bulk files) and `cairn replay`. Both
// go through Fill and the ECS encoder, so the same record gives the same
// document, byte for byte, in the collector and in a backtest; the exporter
// then adds only its bookkeeping (data_stream.*, event.ingested).
//
// A document gets:
//   - event.id: the record's own, or its content id (internal/event);
//   - ecs.version: the record's own, or ECSVersion;
//   - event.dataset: the data stream dataset it is routed to (Dataset), as
//     Elastic's integrations keep the two equal; the record's own
//     event.dataset is replaced.
package document

import (
	"strings"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
)

// ECSVersion is the ECS release Cairn's documents and mappings follow.
const ECSVersion = "8.17.0"

// Datasets of Cairn's data streams: logs-<dataset>-<namespace>.
const (
	EventsDataset = "cairn.events"
	AlertsDataset = event.AlertsDataset
	Type          = "logs"
)

var (
	fieldDataset   = event.Lookup("data_stream.dataset")
	fieldNamespace = event.Lookup("data_stream.namespace")
)

// IsAlert reports whether the event is an alert (event.kind: alert).
func IsAlert(v *event.View) bool {
	val, ok := v.Get(event.EventKind)
	if !ok {
		return false
	}
	return event.AnyEquals(val, func(s string) bool { return s == "alert" })
}

// Dataset returns the data stream dataset of the event under v: its own
// data_stream.dataset (sanitised), else EventsDataset, or for an alert
// AlertsDataset. An alert keeps its own dataset only under cairn.alerts,
// whose template makes a plain index that allows updates in place; any
// other logs-*-* name is a data stream, which refuses them.
func Dataset(v *event.View, alert bool) string {
	ds := EventsDataset
	if alert {
		ds = AlertsDataset
	}
	if s, ok := v.Str(fieldDataset); ok {
		s = SanitizeDSPart(s)
		if !alert || s == AlertsDataset || strings.HasPrefix(s, AlertsDataset+".") {
			ds = s
		}
	}
	return ds
}

// Namespace returns the event's own data_stream.namespace (sanitised), or
// def.
func Namespace(v *event.View, def string) string {
	if s, ok := v.Str(fieldNamespace); ok {
		return SanitizeDSPart(s)
	}
	return def
}

// Fill sets the fields of x that every writer adds to the document of the
// event under v: its id (the record's own is kept by the encoder) and
// ecs.version, and event.dataset when dataset is not empty.
func Fill(x *ecs.Extra, v *event.View, dataset string) {
	*x = ecs.Extra{ECSVersion: ECSVersion, Dataset: dataset}
	if _, ok := v.Str(event.EventID); !ok {
		x.ID = v.ContentID()
	}
}

// SanitizeDSPart makes s a valid dataset or namespace: lowercase, at most
// 100 bytes, and each character that data stream names do not allow
// (\ / * ? " < > | , # : space and -) replaced by '_'.
func SanitizeDSPart(s string) string {
	clean := len(s) <= 100 && s != ""
	for i := 0; clean && i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || strings.IndexByte("\\/*?\"<>|,#: -", c) >= 0 {
			clean = false
		}
	}
	if clean || s == "" {
		return s
	}
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if strings.IndexByte("\\/*?\"<>|,#: -", c) >= 0 {
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}
