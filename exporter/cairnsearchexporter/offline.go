package cairnsearchexporter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Offline files are named cairn-bulk-<UTC start time>-<sequence>.ndjson, so
// that names sort in writing order.
const (
	offlinePrefix = "cairn-bulk-"
	offlineSuffix = ".ndjson"
)

// fileSink writes _bulk bodies to rotating files. Each file holds whole
// batches (action and document lines, newline-terminated), so any file can
// be loaded on its own with
//
//	curl -H 'Content-Type: application/x-ndjson' -XPOST "$ES/_bulk" --data-binary @FILE
//
// A new file is started at every start of the collector (a file is never
// appended to after a restart), and whenever the current one would exceed
// maxBytes.
//
// A batch is written with one write(2) before ConsumeLogs returns: once
// it returned, a killed collector loses nothing of it (the data is in the
// page cache, which the kernel writes out). A power loss can lose what the
// kernel had not written yet, unless sync is on (an fsync per batch, and
// of the directory for each new file).
//
// At start the sink reads back the tail of the earlier runs' files
// (resume.go): the batch a receiver sends again after a crash is not
// written twice, and an incomplete last document is cut off the newest
// file. It holds a lock on the directory while open: one writer each.
type fileSink struct {
	dir      string
	maxBytes int64
	maxFiles int
	sync     bool
	stamp    string

	mu     sync.Mutex
	f      *os.File
	size   int64
	seq    int
	closed bool

	// written holds the keys (docKey) of the documents found at the tail
	// of the files of earlier runs (see resume): a document whose key is
	// there is not written again. Dropped (nil) once resumeBytes of new
	// data have been written: by then the batch a crash left
	// unacknowledged has been sent again.
	written     map[string]struct{}
	writtenLeft int64
	scratch     []byte

	lock *os.File // held on the directory while open (nil: none)
}

var errSinkClosed = errors.New("the offline files are closed (the exporter is shutting down)")

func newFileSink(cfg OfflineConfig) (*fileSink, resumed, error) {
	if err := os.MkdirAll(cfg.Directory, 0o750); err != nil {
		return nil, resumed{}, fmt.Errorf("offline::directory: %w", err)
	}
	lock, err := lockOfflineDir(cfg.Directory)
	if err != nil {
		return nil, resumed{}, fmt.Errorf("offline::directory: %w", err)
	}
	s := &fileSink{
		dir:      cfg.Directory,
		maxBytes: cfg.MaxFileBytes,
		maxFiles: cfg.MaxFiles,
		sync:     cfg.Sync == SyncBatch,
		stamp:    time.Now().UTC().Format("20060102T150405.000000000Z"),
		lock:     lock,
	}
	r, err := s.resume()
	r.err = err
	return s, r, nil
}

// write appends one batch (and syncs it with offline::sync batch), leaving
// out the documents found written by an earlier run; it returns how many
// it left out. A failed write is cut back off the file, which keeps only
// whole batches.
func (s *fileSink) write(b *batch) (skipped int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errSinkClosed
	}
	p := b.buf
	if s.written != nil {
		for i := range b.items {
			if s.writtenBefore(&b.items[i]) {
				skipped++
			}
		}
		if skipped == len(b.items) {
			return skipped, nil
		}
		if skipped > 0 {
			out := s.scratch[:0]
			for i := range b.items {
				if it := &b.items[i]; !s.writtenBefore(it) {
					out = append(out, b.buf[it.start:it.end]...)
				}
			}
			s.scratch, p = out[:0], out
		}
	}
	if err := s.writeLocked(p); err != nil {
		return skipped, err
	}
	if s.written != nil {
		if s.writtenLeft -= int64(len(p)); s.writtenLeft <= 0 {
			s.written, s.scratch = nil, nil
		}
	}
	return skipped, nil
}

// writtenBefore reports whether the document is at the tail of an earlier
// run's files.
func (s *fileSink) writtenBefore(it *item) bool {
	if it.id == "" {
		return false
	}
	_, ok := s.written[docKey(it.alert, it.id, it.version)]
	return ok
}

func (s *fileSink) writeLocked(p []byte) error {
	if s.f == nil || (s.size > 0 && s.size+int64(len(p)) > s.maxBytes) {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if _, err := s.f.WriteAt(p, s.size); err != nil {
		_ = s.f.Truncate(s.size)
		return fmt.Errorf("writing %s: %w", s.f.Name(), err)
	}
	if s.sync {
		if err := s.f.Sync(); err != nil {
			// Whether the batch reached the disk is unknown: it is
			// taken back, and the caller writes it again.
			_ = s.f.Truncate(s.size)
			return fmt.Errorf("syncing %s: %w", s.f.Name(), err)
		}
	}
	s.size += int64(len(p))
	return nil
}

func (s *fileSink) rotate() error {
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			return fmt.Errorf("closing %s: %w", s.f.Name(), err)
		}
		s.f = nil
	}
	s.seq++
	name := filepath.Join(s.dir, fmt.Sprintf("%s%s-%06d%s", offlinePrefix, s.stamp, s.seq, offlineSuffix))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("offline file: %w", err)
	}
	if s.sync {
		// The new file's name must survive a power loss too.
		if err := syncDir(s.dir); err != nil {
			f.Close()
			_ = os.Remove(name)
			return err
		}
	}
	s.f, s.size = f, 0
	return s.prune()
}

// prune deletes the oldest files beyond maxFiles (never the current one).
func (s *fileSink) prune() error {
	if s.maxFiles <= 0 {
		return nil
	}
	files, err := offlineFiles(s.dir)
	if err != nil {
		return err
	}
	for len(files) > s.maxFiles {
		if files[0] != s.f.Name() {
			if err := os.Remove(files[0]); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("removing old offline file: %w", err)
			}
		}
		files = files[1:]
	}
	return nil
}

// offlineFiles lists the offline files of dir, oldest first.
func offlineFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, offlinePrefix) && strings.HasSuffix(n, offlineSuffix) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *fileSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.written, s.scratch = nil, nil
	var err error
	if s.f != nil {
		err = s.f.Close()
		s.f = nil
	}
	if s.lock != nil {
		_ = s.lock.Close() // releases the lock
		s.lock = nil
	}
	return err
}
