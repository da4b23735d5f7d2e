package cairnsearchexporter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
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
//
// Delivery, by configuration:
//   - offline: ConsumeLogs writes the batch to the current _bulk file and
//     returns (retrying a failed write per retry_on_failure);
//   - online with a spool: ConsumeLogs appends the encoded batch to the
//     spool and returns; senders deliver it from there (spool.go);
//   - online without a spool: ConsumeLogs delivers the batch and returns
//     once the cluster has resolved every document (retrying per
//     retry_on_failure);
//   - with a sending_queue configured: exporterhelper's model, one attempt
//     per push, the documents to retry handed back to its retry sender.
type searchExporter struct {
	cfg    *Config
	set    exporter.Settings
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder
	// queued: a sending_queue is configured (exporterhelper retries).
	queued bool

	// Online mode.
	httpClient *http.Client
	plain      *plainClient
	comp       *compressor
	client     atomic.Pointer[searchClient]
	sender     *sender
	connectMu  sync.Mutex
	lastErr    string // last connection error logged, to log each once
	srv        server
	spool      *spool

	// Offline mode.
	files *fileSink

	// states keeps the scratch of finished pushes for the next ones. Not
	// a sync.Pool: a pool is emptied at every garbage collection, and a
	// new state then grows its buffers (megabytes per batch) from nothing
	// again, which measured several percent of the collector's CPU.
	states chan *pushState

	// stopCtx ends at shutdown: background work stops and synchronous
	// deliveries return.
	stopCtx context.Context
	stop    context.CancelCauseFunc
	bg      sync.WaitGroup
}

// pushState is the per-goroutine scratch of a push or a spool sender.
type pushState struct {
	enc      *docEncoder
	dlq      *deadLetters
	b, dead  batch
	res      []result
	list     []int
	rejected []int
}

// results returns room for the results of n items and the list of all of
// them (0..n-1), from the state's scratch.
func (st *pushState) results(n int) ([]result, []int) {
	if cap(st.res) < n {
		st.res = make([]result, n)
		st.list = make([]int, n)
	}
	res, list := st.res[:n], st.list[:n]
	for i := range list {
		list[i] = i
	}
	return res, list
}

var errShuttingDown = errors.New("the exporter is shutting down")

func newExporter(cfg *Config, set exporter.Settings) (*searchExporter, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &searchExporter{cfg: cfg, set: set, logger: set.Logger, tel: tel, queued: cfg.QueueBatchConfig.HasValue()}
	e.stopCtx, e.stop = context.WithCancelCause(context.Background())
	e.states = make(chan *pushState, maxIdleStates)
	e.sender = newSender(func() searchClient { return *e.client.Load() }, cfg.MaxRequestBytes, tel)
	return e, nil
}

func (e *searchExporter) newState() *pushState {
	return &pushState{enc: newDocEncoder(e.cfg), dlq: newDeadLetters(e.cfg)}
}

// maxIdleStates bounds the states kept between pushes, and so the memory
// their buffers hold.
const maxIdleStates = 4

func (e *searchExporter) getState() *pushState {
	select {
	case st := <-e.states:
		return st
	default:
		return e.newState()
	}
}

func (e *searchExporter) putState(st *pushState) {
	select {
	case e.states <- st:
	default:
	}
}

func (e *searchExporter) start(ctx context.Context, host component.Host) error {
	if e.cfg.Offline.Directory != "" {
		fs, r, err := newFileSink(e.cfg.Offline)
		if err != nil {
			return err
		}
		e.files = fs
		e.logger.Info("Writing _bulk files (offline mode)", zap.String("directory", e.cfg.Offline.Directory), zap.String("sync", e.cfg.Offline.Sync))
		if r.err != nil {
			e.logger.Warn("Could not read back all of the offline files of an earlier run: documents of theirs sent again may be written again (loading them twice is harmless)",
				zap.Error(r.err))
		}
		if r.cut > 0 {
			e.logger.Warn("Cut an incomplete last document off an offline file (a write interrupted by a crash); it is written again when the receiver sends it again",
				zap.String("file", r.cutFile), zap.Int64("bytes", r.cut))
		}
		if r.docs > 0 {
			e.logger.Info("Offline files of an earlier run read back: their documents are not written again (a batch sent again after a crash)",
				zap.Int("documents", r.docs), zap.Strings("files", r.files))
		}
		return nil
	}
	// The exporter compresses bodies itself (see compressor).
	ccfg := e.cfg.ClientConfig
	ccfg.Compression = ""
	hc, err := ccfg.ToClient(ctx, host.GetExtensions(), e.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("HTTP client: %w", err)
	}
	if v := authorization(e.cfg); v != "" {
		hc.Transport = &credentials{next: hc.Transport, value: v}
	}
	hc.CheckRedirect = checkRedirect
	if creds := plainCredentials(e.cfg); len(creds) > 0 {
		e.logger.Warn("Credentials are configured for a plain http:// endpoint: anyone on the network path can read them; use https://",
			zap.String("endpoint", e.cfg.Endpoint), zap.Strings("credentials", creds))
	}
	e.httpClient = hc
	e.comp = newCompressor(e.cfg.Compression, e.cfg.CompressionParams.Level)
	// The per-request timeout is applied through the context, for both
	// clients alike.
	timeout := hc.Timeout
	hc.Timeout = 0
	e.plain = &plainClient{base: strings.TrimRight(e.cfg.Endpoint, "/"), client: hc, timeout: timeout, comp: e.comp}

	if e.cfg.Spool.Directory != "" {
		if err := e.startSpool(); err != nil {
			return err
		}
	}

	// Connect (detect and bootstrap) in the background: a cluster that is
	// down at start must not stop the collector; deliveries connect on
	// demand and wait meanwhile.
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		_ = e.connect(e.stopCtx)
	}()
	return nil
}

func (e *searchExporter) shutdown(context.Context) error {
	e.stop(errShuttingDown)
	e.bg.Wait()
	var errs []error
	if e.spool != nil {
		// After the senders stopped: what they did not acknowledge stays
		// for the next start.
		errs = append(errs, e.spool.close())
	}
	if e.files != nil {
		errs = append(errs, e.files.close())
	}
	if e.httpClient != nil {
		e.httpClient.CloseIdleConnections()
	}
	e.tel.Shutdown()
	return errors.Join(errs...)
}

// withStop returns ctx, also ended by the exporter's shutdown.
func (e *searchExporter) withStop(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(e.stopCtx, func() { cancel(context.Cause(e.stopCtx)) })
	return ctx, func() { stop(); cancel(nil) }
}

// connect detects the server (unless the flavour is configured), creates
// its client and runs bootstrap, once; until it succeeds every delivery
// tries again.
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
			e.logger.Error("Cannot use the search cluster yet; documents wait and are retried", zap.Error(err))
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
		es, err := newESClient(e.plain.base, e.httpClient.Transport, e.plain.timeout, e.comp)
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

	attrAlreadyWritten = metric.WithAttributes(attribute.String("reason", "already_written"))
)

// pushLogs is the exporterhelper push function: it encodes the batch once
// and hands it to the configured delivery.
func (e *searchExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if ld.LogRecordCount() == 0 {
		return nil
	}
	if e.queued && e.files == nil && e.spool == nil {
		// exporterhelper's model: a failed connection goes back to its
		// retry sender before any encoding.
		if err := e.connect(ctx); err != nil {
			return err
		}
	}
	st := e.getState()
	defer e.putState(st)
	if e.spool != nil {
		// The encoder writes the body where the spool record needs it.
		reserveRecord(&st.b)
	} else {
		st.b.reset()
	}
	st.enc.encode(ld, &st.b)

	switch {
	case e.files != nil:
		return e.pushOffline(ctx, st)
	case e.spool != nil:
		return e.pushSpool(ctx, st)
	case e.queued:
		return e.pushOnce(ctx, st, ld)
	default:
		return e.pushSync(ctx, st)
	}
}

// pushOffline writes the batch to the current _bulk file. Without a
// sending_queue a failed write (a full disk) is retried here, per
// retry_on_failure, until it succeeds or ctx ends.
func (e *searchExporter) pushOffline(ctx context.Context, st *pushState) error {
	n := int64(len(st.b.items))
	var bo *backoff
	for {
		t0 := time.Now()
		skipped, err := e.files.write(&st.b)
		e.tel.ExporterCairnSearchBulkLatency.Record(ctx, float64(time.Since(t0).Microseconds())/1000, attrOK)
		if err == nil {
			e.tel.ExporterCairnSearchDocsSent.Add(ctx, n-int64(skipped))
			e.tel.ExporterCairnSearchDocsDelivered.Add(ctx, n-int64(skipped), attrWritten)
			if skipped > 0 {
				e.tel.ExporterCairnSearchDocsSkipped.Add(ctx, int64(skipped), attrAlreadyWritten)
			}
			return nil
		}
		e.tel.ExporterCairnSearchDocsSent.Add(ctx, n-int64(skipped))
		if e.queued || !e.cfg.BackOffConfig.Enabled || errors.Is(err, errSinkClosed) {
			return err
		}
		if bo == nil {
			bo = newBackoff(e.cfg.BackOffConfig)
			e.logger.Warn("Cannot write the offline file; retrying", zap.Error(err))
		}
		if werr := e.wait(ctx, bo); werr != nil {
			return fmt.Errorf("%w (last error: %w)", werr, err)
		}
	}
}

// pushSpool appends the encoded batch to the spool, as one record built
// around the encoded body (no copy).
func (e *searchExporter) pushSpool(ctx context.Context, st *pushState) error {
	rec, err := sealRecord(&st.b, time.Now().UnixNano())
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	return e.spool.append(ctx, rec, func(waited bool) {
		if waited {
			e.tel.ExporterCairnSearchSpoolFull.Add(ctx, 1, attrWaited)
		} else {
			e.tel.ExporterCairnSearchSpoolFull.Add(ctx, 1, attrRefused)
		}
	})
}

var (
	attrWaited  = metric.WithAttributes(attribute.String("outcome", "waited"))
	attrRefused = metric.WithAttributes(attribute.String("outcome", "refused"))
)

// pushSync delivers the batch and returns once every document is
// resolved: nil when each is stored (or already there, or dead-lettered),
// a permanent error when some had to be given up on, and a retryable one
// when ctx or the exporter ended first, or retry_on_failure's
// max_elapsed_time passed (the caller still has the batch).
func (e *searchExporter) pushSync(ctx context.Context, st *pushState) error {
	ctx, cancel := e.withStop(ctx)
	defer cancel()
	d := e.deliver(ctx, st, &st.b)
	switch {
	case d.pending > 0:
		return fmt.Errorf("%d of %d documents not delivered: %w", d.pending, len(st.b.items), d.err)
	case d.dropped > 0:
		return consumererror.NewPermanent(fmt.Errorf("%d of %d documents could not be delivered and were dropped: %w", d.dropped, len(st.b.items), d.err))
	}
	return nil
}

// delivery is how a batch ended.
type delivery struct {
	// pending: unresolved documents (ctx ended, or retries exhausted).
	pending int
	// dropped: documents given up on (counted in docs_dropped).
	dropped int
	// exhausted: retry_on_failure's max_elapsed_time passed.
	exhausted bool
	err       error // the last failure
}

// deliver sends the items of b until each is resolved, retrying those
// that need it (429, 5xx, failed requests...) with retry_on_failure's
// backoff, and dead-letters those refused for good. It stops early when ctx
// ends.
func (e *searchExporter) deliver(ctx context.Context, st *pushState, b *batch) delivery {
	n := len(b.items)
	res, list := st.results(n)
	var bo *backoff
	for {
		if err := e.connect(ctx); err != nil {
			if !e.cfg.BackOffConfig.Enabled {
				return delivery{pending: len(list), err: err}
			}
			if bo == nil {
				bo = newBackoff(e.cfg.BackOffConfig)
			}
			if werr := e.wait(ctx, bo); werr != nil {
				return delivery{pending: len(list), exhausted: errors.Is(werr, errRetriesExhausted), err: fmt.Errorf("%w (last error: %w)", werr, err)}
			}
			continue
		}
		e.sender.send(ctx, b, list, res)
		retry, dropped, dropErr := e.settle(ctx, st, b, res, list)
		if len(retry) == 0 {
			return delivery{dropped: dropped, err: dropErr}
		}
		first := res[retry[0]]
		err := fmt.Errorf("%d of %d documents to retry (first: status %d %s: %s)", len(retry), n, first.status, first.errType, truncate(first.reason, 300))
		if ctx.Err() != nil {
			// Interrupted, not refused: not a retry.
			return delivery{pending: len(retry), dropped: dropped, err: fmt.Errorf("%w: %w", context.Cause(ctx), err)}
		}
		if !e.cfg.BackOffConfig.Enabled {
			e.drop(ctx, len(retry), "retries_disabled", err)
			return delivery{dropped: dropped + len(retry), err: err}
		}
		for _, i := range retry {
			e.tel.ExporterCairnSearchDocsRetried.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", retryReason(res[i]))))
		}
		if bo == nil {
			bo = newBackoff(e.cfg.BackOffConfig)
		}
		list = retry
		if werr := e.wait(ctx, bo); werr != nil {
			return delivery{pending: len(list), dropped: dropped, exhausted: errors.Is(werr, errRetriesExhausted), err: fmt.Errorf("%w (last error: %w)", werr, err)}
		}
	}
}

// settle counts the outcomes of the items of list, dead-letters the
// refused ones, and returns the items to retry (in order, in list's
// buffer), with how many were dropped.
func (e *searchExporter) settle(ctx context.Context, st *pushState, b *batch, res []result, list []int) (retry []int, dropped int, dropErr error) {
	var created, exists int64
	st.rejected = st.rejected[:0]
	retry = list[:0] // filtered in place: the write index never passes the read index
	for _, i := range list {
		switch res[i].outcome {
		case outDelivered:
			created++
		case outExists:
			exists++
		case outRetry:
			retry = append(retry, i)
		case outReject:
			st.rejected = append(st.rejected, i)
		}
	}
	if created > 0 {
		e.tel.ExporterCairnSearchDocsDelivered.Add(ctx, created, attrCreated)
	}
	if exists > 0 {
		e.tel.ExporterCairnSearchDocsDelivered.Add(ctx, exists, attrExists)
	}
	if len(st.rejected) > 0 {
		var again []int
		again, dropped, dropErr = e.deadLetter(ctx, st, b, res, st.rejected)
		if len(again) > 0 {
			retry = append(retry, again...)
			slices.Sort(retry)
		}
	}
	return retry, dropped, dropErr
}

// pushOnce is one attempt at a batch, for exporterhelper's queue and retry
// sender: documents that are to be retried come back as a
// consumererror.Logs holding only their records, so a retry never resends
// what was delivered.
func (e *searchExporter) pushOnce(ctx context.Context, st *pushState, ld plog.Logs) error {
	b := &st.b
	n := len(b.items)
	res, list := st.results(n)
	e.sender.send(ctx, b, list, res)
	retry, _, _ := e.settle(ctx, st, b, res, list)
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
	return consumererror.NewLogs(err, subset(ld, b, retry))
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

// deadLetter writes the refused documents of b to the dead-letter data
// stream. It returns the items to retry (those whose dead letter could not
// be written yet: their original is sent again, refused again, and
// dead-lettered then), and how many were dropped.
func (e *searchExporter) deadLetter(ctx context.Context, st *pushState, b *batch, res []result, rejected []int) (retry []int, dropped int, dropErr error) {
	first := res[rejected[0]]
	if !e.cfg.DeadLetter.Enabled {
		err := fmt.Errorf("%d documents refused (first: %s %s): %s", len(rejected), b.items[rejected[0]].index, first.errType, truncate(first.reason, 300))
		e.drop(ctx, len(rejected), "dead_letter_disabled", err)
		return nil, len(rejected), err
	}
	st.dead.reset()
	now := time.Now()
	for _, i := range rejected {
		st.dlq.add(&st.dead, b, i, res[i], now)
	}
	dres := make([]result, len(rejected))
	dlist := make([]int, len(rejected))
	for i := range dlist {
		dlist[i] = i
	}
	e.sender.send(ctx, &st.dead, dlist, dres)
	var stored int64
	var refused result
	for j, r := range dres {
		switch r.outcome {
		case outDelivered, outExists:
			stored++
		case outRetry:
			retry = append(retry, rejected[j])
			res[rejected[j]] = r
		case outReject:
			if dropped == 0 {
				refused = r
			}
			dropped++
		}
	}
	if stored > 0 {
		e.tel.ExporterCairnSearchDocsDeadLettered.Add(ctx, stored)
		e.logger.Warn("Documents refused by the cluster were written to the dead-letter data stream",
			zap.Int64("documents", stored), zap.String("data_stream", st.dlq.stream(b.items[rejected[0]].namespace)),
			zap.String("first_target", b.items[rejected[0]].index), zap.String("first_error", first.errType+": "+truncate(first.reason, 300)))
	}
	if dropped > 0 {
		dropErr = fmt.Errorf("the dead-letter data stream refused %d documents (first: %s: %s)", dropped, refused.errType, truncate(refused.reason, 300))
		e.drop(ctx, dropped, "dead_letter_refused", dropErr)
	}
	return retry, dropped, dropErr
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

// backoff is retry_on_failure's schedule: exponential from
// initial_interval up to max_interval, randomised by randomization_factor,
// given up after max_elapsed_time (0: never).
type backoff struct {
	cfg      configretry.BackOffConfig
	interval time.Duration
	start    time.Time
}

var errRetriesExhausted = errors.New("retry_on_failure: max_elapsed_time reached")

func newBackoff(cfg configretry.BackOffConfig) *backoff {
	return &backoff{cfg: cfg, interval: cfg.InitialInterval, start: time.Now()}
}

// next returns the delay before the next attempt, or false when
// max_elapsed_time has passed.
func (b *backoff) next() (time.Duration, bool) {
	if b.cfg.MaxElapsedTime > 0 && time.Since(b.start) >= b.cfg.MaxElapsedTime {
		return 0, false
	}
	// In floating point, clamped before converting back: a product beyond
	// int64 would convert to a negative duration, i.e. no pause at all.
	d := float64(b.interval)
	if rf := b.cfg.RandomizationFactor; rf > 0 {
		delta := rf * d
		d = d - delta + rand.Float64()*2*delta
	}
	next := float64(b.interval) * max(b.cfg.Multiplier, 1)
	if math.IsNaN(next) { // a NaN multiplier: keep the interval
		next = float64(b.interval)
	}
	if b.cfg.MaxInterval > 0 {
		next = min(next, float64(b.cfg.MaxInterval))
	}
	b.interval = durationOf(next)
	return durationOf(d), true
}

// durationOf converts nanoseconds to a duration, 0 for NaN and negative
// values, the largest duration for those beyond it.
func durationOf(ns float64) time.Duration {
	switch {
	case !(ns > 0):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// wait sleeps for the next backoff delay; it fails when ctx ends or the
// retries are exhausted.
func (e *searchExporter) wait(ctx context.Context, bo *backoff) error {
	d, ok := bo.next()
	if !ok {
		return errRetriesExhausted
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// startSpool opens the spool (recovering what a previous run left) and
// starts its reader and senders.
func (e *searchExporter) startSpool() error {
	sp, err := openSpool(e.cfg.Spool, e.logger)
	if err != nil {
		return err
	}
	e.spool = sp
	if err := e.tel.RegisterCallback(func(_ context.Context, o metadata.Observers) error {
		used, pending, oldest := sp.stats()
		o.SpoolBytes.Observe(used)
		o.SpoolRecords.Observe(pending)
		o.SpoolOldestAge.Observe(oldest.Seconds())
		return nil
	}); err != nil {
		_ = sp.close()
		return err
	}
	if sp.replayed > 0 {
		e.tel.ExporterCairnSearchSpoolReplayed.Add(context.Background(), sp.replayed)
	}
	e.logger.Info("Spooling batches before sending them", zap.String("directory", e.cfg.Spool.Directory),
		zap.Int64("max_bytes", e.cfg.Spool.MaxBytes), zap.String("sync", e.cfg.Spool.Sync), zap.Int64("pending_batches", sp.replayed))
	if q := e.cfg.QueueBatchConfig.Get(); q != nil {
		e.logger.Warn("sending_queue is configured in front of the spool: the batches it holds in memory are lost if the collector is killed; remove sending_queue (the spool is the durable queue)")
	}
	work := make(chan *spoolRecord)
	e.bg.Add(1 + e.cfg.Spool.Senders)
	go func() {
		defer e.bg.Done()
		defer close(work)
		for {
			r, err := sp.next(e.stopCtx)
			if err != nil {
				return // shutting down; r is not taken
			}
			select {
			case work <- r:
			case <-e.stopCtx.Done():
				// Read, not acknowledged: sent again after a restart.
				return
			}
		}
	}()
	for range e.cfg.Spool.Senders {
		go func() {
			defer e.bg.Done()
			st := e.newState()
			for r := range work {
				e.sendRecord(st, r)
			}
		}()
	}
	return nil
}

// sendRecord delivers one spool record and acknowledges it once every
// document is resolved. Interrupted by shutdown, it leaves the record
// unacknowledged, to be sent again after a restart.
func (e *searchExporter) sendRecord(st *pushState, r *spoolRecord) {
	ctx := e.stopCtx
	d := e.deliver(ctx, st, &r.b)
	if d.pending > 0 {
		if ctx.Err() != nil {
			return
		}
		// Retries disabled, or max_elapsed_time passed: nobody else
		// holds these documents, so they are given up on here.
		reason := "retries_disabled"
		if d.exhausted {
			reason = "retries_exhausted"
		}
		e.drop(ctx, d.pending, reason, d.err)
	}
	e.spool.done(r)
}
