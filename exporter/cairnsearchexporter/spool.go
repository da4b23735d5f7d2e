package cairnsearchexporter

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// The spool keeps the encoded batches of online mode on disk until the
// cluster has resolved every document of them. ConsumeLogs appends one
// record per batch (the _bulk lines the encoder made, plus what the sender
// needs per item) and returns; senders read the records in order, deliver
// them, and acknowledge each once every item is delivered, stored as a dead
// letter, or given up on. Nothing is encoded twice: the bytes sent are the
// bytes written.
//
// Directory layout:
//
//	seg-<20-digit sequence>.spool   segments, written in sequence order
//	ack                             the acknowledged position
//
// A segment starts with spoolMagic and holds records:
//
//	u32 payload length | u32 CRC-32C of the payload | payload   (little endian)
//
// and a payload is
//
//	u8 version | i64 created (Unix ns) | u32 body length | body
//	| uvarint items | items
//
// where body is the action and source lines of the items and each item is
//
//	uvarint gap (body bytes before it that belong to no item; 0)
//	| uvarint action length | uvarint source length | u8 flags (1: alert)
//	| uvarint length, index | uvarint length, namespace | uvarint length, id
//
// A record is written with one write(2) before ConsumeLogs returns, so a
// killed process loses nothing acknowledged to its caller; a crash in the
// middle of a write leaves a torn tail, which the length and CRC reveal and
// start-up truncates, keeping every complete record before it. The
// acknowledged position (segment, offset) is rewritten in place after each
// acknowledgement and is never synced: losing it only resends records,
// which is harmless (events are created under their _id: 409; alerts carry
// external versions).
const (
	spoolSegPrefix = "seg-"
	spoolSegSuffix = ".spool"
	spoolAckName   = "ack"
	spoolMagic     = "CAIRNSP1"
	spoolHdrLen    = int64(len(spoolMagic))
	recHeaderLen   = 8
	recVersion     = 1
	// recPrefixLen is what precedes the body: the record header, the
	// version, the creation time and the body length, all fixed-size, so
	// that the encoder can write the body in place (reserveRecord).
	recPrefixLen = recHeaderLen + 1 + 8 + 4
	ackMagic     = "CSPA"
	ackLen       = 24 // magic, u64 segment, u64 offset, u32 CRC
	// maxRecordBytes bounds what a record header may announce, so that a
	// damaged header is not taken for a huge record.
	maxRecordBytes = 1<<32 - 1
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)

	errSpoolClosed = errors.New("the spool is closed (the exporter is shutting down)")
	errSpoolFull   = errors.New("the spool is full")
)

// spoolPos is a position in the spool: a segment and a byte offset in it.
type spoolPos struct {
	seg uint64
	off int64
}

func (p spoolPos) less(q spoolPos) bool {
	return p.seg < q.seg || p.seg == q.seg && p.off < q.off
}

// segment is one segment file.
type segment struct {
	seq  uint64
	size int64 // bytes of complete records, header included
	// sealed segments get no more records: the recovered ones, and those
	// the writer moved on from.
	sealed bool
}

// spoolRecord is a record read for sending.
type spoolRecord struct {
	pos, end spoolPos
	created  int64 // Unix ns
	b        batch // buf aliases raw
	raw      []byte
	done     bool
	// skipped marks the unreadable rest of a segment, acknowledged as
	// lost (see skipDamaged).
	skipped bool
}

// writeFile is the segment being written.
type writeFile struct {
	f       *os.File
	seq     uint64
	written atomic.Int64 // size after the last complete write
}

// spool is the on-disk queue of online mode. Appends come from any number
// of goroutines, reads from one reader, acknowledgements from the senders.
type spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	sync     bool
	logger   *zap.Logger
	now      func() time.Time

	mu      sync.Mutex
	segs    []*segment // oldest first; the last one is written to
	wf      atomic.Pointer[writeFile]
	used    int64 // bytes of all segment files
	pending int64 // records written and not acknowledged
	readPos spoolPos
	ack     spoolPos
	window  []*spoolRecord // read and not acknowledged, in order
	ackFile *os.File
	ackBuf  [ackLen]byte
	closed  bool
	space   chan struct{} // closed (and replaced) when space may have been freed
	data    chan struct{} // closed (and replaced) when a record is appended
	stopped chan struct{} // closed by close

	// syncMu orders fsyncs (group commit: one fsync covers every record
	// written before it) and the closing of a written segment.
	syncMu sync.Mutex
	synced spoolPos

	// free holds acknowledged records for reuse (under mu): their
	// buffers are as large as the batches, which sync.Pool would let the
	// garbage collector drop at every cycle.
	free []*spoolRecord

	// Reader state: only the reader goroutine touches these.
	rf    *os.File
	rfSeq uint64
	// replayed is the number of records found pending at start-up.
	replayed int64
}

// segmentBytes is the size at which a new segment is started: small
// enough that acknowledged data is deleted soon (a segment is deleted
// once all its records are acknowledged), large enough that files are few.
func segmentBytes(maxBytes int64) int64 {
	return min(max(maxBytes/16, 1<<20), 64<<20)
}

func segName(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", spoolSegPrefix, seq, spoolSegSuffix))
}

// openSpool opens (or creates) the spool in cfg.Directory: it finds the
// acknowledged position, validates every record after it, truncates a torn
// tail, deletes what is acknowledged, and starts a new segment to write.
func openSpool(cfg SpoolConfig, logger *zap.Logger) (*spool, error) {
	if err := os.MkdirAll(cfg.Directory, 0o750); err != nil {
		return nil, fmt.Errorf("spool::directory: %w", err)
	}
	s := &spool{
		dir:      cfg.Directory,
		maxBytes: cfg.MaxBytes,
		segBytes: segmentBytes(cfg.MaxBytes),
		sync:     cfg.Sync == SyncBatch,
		logger:   logger,
		now:      time.Now,
		space:    make(chan struct{}),
		data:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

func (s *spool) recover() error {
	seqs, err := listSegments(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	af, err := os.OpenFile(filepath.Join(s.dir, spoolAckName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.ackFile = af
	ack, ackOK := readAck(af)

	var last uint64
	for _, seq := range seqs {
		last = max(last, seq)
		if ackOK && seq < ack.seg {
			// Acknowledged; its deletion was interrupted.
			if err := os.Remove(segName(s.dir, seq)); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("spool: %w", err)
			}
			continue
		}
		seg, bounds, err := s.scan(seq)
		if err != nil {
			return err
		}
		if seg == nil {
			continue
		}
		s.segs = append(s.segs, seg)
		s.used += seg.size
		from := spoolHdrLen
		if ackOK && seq == ack.seg {
			// Records before the acknowledged offset were delivered. An
			// offset that is not a record boundary (or lies beyond what
			// survived) is not trusted: the whole segment is sent again.
			i := sort.Search(len(bounds), func(i int) bool { return bounds[i] >= ack.off })
			switch {
			case i < len(bounds) && bounds[i] == ack.off:
				from = ack.off
			case ack.off >= seg.size:
				from = seg.size
			}
			s.ack = spoolPos{seq, from}
		}
		for _, b := range bounds {
			if b >= from && b < seg.size {
				s.pending++
			}
		}
	}
	if len(s.segs) > 0 && (!ackOK || ack.seg < s.segs[0].seq || s.ack.seg != s.segs[0].seq) {
		// No usable acknowledgement for the oldest segment: start at its
		// beginning.
		s.ack = spoolPos{s.segs[0].seq, spoolHdrLen}
	}
	s.replayed = s.pending
	if ackOK {
		last = max(last, ack.seg)
	}
	// Always a new segment: old ones are never appended to after a restart.
	if err := s.startSegment(last + 1); err != nil {
		return err
	}
	if len(s.segs) == 1 {
		s.ack = spoolPos{s.segs[0].seq, spoolHdrLen}
	}
	s.collectLocked()
	s.readPos = s.ack
	return s.writeAckLocked()
}

func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, spoolSegPrefix) || !strings.HasSuffix(n, spoolSegSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, spoolSegPrefix), spoolSegSuffix), 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// scan validates the records of a segment, truncating it at the first
// incomplete or damaged one. It returns the segment (nil when the file
// held not even its header, and was removed) and the offset of each
// complete record.
func (s *spool) scan(seq uint64) (*segment, []int64, error) {
	name := segName(s.dir, seq)
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	size := st.Size()
	var magic [len(spoolMagic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		// Created, and the collector died before its header was written.
		f.Close()
		if err := os.Remove(name); err != nil {
			return nil, nil, fmt.Errorf("spool: %w", err)
		}
		return nil, nil, nil
	}
	if string(magic[:]) != spoolMagic {
		return nil, nil, fmt.Errorf("spool: %s is not a spool segment of this version (it starts with %q); move it out of spool::directory", name, magic[:])
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var bounds []int64
	off := spoolHdrLen
	var hdr [recHeaderLen]byte
	var payload []byte
	damage := ""
	for off < size {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			damage = "incomplete record header"
			break
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		if n == 0 || off+recHeaderLen+n > size {
			damage = fmt.Sprintf("record of %d bytes beyond the end of the file", n)
			break
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			damage = "incomplete record"
			break
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			damage = "checksum mismatch"
			break
		}
		bounds = append(bounds, off)
		off += recHeaderLen + n
	}
	if damage != "" {
		// A crash in the middle of an append (or, without spool::sync,
		// a power loss) leaves a torn tail: everything from the first
		// damaged record on is cut, every complete record before it kept.
		s.logger.Warn("Spool segment has a torn or damaged tail: truncated after its last complete record",
			zap.String("file", name), zap.Int64("offset", off), zap.Int64("bytes_discarded", size-off), zap.String("reason", damage))
		if err := f.Truncate(off); err != nil {
			return nil, nil, fmt.Errorf("spool: truncating %s: %w", name, err)
		}
		size = off
	}
	return &segment{seq: seq, size: size, sealed: true}, bounds, nil
}

// readAck reads the acknowledged position; ok is false when there is none
// or it is damaged (then everything in the spool is sent again).
func readAck(f *os.File) (spoolPos, bool) {
	var b [ackLen]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return spoolPos{}, false
	}
	if string(b[:4]) != ackMagic || crc32.Checksum(b[:20], castagnoli) != binary.LittleEndian.Uint32(b[20:]) {
		return spoolPos{}, false
	}
	return spoolPos{binary.LittleEndian.Uint64(b[4:]), int64(binary.LittleEndian.Uint64(b[12:]))}, true
}

// writeAckLocked rewrites the acknowledged position in place (24 bytes,
// one pwrite): a torn write fails its CRC and only causes resending.
func (s *spool) writeAckLocked() error {
	b := s.ackBuf[:]
	copy(b, ackMagic)
	binary.LittleEndian.PutUint64(b[4:], s.ack.seg)
	binary.LittleEndian.PutUint64(b[12:], uint64(s.ack.off))
	binary.LittleEndian.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	if _, err := s.ackFile.WriteAt(b, 0); err != nil {
		return fmt.Errorf("spool: writing the acknowledged position: %w", err)
	}
	return nil
}

// startSegment seals the segment being written (synced first with
// spool::sync) and starts segment seq. Called with mu held, or before the
// spool is used.
func (s *spool) startSegment(seq uint64) error {
	name := segName(s.dir, seq)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := f.Write([]byte(spoolMagic)); err != nil {
		f.Close()
		_ = os.Remove(name)
		return fmt.Errorf("spool: %w", err)
	}
	if s.sync {
		// The new file's name must survive a power loss too.
		if err := syncDir(s.dir); err != nil {
			f.Close()
			_ = os.Remove(name)
			return err
		}
	}
	nw := &writeFile{f: f, seq: seq}
	nw.written.Store(spoolHdrLen)

	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if old := s.wf.Load(); old != nil {
		if s.sync {
			if err := old.f.Sync(); err != nil {
				f.Close()
				_ = os.Remove(name)
				return fmt.Errorf("spool: syncing %s: %w", old.f.Name(), err)
			}
			s.synced = spoolPos{old.seq, old.written.Load()}
		}
		_ = old.f.Close()
		s.segs[len(s.segs)-1].sealed = true
	}
	s.wf.Store(nw)
	s.segs = append(s.segs, &segment{seq: seq, size: spoolHdrLen})
	s.used += spoolHdrLen
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: syncing %s: %w", dir, err)
	}
	return nil
}

var zeroPrefix [recPrefixLen]byte

// reserveRecord empties b and makes room for a record's prefix before
// what the encoder appends, so that the record is built around the
// encoded body without copying it (sealRecord).
func reserveRecord(b *batch) {
	b.reset()
	b.buf = append(b.buf, zeroPrefix[:]...)
}

// sealRecord turns b, reserved and then encoded, into one spool record in
// place: the item metadata is appended and the prefix filled in. The
// record is b.buf.
func sealRecord(b *batch, created int64) ([]byte, error) {
	if len(b.buf) < recPrefixLen || len(b.items) > 0 && b.items[0].start < recPrefixLen {
		return nil, errors.New("spool: the batch was not reserved for a record")
	}
	return finishRecord(b.buf, 0, b, 0, created)
}

// appendRecord copies the items of b into one spool record at the end of
// dst.
func appendRecord(dst []byte, b *batch, created int64) ([]byte, error) {
	start := len(dst)
	dst = append(dst, zeroPrefix[:]...)
	shift := 0
	if len(b.items) > 0 {
		first := b.items[0].start
		shift = len(dst) - first
		dst = append(dst, b.buf[first:b.items[len(b.items)-1].end]...)
	}
	return finishRecord(dst, start, b, shift, created)
}

// finishRecord completes the record that starts at dst[start:]: its body
// (the items of b, each shifted by shift bytes) is in place; the item
// metadata is appended and the prefix written.
func finishRecord(dst []byte, start int, b *batch, shift int, created int64) ([]byte, error) {
	bodyStart := start + recPrefixLen
	bodyEnd := bodyStart
	if len(b.items) > 0 {
		bodyEnd = b.items[len(b.items)-1].end + shift
	}
	if bodyEnd != len(dst) {
		return dst[:start], errors.New("spool: the batch holds bytes after its last item")
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.items)))
	prev := bodyStart
	for i := range b.items {
		it := &b.items[i]
		s := it.start + shift
		if s < prev || it.doc < it.start || it.end < it.doc {
			return dst[:start], fmt.Errorf("spool: item %d is out of order in the batch", i)
		}
		dst = binary.AppendUvarint(dst, uint64(s-prev))
		dst = binary.AppendUvarint(dst, uint64(it.doc-it.start))
		dst = binary.AppendUvarint(dst, uint64(it.end-it.doc))
		var flags byte
		if it.alert {
			flags = 1
		}
		dst = append(dst, flags)
		dst = appendLenString(dst, it.index)
		dst = appendLenString(dst, it.namespace)
		dst = appendLenString(dst, it.id)
		prev = it.end + shift
	}
	n := len(dst) - start - recHeaderLen
	if n > maxRecordBytes || bodyEnd-bodyStart > maxRecordBytes {
		return dst[:start], fmt.Errorf("spool: a batch of %d bytes is too large for one record", n)
	}
	p := dst[start:]
	binary.LittleEndian.PutUint32(p, uint32(n))
	p[recHeaderLen] = recVersion
	binary.LittleEndian.PutUint64(p[recHeaderLen+1:], uint64(created))
	binary.LittleEndian.PutUint32(p[recHeaderLen+9:], uint32(bodyEnd-bodyStart))
	binary.LittleEndian.PutUint32(p[4:], crc32.Checksum(p[recHeaderLen:], castagnoli))
	return dst, nil
}

func appendLenString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var errRecord = errors.New("malformed spool record")

// decodeRecord reads a payload into b; b.buf aliases payload. The strings
// of the items share one allocation.
func decodeRecord(payload []byte, b *batch) (created int64, err error) {
	const fixed = recPrefixLen - recHeaderLen
	if len(payload) < fixed || payload[0] != recVersion {
		return 0, fmt.Errorf("%w: unknown version or too short", errRecord)
	}
	created = int64(binary.LittleEndian.Uint64(payload[1:]))
	bodyLen := uint64(binary.LittleEndian.Uint32(payload[9:]))
	p := payload[fixed:]
	if bodyLen > uint64(len(p)) {
		return 0, errRecord
	}
	body := p[:bodyLen]
	p = p[bodyLen:]
	count, n := binary.Uvarint(p)
	if n <= 0 || count > uint64(len(p)) {
		return 0, errRecord
	}
	p = p[n:]
	meta := string(p)
	b.buf = body
	b.items = b.items[:0]
	off, pos := 0, 0
	uv := func() (int, bool) {
		v, n := binary.Uvarint(p[pos:])
		if n <= 0 || v > uint64(len(payload)) {
			return 0, false
		}
		pos += n
		return int(v), true
	}
	str := func() (string, bool) {
		l, ok := uv()
		if !ok || l > len(p)-pos {
			return "", false
		}
		s := meta[pos : pos+l]
		pos += l
		return s, true
	}
	for range count {
		gap, ok1 := uv()
		al, ok2 := uv()
		dl, ok3 := uv()
		if !ok1 || !ok2 || !ok3 || pos >= len(p) {
			return 0, errRecord
		}
		flags := p[pos]
		pos++
		index, ok4 := str()
		ns, ok5 := str()
		id, ok6 := str()
		if !ok4 || !ok5 || !ok6 {
			return 0, errRecord
		}
		it := item{start: off + gap}
		it.doc = it.start + al
		it.end = it.doc + dl
		if it.end > len(body) || al == 0 || dl == 0 {
			return 0, errRecord
		}
		it.index, it.namespace, it.id, it.alert = index, ns, id, flags&1 != 0
		b.items = append(b.items, it)
		off = it.end
	}
	return created, nil
}

// fitsLocked reports whether n more bytes fit. With nothing pending the
// record is taken whatever its size: waiting could not free anything.
func (s *spool) fitsLocked(n int64) bool {
	return s.used+n <= s.maxBytes || s.pending == 0
}

// append writes one record (from appendRecord) and returns once it is in
// the file (and, with spool::sync batch, on disk). When the spool is full
// it waits for space until ctx ends, then returns errSpoolFull (a
// retryable error: the caller keeps the batch). full is called once if it
// had to wait, with whether it got space.
func (s *spool) append(ctx context.Context, rec []byte, full func(waited bool)) error {
	n := int64(len(rec))
	s.mu.Lock()
	blocked := false
	for {
		if s.closed {
			s.mu.Unlock()
			return errSpoolClosed
		}
		if !s.fitsLocked(n) && s.ack == (spoolPos{s.wf.Load().seq, s.segs[len(s.segs)-1].size}) && s.segs[len(s.segs)-1].size > spoolHdrLen {
			// Everything written is acknowledged but still in the
			// segment being written: start another, so that this one
			// can be deleted.
			if err := s.rotateLocked(); err != nil {
				s.mu.Unlock()
				return err
			}
		}
		if s.fitsLocked(n) {
			break
		}
		blocked = true
		ch := s.space
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.stopped:
		case <-ctx.Done():
			full(false)
			return fmt.Errorf("%w (%d of %d bytes used, %d batches waiting to be sent): %w", errSpoolFull, s.usedBytes(), s.maxBytes, s.pendingRecords(), context.Cause(ctx))
		}
		s.mu.Lock()
	}
	if blocked {
		full(true)
	}
	cur := s.segs[len(s.segs)-1]
	if cur.size > spoolHdrLen && cur.size+n > s.segBytes {
		if err := s.rotateLocked(); err != nil {
			s.mu.Unlock()
			return err
		}
		cur = s.segs[len(s.segs)-1]
	}
	w := s.wf.Load()
	if _, err := w.f.WriteAt(rec, cur.size); err != nil {
		// Leave no partial record behind: later appends go after the
		// last complete one.
		_ = w.f.Truncate(cur.size)
		s.mu.Unlock()
		return fmt.Errorf("spool: writing %s: %w", w.f.Name(), err)
	}
	cur.size += n
	w.written.Store(cur.size)
	s.used += n
	s.pending++
	end := spoolPos{cur.seq, cur.size}
	close(s.data)
	s.data = make(chan struct{})
	s.mu.Unlock()
	if s.sync {
		return s.syncTo(end)
	}
	return nil
}

func (s *spool) rotateLocked() error {
	if err := s.startSegment(s.wf.Load().seq + 1); err != nil {
		return err
	}
	s.collectLocked()
	return nil
}

// syncTo makes the spool durable up to pos. Concurrent appends share
// fsyncs: one that finds its data covered by another's returns at once.
func (s *spool) syncTo(pos spoolPos) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if !s.synced.less(pos) {
		return nil
	}
	w := s.wf.Load()
	if w == nil {
		return errSpoolClosed
	}
	// pos is in w's segment: an earlier one was synced when it was sealed
	// (under syncMu), and synced would cover pos.
	size := w.written.Load()
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("spool: syncing %s: %w", w.f.Name(), err)
	}
	s.synced = spoolPos{w.seq, size}
	return nil
}

func (s *spool) usedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

func (s *spool) pendingRecords() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// stats is what the gauges report.
func (s *spool) stats() (used, pending int64, oldest time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.window) > 0 && s.pending > 0 {
		oldest = max(s.now().Sub(time.Unix(0, s.window[0].created)), 0)
	}
	return s.used, s.pending, oldest
}

// next reads the next record into a record of the pool, waiting for one
// to be written. It returns an error only when ctx ends or the spool
// closes.
func (s *spool) next(ctx context.Context) (*spoolRecord, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, errSpoolClosed
		}
		pos := s.readPos
		i := s.segIndexLocked(pos.seg)
		if i < 0 {
			// The segment is gone (all of it acknowledged): go on with
			// the first one after it.
			for i = 0; i < len(s.segs) && s.segs[i].seq < pos.seg; i++ {
			}
			if i == len(s.segs) {
				s.mu.Unlock()
				return nil, errSpoolClosed
			}
			s.readPos = spoolPos{s.segs[i].seq, spoolHdrLen}
			s.mu.Unlock()
			continue
		}
		seg := s.segs[i]
		if pos.off < seg.size {
			size := seg.size
			s.mu.Unlock()
			r, err := s.read(pos, size)
			if err != nil {
				s.skipDamaged(pos, err)
				continue
			}
			s.mu.Lock()
			s.readPos = r.end
			s.window = append(s.window, r)
			s.mu.Unlock()
			return r, nil
		}
		if seg.sealed && i+1 < len(s.segs) {
			s.readPos = spoolPos{s.segs[i+1].seq, spoolHdrLen}
			s.mu.Unlock()
			s.closeReader()
			continue
		}
		ch := s.data
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.stopped:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

func (s *spool) segIndexLocked(seq uint64) int {
	i := sort.Search(len(s.segs), func(i int) bool { return s.segs[i].seq >= seq })
	if i < len(s.segs) && s.segs[i].seq == seq {
		return i
	}
	return -1
}

func (s *spool) closeReader() {
	if s.rf != nil {
		_ = s.rf.Close()
		s.rf = nil
	}
}

// read reads and decodes the record at pos, of a segment of size bytes.
func (s *spool) read(pos spoolPos, size int64) (*spoolRecord, error) {
	if s.rf == nil || s.rfSeq != pos.seg {
		s.closeReader()
		f, err := os.Open(segName(s.dir, pos.seg))
		if err != nil {
			return nil, err
		}
		s.rf, s.rfSeq = f, pos.seg
	}
	var hdr [recHeaderLen]byte
	if _, err := s.rf.ReadAt(hdr[:], pos.off); err != nil {
		return nil, err
	}
	n := int64(binary.LittleEndian.Uint32(hdr[:4]))
	if n == 0 || pos.off+recHeaderLen+n > size {
		return nil, fmt.Errorf("%w: a record of %d bytes beyond the segment's end", errRecord, n)
	}
	r := s.getRecord()
	if int64(cap(r.raw)) < n {
		r.raw = make([]byte, n)
	}
	r.raw = r.raw[:n]
	if _, err := s.rf.ReadAt(r.raw, pos.off+recHeaderLen); err != nil {
		s.putRecord(r)
		return nil, err
	}
	if crc32.Checksum(r.raw, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		s.putRecord(r)
		return nil, fmt.Errorf("%w: checksum mismatch", errRecord)
	}
	created, err := decodeRecord(r.raw, &r.b)
	if err != nil {
		s.putRecord(r)
		return nil, err
	}
	r.pos, r.end, r.created, r.done = pos, spoolPos{pos.seg, pos.off + recHeaderLen + n}, created, false
	return r, nil
}

func (s *spool) getRecord() *spoolRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		r := s.free[n-1]
		s.free = s.free[:n-1]
		return r
	}
	return &spoolRecord{}
}

func (s *spool) putRecord(r *spoolRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.free) < 64 {
		s.free = append(s.free, r)
	}
}

// skipDamaged gives up the rest of a segment whose record at pos cannot
// be read (the disk changed under the collector: records are validated at
// start-up and written by this process since). The segment is sealed, its
// rest acknowledged as lost.
func (s *spool) skipDamaged(pos spoolPos, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.segIndexLocked(pos.seg)
	if i < 0 || s.closed {
		return
	}
	if i == len(s.segs)-1 {
		if rerr := s.rotateLocked(); rerr != nil {
			s.logger.Error("Spool: cannot start a new segment", zap.Error(rerr))
			return
		}
		i = s.segIndexLocked(pos.seg)
	}
	seg := s.segs[i]
	s.logger.Error("Spool record unreadable: the rest of its segment is skipped",
		zap.String("file", segName(s.dir, pos.seg)), zap.Int64("offset", pos.off), zap.Int64("bytes_skipped", seg.size-pos.off), zap.Error(err))
	lost := &spoolRecord{pos: pos, end: spoolPos{pos.seg, seg.size}, done: true, skipped: true}
	s.readPos = lost.end
	s.window = append(s.window, lost)
	s.ackLocked()
}

// done acknowledges a record: every item of it is resolved.
func (s *spool) done(r *spoolRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.done = true
	s.ackLocked()
}

// ackLocked moves the acknowledged position past the done records at the
// head of the window, deletes the segments it leaves behind and persists
// it.
func (s *spool) ackLocked() {
	moved := false
	for len(s.window) > 0 && s.window[0].done {
		r := s.window[0]
		s.window[0] = nil
		s.window = s.window[1:]
		s.ack = r.end
		// A skipped range held at least one record; how many more is
		// unknown (they are unreadable), so the pending gauge may stay
		// high after such damage until the next start.
		s.pending = max(s.pending-1, 0)
		if !r.skipped && len(s.free) < 64 {
			r.b.buf = nil
			s.free = append(s.free, r)
		}
		moved = true
	}
	if !moved {
		return
	}
	s.collectLocked()
	if s.ackFile != nil {
		if err := s.writeAckLocked(); err != nil {
			s.logger.Warn("Spool: the acknowledged position was not saved; a restart resends more", zap.Error(err))
		}
	}
	close(s.space)
	s.space = make(chan struct{})
}

// collectLocked deletes the sealed segments whose records are all
// acknowledged.
func (s *spool) collectLocked() {
	for len(s.segs) > 1 && s.segs[0].sealed {
		seg := s.segs[0]
		if !(s.ack.seg > seg.seq || s.ack.seg == seg.seq && s.ack.off >= seg.size) {
			return
		}
		if err := os.Remove(segName(s.dir, seg.seq)); err != nil && !os.IsNotExist(err) {
			s.logger.Warn("Spool: cannot delete an acknowledged segment; the next start does", zap.Error(err))
		}
		s.used -= seg.size
		s.segs[0] = nil
		s.segs = s.segs[1:]
		if s.ack.seg <= seg.seq {
			s.ack = spoolPos{s.segs[0].seq, spoolHdrLen}
		}
	}
}

// close stops appends and reads and closes the files; what is not
// acknowledged stays for the next start.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.stopped)
	var err error
	if s.ackFile != nil {
		err = s.writeAckLocked()
	}
	return errors.Join(err, s.closeFiles())
}

func (s *spool) closeFiles() error {
	var errs []error
	s.syncMu.Lock()
	if w := s.wf.Load(); w != nil {
		if s.sync {
			errs = append(errs, w.f.Sync())
		}
		errs = append(errs, w.f.Close())
		s.wf.Store(nil)
	}
	s.syncMu.Unlock()
	if s.ackFile != nil {
		errs = append(errs, s.ackFile.Close())
		s.ackFile = nil
	}
	s.closeReader()
	return errors.Join(errs...)
}
