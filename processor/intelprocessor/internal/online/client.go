// Package online looks file hashes up in a VirusTotal API v3 compatible
// service. Lookups are slow and scarce (the public tier allows 4 a minute),
// so callers never wait on the network: they read the cache, ask for a
// lookup that a single background worker performs at the allowed rate, and
// either wait a bounded budget for the answer or receive it later through
// the onLate callback. The queue is shared fairly between the hosts that
// ask (see fair.go), so that one flooding the service with made-up hashes
// cannot starve the others.
package online

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"go.uber.org/zap"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Result is the service's answer for one file, or why there is none.
type Result struct {
	// SHA256 is the lower-case hash looked up.
	SHA256 string
	// Verdict follows the configured thresholds; NoVerdict when the file is
	// unknown or no engine flags it.
	Verdict indicator.Verdict
	// Malicious and Suspicious count engines with that result; Total counts
	// engines that gave a result at all (malicious, suspicious, undetected,
	// harmless), leaving out timeouts, failures and unsupported types.
	Malicious, Suspicious, Total int
	// Name is the popular threat label, e.g. "trojan.emotet/tinba".
	Name string
	// FileName is the service's most meaningful name for the file.
	FileName string
	// FirstSeen is the first submission; LastAnalysis the latest scan.
	FirstSeen, LastAnalysis time.Time
	// Found is false when the service does not know the file.
	Found bool
	// Err says why there is no answer. Answers (Found or not) are cached;
	// errors never are. Err never contains the API key.
	Err error
}

// Stats are counters since New, plus two gauges.
type Stats struct {
	// Requests counts lookups asked for through Request or Wait.
	Requests uint64
	// Deduplicated counts requests for a hash already queued or in flight.
	Deduplicated uint64
	// Dropped counts requests refused because the queue was full (and no
	// entity had more lookups waiting than the asking one).
	Dropped uint64
	// HostQueueFull counts requests refused because their entity had
	// HostQueueSize lookups waiting.
	HostQueueFull uint64
	// HostDailyCap counts lookups not made because the entities that asked
	// had used up HostRequestsPerDay: refused when asked, or dropped when
	// their turn came.
	HostDailyCap uint64
	// Evicted counts queued lookups dropped to make room for an entity
	// with fewer waiting, or for a corroborated hash.
	Evicted uint64
	// Corroborated counts hashes queued before the others because
	// CorroboratingHosts entities asked for them.
	Corroborated uint64
	// Invalid counts calls with something other than a SHA-256.
	Invalid uint64
	// CacheHits and CacheMisses count Cached and Wait cache reads.
	CacheHits, CacheMisses uint64
	// HTTPRequests counts requests sent to the service.
	HTTPRequests uint64
	// Found and NotFound count answers (HTTP 200 and 404).
	Found, NotFound uint64
	// Errors by kind: 429, 401/403, 5xx-timeout-network-garbage, other 4xx.
	QuotaErrors, AuthErrors, OutageErrors, RejectedErrors uint64
	// Backoffs counts pauses entered after an error.
	Backoffs uint64
	// RateLimitedWaits counts lookups that had to wait for the rate limiter.
	RateLimitedWaits uint64
	// DailyCapPauses counts pauses until midnight UTC for RequestsPerDay.
	DailyCapPauses uint64
	// GaveUp counts hashes abandoned after repeated outages or a rejection.
	GaveUp uint64
	// LateDelivered counts answers passed to onLate.
	LateDelivered uint64
	// Queued is the current queue length; CacheLen the cached answers,
	// expired ones included until they are replaced or evicted.
	Queued, CacheLen int
}

type counters struct {
	requests, deduplicated, dropped, invalid  atomic.Uint64
	hostQueueFull, hostDailyCap, evicted      atomic.Uint64
	corroborated                              atomic.Uint64
	cacheHits, cacheMisses, httpRequests      atomic.Uint64
	found, notFound                           atomic.Uint64
	quotaErrors, authErrors, outageErrors     atomic.Uint64
	rejectedErrors, backoffs, rateLimitedWait atomic.Uint64
	dailyCapPauses, gaveUp, lateDelivered     atomic.Uint64
}

// Backoff policy. Quota pauses double on consecutive 429s without a
// Retry-After, because the same 429 answers both the per-minute and the
// daily quota and only the first clears within a minute. Auth failures need
// a human, so retrying often only burns requests. Outages back off
// exponentially with jitter so that a fleet sharing one key does not hammer
// a recovering service in step.
const (
	quotaBackoff      = time.Minute
	maxQuotaBackoff   = time.Hour
	authBackoff       = 10 * time.Minute
	outageBackoff     = 5 * time.Second
	maxOutageBackoff  = 5 * time.Minute
	maxOutageAttempts = 4
)

type entry struct {
	res     Result
	expires time.Time
}

// pending is a queued or in-flight lookup; done is closed once res is set.
type pending struct {
	done chan struct{}
	res  Result
	ok   bool

	// Under Client.mu: the distinct entities that asked, first first (see
	// keepAskers), the queue it waits in, and whether it still waits (false
	// once the worker took it).
	askers []string
	tier   tier
	lane   string
	queued bool
}

type state uint8

const (
	stateNew state = iota
	stateRunning
	stateStopped
)

// Client performs online lookups. All methods are safe for concurrent use.
type Client struct {
	cfg    Config
	base   string
	logger *zap.Logger
	onLate func(Result)
	http   *http.Client
	clk    clock
	jitter func(time.Duration) time.Duration
	cache  *expirable.LRU[string, entry]
	stats  counters
	// wake tells the worker that something was queued.
	wake chan struct{}

	mu      sync.Mutex
	state   state
	pending map[string]*pending
	sched   scheduler
	usage   usage
	// seen remembers the entities that asked for hashes not pending
	// (refused, evicted, or answered and since expired), so that a hash
	// refused for a flooding entity is corroborated when another asks.
	seen        *lru.Cache[string, []string]
	pausedUntil time.Time
	pauseErr    error
	sending     string    // hash whose request is on the wire
	nextSlot    time.Time // when the limiter next allows a request
	cancel      context.CancelFunc
	done        chan struct{} // closed when the worker exits
	stopped     chan struct{} // closed by Shutdown

	// Worker-only state, touched by the worker goroutine alone.
	day                          time.Time
	dayCount                     int
	quotaStreak, outageStreak    int
	quotaLogged, authLogged      bool
	outageLogged, dailyCapLogged bool
}

// New builds a Client. onLate, if not nil, receives every answer from the
// worker goroutine; it must return quickly, as lookups wait while it runs.
func New(cfg Config, logger *zap.Logger, onLate func(Result)) (*Client, error) {
	return newClient(cfg, logger, onLate, realClock{})
}

func newClient(cfg Config, logger *zap.Logger, onLate func(Result), clk clock) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	base := strings.TrimRight(cfg.Endpoint, "/")
	if u, _ := url.Parse(base); u.Scheme == "http" && !isLoopback(u.Hostname()) {
		logger.Warn("online lookup endpoint uses plain http; the API key travels unencrypted",
			zap.String("endpoint", base))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	c := &Client{
		cfg:    cfg,
		base:   base,
		logger: logger,
		onLate: onLate,
		http: &http.Client{
			Transport: tr,
			// Go forwards custom headers such as x-apikey across redirects,
			// even to other hosts; the API never redirects, so refuse.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		clk:    clk,
		jitter: equalJitter,
		// A TTL of 0 gives an LRU without expirable's sweeper goroutine,
		// which cannot be stopped (v2 has no Close) and would pin the whole
		// cache in memory after Shutdown. Entries carry their own deadline
		// instead, which also allows distinct positive and negative TTLs.
		cache:   expirable.NewLRU[string, entry](cfg.CacheSize, nil, 0),
		wake:    make(chan struct{}, 1),
		pending: make(map[string]*pending),
		sched:   newScheduler(),
		usage:   newUsage(),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	seen, err := lru.New[string, []string](4 * cfg.QueueSize)
	if err != nil {
		return nil, err
	}
	c.seen = seen
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// equalJitter spreads a delay over [d/2, d].
func equalJitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Start starts the worker. The context is not kept: the worker lives until
// Shutdown.
func (c *Client) Start(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case stateRunning:
		return errors.New("online lookup: already started")
	case stateStopped:
		return errors.New("online lookup: cannot restart after Shutdown")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.state = stateRunning
	go c.run(ctx)
	return nil
}

// Shutdown stops the worker, aborting any request on the wire, and wakes
// every Wait. Queued lookups are abandoned. It returns ctx.Err() if the
// worker has not exited when ctx is done; calling it again waits again.
func (c *Client) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	wasStarted := c.cancel != nil
	if c.state != stateStopped {
		c.state = stateStopped
		close(c.stopped)
		clear(c.pending)
		c.sched = newScheduler()
	}
	c.mu.Unlock()
	if wasStarted {
		c.cancel()
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.http.CloseIdleConnections()
	return nil
}

// Cached returns the cached answer for sha256, without I/O. Expired
// answers are misses.
func (c *Client) Cached(sha256 string) (Result, bool) {
	h, ok := normalizeHash(sha256)
	if !ok {
		c.stats.invalid.Add(1)
		return Result{}, false
	}
	r, ok := c.fromCache(h)
	if ok {
		c.stats.cacheHits.Add(1)
	} else {
		c.stats.cacheMisses.Add(1)
	}
	return r, ok
}

// fromCache does not remove expired entries: without holding c.mu it could
// remove a fresh answer stored in between. An expired entry is replaced by
// the lookup its miss triggers, or falls off the LRU end.
func (c *Client) fromCache(h string) (Result, bool) {
	e, ok := c.cache.Get(h)
	if !ok || !c.clk.Now().Before(e.expires) {
		return Result{}, false
	}
	return e.res, true
}

// Request asks for a lookup of sha256 for no particular entity; see
// RequestFrom.
func (c *Client) Request(sha256 string) { c.RequestFrom(sha256, Origin{}) }

// RequestFrom asks for a lookup of sha256 on behalf of o unless it is
// cached, queued or in flight. It never blocks: a request the fairness
// policy refuses (see fair.go) is dropped and counted.
func (c *Client) RequestFrom(sha256 string, o Origin) {
	h, ok := normalizeHash(sha256)
	if !ok {
		c.stats.invalid.Add(1)
		return
	}
	_, _ = c.enqueue(h, o)
}

// enqueue returns the pending lookup for h, queueing one if needed. It
// returns nil, nil when h got answered since the caller's cache miss.
func (c *Client) enqueue(h string, o Origin) (*pending, error) {
	c.stats.requests.Add(1)
	host := hostKey(o.Host)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateStopped {
		return nil, ErrNotRunning
	}
	if p := c.pending[h]; p != nil {
		c.stats.deduplicated.Add(1)
		c.addAskerLocked(h, p, host)
		return p, nil
	}
	// The worker caches an answer and retires its pending entry under c.mu,
	// so checking here closes the window in which the answer arrived after
	// the caller's miss and a second lookup would be queued.
	if _, ok := c.fromCache(h); ok {
		return nil, nil
	}
	askers := c.sightLocked(h, host)
	// A lookup is charged, when its turn comes, to the first of its
	// entities with budget left; one that none has budget for would be
	// dropped then, so it does not take a place in the queue now.
	if !c.budgetLeftLocked(askers, utcDay(c.clk.Now())) {
		c.stats.hostDailyCap.Add(1)
		return nil, ErrHostDailyCap
	}
	t := tierNormal
	switch {
	case c.corroborated(len(askers)) && 2*len(c.sched.corroborated) < c.cfg.QueueSize:
		t = tierCorroborated
	case o.Priority:
		t = tierSignal
	}
	if t != tierCorroborated && c.sched.hostLen(host) >= c.cfg.HostQueueSize {
		c.stats.hostQueueFull.Add(1)
		return nil, ErrHostQueueFull
	}
	if c.sched.n >= c.cfg.QueueSize {
		victim := c.sched.evictFor(host, t)
		if victim == "" {
			c.stats.dropped.Add(1)
			return nil, ErrQueueFull
		}
		c.evictLocked(victim)
	}
	if t == tierCorroborated {
		c.stats.corroborated.Add(1)
	}
	c.seen.Remove(h)
	p := &pending{done: make(chan struct{}), askers: askers, tier: t, lane: host, queued: true}
	c.pending[h] = p
	c.sched.push(h, host, t)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return p, nil
}

// budgetLeftLocked reports whether one of the entities may still be
// charged a lookup today.
func (c *Client) budgetLeftLocked(hosts []string, day time.Time) bool {
	if c.cfg.HostRequestsPerDay <= 0 {
		return true
	}
	for _, host := range hosts {
		if c.usage.used(host, day) < c.cfg.HostRequestsPerDay {
			return true
		}
	}
	return false
}

// corroborated reports whether n distinct entities asking make a hash
// corroborated.
func (c *Client) corroborated(n int) bool {
	return c.cfg.CorroboratingHosts > 0 && n >= c.cfg.CorroboratingHosts
}

// keepAskers is how many distinct entities are remembered per hash: enough
// to tell corroboration, and a few more to charge a lookup to when the
// first to ask has spent its budget.
func (c *Client) keepAskers() int { return max(c.cfg.CorroboratingHosts, 4) }

// sightLocked records that host asked for h, which is not pending, and
// returns the distinct entities that asked for it recently, host included.
func (c *Client) sightLocked(h, host string) []string {
	prev, _ := c.seen.Get(h)
	if contains(prev, host) || len(prev) >= c.keepAskers() {
		return prev
	}
	askers := make([]string, 0, len(prev)+1)
	askers = append(askers, prev...)
	askers = append(askers, host)
	c.seen.Add(h, askers)
	return askers
}

// addAskerLocked records another entity asking for a pending hash, which
// may make it corroborated.
func (c *Client) addAskerLocked(h string, p *pending, host string) {
	if contains(p.askers, host) || len(p.askers) >= c.keepAskers() {
		return
	}
	p.askers = append(p.askers, host)
	if p.queued && p.tier != tierCorroborated && c.corroborated(len(p.askers)) &&
		2*len(c.sched.corroborated) < c.cfg.QueueSize && c.sched.promote(h, p.lane) {
		p.tier = tierCorroborated
		c.stats.corroborated.Add(1)
	}
}

// evictLocked drops a queued lookup; waiters get ErrEvicted. Its entities
// are remembered, so the hash can still be corroborated.
func (c *Client) evictLocked(h string) {
	c.stats.evicted.Add(1)
	p := c.pending[h]
	if p == nil {
		return
	}
	c.seen.Add(h, p.askers)
	delete(c.pending, h)
	p.res, p.ok = Result{SHA256: h, Err: ErrEvicted}, false
	close(p.done)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Wait is WaitFrom for no particular entity.
func (c *Client) Wait(ctx context.Context, sha256 string, budget time.Duration) (Result, bool) {
	return c.WaitFrom(ctx, sha256, Origin{}, budget)
}

// WaitFrom returns the answer for sha256 from the cache, or requests it on
// behalf of o and waits up to budget for it. With a budget of 0 it never
// waits. It returns at once, too, when the answer cannot come in time
// (lookups paused by a backoff, or the rate limiter's next slot is beyond
// the budget). On false, Result.Err says why when there is a reason other
// than time; a lookup still under way reaches onLate when it completes.
func (c *Client) WaitFrom(ctx context.Context, sha256 string, o Origin, budget time.Duration) (Result, bool) {
	h, ok := normalizeHash(sha256)
	if !ok {
		c.stats.invalid.Add(1)
		return Result{Err: ErrInvalidHash}, false
	}
	if r, ok := c.Cached(h); ok {
		return r, true
	}
	p, err := c.enqueue(h, o)
	if err != nil {
		return Result{SHA256: h, Err: err}, false
	}
	if p == nil {
		if r, ok := c.fromCache(h); ok {
			return r, true
		}
		return Result{SHA256: h}, false
	}
	if budget <= 0 {
		return Result{SHA256: h}, false
	}
	if err := c.hopeless(h, budget); err != nil {
		// The lookup may have completed since enqueue; hopeless only knows
		// about lookups still pending.
		select {
		case <-p.done:
			return p.res, p.ok
		default:
		}
		if err == errRateLimited {
			err = nil // nothing is wrong, it just cannot be this soon
		}
		return Result{SHA256: h, Err: err}, false
	}
	if err := ctx.Err(); err != nil {
		return Result{SHA256: h, Err: err}, false
	}
	timer, stop := c.clk.NewTimer(budget)
	defer stop()
	select {
	case <-p.done:
		return p.res, p.ok
	case <-c.stopped:
		return Result{SHA256: h, Err: ErrNotRunning}, false
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer:
	}
	// The answer may have landed as the timer fired; take it if so.
	select {
	case <-p.done:
		return p.res, p.ok
	default:
	}
	return Result{SHA256: h, Err: err}, false
}

// hopeless reports why an answer for h cannot arrive within budget, so that
// a caller holding an event releases it now rather than at the deadline.
// The times compared are lower bounds on the answer's arrival.
func (c *Client) hopeless(h string, budget time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case stateNew:
		return ErrNotRunning
	case stateStopped:
		return ErrNotRunning
	}
	if c.sending == h {
		return nil
	}
	deadline := c.clk.Now().Add(budget)
	if c.pausedUntil.After(deadline) {
		if c.pauseErr != nil {
			return fmt.Errorf("%w: %w", ErrPaused, c.pauseErr)
		}
		return ErrPaused
	}
	if c.nextSlot.After(deadline) {
		return errRateLimited
	}
	return nil
}

var errRateLimited = errors.New("online lookup: rate limited")

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	s := &c.stats
	c.mu.Lock()
	queued := c.sched.n
	c.mu.Unlock()
	return Stats{
		Requests:         s.requests.Load(),
		Deduplicated:     s.deduplicated.Load(),
		Dropped:          s.dropped.Load(),
		HostQueueFull:    s.hostQueueFull.Load(),
		HostDailyCap:     s.hostDailyCap.Load(),
		Evicted:          s.evicted.Load(),
		Corroborated:     s.corroborated.Load(),
		Invalid:          s.invalid.Load(),
		CacheHits:        s.cacheHits.Load(),
		CacheMisses:      s.cacheMisses.Load(),
		HTTPRequests:     s.httpRequests.Load(),
		Found:            s.found.Load(),
		NotFound:         s.notFound.Load(),
		QuotaErrors:      s.quotaErrors.Load(),
		AuthErrors:       s.authErrors.Load(),
		OutageErrors:     s.outageErrors.Load(),
		RejectedErrors:   s.rejectedErrors.Load(),
		Backoffs:         s.backoffs.Load(),
		RateLimitedWaits: s.rateLimitedWait.Load(),
		DailyCapPauses:   s.dailyCapPauses.Load(),
		GaveUp:           s.gaveUp.Load(),
		LateDelivered:    s.lateDelivered.Load(),
		Queued:           queued,
		CacheLen:         c.cache.Len(),
	}
}

// normalizeHash accepts a hex SHA-256 in either case. Lower case, the
// common form, is returned as is so that the cache-hit path allocates
// nothing.
func normalizeHash(s string) (string, bool) {
	if len(s) != 64 {
		return "", false
	}
	upper := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		return strings.ToLower(s), true
	}
	return s, true
}
