// Package hashcache computes SHA-256 sums of executables off the event path.
//
// A sum is cached under the file's identity (device, inode, size,
// modification time and status change time), so a binary that is replaced
// or rewritten in place is hashed again while a binary run a thousand times
// is read once. The status change time (ctime) is what makes an in-place
// rewrite visible: a user can set a file's mtime back (utimensat), but any
// write or attribute change sets its ctime to the current time, and nothing
// short of changing the clock sets it back.
//
// The work is bounded per file and per unit of time, and shared fairly:
//   - per file: a file whose apparent size is above MaxFileSize is not read
//     (TooLarge), whatever it occupies on disk; a sparse file (holes: ranges
//     never written, which read as zeros without any disk I/O, yet cost as
//     much to hash as data) with more than MaxHoleBytes of holes is not read
//     either (Sparse): no executable needs them, and a 128 MiB file made of
//     one hole costs nothing to create and seconds to hash.
//   - per unit of time: at most BytesPerSecond bytes are hashed, charged
//     by the bytes each read actually returned (a 36 KB file costs 36 KB).
//   - fairly: files are hashed a chunk at a time, in turn, so a small file
//     never waits behind a large one; files are grouped by owner (the uid
//     that owns the file), owners take turns, and files owned by root (the
//     system's binaries, which no other user can create) get every other
//     turn whatever the number of other owners. A user's files, however many
//     or however large, slow down only that user's hashing.
//   - the queue of files waiting is bounded (QueueSize); files of users
//     other than root may fill at most half of it, each user at most a
//     sixteenth (but 2), so that a flood of one user's files is refused
//     (QueueFull) without refusing anyone else's.
//
// Callers never wait on the queue: Submit returns a Future at once, already
// complete on a cache hit or when the work is refused.
package hashcache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
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
	// TooLarge: the file's apparent size is above MaxFileSize; not read.
	TooLarge Status = "too_large"
	// Sparse: the file has more than MaxHoleBytes of holes; not read.
	Sparse Status = "sparse"
	// NotRegular: not a regular file; not read.
	NotRegular Status = "not_regular"
	// Changed: the file changed while it was read: no sum (the bytes read
	// were not one version of it).
	Changed Status = "changed"
	// QueueFull: too many files were waiting (or too many of this file's
	// owner); not read.
	QueueFull Status = "queue_full"
	// Failed: the file could not be read (Err says why).
	Failed Status = "error"
	// Closed: the cache was shut down first.
	Closed Status = "closed"
)

// Key identifies a file's content without reading it.
type Key struct {
	Dev, Ino uint64
	Size     int64
	// MtimeNs and CtimeNs: modification and status change times.
	MtimeNs, CtimeNs int64
}

// Config bounds the work.
type Config struct {
	// MaxEntries is the number of sums kept (least recently used go first).
	MaxEntries int
	// MaxFileSize: files of a larger apparent size are not hashed (0: no
	// limit).
	MaxFileSize int64
	// MaxHoleBytes: files with more bytes of holes are not hashed (0:
	// DefaultMaxHoleBytes; negative: no limit).
	MaxHoleBytes int64
	// BytesPerSecond is the budget of bytes hashed over all workers; 0 is
	// unlimited.
	BytesPerSecond int64
	// Workers hashing in parallel (default 1).
	Workers int
	// QueueSize is the number of distinct files that may wait or be in
	// progress.
	QueueSize int
}

// DefaultMaxHoleBytes is the holes a file may have and still be hashed:
// linkers leave alignment padding unwritten, a few megabytes at most.
const DefaultMaxHoleBytes = 16 << 20

// Stats are cumulative counters.
type Stats struct {
	Hits, Misses, Hashed, BytesRead, TooLarge, QueueFull, Errors uint64
	Sparse, NotRegular, Changed                                  uint64
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

// Completed returns a Future that is already complete, for callers that
// decide a status themselves.
func Completed(st Status) *Future { return completed("", st, nil) }

// fileInfo is what one fstat tells of a file.
type fileInfo struct {
	key     Key
	owner   uint32
	regular bool
	// allocated is the bytes the file occupies on disk (st_blocks * 512):
	// below the size, the file may have holes.
	allocated int64
}

type job struct {
	file  *os.File
	info  fileInfo
	fut   *Future
	owner *ownerQueue
	h     hash.Hash
	off   int64
}

// ownerQueue holds one owner's jobs; a job being hashed is out of the queue
// (running) until its chunk is done.
type ownerQueue struct {
	uid     uint32
	jobs    []*job
	running int
	inRing  bool
}

func (o *ownerQueue) size() int { return len(o.jobs) + o.running }

// Cache is safe for concurrent use.
type Cache struct {
	cfg  Config
	sums *lru.Cache[Key, string]

	mu       sync.Mutex
	cond     *sync.Cond
	inflight map[Key]*Future
	owners   map[uint32]*ownerQueue
	// ring is the owners other than root with jobs waiting, in turn.
	ring     []*ownerQueue
	rootTurn bool
	total    int // jobs waiting or running
	nonRoot  int // of which owned by users other than root
	closed   bool

	limit *limiter
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	hits, misses, hashed, bytesRead, tooLarge, queueFull, errs atomic.Uint64
	sparse, notRegular, changed                                atomic.Uint64
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
	if cfg.MaxHoleBytes == 0 {
		cfg.MaxHoleBytes = DefaultMaxHoleBytes
	}
	sums, err := lru.New[Key, string](cfg.MaxEntries)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		cfg:      cfg,
		sums:     sums,
		inflight: map[Key]*Future{},
		owners:   map[uint32]*ownerQueue{},
		stop:     make(chan struct{}),
	}
	c.cond = sync.NewCond(&c.mu)
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
	fi, err := statFile(f)
	if err != nil {
		f.Close()
		c.errs.Add(1)
		return completed("", Failed, err)
	}
	if !fi.regular {
		f.Close()
		c.notRegular.Add(1)
		return completed("", NotRegular, nil)
	}
	return c.submit(f, fi)
}

// perOwnerLimit and nonRootLimit bound the queue slots of one user other
// than root, and of all of them.
func (c *Cache) perOwnerLimit() int { return max(2, c.cfg.QueueSize/16) }
func (c *Cache) nonRootLimit() int  { return max(1, c.cfg.QueueSize/2) }

func (c *Cache) submit(f *os.File, fi fileInfo) *Future {
	k := fi.key
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
	if c.closed {
		c.mu.Unlock()
		f.Close()
		return completed("", Closed, nil)
	}
	o := c.owners[fi.owner]
	full := c.total >= c.cfg.QueueSize
	if fi.owner != 0 {
		full = full || c.nonRoot >= c.nonRootLimit() || (o != nil && o.size() >= c.perOwnerLimit())
	}
	if full {
		c.mu.Unlock()
		f.Close()
		c.queueFull.Add(1)
		return completed("", QueueFull, nil)
	}
	if o == nil {
		o = &ownerQueue{uid: fi.owner}
		c.owners[fi.owner] = o
	}
	fut := &Future{done: make(chan struct{})}
	j := &job{file: f, info: fi, fut: fut, owner: o}
	c.inflight[k] = fut
	c.total++
	if fi.owner != 0 {
		c.nonRoot++
	}
	c.push(j)
	c.mu.Unlock()
	c.misses.Add(1)
	return fut
}

// push queues j at the end of its owner's turn (c.mu held).
func (c *Cache) push(j *job) {
	o := j.owner
	o.jobs = append(o.jobs, j)
	if o.uid != 0 && !o.inRing {
		o.inRing = true
		c.ring = append(c.ring, o)
	}
	c.cond.Signal()
}

// next takes the job whose turn it is (c.mu held; nil when none waits):
// root's files and the other owners' alternate, the other owners take
// turns, and each owner's files take turns.
func (c *Cache) next() *job {
	root := c.owners[0]
	var o *ownerQueue
	switch {
	case root != nil && len(root.jobs) > 0 && (c.rootTurn || len(c.ring) == 0):
		o = root
		c.rootTurn = false
	case len(c.ring) > 0:
		o = c.ring[0]
		c.ring[0] = nil
		c.ring = c.ring[1:]
		o.inRing = false
		c.rootTurn = true
	default:
		return nil
	}
	j := o.jobs[0]
	o.jobs[0] = nil
	o.jobs = o.jobs[1:]
	o.running++
	if o.uid != 0 && len(o.jobs) > 0 {
		o.inRing = true
		c.ring = append(c.ring, o)
	}
	return j
}

// release ends j's stay in the queue (c.mu held).
func (c *Cache) release(j *job) {
	o := j.owner
	c.total--
	if o.uid != 0 {
		c.nonRoot--
	}
	delete(c.inflight, j.info.key)
	if o.size() == 0 {
		delete(c.owners, o.uid)
	}
}

func (c *Cache) work() {
	defer c.wg.Done()
	buf := make([]byte, chunk)
	for {
		c.mu.Lock()
		var j *job
		for !c.closed {
			if j = c.next(); j != nil {
				break
			}
			c.cond.Wait()
		}
		if j == nil {
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		res, done := c.step(j, buf)
		c.mu.Lock()
		j.owner.running--
		if !done && c.closed {
			res, done = Future{status: Closed}, true
		}
		if done {
			c.release(j)
		} else {
			c.push(j)
		}
		c.mu.Unlock()
		if done {
			c.complete(j, res)
		}
	}
}

// chunk is what one turn reads.
const chunk = 256 << 10

// maxExtents bounds the data ranges of a sparse file that are counted: a
// file cut into more pieces than this is treated as all holes.
const maxExtents = 1 << 16

// step hashes the next chunk of j; done says the job is over (res then
// holds its result).
func (c *Cache) step(j *job, buf []byte) (res Future, done bool) {
	if j.h == nil {
		if j.info.allocated < j.info.key.Size {
			// Fewer blocks than bytes: there may be holes. Count them
			// (a few lseeks) before reading anything.
			holes, ok := holeBytes(j.file, j.info.key.Size, maxExtents)
			if !ok || (c.cfg.MaxHoleBytes > 0 && holes > c.cfg.MaxHoleBytes) {
				c.sparse.Add(1)
				return Future{status: Sparse}, true
			}
		}
		j.h = sha256.New()
	}
	n, err := j.file.ReadAt(buf, j.off)
	if n > 0 {
		j.h.Write(buf[:n])
		j.off += int64(n)
		c.bytesRead.Add(uint64(n))
		if c.cfg.MaxFileSize > 0 && j.off > c.cfg.MaxFileSize {
			c.tooLarge.Add(1)
			return Future{status: TooLarge}, true
		}
		// Charged for what was read, after the read: the turn that read
		// it waits off the debt.
		if c.limit != nil && !c.limit.wait(n, c.stop) {
			return Future{status: Closed}, true
		}
	}
	if err == nil && n > 0 {
		return res, false
	}
	if err != nil && !errors.Is(err, io.EOF) {
		c.errs.Add(1)
		return Future{status: Failed, err: err}, true
	}
	// End of file. The sum is the file's only if the file did not change
	// while it was read (its key would have).
	if fi, err := statFile(j.file); err != nil || fi.key != j.info.key || j.off != j.info.key.Size {
		c.changed.Add(1)
		return Future{status: Changed}, true
	}
	res.sum = hex.EncodeToString(j.h.Sum(nil))
	res.status = OK
	c.hashed.Add(1)
	c.sums.Add(j.info.key, res.sum)
	return res, true
}

func (c *Cache) complete(j *job, r Future) {
	j.file.Close()
	j.fut.sum, j.fut.status, j.fut.err = r.sum, r.status, r.err
	close(j.fut.done)
}

// Close stops the workers; pending futures complete with Closed.
func (c *Cache) Close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		close(c.stop)
		c.cond.Broadcast()
		c.mu.Unlock()
		c.wg.Wait()
		// Workers are gone: what is still queued is never read.
		c.mu.Lock()
		var left []*job
		for _, o := range c.owners {
			left = append(left, o.jobs...)
			o.jobs = nil
		}
		for _, j := range left {
			c.release(j)
		}
		c.ring = nil
		c.mu.Unlock()
		for _, j := range left {
			c.complete(j, Future{status: Closed})
		}
	})
}

// Stats returns the counters so far.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Hashed: c.hashed.Load(),
		BytesRead: c.bytesRead.Load(), TooLarge: c.tooLarge.Load(),
		QueueFull: c.queueFull.Load(), Errors: c.errs.Load(),
		Sparse: c.sparse.Load(), NotRegular: c.notRegular.Load(), Changed: c.changed.Load(),
	}
}

// Len is the number of cached sums.
func (c *Cache) Len() int { return c.sums.Len() }

// limiter is a token bucket in bytes that may go into debt: a reader takes
// what it read and then sleeps off the debt, so one large read cannot starve.
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
