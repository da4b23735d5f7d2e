package correlateprocessor

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/zeebo/xxh3"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/redisconf"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
)

// sharedState keeps entities' correlation state in Redis as well, so that
// a gateway that takes over a host (a Kafka rebalance, a restart elsewhere)
// continues its open windows and alerts instead of starting afresh.
//
// Per batch: one round trip before processing, reading the state of the
// batch's entities that carry signals (taken when newer than what this
// collector holds), and one after, writing the entities the batch changed.
// Each waits at most redis.timeout; when Redis fails, batches go on with
// local state only (counted) and Redis is left alone for retry_interval.
type sharedState struct {
	cfg    redisconf.Config
	client redis.UniversalClient
	logger *zap.Logger
	// ttl keeps an entity's state as long as a late event could use it.
	ttl time.Duration
	now func() time.Time

	downUntil time.Time
	failures  int64 // read by the processor for its metric
}

func newSharedState(ctx context.Context, cfg redisconf.Config, eng *engine.Engine, logger *zap.Logger) (*sharedState, error) {
	cfg.LogWarnings(logger, "correlate")
	cc, err := cfg.ClientConfig(ctx)
	if err != nil {
		return nil, err
	}
	client, _ := redisconf.NewClient(cc)
	return &sharedState{cfg: cfg, client: client, logger: logger, now: time.Now,
		ttl: time.Duration(eng.Horizon()) + time.Hour}, nil
}

func (s *sharedState) key(entity string) string {
	sum := xxh3.HashString128(entity).Bytes()
	return s.cfg.KeyPrefix + "entity:" + hex.EncodeToString(sum[:])
}

func (s *sharedState) available() bool { return !s.now().Before(s.downUntil) }

func (s *sharedState) fail(what string, err error) {
	s.failures++
	if s.available() {
		s.logger.Warn("Shared correlation state: Redis "+what+" failed; going on with local state", zap.Error(err))
	}
	s.downUntil = s.now().Add(s.cfg.RetryInterval)
}

// load brings in the Redis state of entities newer than the local one.
func (s *sharedState) load(ctx context.Context, eng *engine.Engine, entities []string) {
	if len(entities) == 0 || !s.available() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(entities))
	for i, e := range entities {
		cmds[i] = pipe.Get(ctx, s.key(e))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		s.fail("read", err)
		return
	}
	for i, e := range entities {
		data, err := cmds[i].Bytes()
		if err != nil {
			continue // redis.Nil: nothing shared for this entity
		}
		remote, err := engine.LatestOf(data)
		if err != nil {
			s.failures++
			continue
		}
		if local, ok := eng.Latest(e); ok && local >= remote {
			continue
		}
		if err := eng.Restore(data); err != nil {
			s.failures++
		}
	}
}

// save writes the state of the entities a batch changed.
func (s *sharedState) save(ctx context.Context, eng *engine.Engine, entities []string) {
	if len(entities) == 0 || !s.available() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	pipe := s.client.Pipeline()
	n := 0
	for _, e := range entities {
		data, ok, err := eng.EncodeKey(e)
		if err != nil {
			s.failures++
			continue
		}
		if !ok {
			continue
		}
		pipe.Set(ctx, s.key(e), data, s.ttl)
		n++
	}
	if n == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.fail("write", err)
	}
}

func (s *sharedState) close() error { return s.client.Close() }
