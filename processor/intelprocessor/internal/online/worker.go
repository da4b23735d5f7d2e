package online

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// run is the single worker. One is enough: the rate limit, not latency,
// bounds throughput, and one goroutine keeps pacing and backoff simple.
func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	for {
		h, ok := c.ready(ctx, "")
		if !ok {
			return
		}
		c.process(ctx, h)
	}
}

// process looks h up until it gets an answer, gives up, or shuts down; the
// first request has been readied already. Quota and auth errors are not
// the hash's fault, so they do not count towards giving it up; they pause
// every lookup instead.
func (c *Client) process(ctx context.Context, h string) {
	outages := 0
	for first := true; ; first = false {
		if !first {
			if _, ok := c.ready(ctx, h); !ok {
				return
			}
		}
		// sending is cleared in the same critical section that publishes the
		// outcome (answer, give-up or pause), so Wait never sees h as
		// neither sending nor done.
		res, out, retryAfter, err := c.fetch(ctx, h)

		switch out {
		case outCanceled:
			return
		case outAnswer:
			c.answered(h, res)
			return
		case outQuota:
			c.stats.quotaErrors.Add(1)
			c.onQuota(err, retryAfter)
		case outAuth:
			c.stats.authErrors.Add(1)
			c.onAuth(err)
		case outOutage:
			c.stats.outageErrors.Add(1)
			c.onOutage(err)
			if outages++; outages >= maxOutageAttempts {
				c.giveUp(h, err)
				return
			}
		case outRejected:
			c.stats.rejectedErrors.Add(1)
			c.logger.Warn("online lookup rejected; not retrying this hash",
				zap.String("sha256", h), zap.Error(err))
			c.giveUp(h, err)
			return
		}
	}
}

// ready waits until a request may be sent: past any backoff, under the
// daily cap, and with a token from the limiter. With h empty it first
// waits for something to be queued, and takes the next lookup only once a
// request may be sent, so that what was queued meanwhile competes for the
// slot too. It returns the hash to send; false means shutdown.
func (c *Client) ready(ctx context.Context, h string) (string, bool) {
	counted := false
	for {
		if h == "" && !c.queued() {
			select {
			case <-ctx.Done():
				return "", false
			case <-c.wake:
			}
			continue
		}
		now := c.clk.Now()
		c.mu.Lock()
		until := c.pausedUntil
		c.mu.Unlock()
		if now.Before(until) {
			if !c.sleep(ctx, until.Sub(now)) {
				return "", false
			}
			continue
		}
		if c.cfg.RequestsPerDay > 0 {
			// The service's daily quota resets at 00:00 UTC.
			day := now.UTC().Truncate(24 * time.Hour)
			if !day.Equal(c.day) {
				c.day, c.dayCount = day, 0
			}
			if c.dayCount >= c.cfg.RequestsPerDay {
				c.stats.dailyCapPauses.Add(1)
				err := c.errf(ErrQuota, "local daily cap of "+strconv.Itoa(c.cfg.RequestsPerDay)+" requests reached")
				if !c.dailyCapLogged {
					c.dailyCapLogged = true
					c.logger.Warn("online lookups paused until 00:00 UTC: daily request cap reached",
						zap.Int("requests_per_day", c.cfg.RequestsPerDay))
				}
				c.pause(day.Add(24*time.Hour), err)
				continue
			}
		}
		c.mu.Lock()
		slot := c.nextSlot
		c.mu.Unlock()
		if now.Before(slot) {
			if !counted {
				counted = true
				c.stats.rateLimitedWait.Add(1)
			}
			if !c.sleep(ctx, slot.Sub(now)) {
				return "", false
			}
			continue
		}
		// A token bucket of burst 1 is a minimum spacing between requests.
		// Taking the token and marking h as sending happen together, or Wait
		// could see the next slot taken and h not yet sent, and give up on
		// an answer that is moments away.
		c.mu.Lock()
		next := h
		if next == "" {
			if next = c.takeLocked(now); next == "" {
				// Everything queued was refused at its turn.
				c.mu.Unlock()
				continue
			}
		}
		c.nextSlot = now.Add(time.Minute / time.Duration(c.cfg.RequestsPerMinute))
		c.sending = next
		c.mu.Unlock()
		c.dayCount++
		return next, true
	}
}

// chargeLocked charges a lookup to the first of hosts with budget left;
// false when none has any.
func (c *Client) chargeLocked(hosts []string, day time.Time) bool {
	if c.cfg.HostRequestsPerDay <= 0 {
		return true
	}
	for _, host := range hosts {
		if c.usage.used(host, day) < c.cfg.HostRequestsPerDay {
			c.usage.charge(host, day)
			return true
		}
	}
	return false
}

func (c *Client) queued() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sched.n > 0
}

// takeLocked takes the next lookup and charges it to the first of its
// entities with budget left today. A lookup whose entities all have none
// left is dropped (its waiters get ErrHostDailyCap): the quota it would
// spend belongs to the other hosts.
func (c *Client) takeLocked(now time.Time) string {
	day := utcDay(now)
	for {
		h := c.sched.pop()
		if h == "" {
			return ""
		}
		p := c.pending[h]
		if p == nil {
			continue
		}
		p.queued = false
		if c.chargeLocked(p.askers, day) {
			return h
		}
		c.stats.hostDailyCap.Add(1)
		c.seen.Add(h, p.askers)
		delete(c.pending, h)
		p.res, p.ok = Result{SHA256: h, Err: ErrHostDailyCap}, false
		close(p.done)
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	timer, stop := c.clk.NewTimer(d)
	select {
	case <-timer:
		return true
	case <-ctx.Done():
		stop()
		return false
	}
}

func (c *Client) pause(until time.Time, cause error) {
	c.mu.Lock()
	c.pausedUntil, c.pauseErr = until, cause
	c.sending = ""
	c.mu.Unlock()
}

func (c *Client) backoff(d time.Duration, cause error) {
	c.stats.backoffs.Add(1)
	c.pause(c.clk.Now().Add(d), cause)
}

func (c *Client) onQuota(err error, retryAfter time.Duration) {
	c.quotaStreak++
	d := retryAfter
	if d == 0 {
		d = min(quotaBackoff<<min(c.quotaStreak-1, 10), maxQuotaBackoff)
	}
	c.backoff(d, err)
	if !c.quotaLogged {
		c.quotaLogged = true
		c.logger.Warn("online lookup quota exceeded; pausing lookups",
			zap.Duration("retry_in", d), zap.Error(err))
		return
	}
	c.logger.Debug("online lookup quota still exceeded", zap.Duration("retry_in", d))
}

// onAuth logs the first failure of an episode at Error level: it needs an
// operator, and repeating it every ten minutes would only bury it.
func (c *Client) onAuth(err error) {
	c.backoff(authBackoff, err)
	if !c.authLogged {
		c.authLogged = true
		c.logger.Error("online lookup service rejected the API key; check the configured key (lookups paused, retrying periodically)",
			zap.Duration("retry_in", authBackoff), zap.Error(err))
		return
	}
	c.logger.Debug("online lookup API key still rejected", zap.Duration("retry_in", authBackoff))
}

func (c *Client) onOutage(err error) {
	c.outageStreak++
	d := c.jitter(min(outageBackoff<<min(c.outageStreak-1, 10), maxOutageBackoff))
	c.backoff(d, err)
	if !c.outageLogged {
		c.outageLogged = true
		c.logger.Warn("online lookup service unavailable; backing off",
			zap.Duration("retry_in", d), zap.Error(err))
		return
	}
	c.logger.Debug("online lookup service still unavailable", zap.Duration("retry_in", d), zap.Error(err))
}

// answered caches an answer, hands it to waiters and to onLate, and ends
// any error episode.
func (c *Client) answered(h string, res Result) {
	ttl := c.cfg.NegativeTTL
	if res.Found {
		ttl = c.cfg.PositiveTTL
		c.stats.found.Add(1)
	} else {
		c.stats.notFound.Add(1)
	}
	if c.quotaLogged || c.authLogged || c.outageLogged || c.dailyCapLogged {
		c.logger.Info("online lookups resumed")
	}
	c.quotaStreak, c.outageStreak = 0, 0
	c.quotaLogged, c.authLogged, c.outageLogged, c.dailyCapLogged = false, false, false, false

	c.mu.Lock()
	c.pauseErr = nil
	c.cache.Add(h, entry{res: res, expires: c.clk.Now().Add(ttl)})
	c.completeLocked(h, res, true)
	c.mu.Unlock()

	if c.onLate != nil {
		c.stats.lateDelivered.Add(1)
		c.onLate(res)
	}
}

func (c *Client) giveUp(h string, err error) {
	c.stats.gaveUp.Add(1)
	c.mu.Lock()
	c.completeLocked(h, Result{SHA256: h, Err: err}, false)
	c.mu.Unlock()
}

func (c *Client) completeLocked(h string, res Result, ok bool) {
	c.sending = ""
	p := c.pending[h]
	if p == nil {
		return
	}
	delete(c.pending, h)
	p.res, p.ok = res, ok
	close(p.done)
}
