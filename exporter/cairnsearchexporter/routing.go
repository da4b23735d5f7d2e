package cairnsearchexporter

import (
	"github.com/cairnsec/cairn/internal/document"
	"github.com/cairnsec/cairn/internal/event"
)

var fieldEventEnd = event.Lookup("event.end")

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
	alert := document.IsAlert(v)
	if alert && r.alertsIndex != "" {
		return target{index: r.alertsIndex, alert: true}
	}
	if r.index != "" {
		return target{index: r.index, alert: alert}
	}
	ns := document.Namespace(v, r.namespace)
	ds := document.Dataset(v, alert)
	return target{index: r.name(ds, ns), dataset: ds, namespace: ns, alert: alert}
}

func (r *router) name(ds, ns string) string {
	k := [2]string{ds, ns}
	if n, ok := r.names[k]; ok {
		return n
	}
	n := document.Type + "-" + ds + "-" + ns
	if len(r.names) < 1024 {
		r.names[k] = n
	}
	return n
}

// sanitizeDSPart makes s a valid dataset or namespace (see internal/document).
func sanitizeDSPart(s string) string { return document.SanitizeDSPart(s) }
