package filereceiver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/zeebo/xxh3"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/normalize"
)

const (
	// readBufferSize is the size of one read: large reads keep the
	// syscalls per line negligible. A file gets one read per round, which
	// is what makes the reading fair between files.
	readBufferSize = 256 << 10
	// retainPolls: how many polls the identity of a file that went away
	// (no longer matched, or truncated) is kept, to recognise the file when
	// it shows up again under another name or as a copy.
	retainPolls = 3
	// maxKeptHeld: a held-line buffer that grew beyond this is released
	// after use rather than kept for the next straddling line.
	maxKeptHeld = 64 << 10
)

// Malformed-line reasons, the values of the reason attribute.
const (
	reasonTooLong = iota
	reasonInvalidJSON
	reasonNotObject
	reasonInvalidValue
	reasonTooManyValues
	numReasons
)

var reasonNames = [numReasons]string{"too_long", "invalid_json", "not_object", "invalid_value", "too_many_values"}

// reasonOf sorts a decoder error into a reason.
func reasonOf(err error) int {
	switch ingest.ReasonOf(err) {
	case ingest.ReasonTooLong:
		return reasonTooLong
	case ingest.ReasonInvalidJSON:
		return reasonInvalidJSON
	case ingest.ReasonNotObject:
		return reasonNotObject
	case ingest.ReasonTooManyValues:
		return reasonTooManyValues
	default:
		return reasonInvalidValue
	}
}

// tracked is what the reader knows of one file, open or not.
type tracked struct {
	path string
	key  fileKey
	file *os.File // nil while closed (max_concurrent_files, a lost file, a restored checkpoint)

	// fp holds the file's first bytes, up to fingerprint_bytes (nil when
	// only fpLen and fpHash are known, from a restored checkpoint).
	fp     []byte
	fpLen  int
	fpHash uint64
	hashOK bool

	// offset is just past the last line handed on (or skipped); readPos
	// is where the next read starts: offset plus the held part of an
	// unfinished line plus what was skipped of an over-long one.
	offset  int64
	readPos int64
	// held is the head of an unfinished line that straddles reads, at
	// most max_line_bytes. skipping: the line is longer than that; over
	// counts the bytes dropped, lastOver is the last of them.
	held     []byte
	skipping bool
	over     int64
	lastOver byte

	eof        bool // the last read reached the end; the next poll says if it grew
	lastSize   int64
	lastMod    time.Time // modification time at the last check
	lastChange time.Time // bytes last read (or the file opened)
	openedAt   time.Time
	wantOpen   bool // closed, with data to read (or to check)

	seenGen   uint64 // the last poll that matched the file
	lost      bool   // no longer matched: read to its end, then closed
	lostAt    time.Time
	lostPolls int

	// The file's records in the current batch (include_file_path).
	slotGen uint64
	slot    plog.LogRecordSlice

	// stream is what the normaliser carries from line to line of this
	// file (a Zeek TSV header): each file has its own.
	stream normalize.Stream
}

func (t *tracked) hasHeld() bool { return len(t.held) > 0 || t.skipping }

// identity returns the fingerprint length and hash, computing the hash when
// the fingerprint changed.
func (t *tracked) identity() (int, uint64) {
	if !t.hashOK {
		t.fpLen = len(t.fp)
		t.fpHash = xxh3.Hash(t.fp)
		t.hashOK = true
	}
	return t.fpLen, t.fpHash
}

// matches says whether first, the first bytes of a file (as many as it
// has, up to fingerprint_bytes), is the file t knew: t's fingerprint is a
// prefix of it.
func (t *tracked) matches(first []byte) bool {
	if t.fp != nil {
		return bytes.HasPrefix(first, t.fp)
	}
	return len(first) >= t.fpLen && xxh3.Hash(first[:t.fpLen]) == t.fpHash
}

func (t *tracked) setFP(b []byte) {
	t.fp = b
	t.hashOK = false
}

// growFingerprint extends the fingerprint with data read at start, while it
// is shorter than n bytes.
func (t *tracked) growFingerprint(start int64, data []byte, n int) {
	have := int64(len(t.fp))
	if t.fp == nil || have >= int64(n) || start > have || start+int64(len(data)) <= have {
		return
	}
	end := min(int64(len(data)), int64(n)-start)
	t.fp = append(t.fp, data[have-start:end]...)
	t.hashOK = false
}

// orphan is the identity and position of a file that is gone from where it
// was (truncated, replaced, or no longer matched while closed): a new file
// with the same first bytes is its copy or its new name, and continues
// from offset.
type orphan struct {
	fp      []byte // may be nil: then fpLen/fpHash
	fpLen   int
	fpHash  uint64
	offset  int64
	path    string
	expires uint64   // poll generation
	t       *tracked // a closed lost entry, adopted as a whole
	// stream: the normaliser state at offset (a copy continues with it).
	stream normalize.Stream
}

func (o *orphan) matches(first []byte) bool {
	if o.fp != nil {
		return len(o.fp) > 0 && bytes.HasPrefix(first, o.fp)
	}
	return o.fpLen > 0 && len(first) >= o.fpLen && xxh3.Hash(first[:o.fpLen]) == o.fpHash
}

// batch is one ConsumeLogs call's worth of records (possibly none: then
// only the checkpoint moves) and the checkpoints that hold once it is
// delivered.
type batch struct {
	ld   plog.Logs
	n    int
	ckpt []byte
}

// reader finds, reads and decodes the files. It runs in one goroutine and
// hands batches to the receiver's delivery goroutine.
type reader struct {
	cfg    *Config
	logger *zap.Logger
	dec    *ingest.Decoder
	// decode is dec.Line (replaced in the benchmark that measures the
	// reader without decoding).
	decode  func(line []byte, recs plog.LogRecordSlice) (ingest.Result, error)
	maxLine int
	cnt     *counters
	out     chan<- *batch
	now     func() time.Time

	buf     []byte
	scratch []byte

	tracked []*tracked
	byKey   map[fileKey]*tracked
	orphans []orphan
	// startup: files matched at start-up and not opened yet, with their
	// size then (start_at: end starts there).
	startup map[fileKey]int64
	open    int
	gen     uint64
	first   bool
	warned  map[string]bool

	// The batch being filled.
	ld       plog.Logs
	recs     plog.LogRecordSlice
	n        int
	batchGen uint64
	dirty    bool // checkpoints changed since the last hand-over
	ckptSize int

	// Counts since the last publish.
	lines, bytesRead, events, pipelineErrors int64
	malformed                                [numReasons]int64
}

func newReader(cfg *Config, logger *zap.Logger, cnt *counters, out chan<- *batch, bufSize int) *reader {
	opts := IngestOptions(cfg)
	r := &reader{
		cfg:     cfg,
		logger:  logger,
		dec:     ingest.NewDecoder(opts),
		maxLine: opts.MaxLineBytes,
		cnt:     cnt,
		out:     out,
		now:     time.Now,
		buf:     make([]byte, bufSize),
		byKey:   map[fileKey]*tracked{},
		startup: map[fileKey]int64{},
		first:   true,
		warned:  map[string]bool{},
	}
	r.decode = r.dec.Line
	r.newBatch()
	return r
}

// restore takes the checkpoints of a previous run as closed entries: the
// first poll reopens and checks each file, or lets a file found under a
// new identity with the same first bytes take one over.
func (r *reader) restore(cks []checkpoint) {
	for _, c := range cks {
		if _, dup := r.byKey[c.key]; dup {
			continue
		}
		t := &tracked{
			path: c.path, key: c.key,
			fpLen: c.fpLen, fpHash: c.fpHash, hashOK: true,
			offset: c.offset, readPos: c.offset, lastSize: -1,
		}
		// The header in force at the offset (a Zeek TSV file resumed past
		// its header reads its rows under it).
		t.stream.Resume(c.header)
		r.tracked = append(r.tracked, t)
		r.byKey[c.key] = t
	}
}

// run reads until ctx ends.
func (r *reader) run(ctx context.Context) {
	defer r.closeAll()
	var nextPoll time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		now := r.now()
		if !now.Before(nextPoll) {
			r.poll(now)
			nextPoll = now.Add(r.cfg.PollInterval)
		}
		progress, ok := r.readRound(ctx)
		if !ok {
			return
		}
		if !r.housekeep(ctx) {
			return
		}
		r.publish()
		if progress {
			continue
		}
		if r.n > 0 || r.dirty {
			if !r.handOff(ctx) {
				return
			}
		}
		wait := time.Until(nextPoll)
		if d, ok := r.nextDeadline(); ok && d < wait {
			wait = d
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// match returns the paths of the include patterns, less the excluded ones,
// sorted and without duplicates.
func (r *reader) match() []string {
	var paths []string
	for _, p := range r.cfg.Include {
		m, err := filepath.Glob(p)
		if err != nil {
			continue // Validate rejected bad patterns
		}
		paths = append(paths, m...)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	if len(r.cfg.Exclude) == 0 {
		return paths
	}
	return slices.DeleteFunc(paths, func(p string) bool {
		for _, e := range r.cfg.Exclude {
			if ok, _ := filepath.Match(e, p); ok {
				return true
			}
		}
		return false
	})
}

type candidate struct {
	path string
	key  fileKey
	size int64
}

// poll matches the patterns and brings the tracked files up to date:
// renames, truncation, files gone, new files.
func (r *reader) poll(now time.Time) {
	r.gen++
	var cands []candidate
	var candKeys map[fileKey]bool
	for _, p := range r.match() {
		fi, err := os.Stat(p)
		if err != nil {
			r.warnOnce(p, "cannot stat a matched file", err)
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		key := keyOf(p, fi)
		t := r.byKey[key]
		if t == nil {
			if candKeys == nil {
				candKeys = map[fileKey]bool{}
			}
			if !candKeys[key] { // else a second name of the same file
				candKeys[key] = true
				cands = append(cands, candidate{path: p, key: key, size: fi.Size()})
			}
			continue
		}
		if t.seenGen == r.gen {
			continue // a second name of the same file
		}
		t.seenGen = r.gen
		if t.lost {
			t.lost, t.lostPolls = false, 0
		}
		if t.path != p {
			r.logger.Debug("file renamed", zap.String("from", t.path), zap.String("to", p))
			t.path = p
			r.dirty = true
		}
		r.check(t, fi.Size(), fi.ModTime())
	}
	if r.first {
		for _, c := range cands {
			r.startup[c.key] = c.size
		}
	}

	// Files no longer matched: read to their end, then closed; their
	// identity is kept a few polls.
	kept := r.tracked[:0]
	for _, t := range r.tracked {
		if t.seenGen != r.gen {
			if !t.lost {
				t.lost, t.lostAt, t.lostPolls = true, now, 0
			} else {
				t.lostPolls++
			}
			if t.file != nil {
				if fi, err := t.file.Stat(); err == nil && fi.Size() > t.readPos {
					t.eof = false
				}
			} else if t.lostPolls >= retainPolls {
				delete(r.byKey, t.key)
				r.dirty = true
				continue
			}
		}
		kept = append(kept, t)
	}
	clear(r.tracked[len(kept):])
	r.tracked = kept
	r.orphans = slices.DeleteFunc(r.orphans, func(o orphan) bool { return o.expires <= r.gen })

	// Closed files with data: reopen (and check) them before new files
	// are looked at, so that a file replaced under a known inode leaves
	// its identity for a copy to find.
	for _, t := range r.tracked {
		if t.wantOpen && t.file == nil && !t.lost {
			if r.open >= r.cfg.MaxConcurrentFiles && !r.makeRoom(now) {
				break
			}
			r.reopen(t, now)
		}
	}
	for _, c := range cands {
		if r.open >= r.cfg.MaxConcurrentFiles && !r.makeRoom(now) {
			break
		}
		r.openNew(c, now)
	}
	r.first = false
	r.cnt.open.Store(int64(r.open))
	r.cnt.polls.Add(1)
}

// check brings a matched, tracked file up to date with its size and
// modification time.
func (r *reader) check(t *tracked, size int64, mod time.Time) {
	changed := size != t.lastSize || !mod.Equal(t.lastMod)
	if t.file == nil {
		t.wantOpen = size != t.readPos || t.lastSize < 0 || changed
		return
	}
	switch {
	case size < t.readPos:
		r.logger.Info("file truncated, reading it again from the start", zap.String("path", t.path))
		r.reset(t)
	case changed && !r.sameStart(t):
		// Truncated and written again up to or past our offset between
		// two polls (the size alone may even be the same).
		r.logger.Info("file rewritten, reading it again from the start", zap.String("path", t.path))
		r.reset(t)
	}
	t.lastSize, t.lastMod = size, mod
	if size > t.readPos {
		t.eof = false
	}
}

// sameStart says whether an open file still starts with its fingerprint:
// false once it was truncated and written again.
func (r *reader) sameStart(t *tracked) bool {
	if len(t.fp) == 0 {
		return true
	}
	if cap(r.scratch) < len(t.fp) {
		r.scratch = make([]byte, r.cfg.FingerprintBytes)
	}
	first := r.scratch[:len(t.fp)]
	n, _ := t.file.ReadAt(first, 0)
	return n == len(first) && bytes.Equal(first, t.fp)
}

// reset starts a file again at 0, its previous identity left as an orphan
// for a copy of it to take over.
func (r *reader) reset(t *tracked) {
	if t.offset > 0 {
		fpLen, fpHash := t.identity()
		if fpLen > 0 {
			r.orphans = append(r.orphans, orphan{
				fp: t.fp, fpLen: fpLen, fpHash: fpHash, offset: t.offset,
				path: t.path, expires: r.gen + retainPolls, stream: t.stream,
			})
		}
	}
	// The file is read again from its start, header included; the old
	// state went with the orphan (the struct is handed over, not shared).
	t.stream = normalize.Stream{}
	t.fp = []byte{}
	t.hashOK = false
	t.offset, t.readPos = 0, 0
	t.held, t.skipping, t.over = nil, false, 0
	t.eof = false
	r.dirty = true
}

// readFirst reads a file's first bytes, up to fingerprint_bytes.
func (r *reader) readFirst(f *os.File, size int64) []byte {
	b := make([]byte, min(size, int64(r.cfg.FingerprintBytes)))
	n, _ := f.ReadAt(b, 0)
	return b[:n]
}

// reopen opens a closed file that has data (or a restored checkpoint's
// file) and checks it still is the file the checkpoint knew.
func (r *reader) reopen(t *tracked, now time.Time) {
	t.wantOpen = false
	f, err := os.Open(t.path)
	if err != nil {
		r.warnOnce(t.path, "cannot open a matched file", err)
		return
	}
	fi, err := f.Stat()
	if err != nil || keyOf(t.path, fi) != t.key {
		_ = f.Close() // replaced since the poll's stat; the next poll sorts it out
		return
	}
	size := fi.Size()
	first := r.readFirst(f, size)
	if size < t.readPos || !t.matches(first) {
		r.logger.Info("file changed while closed, reading it from the start", zap.String("path", t.path))
		r.reset(t)
	}
	t.setFP(first)
	r.attach(t, f, fi, now)
}

func (r *reader) attach(t *tracked, f *os.File, fi os.FileInfo, now time.Time) {
	size := fi.Size()
	t.file = f
	t.lastSize, t.lastMod = size, fi.ModTime()
	t.openedAt, t.lastChange = now, now
	t.eof = size <= t.readPos
	r.open++
}

// openNew starts tracking a file never seen (or seen under another
// identity): a copy or new name of a file gone takes over its position, a
// copy of a file still being read is left alone, anything else starts at 0
// (or, found at start-up with start_at: end, after its last line).
func (r *reader) openNew(c candidate, now time.Time) {
	f, err := os.Open(c.path)
	if err != nil {
		r.warnOnce(c.path, "cannot open a matched file", err)
		return
	}
	fi, err := f.Stat()
	if err != nil || keyOf(c.path, fi) != c.key || r.byKey[c.key] != nil {
		_ = f.Close()
		return
	}
	size := fi.Size()
	if size == 0 {
		// Nothing to identify it by yet: looked at again when it has
		// content (from its start, or from its start-up size).
		_ = f.Close()
		return
	}
	first := r.readFirst(f, size)

	i, wait := r.findOrphan(first)
	if wait {
		r.logger.Debug("file starts like a file gone but is shorter: left for now", zap.String("path", c.path))
		_ = f.Close()
		return
	}
	if i >= 0 {
		o := r.orphans[i]
		r.orphans = slices.Delete(r.orphans, i, i+1)
		offset := min(o.offset, size)
		r.logger.Info("file continues a file gone", zap.String("path", c.path), zap.String("was", o.path), zap.Int64("offset", offset))
		t := o.t
		if t != nil {
			delete(r.byKey, t.key)
			t.lost, t.lostPolls = false, 0
			if t.readPos > size || t.offset != offset {
				t.held, t.skipping, t.over = nil, false, 0
				t.readPos = offset
			}
		} else {
			t = &tracked{readPos: offset, stream: o.stream}
			r.tracked = append(r.tracked, t)
		}
		t.path, t.key, t.offset, t.seenGen = c.path, c.key, offset, r.gen
		t.setFP(first)
		r.byKey[c.key] = t
		delete(r.startup, c.key)
		r.attach(t, f, fi, now)
		r.dirty = true
		return
	}
	if len(first) > 0 {
		for _, t := range r.tracked {
			if t.file != nil && len(t.fp) > 0 && (bytes.HasPrefix(first, t.fp) || bytes.HasPrefix(t.fp, first)) {
				// A copy of a file being read (copytruncate before the
				// truncation): read once the original changes.
				r.logger.Debug("file has the first bytes of a file being read: left for now", zap.String("path", c.path), zap.String("original", t.path))
				_ = f.Close()
				return
			}
		}
	}
	var offset int64
	if sz, ok := r.startup[c.key]; ok {
		delete(r.startup, c.key)
		if r.cfg.StartAt == StartAtEnd {
			offset = lastLineEnd(f, min(sz, size), r.maxLine)
		}
	}
	r.logger.Debug("new file", zap.String("path", c.path), zap.Int64("offset", offset), zap.Int64("size", size))
	t := &tracked{path: c.path, key: c.key, offset: offset, readPos: offset, seenGen: r.gen}
	t.setFP(first)
	r.tracked = append(r.tracked, t)
	r.byKey[c.key] = t
	r.attach(t, f, fi, now)
	r.dirty = true
}

// findOrphan returns the index of the orphan (or closed lost entry) whose
// fingerprint first starts with, or -1. Closed lost entries are turned
// into orphans on the way. wait: first is a prefix of an orphan's
// fingerprint, as a copy still being written would be; the file is looked
// at again on the next poll.
func (r *reader) findOrphan(first []byte) (int, bool) {
	if len(first) == 0 {
		return -1, false
	}
	wait := false
	for _, t := range r.tracked {
		if t.file != nil || !t.lost {
			continue
		}
		fpLen, fpHash := t.identity()
		if fpLen > 0 && t.matches(first) {
			// Made an orphan so that adoption takes one path.
			r.orphans = append(r.orphans, orphan{fp: t.fp, fpLen: fpLen, fpHash: fpHash, offset: t.offset, path: t.path, expires: r.gen + 1, t: t})
			return len(r.orphans) - 1, false
		}
		wait = wait || (len(t.fp) > len(first) && bytes.HasPrefix(t.fp, first))
	}
	for i := range r.orphans {
		o := &r.orphans[i]
		if o.matches(first) {
			return i, false
		}
		wait = wait || (len(o.fp) > len(first) && bytes.HasPrefix(o.fp, first))
	}
	return -1, wait
}

// lastLineEnd returns the offset just past the last line ending before
// size, looking back at most maxLine bytes (size when there is none).
func lastLineEnd(f *os.File, size int64, maxLine int) int64 {
	const chunk = 64 << 10
	buf := make([]byte, min(int64(chunk), size))
	for end := size; end > 0 && size-end <= int64(maxLine); {
		start := max(0, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return size
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return size
}

// makeRoom closes an open file to stay within max_concurrent_files: the
// longest idle one at its end, else the one open longest (at least a poll
// interval), which is reopened when its turn comes again.
func (r *reader) makeRoom(now time.Time) bool {
	var idle, busy *tracked
	for _, t := range r.tracked {
		switch {
		case t.file == nil || t.lost:
		case t.eof:
			if idle == nil || t.lastChange.Before(idle.lastChange) {
				idle = t
			}
		default:
			if busy == nil || t.openedAt.Before(busy.openedAt) {
				busy = t
			}
		}
	}
	victim := idle
	if victim == nil {
		if busy == nil || now.Sub(busy.openedAt) < r.cfg.PollInterval {
			return false
		}
		victim = busy
	}
	r.closeFile(victim)
	victim.wantOpen = !victim.eof
	return true
}

func (r *reader) closeFile(t *tracked) {
	if t.file == nil {
		return
	}
	_ = t.file.Close()
	t.file = nil
	r.open--
	r.cnt.open.Store(int64(r.open))
}

func (r *reader) closeAll() {
	for _, t := range r.tracked {
		r.closeFile(t)
	}
}

func (r *reader) warnOnce(path, msg string, err error) {
	if r.warned[path] {
		return
	}
	if len(r.warned) > 10000 {
		clear(r.warned)
	}
	r.warned[path] = true
	r.logger.Warn(msg, zap.String("path", path), zap.Error(err))
}

// readRound gives each open file with data one read: files no longer
// matched first (the old file of a rotation is read to its end before the
// new one), then the others in order.
func (r *reader) readRound(ctx context.Context) (progress, ok bool) {
	for _, lost := range [2]bool{true, false} {
		for _, t := range r.tracked {
			if t.file == nil || t.eof || t.lost != lost {
				continue
			}
			if ctx.Err() != nil {
				return progress, false
			}
			n, ok := r.readChunk(ctx, t)
			if !ok {
				return progress, false
			}
			progress = progress || n > 0
		}
	}
	return progress, true
}

// readChunk reads once from t and hands each complete line to the decoder.
// Lines are decoded where they lie in the read buffer; only the head of a
// line that straddles two reads is copied (into t.held, at most
// max_line_bytes of it).
func (r *reader) readChunk(ctx context.Context, t *tracked) (int, bool) {
	// A file truncated and written again past our position since the
	// last read would hand over the middle of its new content: check
	// its first bytes before each read (one small pread per read).
	if t.readPos > 0 && !r.sameStart(t) {
		r.logger.Info("file truncated, reading it again from the start", zap.String("path", t.path))
		r.reset(t)
	}
	n, err := t.file.ReadAt(r.buf, t.readPos)
	if n < len(r.buf) {
		t.eof = true
		if err != nil && !errors.Is(err, io.EOF) {
			r.warnOnce(t.path, "read error", err)
		}
	}
	if n == 0 {
		return 0, true
	}
	start := t.readPos
	t.readPos += int64(n)
	t.growFingerprint(start, r.buf[:n], r.cfg.FingerprintBytes)
	t.lastChange = r.now()
	r.bytesRead += int64(n)
	data := r.buf[:n]

	if t.hasHeld() {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			r.hold(t, data)
			return n, true
		}
		r.hold(t, data[:i])
		data = data[i+1:]
		t.offset = t.readPos - int64(len(data))
		if !r.emitHeld(ctx, t) {
			return n, false
		}
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		t.offset += int64(i) + 1
		if !r.line(ctx, t, data[:i]) {
			return n, false
		}
		data = data[i+1:]
	}
	if len(data) > 0 {
		r.hold(t, data)
	}
	return n, true
}

// hold keeps the head of an unfinished line, up to max_line_bytes; the
// rest is only counted.
func (r *reader) hold(t *tracked, b []byte) {
	if !t.skipping {
		room := r.maxLine - len(t.held)
		if len(b) <= room {
			t.held = append(t.held, b...)
			return
		}
		t.held = append(t.held, b[:room]...)
		b = b[room:]
		t.skipping = true
	}
	if len(b) > 0 {
		t.over += int64(len(b))
		t.lastOver = b[len(b)-1]
	}
}

// emitHeld hands on the held line, finished by a line ending or flushed.
func (r *reader) emitHeld(ctx context.Context, t *tracked) bool {
	line := t.held
	if t.skipping && t.over == 1 && t.lastOver == '\r' {
		t.skipping = false // only the CR of a CRLF went over
	}
	var ok bool
	if t.skipping {
		ok = r.tooLong(ctx, t, line)
	} else {
		ok = r.line(ctx, t, line)
	}
	if cap(t.held) > maxKeptHeld {
		t.held = nil
	} else {
		t.held = t.held[:0]
	}
	t.skipping, t.over = false, 0
	return ok
}

// line decodes one line (without its '\n') into the batch.
func (r *reader) line(ctx context.Context, t *tracked, line []byte) bool {
	n := len(line)
	if n > 0 && line[n-1] == '\r' {
		n--
	}
	if n > r.maxLine {
		return r.tooLong(ctx, t, line[:r.maxLine])
	}
	r.lines++
	// The lines of each file are one stream for the normaliser (a Zeek
	// TSV file's #fields header holds for that file only).
	r.dec.UseStream(&t.stream)
	recs := r.recsFor(t)
	before := recs.Len()
	res, err := r.decode(line, recs)
	added := recs.Len() - before
	switch res {
	case ingest.Decoded:
		r.events += int64(added)
	case ingest.Malformed:
		r.malformedLine(t, err, added)
	}
	return r.added(ctx, added)
}

// tooLong reports a line cut at max_line_bytes; head is what was kept.
func (r *reader) tooLong(ctx context.Context, t *tracked, head []byte) bool {
	r.lines++
	recs := r.recsFor(t)
	before := recs.Len()
	err := r.dec.TooLong(head, recs)
	added := recs.Len() - before
	r.malformedLine(t, err, added)
	return r.added(ctx, added)
}

func (r *reader) malformedLine(t *tracked, err error, added int) {
	reason := reasonTooLong
	if err != nil {
		reason = reasonOf(err)
	}
	r.malformed[reason]++
	r.pipelineErrors += int64(added)
	if ce := r.logger.Check(zap.DebugLevel, "malformed line"); ce != nil {
		ce.Write(zap.String("path", t.path), zap.Int64("end_offset", t.offset), zap.String("reason", reasonNames[reason]), zap.Error(err))
	}
}

// added counts records appended to the batch and hands the batch on when
// it is full.
func (r *reader) added(ctx context.Context, n int) bool {
	r.n += n
	r.dirty = true
	if r.n >= r.cfg.MaxBatchEvents {
		return r.handOff(ctx)
	}
	return true
}

func (r *reader) recsFor(t *tracked) plog.LogRecordSlice {
	if !r.cfg.IncludeFilePath {
		return r.recs
	}
	if t.slotGen != r.batchGen {
		rl := r.ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("log.file.path", t.path)
		t.slot = rl.ScopeLogs().AppendEmpty().LogRecords()
		t.slotGen = r.batchGen
	}
	return t.slot
}

func (r *reader) newBatch() {
	r.ld = plog.NewLogs()
	r.n = 0
	r.batchGen++
	if !r.cfg.IncludeFilePath {
		r.recs = r.ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		r.recs.EnsureCapacity(min(r.cfg.MaxBatchEvents, 4096))
	}
}

// handOff gives the batch, with the checkpoints of every file as they
// stand after its last line, to the delivery goroutine; false when ctx
// ended first.
func (r *reader) handOff(ctx context.Context) bool {
	r.publish()
	b := &batch{ld: r.ld, n: r.n, ckpt: r.snapshot()}
	select {
	case r.out <- b:
	case <-ctx.Done():
		return false
	}
	r.newBatch()
	r.dirty = false
	return true
}

// snapshot encodes the checkpoints of every tracked file.
func (r *reader) snapshot() []byte {
	b := make([]byte, 0, max(r.ckptSize, 16))
	b = append(b, checkpointVersion)
	b = binary.AppendUvarint(b, uint64(len(r.tracked)))
	for _, t := range r.tracked {
		fpLen, fpHash := t.identity()
		b = appendCheckpoint(b, checkpoint{key: t.key, fpLen: fpLen, fpHash: fpHash, offset: t.offset, path: t.path, header: t.stream.Header()})
	}
	r.ckptSize = len(b)
	return b
}

// housekeep flushes unterminated last lines that stopped changing and
// closes lost files that were read to their end.
func (r *reader) housekeep(ctx context.Context) bool {
	now := r.now()
	for _, t := range r.tracked {
		if t.file == nil || !t.eof {
			continue
		}
		idle := now.Sub(t.lastChange)
		if t.hasHeld() && r.cfg.ForceFlushPeriod > 0 && idle >= r.cfg.ForceFlushPeriod {
			if !r.flushHeld(ctx, t) {
				return false
			}
		}
		if t.lost && now.Sub(t.lostAt) >= r.lostGrace() && idle >= r.lostGrace() {
			// Nobody will finish its last line now.
			if t.hasHeld() && !r.flushHeld(ctx, t) {
				return false
			}
			r.closeFile(t)
		}
	}
	return true
}

func (r *reader) flushHeld(ctx context.Context, t *tracked) bool {
	t.offset = t.readPos
	return r.emitHeld(ctx, t)
}

// lostGrace: a file no longer matched stays open this long after it last
// grew, for a writer that has not switched to the new file yet.
func (r *reader) lostGrace() time.Duration {
	return max(r.cfg.PollInterval, r.cfg.ForceFlushPeriod)
}

// nextDeadline is the time until the next force flush or lost-file close
// is due, if any.
func (r *reader) nextDeadline() (time.Duration, bool) {
	now := r.now()
	var d time.Duration
	found := false
	for _, t := range r.tracked {
		if t.file == nil {
			continue
		}
		var due time.Time
		switch {
		case t.hasHeld() && r.cfg.ForceFlushPeriod > 0:
			due = t.lastChange.Add(r.cfg.ForceFlushPeriod)
		case t.lost:
			due = t.lastChange.Add(r.lostGrace())
			if l := t.lostAt.Add(r.lostGrace()); l.After(due) {
				due = l
			}
		default:
			continue
		}
		if w := due.Sub(now); !found || w < d {
			d, found = w, true
		}
	}
	return d, found
}

// publish adds the counts since the last call to the shared counters.
func (r *reader) publish() {
	c := r.cnt
	if r.lines != 0 {
		// Lines were decoded: the per-format counts may have moved (nil,
		// and nothing published, with format ecs).
		if fc := r.dec.FormatCounts(); fc != nil {
			c.formats.Store(&fc)
		}
		c.lines.Add(r.lines)
		r.lines = 0
	}
	if r.bytesRead != 0 {
		c.bytesRead.Add(r.bytesRead)
		r.bytesRead = 0
	}
	if r.events != 0 {
		c.events.Add(r.events)
		r.events = 0
	}
	if r.pipelineErrors != 0 {
		c.pipelineErrors.Add(r.pipelineErrors)
		r.pipelineErrors = 0
	}
	for i, v := range r.malformed {
		if v != 0 {
			c.malformed[i].Add(v)
			r.malformed[i] = 0
		}
	}
}
