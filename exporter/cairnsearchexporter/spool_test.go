package cairnsearchexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// encodeBatch encodes ECS lines as the exporter does.
func encodeBatch(t testing.TB, docs ...[]byte) *batch {
	t.Helper()
	var b batch
	newDocEncoder(createDefaultConfig().(*Config)).encode(logsOf(t, docs...), &b)
	return &b
}

// testSpool opens a spool in dir with a logger the test can read.
func testSpool(t testing.TB, dir string, maxBytes int64) (*spool, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s, err := openSpool(SpoolConfig{Directory: dir, MaxBytes: maxBytes, Sync: SyncNone, Senders: 1}, zap.New(core))
	require.NoError(t, err)
	return s, logs
}

func spoolAppend(t testing.TB, s *spool, b *batch) []byte {
	t.Helper()
	rec, err := appendRecord(nil, b, time.Now().UnixNano())
	require.NoError(t, err)
	require.NoError(t, s.append(t.Context(), rec, func(bool) { t.Error("the spool is not full") }))
	return rec
}

// nextRecord reads the next record, failing after d.
func nextRecord(t testing.TB, s *spool, d time.Duration) (*spoolRecord, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return s.next(ctx)
}

// sameItems checks that got holds the documents of want, byte for byte,
// with the per-item metadata the sender needs.
func sameItems(t testing.TB, want, got *batch) {
	t.Helper()
	require.Len(t, got.items, len(want.items))
	for i := range want.items {
		w, g := want.items[i], got.items[i]
		assert.Equal(t, string(want.action(i)), string(got.action(i)), "action %d", i)
		assert.Equal(t, string(want.source(i)), string(got.source(i)), "source %d", i)
		assert.Equal(t, w.index, g.index)
		assert.Equal(t, w.namespace, g.namespace)
		assert.Equal(t, w.id, g.id)
		assert.Equal(t, w.alert, g.alert)
	}
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, spoolSegPrefix+"*"+spoolSegSuffix))
	require.NoError(t, err)
	return m
}

// TestSpoolRoundTrip: records come back in order with every byte and
// every item's metadata; acknowledgements out of order move the
// acknowledged position only over a contiguous prefix; acknowledged
// segments are deleted; a reopened spool holds exactly what was not
// acknowledged.
func TestSpoolRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, _ := testSpool(t, dir, 64<<20)
	// Small segments, so that the records span several files.
	s.segBytes = 16 << 10
	lines := scenarioLines(t, 200)
	var batches []*batch
	for i := 0; i < len(lines); i += 20 {
		docs := lines[i : i+20]
		if i == 40 {
			alert := alertDoc("alert-é-\"1\"", mustTime(t, "2026-03-05T14:00:00Z"), 80, "new_domain")
			alert["data_stream"] = map[string]any{"namespace": "team-b"}
			docs = append(append([][]byte{}, docs...), jsonDoc(t, alert))
		}
		b := encodeBatch(t, docs...)
		batches = append(batches, b)
		spoolAppend(t, s, b)
	}
	require.Greater(t, len(segmentFiles(t, dir)), 3, "rotated")
	used, pending, _ := s.stats()
	assert.EqualValues(t, len(batches), pending)

	var recs []*spoolRecord
	for i := range batches {
		r, err := nextRecord(t, s, time.Second)
		require.NoError(t, err)
		sameItems(t, batches[i], &r.b)
		recs = append(recs, r)
	}
	_, err := nextRecord(t, s, 50*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded, "no more records")

	// Out of order: 2 then 1 (0 still pending) moves nothing.
	s.done(recs[2])
	s.done(recs[1])
	assert.Equal(t, recs[0].pos, s.ack)
	s.done(recs[0])
	// Past record 2, up to record 3 (the start of the next segment when
	// record 2 ended one, which is then deleted).
	assert.False(t, s.ack.less(recs[2].end), "ack %v", s.ack)
	assert.False(t, recs[3].pos.less(s.ack), "ack %v", s.ack)
	for _, r := range recs[3:5] {
		s.done(r)
	}
	_, pending, _ = s.stats()
	assert.EqualValues(t, len(batches)-5, pending)
	used2, _, _ := s.stats()
	assert.Less(t, used2, used, "acknowledged segments deleted")
	require.NoError(t, s.close())

	// Reopened: the five acknowledged records are not sent again.
	s2, _ := testSpool(t, dir, 64<<20)
	defer s2.close()
	assert.EqualValues(t, len(batches)-5, s2.replayed)
	for i := 5; i < len(batches); i++ {
		r, err := nextRecord(t, s2, time.Second)
		require.NoError(t, err)
		sameItems(t, batches[i], &r.b)
		s2.done(r)
	}
	_, err = nextRecord(t, s2, 50*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, pending, _ = s2.stats()
	assert.Zero(t, pending)
	// Everything acknowledged: only the segment being written is left.
	assert.Len(t, segmentFiles(t, dir), 1)

	s3, _ := testSpool(t, dir, 64<<20)
	assert.Zero(t, s3.replayed)
	require.NoError(t, s3.close())
}

// TestSpoolTornTail: a crash in the middle of an append (a partial record),
// a damaged last record (checksum), and the zeroes a power loss can leave
// are all cut at start-up, keeping every complete record before them.
func TestSpoolTornTail(t *testing.T) {
	lines := scenarioLines(t, 30)
	batches := []*batch{encodeBatch(t, lines[:10]...), encodeBatch(t, lines[10:20]...), encodeBatch(t, lines[20:]...)}
	for _, tc := range []struct {
		name string
		// damage changes the last segment, of the three records recs.
		damage func(t *testing.T, f *os.File, size int64, recs [][]byte)
		keep   int
	}{
		{"partial record", func(t *testing.T, f *os.File, size int64, recs [][]byte) {
			_, err := f.WriteAt(recs[0][:len(recs[0])/2], size)
			require.NoError(t, err)
		}, 3},
		{"partial header", func(t *testing.T, f *os.File, size int64, recs [][]byte) {
			_, err := f.WriteAt(recs[0][:5], size)
			require.NoError(t, err)
		}, 3},
		{"damaged last record", func(t *testing.T, f *os.File, size int64, recs [][]byte) {
			off := size - int64(len(recs[2])/2)
			var b [1]byte
			_, err := f.ReadAt(b[:], off)
			require.NoError(t, err)
			b[0] ^= 0x40
			_, err = f.WriteAt(b[:], off)
			require.NoError(t, err)
		}, 2},
		{"zeroes", func(t *testing.T, f *os.File, size int64, _ [][]byte) {
			_, err := f.WriteAt(make([]byte, 4096), size)
			require.NoError(t, err)
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := testSpool(t, dir, 64<<20)
			var recs [][]byte
			for _, b := range batches {
				recs = append(recs, spoolAppend(t, s, b))
			}
			seg := segName(dir, s.wf.Load().seq)
			size := s.segs[len(s.segs)-1].size
			require.NoError(t, s.close())

			f, err := os.OpenFile(seg, os.O_RDWR, 0)
			require.NoError(t, err)
			tc.damage(t, f, size, recs)
			require.NoError(t, f.Close())

			s2, logs := testSpool(t, dir, 64<<20)
			defer s2.close()
			assert.EqualValues(t, tc.keep, s2.replayed)
			assert.Equal(t, 1, logs.FilterMessageSnippet("torn or damaged tail").Len())
			st, err := os.Stat(seg)
			require.NoError(t, err)
			want := spoolHdrLen
			for _, r := range recs[:tc.keep] {
				want += int64(len(r))
			}
			assert.Equal(t, want, st.Size(), "cut right after the last complete record")
			for i := range tc.keep {
				r, err := nextRecord(t, s2, time.Second)
				require.NoError(t, err)
				sameItems(t, batches[i], &r.b)
			}
			_, err = nextRecord(t, s2, 50*time.Millisecond)
			require.ErrorIs(t, err, context.DeadlineExceeded, "nothing of the damaged part is read")
		})
	}
}

// TestSpoolDamagedAck: an acknowledged position that fails its checksum
// is not trusted; everything is sent again (which is harmless).
func TestSpoolDamagedAck(t *testing.T) {
	dir := t.TempDir()
	s, _ := testSpool(t, dir, 64<<20)
	b := encodeBatch(t, scenarioLines(t, 5)...)
	spoolAppend(t, s, b)
	spoolAppend(t, s, b)
	r, err := nextRecord(t, s, time.Second)
	require.NoError(t, err)
	s.done(r)
	require.NoError(t, s.close())
	s2, _ := testSpool(t, dir, 64<<20)
	assert.EqualValues(t, 1, s2.replayed)
	require.NoError(t, s2.close())

	ack := filepath.Join(dir, spoolAckName)
	data, err := os.ReadFile(ack)
	require.NoError(t, err)
	data[10] ^= 1
	require.NoError(t, os.WriteFile(ack, data, 0o640))
	s3, _ := testSpool(t, dir, 64<<20)
	defer s3.close()
	assert.EqualValues(t, 2, s3.replayed)
}

// TestSpoolRecordRefusesForeignFiles: a file with the spool's name but
// not its format stops the start instead of being truncated.
func TestSpoolRecordRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(segName(dir, 7), []byte("not a spool segment at all"), 0o640))
	_, err := openSpool(SpoolConfig{Directory: dir, MaxBytes: 1 << 20, Sync: SyncNone, Senders: 1}, zap.NewNop())
	require.ErrorContains(t, err, "is not a spool segment")
	data, err := os.ReadFile(segName(dir, 7))
	require.NoError(t, err)
	assert.Equal(t, "not a spool segment at all", string(data))
}

// TestSpoolRecordFormat pins the record layout the README and the code
// comment describe: length, CRC-32C, then the payload.
func TestSpoolRecordFormat(t *testing.T) {
	b := encodeBatch(t, scenarioLines(t, 2)...)
	rec, err := appendRecord(nil, b, 42)
	require.NoError(t, err)
	n := int(uint32(rec[0]) | uint32(rec[1])<<8 | uint32(rec[2])<<16 | uint32(rec[3])<<24)
	assert.Equal(t, len(rec)-recHeaderLen, n)
	var got batch
	created, err := decodeRecord(rec[recHeaderLen:], &got)
	require.NoError(t, err)
	assert.EqualValues(t, 42, created)
	sameItems(t, b, &got)
	assert.True(t, bytes.Contains(rec, b.buf[b.items[0].start:b.items[1].end]), "the _bulk lines are stored as they are sent")
	// Every truncation of the payload is refused, never misread.
	for i := 1; i < len(rec)-recHeaderLen; i += 7 {
		var bad batch
		if _, err := decodeRecord(rec[recHeaderLen:recHeaderLen+i], &bad); err == nil {
			t.Fatalf("a payload cut at %d bytes was accepted", i)
		}
	}
}

// jsonNumber decodes a document keeping numbers as written.
func jsonNumber(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	return m
}

func nested(m map[string]any, path string) any {
	var cur any = m
	for _, k := range splitPath(path) {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

func str(v any) string {
	if v == nil {
		return "<none>"
	}
	return fmt.Sprint(v)
}
