package termstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

var errInjected = errors.New("injected failure")

// memClient is a map-backed storage.Client with failure injection. Unlike
// the storagetest client it copies values, so a caller reusing a buffer after
// Set would be caught.
type memClient struct {
	m        map[string][]byte
	bytesSet int
	sets     int

	failGet   bool
	failSet   bool
	batchKeep int // -1: apply whole batches; else apply this many ops, then fail
	lastBatch []*storage.Operation
}

var _ storage.Client = (*memClient)(nil)

func newMemClient() *memClient { return &memClient{m: map[string][]byte{}, batchKeep: -1} }

func (c *memClient) Get(_ context.Context, key string) ([]byte, error) {
	if c.failGet {
		return nil, errInjected
	}
	return slices.Clone(c.m[key]), nil
}

func (c *memClient) Set(_ context.Context, key string, value []byte) error {
	if c.failSet {
		return errInjected
	}
	c.sets++
	c.bytesSet += len(value)
	c.m[key] = slices.Clone(value)
	return nil
}

func (c *memClient) Delete(_ context.Context, key string) error {
	delete(c.m, key)
	return nil
}

// Batch applies ops in order and, when batchKeep is set, stops after that
// many to imitate a client that crashed part way through.
func (c *memClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	c.lastBatch = ops
	for n, op := range ops {
		if c.batchKeep >= 0 && n == c.batchKeep {
			return errInjected
		}
		switch op.Type {
		case storage.Get:
			v, err := c.Get(ctx, op.Key)
			if err != nil {
				return err
			}
			op.Value = v
		case storage.Set:
			c.sets++
			c.bytesSet += len(op.Value)
			c.m[op.Key] = slices.Clone(op.Value)
		case storage.Delete:
			delete(c.m, op.Key)
		}
	}
	return nil
}

func (c *memClient) Close(context.Context) error { return nil }

func (c *memClient) clone() *memClient {
	d := newMemClient()
	for k, v := range c.m {
		d.m[k] = slices.Clone(v)
	}
	return d
}

func (c *memClient) keys(sub string) []string {
	var out []string
	for k := range c.m {
		if strings.Contains(k, sub) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

type termTS struct {
	fp uint64
	ts uint32
}

// contents lists held terms from least to most recently used.
func contents(s *Store) []termTS {
	var out []termTS
	s.Range(func(fp uint64, ts uint32) bool {
		out = append(out, termTS{fp, ts})
		return true
	})
	return out
}

func asMap(ts []termTS) map[uint64]uint32 {
	m := make(map[uint64]uint32, len(ts))
	for _, t := range ts {
		m[t.fp] = t.ts
	}
	return m
}

// reload reads what storage holds into a fresh store of the given capacity.
func reload(t *testing.T, c storage.Client, prefix string, capTerms int) (*Store, error) {
	t.Helper()
	s := New(capTerms)
	err := NewPersister(c, prefix, 1).Load(context.Background(), s)
	checkInvariants(t, s)
	return s, err
}

func TestLoadMissingState(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	p := NewPersister(c, "fs", 60)
	require.NoError(t, p.Load(ctx, s))
	assert.Zero(t, s.Len())
	require.NoError(t, p.Flush(ctx, s), "nothing to write")
	assert.Empty(t, c.m)
}

func TestLoadClientError(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	c.failGet = true
	s := New(10)
	p := NewPersister(c, "fs", 60)
	err := p.Load(ctx, s)
	require.ErrorIs(t, err, errInjected)
	assert.NotErrorIs(t, err, ErrCorrupt)

	// Once storage answers again the first Flush rewrites everything.
	c.failGet = false
	s.Touch(1, 1)
	require.NoError(t, p.Flush(ctx, s))
	assert.NotNil(t, c.m["fs/m"])
	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, contents(s), contents(got))
}

func TestSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(300_000)
	for i := range 200_000 {
		s.Touch(uint64(i)*7919, uint32(i%5000))
	}
	s.Touch(0, 9) // fingerprint 0 survives the trip
	p := NewPersister(c, "fs/tracker", 3600)
	require.NoError(t, p.Snapshot(ctx, s))

	assert.Len(t, c.keys("/s/"), 4, "200k terms in 64Ki-term chunks")
	for _, k := range c.keys("/s/") {
		assert.LessOrEqual(t, len(c.m[k]), chunkHead+ChunkTerms*termLen+crcLen)
	}

	got, err := reload(t, c, "fs/tracker/", 300_000) // a trailing slash names the same keys
	require.NoError(t, err)
	assert.Equal(t, contents(s), contents(got), "snapshot keeps values and LRU order")

	// A second snapshot replaces the first generation completely.
	s.Touch(1, 1)
	require.NoError(t, p.Snapshot(ctx, s))
	assert.Len(t, c.keys("/s/"), 4)
	for _, k := range c.keys("/s/") {
		assert.True(t, strings.HasPrefix(k, "fs/tracker/s/2/"), k)
	}
}

func TestJournalRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(100)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))

	for i := range uint64(20) {
		s.Touch(i, 100)
	}
	require.NoError(t, p.Flush(ctx, s))
	s.Touch(3, 200)
	s.Remember(4, 50)
	s.Delete(5)
	s.Touch(30, 300)
	require.NoError(t, p.Flush(ctx, s))

	assert.Equal(t, []string{"fs/j/0000000000000000", "fs/j/0000000000000001"}, c.keys("/"),
		"no snapshot while the journal is small")
	got, err := reload(t, c, "fs", 100)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))

	// The reloaded store journals on from where the old one stopped.
	p2 := NewPersister(c, "fs", 1)
	s2 := New(100)
	require.NoError(t, p2.Load(ctx, s2))
	s2.Touch(40, 400)
	require.NoError(t, p2.Flush(ctx, s2))
	assert.Contains(t, c.keys("/j/"), "fs/j/0000000000000002")
	got, err = reload(t, c, "fs", 100)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s2)), asMap(contents(got)))
}

func TestJournalReplayOrder(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))

	s.Touch(1, 100)
	require.NoError(t, p.Flush(ctx, s))
	// Re-created with an earlier time: only replaying in order yields 50.
	s.Delete(1)
	s.Touch(1, 50)
	require.NoError(t, p.Flush(ctx, s))
	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	ts, ok := got.Lookup(1)
	require.True(t, ok)
	assert.Equal(t, uint32(50), ts)

	// A later deletion wins over the earlier records.
	s.Touch(2, 60)
	s.Delete(1)
	require.NoError(t, p.Flush(ctx, s))
	got, err = reload(t, c, "fs", 10)
	require.NoError(t, err)
	_, ok = got.Lookup(1)
	assert.False(t, ok)
	assert.Equal(t, []termTS{{2, 60}}, contents(got))

	// Record order is recency order: the term written last is evicted last.
	s.Touch(3, 70)
	require.NoError(t, p.Flush(ctx, s))
	s.Touch(2, 80)
	require.NoError(t, p.Flush(ctx, s))
	got, err = reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, []termTS{{3, 70}, {2, 80}}, contents(got))
	got, err = reload(t, c, "fs", 1)
	require.NoError(t, err)
	assert.Equal(t, []termTS{{2, 80}}, contents(got), "replay goes through the store's bound")
}

func TestLoadRespectsBound(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(100)
	for i := range uint64(100) {
		s.Touch(i, uint32(i))
	}
	require.NoError(t, NewPersister(c, "fs", 1).Snapshot(ctx, s))
	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, contents(s)[90:], contents(got))
	assert.Equal(t, uint64(90), got.Evictions())
}

func TestGranularity(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	p := NewPersister(c, "fs", 3600)
	require.NoError(t, p.Load(ctx, s))

	const hour = 3600 * 100
	s.Touch(1, hour+10)
	assert.Len(t, s.dirty, 1, "a new term is dirty")
	require.NoError(t, p.Flush(ctx, s))
	assert.Empty(t, s.dirty)

	for ts := uint32(hour + 11); ts < hour+3600; ts += 7 {
		s.Touch(1, ts)
	}
	s.Remember(1, hour) // earlier, but still the same bucket
	assert.Empty(t, s.dirty, "moves within the bucket are not written")
	sets := c.sets
	require.NoError(t, p.Flush(ctx, s))
	assert.Equal(t, sets, c.sets, "nothing to flush")

	s.Touch(1, hour+3600)
	s.Touch(1, hour+3601)
	s.Touch(1, 2*hour) // another bucket again, already queued
	assert.Len(t, s.dirty, 1, "a queued term is not queued twice")
	require.NoError(t, p.Flush(ctx, s))
	assert.Equal(t, sets+1, c.sets)

	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	ts, _ := got.Lookup(1)
	assert.Equal(t, uint32(2*hour), ts)

	s.Remember(1, hour-1) // back into an earlier bucket
	assert.Len(t, s.dirty, 1)
}

func TestFlushDeduplicates(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(2)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))

	s.Touch(1, 10)
	s.Touch(2, 10)
	s.Touch(3, 10) // evicts 1
	s.Touch(1, 11) // evicts 2; 1 is now listed twice
	require.NoError(t, p.Flush(ctx, s))
	r, err := decodeJournal(c.m["fs/j/0000000000000000"])
	require.NoError(t, err)
	assert.Len(t, r.ups, 2*termLen, "one entry each for 3 and 1, none for evicted 2")
	assert.Empty(t, r.dels, "evictions are not journaled")
	assert.Equal(t, uint64(3), le.Uint64(r.ups), "ordered by when each term was last queued")
	assert.Equal(t, uint64(1), le.Uint64(r.ups[termLen:]))
}

func TestCompactionByRecordCount(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(1000)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	for i := range uint64(maxJournalRecords) {
		s.Touch(i, 1)
		require.NoError(t, p.Flush(ctx, s))
	}
	assert.Len(t, c.keys("/j/"), maxJournalRecords)
	assert.Nil(t, c.m["fs/m"])

	s.Touch(1000, 1)
	require.NoError(t, p.Flush(ctx, s))
	assert.Empty(t, c.keys("/j/"), "compaction deletes the journal")
	m, err := decodeManifest(c.m["fs/m"])
	require.NoError(t, err)
	assert.Equal(t, uint64(1), m.gen)
	assert.Equal(t, uint32(maxJournalRecords+1), m.count)
	assert.Equal(t, uint64(maxJournalRecords), m.journalStart)
	assert.Len(t, c.lastBatch, 1+1+maxJournalRecords, "chunk, manifest and deletions in one Batch")

	// Journaling resumes after the snapshot, under the next sequence.
	s.Touch(2000, 1)
	require.NoError(t, p.Flush(ctx, s))
	assert.Equal(t, []string{"fs/j/0000000000000040"}, c.keys("/j/"))
	got, err := reload(t, c, "fs", 1000)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))
}

func TestCompactionBySize(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(100_000)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	fp := uint64(0)
	flushNew := func(n int) {
		for range n {
			fp++
			s.Touch(fp, 1)
		}
		require.NoError(t, p.Flush(ctx, s))
	}
	flushNew(2500) // 30 KB
	flushNew(2500)
	assert.Len(t, c.keys("/j/"), 2)
	flushNew(2500) // the journal would pass the 64 KiB floor
	assert.Empty(t, c.keys("/j/"))
	assert.NotNil(t, c.m["fs/m"])

	// Against a 7500-term snapshot (~90 KB) the journal may grow to that.
	flushNew(2500)
	flushNew(2500)
	assert.Len(t, c.keys("/j/"), 2)
	flushNew(2500)
	assert.Empty(t, c.keys("/j/"))
	got, err := reload(t, c, "fs", 100_000)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))
}

func TestBacklogFallsBackToSnapshot(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(1_000_000)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	for i := range uint64(3 * dirtySlack) {
		s.Touch(i, 1)
	}
	assert.True(t, s.needSnap)
	assert.Empty(t, s.dirty, "a flood must not grow the change list")
	require.NoError(t, p.Flush(ctx, s))
	assert.Empty(t, c.keys("/j/"))
	assert.Len(t, c.keys("/s/"), 1)
	assert.False(t, s.needSnap)

	s.Touch(1<<40, 1)
	require.NoError(t, p.Flush(ctx, s))
	assert.Len(t, c.keys("/j/"), 1, "back to journaling")
	got, err := reload(t, c, "fs", 1_000_000)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))
}

func TestFlushWithoutLoadSnapshots(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	old := New(10)
	old.Touch(1, 1)
	old.Touch(2, 1)
	pOld := NewPersister(c, "fs", 1)
	require.NoError(t, pOld.Snapshot(ctx, old))
	old.Touch(3, 1)
	require.NoError(t, pOld.Flush(ctx, old))
	require.Len(t, c.keys("/j/"), 1)

	// A store that never loaded must replace, not extend, what is stored.
	s := New(10)
	s.Touch(9, 9)
	require.NoError(t, NewPersister(c, "fs", 1).Flush(ctx, s))
	assert.Empty(t, c.keys("/j/"), "old journal is removed")
	assert.Equal(t, []string{"fs/s/2/0"}, c.keys("/s/"))
	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, []termTS{{9, 9}}, contents(got))
}

func TestLoadIntoNonEmptyStoreSnapshotsNext(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	s.Touch(1, 1)
	require.NoError(t, NewPersister(c, "fs", 1).Snapshot(ctx, s))

	s2 := New(10)
	s2.Touch(2, 2) // held before Load, so never journaled
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s2))
	require.NoError(t, p.Flush(ctx, s2))
	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s2)), asMap(contents(got)))
	assert.Len(t, got.entries, 3)
}

func TestFlushSetFailureKeepsChanges(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	s.Touch(1, 1)
	s.Touch(2, 2)
	s.Delete(2)
	c.failSet = true
	require.ErrorIs(t, p.Flush(ctx, s), errInjected)
	c.failSet = false
	s.Touch(3, 3)
	require.NoError(t, p.Flush(ctx, s))
	assert.Equal(t, []string{"fs/j/0000000000000000"}, c.keys("/"), "the retry reuses the sequence")
	r, err := decodeJournal(c.m["fs/j/0000000000000000"])
	require.NoError(t, err)
	assert.Len(t, r.ups, 2*termLen)
	assert.Len(t, r.dels, 8)
	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, contents(s), contents(got))
}

// persistedScenario builds storage holding a snapshot plus a journal, and a
// store whose state has moved on since the last flush.
func persistedScenario(t *testing.T) (c *memClient, p *Persister, s *Store, old, cur []termTS) {
	ctx := context.Background()
	c = newMemClient()
	s = New(1000)
	p = NewPersister(c, "fs", 1)
	p.chunkTerms = 100
	require.NoError(t, p.Load(ctx, s))
	for i := range uint64(110) {
		s.Touch(i, 1)
	}
	require.NoError(t, p.Snapshot(ctx, s))
	require.Len(t, c.keys("/s/"), 2)
	for i := range uint64(5) {
		s.Touch(i, 2)
		s.Delete(100 + i)
		require.NoError(t, p.Flush(ctx, s))
	}
	require.Len(t, c.keys("/j/"), 5)
	old = contents(s)

	for i := range uint64(100) {
		s.Touch(1_000_000+i, 3)
	}
	s.Delete(7)
	cur = contents(s)
	return c, p, s, old, cur
}

func TestSnapshotCrashBetweenSteps(t *testing.T) {
	ctx := context.Background()
	base, p, s, old, cur := persistedScenario(t)

	probe := base.clone()
	pp := *p
	pp.client = probe
	require.NoError(t, pp.Snapshot(ctx, s))
	nOps := len(probe.lastBatch)
	newChunks := len(probe.keys("/s/"))
	require.Equal(t, 3, newChunks)
	require.Equal(t, newChunks+1+2+5, nOps, "chunks, manifest, old chunks, old journal")

	for keep := 0; keep < nOps; keep++ {
		c := base.clone()
		c.batchKeep = keep
		crashed := *p
		crashed.client = c
		require.ErrorIs(t, crashed.Snapshot(ctx, s), errInjected)
		c.batchKeep = -1

		got, err := reload(t, c, "fs", s.Cap())
		require.NoError(t, err, "keep %d", keep)
		if keep <= newChunks {
			assert.Equal(t, asMap(old), asMap(contents(got)), "keep %d: old state", keep)
		} else {
			assert.Equal(t, cur, contents(got), "keep %d: new state", keep)
		}

		// The crashed persister recovers by re-reading storage.
		again := New(s.Cap())
		for _, t := range cur {
			again.restore(t.fp, t.ts)
		}
		require.NoError(t, crashed.Snapshot(ctx, again), "keep %d", keep)
		got, err = reload(t, c, "fs", s.Cap())
		require.NoError(t, err)
		assert.Equal(t, cur, contents(got), "keep %d after recovery", keep)
		assert.Empty(t, c.keys("/j/"), "keep %d after recovery", keep)
	}
}

func TestStaleJournalRecordEndsReplay(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	s.Touch(1, 1)
	require.NoError(t, p.Flush(ctx, s))
	s.Touch(2, 1)
	require.NoError(t, p.Flush(ctx, s))
	require.NoError(t, p.Snapshot(ctx, s)) // gen 1, journal starts at 2
	// A record of generation 0 under the next sequence, as left by a crash.
	stale := finishJournal(appendTerm(newJournal(formatVersion, 0, 2, termLen), 66, 6), 1, 0)
	c.m[p.journalKey(2)] = stale

	got, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))

	p2 := NewPersister(c, "fs", 1)
	s2 := New(10)
	require.NoError(t, p2.Load(ctx, s2))
	s2.Touch(3, 3)
	require.NoError(t, p2.Flush(ctx, s2))
	got, err = reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s2)), asMap(contents(got)), "the stale record was overwritten")
}

func TestCorruptJournalRecord(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(10)
	p := NewPersister(c, "fs", 1)
	require.NoError(t, p.Load(ctx, s))
	for i := range uint64(3) {
		s.Touch(i, 1)
		require.NoError(t, p.Flush(ctx, s))
	}
	key := p.journalKey(1)
	c.m[key][journalHead] ^= 0xFF

	got := New(10)
	p2 := NewPersister(c, "fs", 1)
	err := p2.Load(ctx, got)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), key)
	assert.Equal(t, map[uint64]uint32{0: 1, 2: 1}, asMap(contents(got)), "other records still replay")

	// The next flush supersedes the damage with a snapshot.
	require.NoError(t, p2.Flush(ctx, got))
	assert.Empty(t, c.keys("/j/"))
	again, err := reload(t, c, "fs", 10)
	require.NoError(t, err)
	assert.Equal(t, contents(got), contents(again))
}

func TestCorruptValues(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		key     string
		mangle  func([]byte) []byte
		wantLen int
	}{
		{"manifest checksum", "fs/m", func(b []byte) []byte { b[3] ^= 1; return b }, 0},
		{"manifest truncated", "fs/m", func(b []byte) []byte { return b[:5] }, 0},
		{"manifest version", "fs/m", func(b []byte) []byte {
			b[0] = 9
			return appendCRC(b[:len(b)-crcLen])
		}, 0},
		{"chunk checksum", "fs/s/1/0", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, 1},
		{"chunk missing", "fs/s/1/0", func([]byte) []byte { return nil }, 1},
		{"chunk from another generation", "fs/s/1/0", func(b []byte) []byte {
			le.PutUint64(b[headerLen:], 7)
			return appendCRC(b[:len(b)-crcLen])
		}, 1},
		{"journal wrong kind", "fs/j/0000000000000000", func(b []byte) []byte {
			b[1] = kindChunk
			return appendCRC(b[:len(b)-crcLen])
		}, 1},
		{"journal bad count", "fs/j/0000000000000000", func(b []byte) []byte {
			le.PutUint32(b[journalHead-8:], 1000)
			return appendCRC(b[:len(b)-crcLen])
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newMemClient()
			s := New(10)
			p := NewPersister(c, "fs", 1)
			s.Touch(1, 1)
			require.NoError(t, p.Snapshot(ctx, s))
			s.Touch(2, 2)
			require.NoError(t, p.Flush(ctx, s))
			require.Contains(t, c.m, tc.key)
			if v := tc.mangle(c.m[tc.key]); v == nil {
				delete(c.m, tc.key)
			} else {
				c.m[tc.key] = v
			}

			got := New(10)
			p2 := NewPersister(c, "fs", 1)
			err := p2.Load(ctx, got)
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), tc.key)
			assert.Equal(t, tc.wantLen, got.Len())

			// Whatever was read is written back whole and loads cleanly.
			got.Touch(3, 3)
			require.NoError(t, p2.Flush(ctx, got))
			again, err := reload(t, c, "fs", 10)
			require.NoError(t, err)
			assert.Equal(t, contents(got), contents(again))
		})
	}
}

func TestStoragetestClient(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewInMemoryClient(component.KindProcessor, component.MustNewID("firstseen"), "")
	s := New(1000)
	p := NewPersister(c, "t", 60)
	require.NoError(t, p.Load(ctx, s))
	for i := range uint64(500) {
		s.Touch(i, uint32(i))
	}
	require.NoError(t, p.Flush(ctx, s))
	for i := range uint64(100) {
		s.Touch(i, 10_000)
	}
	require.NoError(t, p.Flush(ctx, s))
	require.NoError(t, p.Snapshot(ctx, s))
	s.Delete(5)
	require.NoError(t, p.Flush(ctx, s))

	var keys []string
	require.NoError(t, c.Walk(ctx, func(k string, _ []byte) ([]*storage.Operation, error) {
		keys = append(keys, k)
		return nil, nil
	}))
	assert.Equal(t, []string{"t/j/0000000000000002", "t/m", "t/s/1/0"}, keys)

	got := New(1000)
	require.NoError(t, NewPersister(c, "t", 60).Load(ctx, got))
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))
}

func TestJournalSplitsLargeFlush(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := New(100)
	p := NewPersister(c, "fs", 1)
	p.chunkTerms = 10
	require.NoError(t, p.Load(ctx, s))
	for i := range uint64(5) {
		s.Touch(i, 1)
	}
	require.NoError(t, p.Flush(ctx, s))
	require.Len(t, c.keys("/j/"), 1)

	for i := range uint64(25) {
		s.Touch(100+i, 2)
	}
	for i := range uint64(3) {
		s.Delete(i)
	}
	require.NoError(t, p.Flush(ctx, s))
	assert.Len(t, c.keys("/j/"), 4, "25 terms and 3 deletions in records of 10")
	r, err := decodeJournal(c.m[p.journalKey(3)])
	require.NoError(t, err)
	assert.Len(t, r.ups, 5*termLen)
	assert.Len(t, r.dels, 3*8)
	got, err := reload(t, c, "fs", 100)
	require.NoError(t, err)
	assert.Equal(t, asMap(contents(s)), asMap(contents(got)))

	// A split write that fails part way must not be retried as a journal.
	for i := range uint64(25) {
		s.Touch(200+i, 3)
	}
	c.batchKeep = 1
	require.ErrorIs(t, p.Flush(ctx, s), errInjected)
	c.batchKeep = -1
	require.Len(t, c.keys("/j/"), 5, "one record landed")
	for i := range uint64(20) {
		s.Delete(200 + i) // the retry would need fewer records
	}
	require.NoError(t, p.Flush(ctx, s))
	assert.Empty(t, c.keys("/j/"), "recovered through a snapshot")
	got, err = reload(t, c, "fs", 100)
	require.NoError(t, err)
	assert.Equal(t, contents(s), contents(got))
}
