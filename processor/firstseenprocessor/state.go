package firstseenprocessor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/periodic"
	"github.com/cairnsec/cairn/internal/storageclient"
	"github.com/cairnsec/cairn/internal/termstore"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/metadata"
	"github.com/cairnsec/cairn/processor/firstseenprocessor/internal/tracker"
)

// state keeps the trackers' baselines in a storage extension: a snapshot
// plus journal records of what changed, appended every flush interval, so
// that a restart resumes the baseline instead of re-learning (and
// re-flagging) everything.
type state struct {
	logger    *zap.Logger
	client    storage.Client
	telemetry *metadata.TelemetryBuilder
	// per tracker: terms and scopes persisters.
	terms  []*termstore.Persister
	scopes []*termstore.Persister

	// granularity: seconds a known term's time must move before it is
	// written again.
	granularity uint32

	loop *periodic.Loop
}

// Storage key layout, inside the client the extension gives this processor:
//
//	firstseen/<tracker>/def                 definition digest of the tracker
//	firstseen/<tracker>/<def>/terms/...     termstore keys of the terms
//	firstseen/<tracker>/<def>/scopes/...    termstore keys of the scopes
//
// The digest in the prefix means a tracker whose fields or scope changed
// starts a fresh baseline (with its learning period) instead of misreading
// the old one.
func keyPrefix(t *tracker.Tracker) string {
	return fmt.Sprintf("firstseen/%s/%s/", t.Name(), t.Definition())
}

func openState(ctx context.Context, host component.Host, storageID, self component.ID, cfg *Config, logger *zap.Logger, tb *metadata.TelemetryBuilder) (*state, error) {
	client, err := storageclient.Open(ctx, host, storageID, component.KindProcessor, self)
	if err != nil {
		return nil, err
	}
	gran := uint32(cfg.PersistGranularity / time.Second)
	if gran == 0 {
		gran = 1
	}
	return &state{logger: logger, client: client, telemetry: tb, granularity: gran}, nil
}

// load restores every tracker. Damaged state is logged and counted; the
// tracker then starts with what could be read, as a fresh install would.
func (s *state) load(ctx context.Context, trackers []*tracker.Tracker) {
	for _, t := range trackers {
		prefix := keyPrefix(t)
		defKey := "firstseen/" + t.Name() + "/def"
		old, err := s.client.Get(ctx, defKey)
		if err != nil {
			s.fail(ctx, "reading tracker definition", err, t.Name())
		} else if old != nil && string(old) != t.Definition() {
			s.logger.Info("Tracker definition changed: starting a new baseline with its learning period",
				zap.String("tracker", t.Name()))
		}
		if err := s.client.Set(ctx, defKey, []byte(t.Definition())); err != nil {
			s.fail(ctx, "writing tracker definition", err, t.Name())
		}
		tp := termstore.NewPersister(s.client, prefix+"terms/", s.granularity)
		sp := termstore.NewPersister(s.client, prefix+"scopes/", s.granularity)
		if err := tp.Load(ctx, t.Terms); err != nil {
			s.fail(ctx, "loading terms", err, t.Name())
		}
		if err := sp.Load(ctx, t.Scopes); err != nil {
			s.fail(ctx, "loading scopes", err, t.Name())
		}
		s.terms = append(s.terms, tp)
		s.scopes = append(s.scopes, sp)
		s.logger.Info("Restored first-seen baseline", zap.String("tracker", t.Name()),
			zap.Int("terms", t.Terms.Len()), zap.Int("scopes", t.Scopes.Len()))
	}
}

func (s *state) fail(ctx context.Context, what string, err error, name string) {
	s.telemetry.ProcessorFirstseenStateErrors.Add(ctx, 1)
	s.logger.Warn("First-seen state: "+what+" failed", zap.String("tracker", name), zap.Error(err))
}

// flush appends what changed since the last flush. The caller holds mu.
func (s *state) flush(ctx context.Context, trackers []*tracker.Tracker) {
	for i, t := range trackers {
		if err := s.terms[i].Flush(ctx, t.Terms); err != nil {
			s.fail(ctx, "writing terms", err, t.Name())
		}
		if err := s.scopes[i].Flush(ctx, t.Scopes); err != nil {
			s.fail(ctx, "writing scopes", err, t.Name())
		}
	}
}

func (s *state) startFlushing(mu *sync.Mutex, trackers []*tracker.Tracker, every time.Duration) {
	s.loop = periodic.Start(every, func() {
		mu.Lock()
		defer mu.Unlock()
		s.flush(context.Background(), trackers)
	})
}

// close writes a final snapshot so the next start loads one compact record.
func (s *state) close(ctx context.Context, mu *sync.Mutex, trackers []*tracker.Tracker) error {
	s.loop.Stop()
	mu.Lock()
	defer mu.Unlock()
	var errs error
	for i, t := range trackers {
		if err := s.terms[i].Snapshot(ctx, t.Terms); err != nil {
			errs = errors.Join(errs, fmt.Errorf("tracker %s: saving terms: %w", t.Name(), err))
		}
		if err := s.scopes[i].Snapshot(ctx, t.Scopes); err != nil {
			errs = errors.Join(errs, fmt.Errorf("tracker %s: saving scopes: %w", t.Name(), err))
		}
	}
	if errs != nil {
		s.telemetry.ProcessorFirstseenStateErrors.Add(ctx, 1)
	}
	return errors.Join(errs, s.client.Close(ctx))
}
