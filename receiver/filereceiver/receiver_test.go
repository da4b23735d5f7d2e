package filereceiver

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/testkit"
)

// TestDecodingParity: each record is exactly what internal/ingest makes of
// the same line (what `cairn replay` hands on): types as written, the
// document's @timestamp as the record's Timestamp, no copy of the line
// unless event_original asks for it.
func TestDecodingParity(t *testing.T) {
	lines := []string{
		`{"@timestamp":"2026-03-05T14:00:41.123456Z","seq":0,"file":"p","process":{"pid":4242,"args":["a","b"]},"ratio":0.5,"big":9007199254740993,"ok":true,"gone":null}`,
		`{"@timestamp":1772719241123,"seq":1,"file":"p","network.bytes":10,"tags":[1,"x",null,{"k":2}]}`,
		`{"seq":2,"file":"p","@timestamp":"not a time","message":"caf\u00e9 \"quoted\""}`,
		"\ufeff" + `{"seq":3,"file":"p","event":{"kind":"event"}}` + "\r",
		`{"seq":4,"file":"p","event":"scalar"}`,
	}
	for _, eventOriginal := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "event_original"}[eventOriginal], func(t *testing.T) {
			e := newEnv(t, false)
			appendFile(t, e.path("p.ndjson"), strings.Join(lines, "\n")+"\n")
			cfg := e.config("*.ndjson")
			cfg.EventOriginal = eventOriginal
			rec := new(recorder)
			e.start(cfg, rec)
			rec.waitCount(t, "p", len(lines))

			dec := ingest.NewDecoder(IngestOptions(cfg))
			want := plog.NewLogs()
			wantRecs := want.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			for _, l := range lines {
				res, err := dec.Line([]byte(l), wantRecs)
				require.NoError(t, err)
				require.Equal(t, ingest.Decoded, res)
			}
			got := rec.records()
			require.Len(t, got, len(lines))
			m := plog.ProtoMarshaler{}
			for i := range lines {
				w := wantRecs.At(i)
				assert.Equal(t, w.Attributes().AsRaw(), got[i].Attributes().AsRaw(), "line %d", i)
				assert.Equal(t, w.Timestamp(), got[i].Timestamp(), "line %d", i)
				// The whole record, byte for byte.
				wb, err := m.MarshalLogs(single(w))
				require.NoError(t, err)
				gb, err := m.MarshalLogs(single(got[i]))
				require.NoError(t, err)
				assert.True(t, bytes.Equal(wb, gb), "line %d differs from ingest's record", i)
			}

			first := got[0]
			assert.Equal(t, "2026-03-05T14:00:41.123456Z", first.Timestamp().AsTime().UTC().Format("2006-01-02T15:04:05.999999Z"))
			_, hasTS := first.Attributes().Get("@timestamp")
			assert.False(t, hasTS, "@timestamp becomes the record's time")
			pid, _ := first.Attributes().Get("process")
			v, _ := pid.Map().Get("pid")
			assert.Equal(t, pcommon.ValueTypeInt, v.Type(), "integers stay integers")
			big, _ := first.Attributes().Get("big")
			assert.Equal(t, int64(9007199254740993), big.Int())
			assert.Zero(t, first.ObservedTimestamp())
			for i, r := range got {
				orig, hasOrig := testkit.Get(r.Attributes(), "event.original")
				if eventOriginal {
					require.True(t, hasOrig, "line %d", i)
					assert.Equal(t, string(ingest.TrimLine([]byte(lines[i]))), orig.Str())
				} else {
					assert.False(t, hasOrig, "line %d: no copy of the raw line", i)
				}
			}
			assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))
		})
	}
}

func single(rec plog.LogRecord) plog.Logs {
	ld := plog.NewLogs()
	rec.CopyTo(ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty())
	return ld
}

// TestIncludeFilePath: log.file.path on the resource of each file's records;
// the records themselves are unchanged.
func TestIncludeFilePath(t *testing.T) {
	e := newEnv(t, false)
	appendFile(t, e.path("a.ndjson"), docs("a", 0, 3))
	appendFile(t, e.path("b.ndjson"), docs("b", 0, 2))
	cfg := e.config("*.ndjson")
	cfg.IncludeFilePath = true
	rec := new(recorder)
	e.start(cfg, rec)
	rec.waitCount(t, "a", 3)
	rec.waitCount(t, "b", 2)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	paths := map[string]int{}
	for _, ld := range rec.batches {
		forEachRecord(ld, func(res pcommon.Resource, r plog.LogRecord) {
			p, ok := res.Attributes().Get("log.file.path")
			require.True(t, ok)
			f, _ := r.Attributes().Get("file")
			assert.Equal(t, e.path(f.Str()+".ndjson"), p.Str())
			_, inRecord := r.Attributes().Get("log")
			assert.False(t, inRecord)
			paths[p.Str()]++
		})
	}
	assert.Equal(t, map[string]int{e.path("a.ndjson"): 3, e.path("b.ndjson"): 2}, paths)
}

func TestIncludeExclude(t *testing.T) {
	e := newEnv(t, false)
	appendFile(t, e.path("a.ndjson"), docs("a", 0, 5))
	appendFile(t, e.path("b.ndjson"), docs("b", 0, 7))
	appendFile(t, e.path("c.log"), docs("c", 0, 3))
	appendFile(t, e.path("skip.ndjson"), docs("skip", 0, 4))
	cfg := e.config("*.ndjson", "[ab].*")
	cfg.Exclude = []string{e.path("skip*")}
	rec := new(recorder)
	rn := e.start(cfg, rec)
	rec.requireExactly(t, "a", span(0, 5))
	rec.requireExactly(t, "b", span(0, 7))
	rn.waitOpen(t, 2)
	// Exactly the two files were read, byte for byte.
	want := int64(len(docs("a", 0, 5)) + len(docs("b", 0, 7)))
	require.Eventually(t, func() bool { return e.sum("otelcol_receiver_cairn_file_bytes_read", nil) == want }, waitFor, tick)
	assert.Empty(t, rec.seqs("c"))
	assert.Empty(t, rec.seqs("skip"))
}

func TestStartAt(t *testing.T) {
	t.Run("end", func(t *testing.T) {
		e := newEnv(t, false)
		// The last line is still being written at start-up: it is read
		// once finished.
		old := docs("old", 0, 5)
		tail := doc("old", 5)
		appendFile(t, e.path("old.ndjson"), old+tail[:40])
		cfg := e.config("*.ndjson")
		cfg.StartAt = StartAtEnd
		rec := new(recorder)
		rn := e.start(cfg, rec)
		rn.waitOpen(t, 1)
		appendFile(t, e.path("old.ndjson"), tail[40:]+docs("old", 6, 9))
		// A file appearing after start-up is read from its beginning.
		appendFile(t, e.path("new.ndjson"), docs("new", 0, 4))
		rec.requireExactly(t, "old", span(5, 9))
		rec.requireExactly(t, "new", span(0, 4))
	})
	t.Run("beginning", func(t *testing.T) {
		e := newEnv(t, false)
		appendFile(t, e.path("old.ndjson"), docs("old", 0, 5))
		rec := new(recorder)
		rn := e.start(e.config("*.ndjson"), rec)
		rn.waitOpen(t, 1)
		appendFile(t, e.path("old.ndjson"), docs("old", 5, 8))
		rec.requireExactly(t, "old", span(0, 8))
	})
}

// TestSmallWrites: lines written a few bytes at a time are read whole,
// once, whatever the reads see of them.
func TestSmallWrites(t *testing.T) {
	for _, bufSize := range []int{readBufferSize, 97} {
		t.Run(map[bool]string{true: "large_buffer", false: "small_buffer"}[bufSize == readBufferSize], func(t *testing.T) {
			e := newEnv(t, false)
			path := e.path("w.ndjson")
			rec := new(recorder)
			e.start(e.config("*.ndjson"), rec, func(r *fileReceiver) { r.readBufSize = bufSize })
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			require.NoError(t, err)
			defer f.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 1500
			data := []byte(docs("w", 0, n))
			for len(data) > 0 {
				k := min(len(data), 1+rng.IntN(9))
				_, err := f.Write(data[:k])
				require.NoError(t, err)
				data = data[k:]
			}
			rec.requireExactly(t, "w", span(0, n))
			assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))
			assert.Equal(t, int64(n), e.sum("otelcol_receiver_cairn_file_lines", nil))
		})
	}
}

// TestForceFlush: an unterminated last line is emitted once the file has
// been still for force_flush_period; what follows is read as new lines.
func TestForceFlush(t *testing.T) {
	e := newEnv(t, false)
	path := e.path("f.ndjson")
	last := strings.TrimSuffix(doc("f", 3), "\n")
	appendFile(t, path, docs("f", 0, 3)+last)
	cfg := e.config("*.ndjson")
	cfg.ForceFlushPeriod = 50 * time.Millisecond
	rec := new(recorder)
	e.start(cfg, rec)
	rec.requireExactly(t, "f", span(0, 4))
	// The line ending that finally comes makes a blank line, skipped.
	appendFile(t, path, "\n"+docs("f", 4, 6))
	rec.requireExactly(t, "f", span(0, 6))
	assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))
}

// TestNoForceFlush: with force_flush_period 0 a line waits for its ending,
// however long the file is still.
func TestNoForceFlush(t *testing.T) {
	e := newEnv(t, false)
	path := e.path("f.ndjson")
	line := doc("f", 1)
	appendFile(t, path, doc("f", 0)+line[:100])
	cfg := e.config("*.ndjson")
	cfg.ForceFlushPeriod = 0
	rec := new(recorder)
	e.start(cfg, rec)
	rec.requireExactly(t, "f", span(0, 1))
	// Every byte written so far was read: the head of line 1 is held.
	require.Eventually(t, func() bool {
		return e.sum("otelcol_receiver_cairn_file_bytes_read", nil) == int64(len(doc("f", 0))+100)
	}, waitFor, tick)
	appendFile(t, path, line[100:])
	rec.requireExactly(t, "f", span(0, 2))
	assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))
}

// TestOverlongLine: a line longer than max_line_bytes in the middle of a
// file is reported (too_long) and both its neighbours arrive; at most
// max_line_bytes of it is held, whatever the buffer size.
func TestOverlongLine(t *testing.T) {
	const maxLine = 1024
	long := `{"file":"o","seq":99,"pad":"` + strings.Repeat("y", 5000) + `"}`
	// Exactly max_line_bytes, ending in CRLF: not too long.
	fit := `{"file":"o","seq":3,"pad":"`
	fit += strings.Repeat("z", maxLine-len(fit)-2) + `"}`
	require.Len(t, fit, maxLine)
	content := doc("o", 0) + doc("o", 1) + long + "\n" + doc("o", 2) + fit + "\r\n" + doc("o", 4)
	for _, tc := range []struct {
		name    string
		onError string
		bufSize int
	}{
		{"send", ingest.OnErrorSend, readBufferSize},
		{"send_small_buffer", ingest.OnErrorSend, 100},
		{"drop", ingest.OnErrorDrop, readBufferSize},
		{"drop_small_buffer", ingest.OnErrorDrop, 333},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			appendFile(t, e.path("o.ndjson"), content)
			cfg := e.config("*.ndjson")
			cfg.MaxLineBytes = maxLine
			cfg.OnError = tc.onError
			rec := new(recorder)
			e.start(cfg, rec, func(r *fileReceiver) { r.readBufSize = tc.bufSize })
			rec.requireExactly(t, "o", span(0, 5))
			require.Eventually(t, func() bool {
				return e.sum("otelcol_receiver_cairn_file_malformed_lines", map[string]string{"reason": "too_long"}) == 1
			}, waitFor, tick)
			assert.Equal(t, int64(6), e.sum("otelcol_receiver_cairn_file_lines", nil))
			items := rec.snapshot()
			if tc.onError == ingest.OnErrorDrop {
				assert.Len(t, items, 5)
				return
			}
			require.Len(t, items, 6)
			assert.Equal(t, item{seq: -1}, items[2], "the pipeline error record comes in the long line's place")
			perr := rec.records()[2]
			ev, _ := perr.Attributes().Get("event")
			kind, _ := ev.Map().Get("kind")
			orig, _ := ev.Map().Get("original")
			assert.Equal(t, "pipeline_error", kind.Str())
			assert.Equal(t, long[:maxLine], orig.Str(), "the head of the line, cut at max_line_bytes")
			errv, _ := perr.Attributes().Get("error")
			msg, _ := errv.Map().Get("message")
			assert.Contains(t, msg.Str(), "longer than 1024 bytes")
			assert.Equal(t, int64(1), e.sum("otelcol_receiver_cairn_file_records", map[string]string{"kind": "pipeline_error"}))
		})
	}
}

// TestHoldBound: the reader never holds more than max_line_bytes of a line
// that straddles reads.
func TestHoldBound(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.MaxLineBytes = 64
	r := newReader(cfg, zap.NewNop(), new(counters), nil, 16)
	tr := &tracked{}
	for range 100 {
		r.hold(tr, []byte("0123456789"))
		require.LessOrEqual(t, len(tr.held), 64)
	}
	assert.True(t, tr.skipping)
	assert.Equal(t, int64(1000-64), tr.over)
}

func TestMalformedLines(t *testing.T) {
	content := doc("m", 0) +
		"not json at all\n" +
		doc("m", 1) +
		"[1,2,3]\n" +
		`{"file":"m","n":1e999}` + "\n" +
		"   \n" + // blank: skipped, not malformed
		`{"file":"m","broken":` + "\n" +
		doc("m", 2)
	for _, onError := range []string{ingest.OnErrorSend, ingest.OnErrorDrop} {
		t.Run(onError, func(t *testing.T) {
			e := newEnv(t, false)
			appendFile(t, e.path("m.ndjson"), content)
			cfg := e.config("*.ndjson")
			cfg.OnError = onError
			rec := new(recorder)
			e.start(cfg, rec)
			rec.waitCount(t, "m", 3)
			reasons := func() map[string]int64 {
				out := map[string]int64{}
				for _, r := range reasonNames {
					out[r] = e.sum("otelcol_receiver_cairn_file_malformed_lines", map[string]string{"reason": r})
				}
				return out
			}
			want := map[string]int64{"too_long": 0, "invalid_json": 2, "not_object": 1, "invalid_value": 1, "too_many_values": 0}
			require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, reasons()) }, waitFor, tick, "%v", reasons())
			assert.Equal(t, int64(8), e.sum("otelcol_receiver_cairn_file_lines", nil))
			if onError == ingest.OnErrorDrop {
				require.Eventually(t, func() bool { return rec.count() == 3 }, waitFor, tick)
				assert.Equal(t, []int64{0, 1, 2}, rec.seqs("m"))
				assert.Equal(t, int64(0), e.sum("otelcol_receiver_cairn_file_records", map[string]string{"kind": "pipeline_error"}))
				return
			}
			require.Eventually(t, func() bool { return rec.count() == 7 }, waitFor, tick)
			var originals []string
			for _, r := range rec.records() {
				ev, ok := r.Attributes().Get("event")
				if !ok {
					continue
				}
				if k, _ := ev.Map().Get("kind"); k.Str() == "pipeline_error" {
					o, _ := ev.Map().Get("original")
					originals = append(originals, o.Str())
				}
			}
			assert.Equal(t, []string{"not json at all", "[1,2,3]", `{"file":"m","n":1e999}`, `{"file":"m","broken":`}, originals)
			assert.Equal(t, int64(4), e.sum("otelcol_receiver_cairn_file_records", map[string]string{"kind": "pipeline_error"}))
			assert.Equal(t, int64(3), e.sum("otelcol_receiver_cairn_file_records", map[string]string{"kind": "event"}))
		})
	}
}

// TestManyFiles: more files than max_concurrent_files, all read exactly once.
func TestManyFiles(t *testing.T) {
	e := newEnv(t, false)
	const files, lines = 40, 150
	name := func(i int) string { return "f" + string(rune('A'+i/26)) + string(rune('a'+i%26)) }
	for i := range files {
		appendFile(t, e.path(name(i)+".ndjson"), docs(name(i), 0, lines/2))
	}
	cfg := e.config("*.ndjson")
	cfg.MaxConcurrentFiles = 7
	cfg.MaxBatchEvents = 100
	rec := new(recorder)
	rn := e.start(cfg, rec)
	for i := range files {
		appendFile(t, e.path(name(i)+".ndjson"), docs(name(i), lines/2, lines))
	}
	for i := range files {
		rec.requireExactly(t, name(i), span(0, lines))
	}
	assert.LessOrEqual(t, rn.r.cnt.open.Load(), int64(7))
	m, err := e.tel.GetMetric("otelcol_receiver_cairn_file_open_files")
	require.NoError(t, err)
	assert.NotNil(t, m)
}

// TestManyFilesRestart: after a restart with more checkpoints than
// max_concurrent_files, every file goes on from its checkpoint.
func TestManyFilesRestart(t *testing.T) {
	e := newEnv(t, true)
	const files = 25
	name := func(i int) string { return "f" + string(rune('a'+i)) }
	for i := range files {
		appendFile(t, e.path(name(i)+".ndjson"), docs(name(i), 0, 20))
	}
	cfg := e.config("*.ndjson")
	cfg.MaxConcurrentFiles = 4
	rec := new(recorder)
	rn := e.start(cfg, rec)
	for i := range files {
		rec.requireExactly(t, name(i), span(0, 20))
	}
	require.NoError(t, rn.stop())
	for i := range files {
		appendFile(t, e.path(name(i)+".ndjson"), docs(name(i), 20, 21+i))
	}
	rec = new(recorder)
	rn = e.start(cfg, rec)
	for i := range files {
		rec.requireExactly(t, name(i), span(20, 21+i))
	}
	assert.LessOrEqual(t, rn.r.cnt.open.Load(), int64(4))
}

// TestFairness: two large files share the batches from the first one on.
func TestFairness(t *testing.T) {
	e := newEnv(t, false)
	const n = 3000
	appendFile(t, e.path("a.ndjson"), docs("a", 0, n))
	appendFile(t, e.path("b.ndjson"), docs("b", 0, n))
	cfg := e.config("*.ndjson")
	cfg.MaxBatchEvents = 1000
	rec := new(recorder)
	e.start(cfg, rec)
	rec.requireExactly(t, "a", span(0, n))
	rec.requireExactly(t, "b", span(0, n))
	rec.mu.Lock()
	first := rec.batches[0]
	rec.mu.Unlock()
	files := map[string]int{}
	forEachRecord(first, func(_ pcommon.Resource, r plog.LogRecord) { files[itemOf(r).file]++ })
	assert.Len(t, files, 2, "the first batch holds lines of both files: %v", files)
	assert.Equal(t, 1000, first.LogRecordCount())
}

// TestTelemetry: the standard receiver metrics and the receiver's own.
func TestTelemetry(t *testing.T) {
	e := newEnv(t, false)
	content := docs("t", 0, 10) + "bad\n"
	appendFile(t, e.path("t.ndjson"), content)
	rec := new(recorder)
	rn := e.start(e.config("*.ndjson"), rec)
	require.Eventually(t, func() bool { return rec.count() == 11 }, waitFor, tick)
	require.Eventually(t, func() bool {
		return e.sum("otelcol_receiver_accepted_log_records", nil) == 11
	}, waitFor, tick)
	assert.Equal(t, int64(0), e.sum("otelcol_receiver_refused_log_records", nil))
	assert.Equal(t, int64(11), e.sum("otelcol_receiver_cairn_file_lines", nil))
	assert.Equal(t, int64(len(content)), e.sum("otelcol_receiver_cairn_file_bytes_read", nil))
	assert.Equal(t, int64(10), e.sum("otelcol_receiver_cairn_file_records", map[string]string{"kind": "event"}))
	assert.Equal(t, int64(1), e.sum("otelcol_receiver_cairn_file_malformed_lines", map[string]string{"reason": "invalid_json"}))
	rn.waitOpen(t, 1)
	require.NoError(t, rn.stop())
}
