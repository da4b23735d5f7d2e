package intelprocessor

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/metadata"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/online"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/store"
)

// onlineProvider names the online service in enrichments.
const onlineProvider = "VirusTotal"

// lateQueue bounds answers waiting to become standalone records; beyond it
// they are dropped (and counted): the cache still serves later sightings.
const lateQueue = 1024

// maxAskers bounds the events remembered per hash whose answer may come
// late: one standalone record is written per asking host.
const maxAskers = 4

// asker is an event that wanted a hash's verdict and did not wait for it.
type asker struct {
	host  string
	field string
	at    time.Time
}

// onlineLookup asks a VirusTotal-compatible service about binary hashes
// that no local feed knows, without ever holding the pipeline longer than
// the configured budget. Answers that come after their event has gone are
// written as standalone `event.kind: enrichment` records for the hosts that
// asked, so correlation still sees them, and serve later sightings from the
// cache.
type onlineLookup struct {
	client *online.Client
	budget time.Duration
	// priority are the signals that put a hash before its host's others.
	priority  []string
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	next      consumer.Logs

	mu     sync.Mutex
	askers *lru.Cache[string, []asker]

	late chan online.Result
	stop chan struct{}
	done chan struct{}
}

func newOnlineLookup(cfg *OnlineConfig, logger *zap.Logger, tb *metadata.TelemetryBuilder, next consumer.Logs) (*onlineLookup, error) {
	key, err := online.LoadAPIKey(cfg.APIKeyEnv, cfg.APIKeyFile)
	if err != nil {
		return nil, err
	}
	askers, err := lru.New[string, []asker](cfg.QueueSize * 2)
	if err != nil {
		return nil, err
	}
	o := &onlineLookup{budget: cfg.WaitBudget, priority: cfg.PrioritySignals, logger: logger, telemetry: tb, next: next, askers: askers,
		late: make(chan online.Result, lateQueue), stop: make(chan struct{}), done: make(chan struct{})}
	o.client, err = online.New(online.Config{
		Endpoint:           cfg.Endpoint,
		APIKey:             key,
		RequestsPerMinute:  cfg.RequestsPerMinute,
		RequestsPerDay:     cfg.RequestsPerDay,
		Timeout:            cfg.Timeout,
		QueueSize:          cfg.QueueSize,
		CacheSize:          cfg.CacheSize,
		PositiveTTL:        cfg.PositiveTTL,
		NegativeTTL:        cfg.NegativeTTL,
		HostQueueSize:      cfg.HostQueueSize,
		HostRequestsPerDay: cfg.HostRequestsPerDay,
		CorroboratingHosts: corroborating(cfg.CorroboratingHosts),
	}, logger, o.onLate)
	if err != nil {
		return nil, err
	}
	err = tb.RegisterProcessorIntelOnlineLookupsCallback(func(_ context.Context, obs metric.Int64Observer) error {
		st := o.client.Stats()
		for _, c := range []struct {
			outcome string
			n       uint64
		}{
			{"cache_hit", st.CacheHits}, {"cache_miss", st.CacheMisses}, {"found", st.Found}, {"not_found", st.NotFound},
			{"quota_error", st.QuotaErrors}, {"auth_error", st.AuthErrors}, {"outage_error", st.OutageErrors},
			{"rejected_error", st.RejectedErrors}, {"dropped", st.Dropped + st.HostQueueFull + st.HostDailyCap + st.Evicted},
			{"backoff", st.Backoffs},
		} {
			obs.Observe(int64(c.n), metric.WithAttributes(attribute.String("outcome", c.outcome)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tb.RegisterProcessorIntelOnlineRefusedCallback(func(_ context.Context, obs metric.Int64Observer) error {
		st := o.client.Stats()
		for _, c := range []struct {
			reason string
			n      uint64
		}{
			{"queue_full", st.Dropped}, {"host_queue_full", st.HostQueueFull},
			{"host_daily_cap", st.HostDailyCap}, {"evicted", st.Evicted},
		} {
			obs.Observe(int64(c.n), metric.WithAttributes(attribute.String("reason", c.reason)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// corroborating maps the option (0: off) to the client's setting (zero
// takes the default, negative is off).
func corroborating(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func (o *onlineLookup) start() error {
	if err := o.client.Start(context.Background()); err != nil {
		return err
	}
	go o.emitLoop()
	return nil
}

func (o *onlineLookup) shutdown(ctx context.Context) error {
	err := o.client.Shutdown(ctx)
	close(o.stop)
	<-o.done
	return err
}

// lookup returns the service's verdict for a SHA-256 when it is known now
// (cached, or answered within the wait budget).
func (o *onlineLookup) lookup(v *event.View, cf *checkedField, value string, at time.Time) (store.Meta, bool) {
	res, ok := o.client.Cached(value)
	if !ok {
		// Only a miss needs to know who asks: the fairness policy charges
		// the lookup to the event's host.
		host, _ := v.Str(event.HostName)
		origin := online.Origin{Host: host, Priority: o.prioritised(v)}
		if o.budget > 0 {
			res, ok = o.client.WaitFrom(context.Background(), value, origin, o.budget)
		} else {
			o.client.RequestFrom(value, origin)
		}
		if !ok {
			o.remember(value, host, cf, at)
			return store.Meta{}, false
		}
	}
	return metaOf(res)
}

// prioritised reports whether the event carries a priority signal.
func (o *onlineLookup) prioritised(v *event.View) bool {
	for _, s := range o.priority {
		if v.HasSignal(s) {
			return true
		}
	}
	return false
}

func metaOf(res online.Result) (store.Meta, bool) {
	if !res.Found || (res.Verdict != indicator.Malicious && res.Verdict != indicator.Suspicious) {
		return store.Meta{}, false
	}
	conf := -1
	if res.Total > 0 {
		conf = 100 * (res.Malicious + res.Suspicious) / res.Total
	}
	return store.Meta{Verdict: res.Verdict, Provider: onlineProvider, Name: res.Name, Confidence: conf, FirstSeen: res.FirstSeen}, true
}

func (o *onlineLookup) remember(hash, host string, cf *checkedField, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	list, _ := o.askers.Get(hash)
	for _, a := range list {
		if a.host == host {
			return
		}
	}
	if len(list) >= maxAskers {
		return
	}
	o.askers.Add(hash, append(list, asker{host: host, field: cf.field.Name, at: at}))
}

// onLate receives every answer; it must not block the client's worker.
func (o *onlineLookup) onLate(res online.Result) {
	select {
	case o.late <- res:
	default:
		o.telemetry.ProcessorIntelOnlineLateDropped.Add(context.Background(), 1)
	}
}

func (o *onlineLookup) emitLoop() {
	defer close(o.done)
	for {
		select {
		case <-o.stop:
			return
		case res := <-o.late:
			o.emit(res)
		}
	}
}

// emit writes one standalone enrichment record per host that asked for the
// hash, when the answer is a bad verdict.
func (o *onlineLookup) emit(res online.Result) {
	o.mu.Lock()
	list, _ := o.askers.Get(res.SHA256)
	o.askers.Remove(res.SHA256)
	o.mu.Unlock()
	meta, bad := metaOf(res)
	if !bad || len(list) == 0 || o.next == nil {
		return
	}
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	v := event.NewView()
	for _, a := range list {
		rec := recs.AppendEmpty()
		// The record stands for the asking event: its time, so windows in
		// later stages place it where the evidence happened.
		rec.SetTimestamp(pcommon.NewTimestampFromTime(a.at))
		attrs := rec.Attributes()
		attrs.PutStr("event.kind", "enrichment")
		attrs.PutEmptySlice("event.category").AppendEmpty().SetStr("threat")
		attrs.PutEmptySlice("event.type").AppendEmpty().SetStr("indicator")
		if a.host != "" {
			attrs.PutStr("host.name", a.host)
		}
		attrs.PutStr(a.field, res.SHA256)
		v.Reset(ld.ResourceLogs().At(0).Resource(), rec)
		v.EnsureID()
		cf := &checkedField{field: event.Lookup(a.field), kind: kindHash, hashType: indicator.SHA256}
		m := match{field: cf, value: res.SHA256, hashType: indicator.SHA256, meta: meta}
		writeEnrichment(v, &m, a.at)
		v.AddSignal(signalFor(kindHash, meta.Verdict))
	}
	if err := o.next.ConsumeLogs(context.Background(), ld); err != nil {
		o.logger.Warn("Could not pass on a late threat-intel enrichment", zap.Error(err))
		return
	}
	o.telemetry.ProcessorIntelOnlineLateRecords.Add(context.Background(), int64(recs.Len()))
}
