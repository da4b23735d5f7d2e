package correlateprocessor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/zeebo/xxh3"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/periodic"
	"github.com/cairnsec/cairn/internal/storageclient"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// Storage key layout, inside the client the extension gives this processor:
//
//	correlate/index            JSON array of the entity keys stored
//	correlate/entity/<digest>  one entity's state (engine.Encode)
//
// Storage clients cannot list keys, hence the index. Every flush writes the
// changed entities, the deletions and the index in one batch, which
// file_storage applies in one transaction: a crash leaves either the old or
// the new state, never a mix.
const (
	indexKey     = "correlate/index"
	entityPrefix = "correlate/entity/"
)

func entityKey(key string) string {
	sum := xxh3.HashString128(key).Bytes()
	return entityPrefix + hex.EncodeToString(sum[:])
}

type state struct {
	logger    *zap.Logger
	client    storage.Client
	telemetry *metadata.TelemetryBuilder
	// stored are the entity keys in storage, as the index says.
	stored map[string]struct{}

	loop *periodic.Loop
}

func openState(ctx context.Context, host component.Host, storageID, self component.ID, logger *zap.Logger, tb *metadata.TelemetryBuilder) (*state, error) {
	client, err := storageclient.Open(ctx, host, storageID, component.KindProcessor, self)
	if err != nil {
		return nil, err
	}
	return &state{logger: logger, client: client, telemetry: tb, stored: map[string]struct{}{}}, nil
}

// load restores every stored entity. Damaged entries are logged, counted and
// skipped: correlation then starts afresh for those entities.
func (s *state) load(ctx context.Context, eng *engine.Engine) {
	raw, err := s.client.Get(ctx, indexKey)
	if err != nil {
		s.fail(ctx, "reading the index", err)
		return
	}
	if raw == nil {
		return
	}
	var keys []string
	if err := json.Unmarshal(raw, &keys); err != nil {
		s.fail(ctx, "decoding the index", err)
		return
	}
	restored := 0
	for _, k := range keys {
		data, err := s.client.Get(ctx, entityKey(k))
		if err != nil {
			s.fail(ctx, "reading an entity", err)
			continue
		}
		if data == nil {
			continue
		}
		if err := eng.Restore(data); err != nil {
			s.fail(ctx, "decoding an entity", err)
			continue
		}
		s.stored[k] = struct{}{}
		restored++
	}
	// What Restore evicted (a lowered max_entities) is deleted at the
	// first flush; nothing restored counts as changed.
	s.logger.Info("Restored correlation state", zap.Int("entities", restored))
}

func (s *state) fail(ctx context.Context, what string, err error) {
	s.telemetry.ProcessorCorrelateStateErrors.Add(ctx, 1)
	s.logger.Warn("Correlation state: "+what+" failed", zap.Error(err))
}

// flush writes what changed since the last flush. The caller holds the
// processor's lock.
func (s *state) flush(ctx context.Context, eng *engine.Engine) error {
	changed, removed := eng.TakeDirty()
	if len(changed) == 0 && len(removed) == 0 {
		return nil
	}
	ops := make([]*storage.Operation, 0, len(changed)+len(removed)+1)
	// added and deleted are the index changes of this flush, undone if
	// the batch fails so that the index in memory still says what storage
	// holds.
	var added, deleted []string
	undo := func(err error) error {
		for _, k := range added {
			delete(s.stored, k)
		}
		for _, k := range deleted {
			s.stored[k] = struct{}{}
		}
		eng.Requeue(changed, removed)
		return err
	}
	for _, ent := range changed {
		data, err := eng.Encode(ent)
		if err != nil {
			return undo(err)
		}
		ops = append(ops, storage.SetOperation(entityKey(ent.Key), data))
		if _, ok := s.stored[ent.Key]; !ok {
			s.stored[ent.Key] = struct{}{}
			added = append(added, ent.Key)
		}
	}
	for _, k := range removed {
		if _, ok := s.stored[k]; ok {
			delete(s.stored, k)
			deleted = append(deleted, k)
			ops = append(ops, storage.DeleteOperation(entityKey(k)))
		}
	}
	if len(added)+len(deleted) > 0 {
		keys := make([]string, 0, len(s.stored))
		for k := range s.stored {
			keys = append(keys, k)
		}
		data, err := json.Marshal(keys)
		if err != nil {
			return undo(err)
		}
		ops = append(ops, storage.SetOperation(indexKey, data))
	}
	if err := s.client.Batch(ctx, ops...); err != nil {
		// Tried again at the next flush.
		return undo(err)
	}
	return nil
}

func (s *state) startFlushing(mu *sync.Mutex, eng *engine.Engine, every time.Duration) {
	s.loop = periodic.Start(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if err := s.flush(context.Background(), eng); err != nil {
			s.fail(context.Background(), "writing", err)
		}
	})
}

// close writes the last changes and closes the client.
func (s *state) close(ctx context.Context, mu *sync.Mutex, eng *engine.Engine) error {
	s.loop.Stop()
	mu.Lock()
	err := s.flush(ctx, eng)
	mu.Unlock()
	if err != nil {
		s.telemetry.ProcessorCorrelateStateErrors.Add(ctx, 1)
	}
	return errors.Join(err, s.client.Close(ctx))
}
