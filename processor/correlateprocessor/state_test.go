package correlateprocessor

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// flakyClient is an in-memory storage client whose batches fail while
// fail is set, as file_storage's do when the disk is full.
type flakyClient struct {
	data map[string][]byte
	fail bool
}

func (c *flakyClient) Get(_ context.Context, k string) ([]byte, error) { return c.data[k], nil }
func (c *flakyClient) Set(_ context.Context, k string, v []byte) error { c.data[k] = v; return nil }
func (c *flakyClient) Delete(_ context.Context, k string) error        { delete(c.data, k); return nil }
func (c *flakyClient) Close(context.Context) error                     { return nil }
func (c *flakyClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	if c.fail {
		return errors.New("no space left on device")
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			c.data[op.Key] = op.Value
		case storage.Delete:
			delete(c.data, op.Key)
		}
	}
	return nil
}

// TestFlushFailureKeepsIndexTrue: a failed flush is retried whole, and the
// index of stored entities stays what storage holds, so an entity evicted
// later is deleted from storage rather than left behind.
func TestFlushFailureKeepsIndexTrue(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxEntities = 2
	c, err := cfg.compile()
	require.NoError(t, err)
	c.engine.TrackChanges = true
	eng, err := engine.New(c.engine)
	require.NoError(t, err)
	tel := componenttest.NewTelemetry()
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	client := &flakyClient{data: map[string][]byte{}}
	st := &state{logger: zap.NewNop(), client: client, telemetry: tb, stored: map[string]struct{}{}}

	at := time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC).UnixNano()
	observe := func(entity string) {
		at += int64(time.Second)
		_, ok := eng.Observe(&engine.Event{Entity: entity, Time: at, Evidence: &engine.Evidence{},
			Hits: []engine.Hit{{Signal: c.signalIdx["new_domain"], Mult: 1}}}, nil)
		require.True(t, ok)
	}
	index := func() []string {
		var keys []string
		require.NoError(t, json.Unmarshal(client.data[indexKey], &keys))
		return keys
	}

	observe("a")
	require.NoError(t, st.flush(context.Background(), eng))
	assert.Equal(t, []string{"a"}, index())

	// b is new; the write fails and is retried later.
	observe("b")
	client.fail = true
	require.Error(t, st.flush(context.Background(), eng))
	client.fail = false

	// c evicts a (the least recently active, with one event like the
	// others): a leaves storage.
	observe("c")
	require.NoError(t, st.flush(context.Background(), eng))
	assert.ElementsMatch(t, []string{"b", "c"}, index())
	assert.Nil(t, client.data[entityKey("a")], "the evicted entity is deleted from storage")
	assert.NotNil(t, client.data[entityKey("b")], "the failed write was retried")
	assert.NotNil(t, client.data[entityKey("c")])
	assert.Len(t, client.data, 3, "two entities and the index")
}
