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
	// per tracker: terms, scopes (done learning) and learning scopes
	// persisters; active: the active hosts, when counted.
	terms    []*termstore.Persister
	scopes   []*termstore.Persister
	learning []*termstore.Persister
	active   *termstore.Persister

	// granularity: seconds a known term's time must move before it is
	// written again.
	granularity uint32

	loop *periodic.Loop
}

// Storage key layout, inside the client the extension gives this processor:
//
//	firstseen/<tracker>/def                 definition digest of the tracker
//	firstseen/<tracker>/<def>/terms/...     termstore keys of the terms
//	firstseen/<tracker>/<def>/scopes/...    termstore keys of the scopes done learning
//	firstseen/<tracker>/<def>/learning/...  termstore keys of the scopes still learning
//	firstseen-hosts/active/...              termstore keys of the active hosts
//
// The digest in the prefix means a tracker whose fields or scope changed
// starts a fresh baseline (with its learning period) instead of misreading
// the old one.
//
// Versions: terms of trackers with prevalence are written in termstore's
// format version 2 (each term with its host set); everything else keeps
// version 1. State from before prevalence (version 1 terms, all scopes
// under scopes/, no learning/ and no active hosts) loads as it is: its
// terms count as seen on every host (termstore's migration: known, as they
// were), its scopes as done learning, and the active hosts are counted
// again from the next events.
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

// activePrefix holds the active hosts: not a tracker's, so outside every
// firstseen/<tracker>/ prefix.
const activePrefix = "firstseen-hosts/active/"

// load restores every tracker. Damaged state is logged and counted; the
// tracker then starts with what could be read, as a fresh install would.
func (s *state) load(ctx context.Context, trackers []*tracker.Tracker, active *tracker.ActiveHosts) {
	if active != nil {
		s.active = termstore.NewPersister(s.client, activePrefix, s.granularity)
		if err := s.active.Load(ctx, active.Store); err != nil {
			s.fail(ctx, "loading active hosts", err, "")
		}
		active.Rebuild()
	}
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
		lp := termstore.NewPersister(s.client, prefix+"learning/", s.granularity)
		if err := tp.Load(ctx, t.Terms); err != nil {
			s.fail(ctx, "loading terms", err, t.Name())
		}
		if err := sp.Load(ctx, t.Scopes); err != nil {
			s.fail(ctx, "loading scopes", err, t.Name())
		}
		if err := lp.Load(ctx, t.Learning); err != nil {
			s.fail(ctx, "loading learning scopes", err, t.Name())
		}
		s.terms = append(s.terms, tp)
		s.scopes = append(s.scopes, sp)
		s.learning = append(s.learning, lp)
		s.logger.Info("Restored first-seen baseline", zap.String("tracker", t.Name()),
			zap.Int("terms", t.Terms.Len()), zap.Int("scopes", t.Scopes.Len()), zap.Int("learning_scopes", t.Learning.Len()))
	}
}

func (s *state) fail(ctx context.Context, what string, err error, name string) {
	s.telemetry.ProcessorFirstseenStateErrors.Add(ctx, 1)
	s.logger.Warn("First-seen state: "+what+" failed", zap.String("tracker", name), zap.Error(err))
}

// flush appends what changed since the last flush. The caller holds mu.
func (s *state) flush(ctx context.Context, trackers []*tracker.Tracker, active *tracker.ActiveHosts) {
	for i, t := range trackers {
		if err := s.terms[i].Flush(ctx, t.Terms); err != nil {
			s.fail(ctx, "writing terms", err, t.Name())
		}
		if err := s.scopes[i].Flush(ctx, t.Scopes); err != nil {
			s.fail(ctx, "writing scopes", err, t.Name())
		}
		if err := s.learning[i].Flush(ctx, t.Learning); err != nil {
			s.fail(ctx, "writing learning scopes", err, t.Name())
		}
	}
	if s.active != nil {
		if err := s.active.Flush(ctx, active.Store); err != nil {
			s.fail(ctx, "writing active hosts", err, "")
		}
	}
}

func (s *state) startFlushing(mu *sync.Mutex, trackers []*tracker.Tracker, active *tracker.ActiveHosts, every time.Duration) {
	s.loop = periodic.Start(every, func() {
		mu.Lock()
		defer mu.Unlock()
		s.flush(context.Background(), trackers, active)
	})
}

// close writes a final snapshot so the next start loads one compact record.
func (s *state) close(ctx context.Context, mu *sync.Mutex, trackers []*tracker.Tracker, active *tracker.ActiveHosts) error {
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
		if err := s.learning[i].Snapshot(ctx, t.Learning); err != nil {
			errs = errors.Join(errs, fmt.Errorf("tracker %s: saving learning scopes: %w", t.Name(), err))
		}
	}
	if s.active != nil {
		if err := s.active.Snapshot(ctx, active.Store); err != nil {
			errs = errors.Join(errs, fmt.Errorf("saving active hosts: %w", err))
		}
	}
	if errs != nil {
		s.telemetry.ProcessorFirstseenStateErrors.Add(ctx, 1)
	}
	return errors.Join(errs, s.client.Close(ctx))
}
