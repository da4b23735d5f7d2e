// Package hashcache computes SHA-256 sums of executables off the event path.
//
// A sum is cached under the file's identity (device, inode, size and
// modification time), so a binary that is replaced or rewritten in place is
// hashed again while a binary run a thousand times is read once. Hashing runs
// on a few workers behind a bounded queue, reads at most a configured number
// of bytes per second (the I/O budget) and skips files above a size limit.
// Callers never wait on the queue: Submit returns a Future at once, already
// complete on a cache hit or when the work is refused.
package hashcache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Status says how a hash request ended.
type Status string

const (
	// OK: Sum holds the file's SHA-256.
	OK Status = "ok"
	// TooLarge: the file is above MaxFileSize; not read.
	TooLarge Status = "too_large"
	// QueueFull: too many files were waiting; not read.
	QueueFull Status = "queue_full"
	// Failed: the file could not be read (Err says why).
	Failed Status = "error"
	// Closed: the cache was shut down first.
	Closed Status = "closed"
)

// Key identifies a file's content without reading it.
type Key struct {
	Dev, Ino      uint64
	Size, MtimeNs int64
}

// Config bounds the work.
type Config struct {
	// MaxEntries is the number of sums kept (least recently used go first).
	MaxEntries int
	// MaxFileSize: larger files are not hashed.
	MaxFileSize int64
	// BytesPerSecond is the read budget over all workers; 0 is unlimited.
	BytesPerSecond int64
	// Workers hashing in parallel (default 1).
	Workers int
	// QueueSize is the number of distinct files that may wait.
	QueueSize int
}

// Stats are cumulative counters.
type Stats struct {
	Hits, Misses, Hashed, BytesRead, TooLarge, QueueFull, Errors uint64
}

// Future is a pending or complete result.
type Future struct {
	done   chan struct{}
	sum    string
	status Status
	err    error
}

// Done is closed when the result is known.
func (f *Future) Done() <-chan struct{} { return f.done }

// Ready reports whether the result is known, without waiting.
func (f *Future) Ready() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// Result returns the sum (hex) and status; valid once Done is closed.
func (f *Future) Result() (string, Status, error) { return f.sum, f.status, f.err }

func completed(sum string, st Status, err error) *Future {
	f := &Future{done: make(chan struct{}), sum: sum, status: st, err: err}
	close(f.done)
	return f
}

type job struct {
	file *os.File
	key  Key
	fut  *Future
}

// Cache is safe for concurrent use.
type Cache struct {
	cfg      Config
	sums     *lru.Cache[Key, string]
	jobs     chan job
	mu       sync.Mutex
	inflight map[Key]*Future
	limit    *limiter
	closed   chan struct{}
	once     sync.Once
	wg       sync.WaitGroup

	hits, misses, hashed, bytesRead, tooLarge, queueFull, errs atomic.Uint64
}

// New starts the workers.
func New(cfg Config) (*Cache, error) {
	if cfg.MaxEntries <= 0 {
		return nil, errors.New("hashcache: MaxEntries must be positive")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	sums, err := lru.New[Key, string](cfg.MaxEntries)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		cfg:      cfg,
		sums:     sums,
		jobs:     make(chan job, cfg.QueueSize),
		inflight: map[Key]*Future{},
		closed:   make(chan struct{}),
	}
	if cfg.BytesPerSecond > 0 {
		c.limit = newLimiter(cfg.BytesPerSecond)
	}
	for i := 0; i < cfg.Workers; i++ {
		c.wg.Add(1)
		go c.work()
	}
	return c, nil
}

// Lookup returns a cached sum without reading anything.
func (c *Cache) Lookup(k Key) (string, bool) { return c.sums.Get(k) }

// Submit hashes the open file f (which the cache now owns and closes). The
// file should be opened from the process itself (/proc/<pid>/exe), so the
// content hashed is the one executed even if the path was replaced or
// deleted since.
func (c *Cache) Submit(f *os.File) *Future {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		c.errs.Add(1)
		return completed("", Failed, err)
	}
	k, ok := keyOf(fi)
	if !ok || !fi.Mode().IsRegular() {
		f.Close()
		c.errs.Add(1)
		return completed("", Failed, errors.New("hashcache: not a regular file"))
	}
	return c.submit(f, k)
}

func (c *Cache) submit(f *os.File, k Key) *Future {
	if sum, ok := c.sums.Get(k); ok {
		f.Close()
		c.hits.Add(1)
		return completed(sum, OK, nil)
	}
	if c.cfg.MaxFileSize > 0 && k.Size > c.cfg.MaxFileSize {
		f.Close()
		c.tooLarge.Add(1)
		return completed("", TooLarge, nil)
	}
	c.mu.Lock()
	if fut, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		f.Close()
		c.hits.Add(1)
		return fut
	}
	select {
	case <-c.closed:
		c.mu.Unlock()
		f.Close()
		return completed("", Closed, nil)
	default:
	}
	fut := &Future{done: make(chan struct{})}
	select {
	case c.jobs <- job{file: f, key: k, fut: fut}:
		c.inflight[k] = fut
		c.mu.Unlock()
		c.misses.Add(1)
		return fut
	default:
		c.mu.Unlock()
		f.Close()
		c.queueFull.Add(1)
		return completed("", QueueFull, nil)
	}
}

func (c *Cache) work() {
	defer c.wg.Done()
	buf := make([]byte, chunk)
	for {
		select {
		case <-c.closed:
			c.drain()
			return
		case j := <-c.jobs:
			c.finish(j, c.hash(j, buf))
		}
	}
}

const chunk = 256 << 10

func (c *Cache) hash(j job, buf []byte) (res Future) {
	defer j.file.Close()
	h := sha256.New()
	var off int64
	for {
		if c.limit != nil && !c.limit.wait(len(buf), c.closed) {
			return Future{status: Closed}
		}
		n, err := j.file.ReadAt(buf, off)
		if n > 0 {
			h.Write(buf[:n])
			off += int64(n)
			c.bytesRead.Add(uint64(n))
			if c.cfg.MaxFileSize > 0 && off > c.cfg.MaxFileSize {
				c.tooLarge.Add(1)
				return Future{status: TooLarge}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.errs.Add(1)
			return Future{status: Failed, err: err}
		}
	}
	res.sum = hex.EncodeToString(h.Sum(nil))
	res.status = OK
	c.hashed.Add(1)
	// Cache only when the file did not change while it was read.
	if fi, err := j.file.Stat(); err == nil {
		if k, ok := keyOf(fi); ok && k == j.key && off == j.key.Size {
			c.sums.Add(j.key, res.sum)
		}
	}
	return res
}

func (c *Cache) finish(j job, r Future) {
	c.mu.Lock()
	delete(c.inflight, j.key)
	c.mu.Unlock()
	j.fut.sum, j.fut.status, j.fut.err = r.sum, r.status, r.err
	close(j.fut.done)
}

func (c *Cache) drain() {
	for {
		select {
		case j := <-c.jobs:
			j.file.Close()
			c.finish(j, Future{status: Closed})
		default:
			return
		}
	}
}

// Close stops the workers; pending futures complete with Closed.
func (c *Cache) Close() {
	c.once.Do(func() {
		c.mu.Lock()
		close(c.closed)
		c.mu.Unlock()
		c.wg.Wait()
		c.drain()
	})
}

// Stats returns the counters so far.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Hashed: c.hashed.Load(),
		BytesRead: c.bytesRead.Load(), TooLarge: c.tooLarge.Load(),
		QueueFull: c.queueFull.Load(), Errors: c.errs.Load(),
	}
}

// Len is the number of cached sums.
func (c *Cache) Len() int { return c.sums.Len() }

// limiter is a token bucket in bytes that may go into debt: a reader takes
// what it needs and then sleeps off the debt, so one large read cannot starve.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(bps int64) *limiter {
	// A burst of one read: the budget holds over any interval.
	burst := float64(chunk)
	return &limiter{rate: float64(bps), burst: burst, tokens: burst, last: time.Now()}
}

func (l *limiter) wait(n int, stop <-chan struct{}) bool {
	l.mu.Lock()
	now := time.Now()
	l.tokens += now.Sub(l.last).Seconds() * l.rate
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.last = now
	l.tokens -= float64(n)
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(debt / l.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
