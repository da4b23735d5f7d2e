package cairnsearchexporter

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/event"
)

// Data stream names: logs-<dataset>-<namespace>.
const (
	eventsDataset = "cairn.events"
	alertsDataset = "cairn.alerts"
	dsType        = "logs"
)

var (
	fieldDSType    = event.Lookup("data_stream.type")
	fieldDataset   = event.Lookup("data_stream.dataset")
	fieldNamespace = event.Lookup("data_stream.namespace")
	fieldEventEnd  = event.Lookup("event.end")
)

// target is where one record goes and how it is written.
type target struct {
	index string
	// dataset and namespace are set when index is a data stream name that
	// the document's data_stream.* fields must match.
	dataset, namespace string
	alert              bool
}

// router decides the target of each record.
type router struct {
	namespace   string
	index       string
	alertsIndex string
	// names caches "logs-<dataset>-<namespace>" per pair; the set of pairs
	// is small, and the cache saves an allocation per record.
	names map[[2]string]string
}

func newRouter(cfg *Config) *router {
	return &router{namespace: cfg.Namespace, index: cfg.Index, alertsIndex: cfg.AlertsIndex, names: map[[2]string]string{}}
}

// route returns the record's target. Events go to
// logs-cairn.events-<namespace>, alerts (event.kind: alert) to
// logs-cairn.alerts-<namespace>. A record's data_stream.namespace replaces
// the namespace; its data_stream.dataset replaces the dataset of an event,
// and of an alert only when it stays under cairn.alerts (Cairn's alert
// template, which makes a plain index that allows updates in place, covers
// only those names; any other logs-*-* name is a data stream in
// Elasticsearch, which refuses them). The static index options win over all.
func (r *router) route(v *event.View) target {
	alert := isAlert(v)
	if alert && r.alertsIndex != "" {
		return target{index: r.alertsIndex, alert: true}
	}
	if r.index != "" {
		if alert {
			return target{index: r.index, alert: true}
		}
		return target{index: r.index}
	}
	ns := r.namespace
	if s, ok := v.Str(fieldNamespace); ok && s != "" {
		ns = sanitizeDSPart(s)
	}
	ds := eventsDataset
	if alert {
		ds = alertsDataset
	}
	if s, ok := v.Str(fieldDataset); ok && s != "" {
		s = sanitizeDSPart(s)
		if !alert || s == alertsDataset || strings.HasPrefix(s, alertsDataset+".") {
			ds = s
		}
	}
	return target{index: r.name(ds, ns), dataset: ds, namespace: ns, alert: alert}
}

func (r *router) name(ds, ns string) string {
	k := [2]string{ds, ns}
	if n, ok := r.names[k]; ok {
		return n
	}
	n := dsType + "-" + ds + "-" + ns
	if len(r.names) < 1024 {
		r.names[k] = n
	}
	return n
}

func isAlert(v *event.View) bool {
	val, ok := v.Get(event.EventKind)
	if !ok {
		return false
	}
	return event.AnyEquals(val, func(s string) bool { return s == "alert" })
}

// sanitizeDSPart makes s a valid dataset or namespace: lowercase, at most
// 100 bytes, and each character that data stream names do not allow
// (\ / * ? " < > | , # : space and -) replaced by '_'.
func sanitizeDSPart(s string) string {
	clean := len(s) <= 100
	for i := 0; clean && i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || strings.IndexByte("\\/*?\"<>|,#: -", c) >= 0 {
			clean = false
		}
	}
	if clean {
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

// setPath sets a string at a dotted path of m, removing every other
// representation of the same path first (flat key, nested maps or a mix),
// so that the encoder sees exactly one value.
func setPath(m pcommon.Map, path, value string) {
	removePath(m, path)
	m.PutStr(path, value)
}

func removePath(m pcommon.Map, path string) {
	m.Remove(path)
	for i := strings.IndexByte(path, '.'); i >= 0; {
		if sub, ok := m.Get(path[:i]); ok && sub.Type() == pcommon.ValueTypeMap {
			removePath(sub.Map(), path[i+1:])
		}
		j := strings.IndexByte(path[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
}
