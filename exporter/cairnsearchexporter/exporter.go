package cairnsearchexporter

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"
)

// searchExporter ships logs as ECS documents to Elasticsearch or OpenSearch,
// or to _bulk files in offline mode.
type searchExporter struct {
	cfg    *Config
	set    exporter.Settings
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder

	// Online mode.
	httpClient *http.Client
	plain      *plainClient
	client     atomic.Pointer[searchClient]
	sender     *sender
	connectMu  sync.Mutex
	lastErr    string // last connection error logged, to log each once
	srv        server

	// Offline mode.
	files *fileSink

	states sync.Pool // *pushState

	bg       sync.WaitGroup
	bgCancel context.CancelFunc
}

// pushState is the per-goroutine scratch of a push.
type pushState struct {
	enc     *docEncoder
	dlq     *deadLetters
	b, dead batch
	res     []result
	list    []int
}

func newExporter(cfg *Config, set exporter.Settings) (*searchExporter, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &searchExporter{cfg: cfg, set: set, logger: set.Logger, tel: tel}
	e.states.New = func() any {
		return &pushState{enc: newDocEncoder(cfg), dlq: newDeadLetters(cfg)}
	}
	e.sender = newSender(func() searchClient { return *e.client.Load() }, cfg.MaxRequestBytes, tel)
	return e, nil
}

func (e *searchExporter) start(ctx context.Context, host component.Host) error {
	if e.cfg.Offline.Directory != "" {
		fs, err := newFileSink(e.cfg.Offline)
		if err != nil {
			return err
		}
		e.files = fs
		e.logger.Info("Writing _bulk files (offline mode)", zap.String("directory", e.cfg.Offline.Directory))
		return nil
	}
	hc, err := e.cfg.ToClient(ctx, host.GetExtensions(), e.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("HTTP client: %w", err)
	}
	if v := authorization(e.cfg); v != "" {
		hc.Transport = &credentials{next: hc.Transport, value: v}
	}
	e.httpClient = hc
	// The per-request timeout is applied through the context, for both
	// clients alike.
	timeout := hc.Timeout
	hc.Timeout = 0
	e.plain = &plainClient{base: strings.TrimRight(e.cfg.Endpoint, "/"), client: hc, timeout: timeout}

	// Connect (detect and bootstrap) in the background: a cluster that is
	// down at start must not stop the collector; pushes connect on demand
	// and their data waits in the queue meanwhile.
	bgCtx, cancel := context.WithCancel(context.Background())
	e.bgCancel = cancel
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		_ = e.connect(bgCtx)
	}()
	return nil
}

func (e *searchExporter) shutdown(context.Context) error {
	if e.bgCancel != nil {
		e.bgCancel()
	}
	e.bg.Wait()
	var err error
	if e.files != nil {
		err = e.files.close()
	}
	if e.httpClient != nil {
		e.httpClient.CloseIdleConnections()
	}
	e.tel.Shutdown()
	return err
}

// connect detects the server (unless the flavour is configured), creates
// its client and runs bootstrap, once; until it succeeds every push tries
// again (and its data goes back to the queue).
func (e *searchExporter) connect(ctx context.Context) error {
	if e.client.Load() != nil {
		return nil
	}
	e.connectMu.Lock()
	defer e.connectMu.Unlock()
	if e.client.Load() != nil {
		return nil
	}
	err := e.connectLocked(ctx)
	if err != nil {
		if msg := err.Error(); msg != e.lastErr && ctx.Err() == nil {
			e.lastErr = msg
			e.logger.Error("Cannot use the search cluster yet; documents wait in the queue and are retried", zap.Error(err))
		}
		return err
	}
	return nil
}

func (e *searchExporter) connectLocked(ctx context.Context) error {
	srv := server{flavour: e.cfg.Flavour}
	if srv.flavour == FlavourAuto {
		var err error
		if srv, err = detect(ctx, e.plain); err != nil {
			return err
		}
	}
	if !srv.supported() {
		e.logger.Warn("Server version not tested with Cairn (supported: Elasticsearch 8.x, 9.x; OpenSearch 2.x, 3.x)", zap.Stringer("server", srv))
	}
	var c searchClient = e.plain
	if srv.flavour == FlavourElasticsearch {
		es, err := newESClient(e.plain.base, e.httpClient.Transport, e.plain.timeout)
		if err != nil {
			return err
		}
		c = es
	}
	if e.cfg.Bootstrap {
		if err := bootstrap(ctx, c, srv, policyOf(e.cfg)); err != nil {
			return err
		}
	}
	e.srv = srv
	e.client.Store(&c)
	e.lastErr = ""
	e.logger.Info("Connected to the search cluster", zap.Stringer("server", srv), zap.Bool("bootstrap", e.cfg.Bootstrap))
	return nil
}

var (
	attrCreated = metric.WithAttributes(attribute.String("result", "created"))
	attrExists  = metric.WithAttributes(attribute.String("result", "exists"))
	attrWritten = metric.WithAttributes(attribute.String("result", "written"))
)

// pushLogs is the exporterhelper push function: one attempt at a batch.
// Documents that are to be retried come back to exporterhelper as a
// consumererror.Logs holding only their records, so a retry never resends
// what was delivered.
func (e *searchExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if ld.LogRecordCount() == 0 {
		return nil
	}
	if e.files == nil {
		if err := e.connect(ctx); err != nil {
			return err
		}
	}
	st := e.states.Get().(*pushState)
	defer e.states.Put(st)
	st.b.reset()
	st.enc.encode(ld, &st.b)
	n := len(st.b.items)

	if e.files != nil {
		t0 := time.Now()
		e.tel.ExporterCairnSearchDocsSent.Add(ctx, int64(n))
		err := e.files.write(st.b.buf)
		e.tel.ExporterCairnSearchBulkLatency.Record(ctx, float64(time.Since(t0).Microseconds())/1000, attrOK)
		if err != nil {
			return err // retried by exporterhelper like a failed request
		}
		e.tel.ExporterCairnSearchDocsDelivered.Add(ctx, int64(n), attrWritten)
		return nil
	}

	if cap(st.res) < n {
		st.res = make([]result, n)
		st.list = make([]int, n)
	}
	res, list := st.res[:n], st.list[:n]
	for i := range list {
		list[i] = i
	}
	e.sender.send(ctx, &st.b, list, res)

	var created, exists int64
	var retry, rejected []int
	for i := range res {
		switch res[i].outcome {
		case outDelivered:
			created++
		case outExists:
			exists++
		case outRetry:
			retry = append(retry, i)
		case outReject:
			rejected = append(rejected, i)
		}
	}
	if created > 0 {
		e.tel.ExporterCairnSearchDocsDelivered.Add(ctx, created, attrCreated)
	}
	if exists > 0 {
		e.tel.ExporterCairnSearchDocsDelivered.Add(ctx, exists, attrExists)
	}
	if len(rejected) > 0 {
		retry = append(retry, e.deadLetter(ctx, st, res, rejected)...)
	}
	if len(retry) == 0 {
		return nil
	}
	first := res[retry[0]]
	err := fmt.Errorf("%d of %d documents to retry (first: status %d %s: %s)", len(retry), n, first.status, first.errType, truncate(first.reason, 300))
	if !e.cfg.BackOffConfig.Enabled {
		e.drop(ctx, len(retry), "retries_disabled", err)
		return consumererror.NewPermanent(err)
	}
	for _, i := range retry {
		e.tel.ExporterCairnSearchDocsRetried.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", retryReason(res[i]))))
	}
	slices.Sort(retry)
	return consumererror.NewLogs(err, subset(ld, &st.b, retry))
}

func retryReason(r result) string {
	switch {
	case r.status == 0:
		return "request_failed"
	case r.status == 429:
		return "too_many_requests"
	case r.status >= 500:
		return "server_error"
	}
	return "status_" + fmt.Sprint(r.status)
}

// deadLetter writes the refused documents to the dead-letter data stream.
// It returns the items to retry: those whose dead letter could not be
// written yet (their original is sent again, refused again, and
// dead-lettered then).
func (e *searchExporter) deadLetter(ctx context.Context, st *pushState, res []result, rejected []int) []int {
	first := res[rejected[0]]
	if !e.cfg.DeadLetter.Enabled {
		e.drop(ctx, len(rejected), "dead_letter_disabled",
			fmt.Errorf("%d documents refused (first: %s %s): %s", len(rejected), st.b.items[rejected[0]].index, first.errType, truncate(first.reason, 300)))
		return nil
	}
	st.dead.reset()
	now := time.Now()
	for _, i := range rejected {
		st.dlq.add(&st.dead, &st.b, i, res[i], now)
	}
	dres := make([]result, len(rejected))
	dlist := make([]int, len(rejected))
	for i := range dlist {
		dlist[i] = i
	}
	e.sender.send(ctx, &st.dead, dlist, dres)
	var stored int64
	var retry []int
	var dropped int
	var dropErr result
	for j, r := range dres {
		switch r.outcome {
		case outDelivered, outExists:
			stored++
		case outRetry:
			retry = append(retry, rejected[j])
			res[rejected[j]] = r
		case outReject:
			if dropped == 0 {
				dropErr = r
			}
			dropped++
		}
	}
	if stored > 0 {
		e.tel.ExporterCairnSearchDocsDeadLettered.Add(ctx, stored)
		e.logger.Warn("Documents refused by the cluster were written to the dead-letter data stream",
			zap.Int64("documents", stored), zap.String("data_stream", st.dlq.stream(st.b.items[rejected[0]].namespace)),
			zap.String("first_target", st.b.items[rejected[0]].index), zap.String("first_error", first.errType+": "+truncate(first.reason, 300)))
	}
	if dropped > 0 {
		e.drop(ctx, dropped, "dead_letter_refused",
			fmt.Errorf("the dead-letter data stream refused %d documents (first: %s: %s)", dropped, dropErr.errType, truncate(dropErr.reason, 300)))
	}
	return retry
}

func (e *searchExporter) drop(ctx context.Context, n int, reason string, err error) {
	e.tel.ExporterCairnSearchDocsDropped.Add(ctx, int64(n), metric.WithAttributes(attribute.String("reason", reason)))
	e.logger.Error("Documents dropped", zap.Int("documents", n), zap.String("reason", reason), zap.Error(err))
}

// subset copies the records of the listed items (in order) into new Logs,
// with their resources and scopes.
func subset(ld plog.Logs, b *batch, list []int) plog.Logs {
	out := plog.NewLogs()
	lastRL, lastSL := -1, -1
	var rl plog.ResourceLogs
	var sl plog.ScopeLogs
	for _, i := range list {
		ref := b.items[i].ref
		srcRL := ld.ResourceLogs().At(ref.rl)
		if ref.rl != lastRL {
			rl = out.ResourceLogs().AppendEmpty()
			srcRL.Resource().CopyTo(rl.Resource())
			rl.SetSchemaUrl(srcRL.SchemaUrl())
			lastRL, lastSL = ref.rl, -1
		}
		srcSL := srcRL.ScopeLogs().At(ref.sl)
		if ref.sl != lastSL {
			sl = rl.ScopeLogs().AppendEmpty()
			srcSL.Scope().CopyTo(sl.Scope())
			sl.SetSchemaUrl(srcSL.SchemaUrl())
			lastSL = ref.sl
		}
		srcSL.LogRecords().At(ref.lr).CopyTo(sl.LogRecords().AppendEmpty())
	}
	return out
}
