package termstore

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// openFileStorage starts the file storage extension on dir and returns a
// client plus a function that closes both.
func openFileStorage(t *testing.T, dir string) (storage.Client, func()) {
	t.Helper()
	ctx := context.Background()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	ext, err := f.Create(ctx, extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	client, err := ext.(storage.Extension).GetClient(ctx, component.KindProcessor, component.MustNewID("firstseen"), "terms")
	require.NoError(t, err)
	return client, func() {
		require.NoError(t, client.Close(ctx))
		require.NoError(t, ext.Shutdown(ctx))
	}
}

// TestFileStorageRestart runs the persistence cycle against the real bbolt
// backed extension across restarts, with a snapshot larger than one chunk.
func TestFileStorageRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))

	client, closeAll := openFileStorage(t, dir)
	s := New(200_000)
	p := NewPersister(client, "firstseen/hashes", 3600)
	require.NoError(t, p.Load(ctx, s))
	for i := range 100_000 {
		s.Touch(rng.Uint64(), uint32(i))
	}
	require.NoError(t, p.Flush(ctx, s)) // a flood: goes to a snapshot
	for i := range 1000 {
		s.Touch(rng.Uint64(), uint32(200_000+i))
	}
	require.NoError(t, p.Flush(ctx, s))
	closeAll()

	client, closeAll = openFileStorage(t, dir)
	got := New(200_000)
	p = NewPersister(client, "firstseen/hashes", 3600)
	require.NoError(t, p.Load(ctx, got))
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))
	got.Touch(42, 1)
	require.NoError(t, p.Snapshot(ctx, got))
	closeAll()

	client, closeAll = openFileStorage(t, dir)
	defer closeAll()
	again := New(200_000)
	require.NoError(t, NewPersister(client, "firstseen/hashes", 3600).Load(ctx, again))
	assert.Equal(t, contents(got), contents(again))
}
