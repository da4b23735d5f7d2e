package cairnsearchexporter

import (
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
type fileSink struct {
	dir      string
	maxBytes int64
	maxFiles int
	stamp    string

	mu   sync.Mutex
	f    *os.File
	size int64
	seq  int
}

func newFileSink(cfg OfflineConfig) (*fileSink, error) {
	if err := os.MkdirAll(cfg.Directory, 0o750); err != nil {
		return nil, fmt.Errorf("offline::directory: %w", err)
	}
	return &fileSink{
		dir:      cfg.Directory,
		maxBytes: cfg.MaxFileBytes,
		maxFiles: cfg.MaxFiles,
		stamp:    time.Now().UTC().Format("20060102T150405.000000000Z"),
	}, nil
}

// write appends one batch and syncs it to disk before returning, so that
// the collector's queue drops a batch only once it is on disk.
func (s *fileSink) write(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil || (s.size > 0 && s.size+int64(len(p)) > s.maxBytes) {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(p)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing %s: %w", s.f.Name(), err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", s.f.Name(), err)
	}
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
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
