package filereceiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/normalize"
	"github.com/cairnsec/cairn/internal/storageclient"
	"github.com/cairnsec/cairn/receiver/filereceiver/internal/metadata"
)

// Delivery retry backoff: doubling from the first to the cap.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// obsFormat is the format reported with the standard receiver metrics.
const obsFormat = "ecs_ndjson"

// counters are the receiver's telemetry, read by the metrics callback.
type counters struct {
	lines, bytesRead, events, pipelineErrors atomic.Int64
	malformed                                [numReasons]atomic.Int64
	dropped, retries, open                   atomic.Int64
	// formats: the decoder's per-format counts (cumulative), as of the
	// last publish; nil with format ecs.
	formats atomic.Pointer[[]normalize.Count]
	// polls counts the polls done (tests wait on it).
	polls atomic.Int64
}

type fileReceiver struct {
	set  receiver.Settings
	cfg  *Config
	next consumer.Logs
	obs  *receiverhelper.ObsReport
	cnt  counters

	// readBufSize overrides readBufferSize (tests).
	readBufSize int

	telemetry *metadata.TelemetryBuilder
	cancel    context.CancelFunc
	shutDown  bool
	done      sync.WaitGroup
	batches   chan *batch

	// mu guards the storage client and the checkpoints of the last
	// delivered batch.
	mu        sync.Mutex
	client    storage.Client
	closed    bool
	delivered []byte
	persisted bool
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*fileReceiver, error) {
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "file",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	return &fileReceiver{set: set, cfg: cfg, next: next, obs: obs}, nil
}

// Start loads the checkpoints and starts reading; the files are looked
// for in the background.
func (r *fileReceiver) Start(ctx context.Context, host component.Host) error {
	var restored []checkpoint
	if r.cfg.Storage != nil {
		client, err := storageclient.Open(ctx, host, *r.cfg.Storage, component.KindReceiver, r.set.ID)
		if err != nil {
			return fmt.Errorf("cairn_file: %w", err)
		}
		b, err := client.Get(ctx, checkpointKey)
		if err != nil {
			_ = client.Close(ctx)
			return fmt.Errorf("cairn_file: reading checkpoints: %w", err)
		}
		if restored, err = decodeCheckpoints(b); err != nil {
			r.set.Logger.Warn("cairn_file: checkpoints unreadable, files are read as if new", zap.Error(err))
			restored = nil
		}
		r.client = client
	} else {
		r.set.Logger.Warn("cairn_file: no storage configured: file positions are not kept across restarts")
	}
	if err := r.registerTelemetry(); err != nil {
		if r.client != nil {
			_ = r.client.Close(ctx)
		}
		return err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.batches = make(chan *batch)
	bufSize := readBufferSize
	if r.readBufSize > 0 {
		bufSize = r.readBufSize
	}
	rd := newReader(r.cfg, r.set.Logger, &r.cnt, r.batches, bufSize)
	rd.restore(restored)
	r.done.Add(2)
	go func() {
		defer r.done.Done()
		rd.run(runCtx)
	}()
	go func() {
		defer r.done.Done()
		r.deliver(runCtx)
	}()
	return nil
}

// Shutdown stops reading and delivering (a consumer that does not return
// is waited for until ctx ends), then writes the checkpoints of the last
// delivered batch.
func (r *fileReceiver) Shutdown(ctx context.Context) error {
	if r.cancel == nil || r.shutDown {
		return nil
	}
	r.shutDown = true
	r.cancel()
	stopped := make(chan struct{})
	go func() {
		r.done.Wait()
		close(stopped)
	}()
	var err error
	select {
	case <-stopped:
	case <-ctx.Done():
		err = fmt.Errorf("cairn_file: the next consumer did not return before shutdown ended: %w", ctx.Err())
	}
	r.mu.Lock()
	if r.client != nil && !r.closed {
		if r.delivered != nil && !r.persisted {
			if serr := r.client.Set(context.WithoutCancel(ctx), checkpointKey, r.delivered); serr != nil {
				err = errors.Join(err, fmt.Errorf("cairn_file: writing checkpoints: %w", serr))
			}
		}
		err = errors.Join(err, r.client.Close(context.WithoutCancel(ctx)))
		r.closed = true
	}
	r.mu.Unlock()
	if r.telemetry != nil {
		r.telemetry.Shutdown()
	}
	return err
}

// deliver hands the batches to the next consumer, one at a time, and moves
// the checkpoints after each one delivered.
func (r *fileReceiver) deliver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-r.batches:
			if b.n > 0 && !r.consume(ctx, b) {
				return
			}
			r.commit(ctx, b.ckpt)
		}
	}
}

// consume calls ConsumeLogs until the batch is accepted, refused for good,
// or the receiver stops (false).
func (r *fileReceiver) consume(ctx context.Context, b *batch) bool {
	wait := retryFirst
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		octx := r.obs.StartLogsOp(ctx)
		err := r.next.ConsumeLogs(octx, b.ld)
		r.obs.EndLogsOp(octx, obsFormat, b.n, err)
		switch {
		case err == nil:
			return true
		case consumererror.IsPermanent(err):
			r.cnt.dropped.Add(int64(b.n))
			r.set.Logger.Error("cairn_file: the next consumer refused a batch for good; its records are dropped",
				zap.Int("records", b.n), zap.Error(err))
			return true
		case ctx.Err() != nil:
			return false
		}
		r.cnt.retries.Add(1)
		r.set.Logger.Warn("cairn_file: the next consumer failed; retrying the same batch",
			zap.Int("records", b.n), zap.Duration("backoff", wait), zap.Error(err))
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// commit makes a delivered batch's checkpoints the receiver's, and writes
// them to the storage: one write per batch.
func (r *fileReceiver) commit(ctx context.Context, ckpt []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered, r.persisted = ckpt, false
	if r.client == nil || r.closed {
		return
	}
	if err := r.client.Set(context.WithoutCancel(ctx), checkpointKey, ckpt); err != nil {
		r.set.Logger.Warn("cairn_file: cannot write checkpoints", zap.Error(err))
		return
	}
	r.persisted = true
}
