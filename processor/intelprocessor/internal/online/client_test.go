package online

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zapcore"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestFoundVerdictsDefaultThresholds(t *testing.T) {
	h := newHarness(t, hopts{})
	first := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	last := time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)
	cases := []struct {
		name string
		rep  report
		want indicator.Verdict
	}{
		{"many engines", report{mal: 45, sus: 2, und: 20, harm: 0, label: "trojan.emotet/tinba", name: "invoice.exe"}, indicator.Malicious},
		{"at malicious threshold", report{mal: 3, und: 60}, indicator.Malicious},
		{"below malicious threshold", report{mal: 2, und: 60}, indicator.Suspicious},
		{"one suspicious", report{sus: 1, und: 60}, indicator.Suspicious},
		{"nothing flagged", report{und: 60, harm: 5}, indicator.NoVerdict},
		{"never analysed", report{}, indicator.NoVerdict},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hash := hashN(i)
			tc.rep.first, tc.rep.last = first.Unix(), last.Unix()
			h.vt.setReport(hash, tc.rep)
			r, ok := h.c.Wait(context.Background(), hash, patience)
			require.True(t, ok, "err: %v", r.Err)
			assert.NoError(t, r.Err)
			assert.True(t, r.Found)
			assert.Equal(t, hash, r.SHA256)
			assert.Equal(t, tc.want, r.Verdict)
			assert.Equal(t, tc.rep.mal, r.Malicious)
			assert.Equal(t, tc.rep.sus, r.Suspicious)
			assert.Equal(t, tc.rep.mal+tc.rep.sus+tc.rep.und+tc.rep.harm, r.Total)
			assert.Equal(t, tc.rep.label, r.Name)
			assert.Equal(t, tc.rep.name, r.FileName)
			assert.Equal(t, first, r.FirstSeen)
			assert.Equal(t, last, r.LastAnalysis)
		})
	}
	s := h.c.Stats()
	assert.Equal(t, uint64(len(cases)), s.Found)
	assert.Equal(t, uint64(len(cases)), s.HTTPRequests)
}

func TestCustomThresholds(t *testing.T) {
	h := newHarness(t, hopts{cfg: func(c *Config) { c.MaliciousThreshold, c.SuspiciousThreshold = 10, 3 }})
	for i, tc := range []struct {
		rep  report
		want indicator.Verdict
	}{
		{report{mal: 10}, indicator.Malicious},
		{report{mal: 9}, indicator.Suspicious},
		{report{mal: 2, sus: 1}, indicator.Suspicious}, // flagged counts add up
		{report{mal: 1, sus: 1}, indicator.NoVerdict},
	} {
		h.vt.setReport(hashN(i), tc.rep)
		r, ok := h.c.Wait(context.Background(), hashN(i), patience)
		require.True(t, ok)
		assert.Equal(t, tc.want, r.Verdict, "%+v", tc.rep)
	}
}

func TestNotFoundIsCachedWithNegativeTTL(t *testing.T) {
	h := newHarness(t, hopts{fake: true, cfg: func(c *Config) {
		c.PositiveTTL, c.NegativeTTL = 24*time.Hour, time.Hour
	}})
	unknown, known := hashN(1), hashN(2)
	h.vt.setReport(known, report{mal: 5})

	h.c.Request(unknown)
	h.c.Request(known)
	h.fc.drive(t, time.Millisecond, func() bool { s := h.c.Stats(); return s.Found+s.NotFound == 2 })

	r, ok := h.c.Cached(unknown)
	require.True(t, ok)
	assert.False(t, r.Found)
	assert.Equal(t, indicator.NoVerdict, r.Verdict)
	assert.NoError(t, r.Err)

	h.fc.Advance(time.Hour - time.Second)
	_, ok = h.c.Cached(unknown)
	assert.True(t, ok, "negative answer expired too early")

	h.fc.Advance(2 * time.Second)
	_, ok = h.c.Cached(unknown)
	assert.False(t, ok, "negative answer outlived NegativeTTL")
	r, ok = h.c.Cached(known)
	assert.True(t, ok, "positive answer must outlive NegativeTTL")
	assert.Equal(t, indicator.Malicious, r.Verdict)

	h.fc.Advance(23 * time.Hour)
	_, ok = h.c.Cached(known)
	assert.False(t, ok, "positive answer outlived PositiveTTL")

	// An expired answer is looked up again.
	h.c.Request(unknown)
	eventually(t, func() bool { _, ok := h.c.Cached(unknown); return ok }, "expired answer not looked up again")
	assert.Equal(t, 2, h.vt.callsFor(unknown))
	assert.Equal(t, uint64(3), h.c.Stats().HTTPRequests)
}

func TestCacheHitMakesNoRequest(t *testing.T) {
	h := newHarness(t, hopts{})
	hash := hashN(7)
	h.vt.setReport(hash, report{mal: 9})
	_, ok := h.c.Cached(hash)
	assert.False(t, ok)
	r, ok := h.c.Wait(context.Background(), hash, patience)
	require.True(t, ok)
	for range 10 {
		h.c.Request(hash)
		got, ok := h.c.Cached(hash)
		require.True(t, ok)
		assert.Equal(t, r, got)
		got, ok = h.c.Wait(context.Background(), hash, time.Second)
		require.True(t, ok)
		assert.Equal(t, r, got)
	}
	time.Sleep(20 * time.Millisecond) // a stray lookup would have been sent by now
	assert.Equal(t, 1, h.vt.callsFor(hash))
	s := h.c.Stats()
	assert.Equal(t, uint64(20), s.CacheHits)
	assert.Equal(t, uint64(2), s.CacheMisses) // Cached and Wait before the answer
	assert.Equal(t, 1, s.CacheLen)
}

func TestUppercaseAndInvalidHashes(t *testing.T) {
	h := newHarness(t, hopts{})
	hash := hashN(3)
	h.vt.setReport(hash, report{mal: 4})
	r, ok := h.c.Wait(context.Background(), strings.ToUpper(hash), patience)
	require.True(t, ok)
	assert.Equal(t, hash, r.SHA256)
	assert.Equal(t, 1, h.vt.callsFor(hash), "the service sees the lower-case hash")
	_, ok = h.c.Cached(strings.ToUpper(hash))
	assert.True(t, ok)

	for _, bad := range []string{"", "abc", hash[:63] + "g", hash + "0", " " + hash[1:]} {
		h.c.Request(bad)
		_, ok := h.c.Cached(bad)
		assert.False(t, ok)
		r, ok := h.c.Wait(context.Background(), bad, time.Second)
		assert.False(t, ok)
		assert.ErrorIs(t, r.Err, ErrInvalidHash)
	}
	assert.Equal(t, uint64(15), h.c.Stats().Invalid)
	assert.Equal(t, 1, h.vt.totalCalls())
}

func TestQuotaBackoff(t *testing.T) {
	quota := func(retryAfter string, times int) func(http.ResponseWriter, *http.Request, string, int) {
		return func(w http.ResponseWriter, r *http.Request, hash string, n int) {
			if n <= times {
				if retryAfter != "" {
					w.Header().Set("Retry-After", retryAfter)
				}
				writeAPIError(w, http.StatusTooManyRequests, "QuotaExceededError", "Quota exceeded")
				return
			}
			writeReport(w, hash, report{mal: 7})
		}
	}

	t.Run("Retry-After seconds", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true})
		h.vt.setHandler(quota("7", 1))
		hash := hashN(1)
		h.c.Request(hash)
		assert.Equal(t, 7*time.Second, h.fc.waitTimer(t))
		assert.Equal(t, 1, h.vt.callsFor(hash))

		// Waiting is pointless while paused: Wait says so at once.
		r, ok := h.c.Wait(context.Background(), hash, time.Second)
		assert.False(t, ok)
		assert.ErrorIs(t, r.Err, ErrPaused)
		assert.ErrorIs(t, r.Err, ErrQuota)
		assert.Contains(t, r.Err.Error(), "QuotaExceededError")

		h.fc.Advance(7*time.Second - time.Millisecond)
		assert.Equal(t, 1, h.vt.callsFor(hash), "retried before Retry-After")
		h.fc.Advance(time.Millisecond)
		eventually(t, func() bool { _, ok := h.c.Cached(hash); return ok }, "no answer after the backoff")
		assert.Equal(t, 2, h.vt.callsFor(hash))
		s := h.c.Stats()
		assert.Equal(t, uint64(1), s.QuotaErrors)
		assert.Equal(t, uint64(1), s.Backoffs)
		assert.Equal(t, uint64(1), s.Found)
		assert.Len(t, h.logsAt(zapcore.WarnLevel), 1)
		assert.Len(t, h.logs.FilterMessage("online lookups resumed").All(), 1)
	})

	t.Run("Retry-After date", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true})
		h.vt.setHandler(quota(h.fc.Now().Add(90*time.Second).Format(http.TimeFormat), 1))
		h.c.Request(hashN(2))
		assert.Equal(t, 90*time.Second, h.fc.waitTimer(t))
	})

	t.Run("no Retry-After doubles", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true})
		h.vt.setHandler(quota("", 2))
		hash := hashN(3)
		h.c.Request(hash)
		assert.Equal(t, time.Minute, h.fc.waitTimer(t))
		h.fc.Advance(time.Minute)
		eventually(t, func() bool { return h.vt.callsFor(hash) == 2 }, "no retry")
		assert.Equal(t, 2*time.Minute, h.fc.waitTimer(t))
		h.fc.Advance(2 * time.Minute)
		eventually(t, func() bool { _, ok := h.c.Cached(hash); return ok }, "no answer")
		s := h.c.Stats()
		assert.Equal(t, uint64(2), s.QuotaErrors)
		assert.Equal(t, uint64(2), s.Backoffs)
		assert.Len(t, h.logsAt(zapcore.WarnLevel), 1, "one warning per episode")
	})

	t.Run("queued requests wait out the backoff", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true})
		var calls atomic.Int32
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, _ int) {
			if calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "30")
				writeAPIError(w, http.StatusTooManyRequests, "QuotaExceededError", "Quota exceeded")
				return
			}
			writeReport(w, hash, report{})
		})
		h.c.Request(hashN(10))
		assert.Equal(t, 30*time.Second, h.fc.waitTimer(t))
		for i := 11; i < 15; i++ {
			h.c.Request(hashN(i))
		}
		assert.Equal(t, 4, h.c.Stats().Queued)
		assert.Equal(t, 1, h.vt.totalCalls())
		h.fc.Advance(30 * time.Second)
		h.fc.drive(t, time.Millisecond, func() bool { return h.c.Stats().Found == 5 })
		assert.Equal(t, 6, h.vt.totalCalls())
	})
}

func TestAuthErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{http.StatusUnauthorized, "WrongCredentialsError"},
		{http.StatusForbidden, "ForbiddenError"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			h := newHarness(t, hopts{fake: true})
			h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, n int) {
				if n <= 2 {
					// A careless server echoing the key must not make us leak it.
					writeAPIError(w, tc.status, tc.code, "Wrong API key: "+r.Header.Get("x-apikey"))
					return
				}
				writeReport(w, hash, report{sus: 1})
			})
			hash := hashN(1)
			h.c.Request(hash)
			assert.Equal(t, 10*time.Minute, h.fc.waitTimer(t))

			r, ok := h.c.Wait(context.Background(), hash, patience)
			assert.False(t, ok)
			require.ErrorIs(t, r.Err, ErrAuth)
			assert.ErrorIs(t, r.Err, ErrPaused)
			assert.Contains(t, r.Err.Error(), tc.code)
			assert.Contains(t, r.Err.Error(), "[REDACTED]")
			h.assertNoKey(t, r.Err, r)

			errorLogs := h.logsAt(zapcore.ErrorLevel)
			require.Len(t, errorLogs, 1)
			assert.Contains(t, errorLogs[0].Message, "rejected the API key")

			h.fc.Advance(10 * time.Minute)
			eventually(t, func() bool { return h.vt.callsFor(hash) == 2 }, "no retry after auth backoff")
			assert.Equal(t, 10*time.Minute, h.fc.waitTimer(t))
			assert.Len(t, h.logsAt(zapcore.ErrorLevel), 1, "auth failure logged once per episode")

			h.fc.Advance(10 * time.Minute)
			eventually(t, func() bool { _, ok := h.c.Cached(hash); return ok }, "no answer after key fixed")
			s := h.c.Stats()
			assert.Equal(t, uint64(2), s.AuthErrors)
			assert.Equal(t, uint64(2), s.Backoffs)
			h.assertNoKey(t, s)
		})
	}
}

func TestStandardServerRejectsWrongKey(t *testing.T) {
	h := newHarness(t, hopts{fake: true, cfg: func(c *Config) { c.APIKey = "some-other-key" }})
	h.c.Request(hashN(1))
	h.fc.waitTimer(t)
	assert.Equal(t, uint64(1), h.c.Stats().AuthErrors)
	for _, e := range h.logs.All() {
		assert.NotContains(t, e.Message+" "+errString(e.ContextMap()["error"]), "some-other-key")
	}
}

func errString(v any) string {
	s, _ := v.(string)
	return s
}

func TestTimeoutIsOutageAndNotCached(t *testing.T) {
	t.Run("no headers in time", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true, cfg: func(c *Config) { c.Timeout = 250 * time.Millisecond }})
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, n int) {
			if n == 1 {
				<-r.Context().Done() // only the client's timeout ends this
				return
			}
			writeReport(w, hash, report{mal: 3})
		})
		hash := hashN(1)
		start := time.Now()
		h.c.Request(hash)
		assert.Equal(t, 5*time.Second, h.fc.waitTimer(t))
		assert.Less(t, time.Since(start), patience)

		s := h.c.Stats()
		assert.Equal(t, uint64(1), s.OutageErrors)
		assert.Zero(t, s.Found+s.NotFound)
		assert.Zero(t, s.CacheLen, "errors must not be cached")
		_, ok := h.c.Cached(hash)
		assert.False(t, ok)
		r, ok := h.c.Wait(context.Background(), hash, time.Second)
		assert.False(t, ok)
		assert.ErrorIs(t, r.Err, ErrOutage)
		assert.Contains(t, r.Err.Error(), "no answer within 250ms")
		assert.NotContains(t, r.Err.Error(), h.vt.srv.URL, "transport error text is not quoted")

		// On a loaded machine the retry could time out as well; further
		// backoffs are fine here, the point is that a retry succeeds.
		h.fc.Advance(5 * time.Second)
		h.fc.drive(t, time.Hour, func() bool { _, ok := h.c.Cached(hash); return ok })
	})

	t.Run("body too slow", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true, cfg: func(c *Config) { c.Timeout = 250 * time.Millisecond }})
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, n int) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"data":{"id":"` + hash + `","type":"file","attributes":{`))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		})
		h.c.Request(hashN(2))
		assert.Equal(t, 5*time.Second, h.fc.waitTimer(t))
		s := h.c.Stats()
		assert.Equal(t, uint64(1), s.OutageErrors)
		assert.Zero(t, s.CacheLen)
		r, _ := h.c.Wait(context.Background(), hashN(2), time.Second)
		assert.ErrorIs(t, r.Err, ErrOutage)
		assert.Contains(t, r.Err.Error(), "timed out reading the report")
	})
}

func TestServerErrorsBackOffExponentiallyThenGiveUp(t *testing.T) {
	h := newHarness(t, hopts{fake: true})
	h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, n int) {
		writeAPIError(w, http.StatusServiceUnavailable, "TransientError", "try later")
	})
	hash := hashN(1)
	h.c.Request(hash)
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		assert.Equal(t, want, h.fc.waitTimer(t), "backoff %d", i)
		h.fc.Advance(want)
		eventually(t, func() bool { return h.vt.callsFor(hash) == i+2 }, "no retry")
	}
	eventually(t, func() bool { return h.c.Stats().GaveUp == 1 }, "never gave up")
	s := h.c.Stats()
	assert.Equal(t, uint64(maxOutageAttempts), s.OutageErrors)
	assert.Equal(t, uint64(maxOutageAttempts), s.Backoffs)
	assert.Zero(t, s.CacheLen)
	assert.Len(t, h.logsAt(zapcore.WarnLevel), 1, "one warning per episode")

	// The pause outlives the abandoned hash: the next one waits it out,
	// and a later request for the abandoned hash queues a fresh lookup.
	h.c.Request(hashN(2))
	assert.Equal(t, 40*time.Second, h.fc.waitTimer(t))
	h.c.Request(hash)
	// The worker takes the next lookup only once it may send it, so that
	// whatever is queued during a pause competes for the slot.
	assert.Equal(t, 2, h.c.Stats().Queued, "hashN(2) waits out the pause in the queue, the abandoned hash joins it")
}

func TestOutageBackoffCapAndJitter(t *testing.T) {
	c := &Client{jitter: equalJitter}
	for i := 0; i < 1000; i++ {
		d := c.jitter(5 * time.Minute)
		require.GreaterOrEqual(t, d, 150*time.Second)
		require.LessOrEqual(t, d, 5*time.Minute)
	}
	h := newHarness(t, hopts{fake: true})
	for range 12 {
		h.c.onOutage(ErrOutage)
	}
	h.c.mu.Lock()
	left := h.c.pausedUntil.Sub(h.fc.Now())
	h.c.mu.Unlock()
	assert.Equal(t, maxOutageBackoff, left)
}

func TestWaitGetsGiveUpError(t *testing.T) {
	h := newHarness(t, hopts{})
	h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, n int) {
		writeAPIError(w, http.StatusBadRequest, "InvalidArgumentError", "bad hash")
	})
	r, ok := h.c.Wait(context.Background(), hashN(1), patience)
	assert.False(t, ok)
	assert.ErrorIs(t, r.Err, ErrRejected)
	assert.Contains(t, r.Err.Error(), "HTTP 400 InvalidArgumentError")
	s := h.c.Stats()
	assert.Equal(t, uint64(1), s.RejectedErrors)
	assert.Equal(t, uint64(1), s.GaveUp)
	assert.Zero(t, s.Backoffs, "a rejected hash does not pause the others")
	assert.Zero(t, s.CacheLen)
	assert.Zero(t, s.LateDelivered)
}

func TestUnusableResponsesAreOutages(t *testing.T) {
	for name, handle := range map[string]func(http.ResponseWriter, *http.Request, string, int){
		"bare 404 from a wrong path": func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
			http.NotFound(w, r)
		},
		"200 that is not a report": func(w http.ResponseWriter, _ *http.Request, _ string, _ int) {
			_, _ = w.Write([]byte("<html>captive portal</html>"))
		},
		"200 without data": func(w http.ResponseWriter, _ *http.Request, _ string, _ int) {
			_, _ = w.Write([]byte(`{"error":null}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, hopts{fake: true})
			h.vt.setHandler(handle)
			h.c.Request(hashN(1))
			assert.Equal(t, 5*time.Second, h.fc.waitTimer(t))
			s := h.c.Stats()
			assert.Equal(t, uint64(1), s.OutageErrors)
			assert.Zero(t, s.NotFound)
			assert.Zero(t, s.CacheLen)
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var leaked sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store("key", r.Header.Get("x-apikey"))
	}))
	defer other.Close()
	h := newHarness(t, hopts{fake: true})
	h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	})
	h.c.Request(hashN(1))
	h.fc.waitTimer(t)
	assert.Equal(t, uint64(1), h.c.Stats().OutageErrors)
	_, hit := leaked.Load("key")
	assert.False(t, hit, "redirect followed with the key")
}

func TestInFlightDeduplication(t *testing.T) {
	h := newHarness(t, hopts{})
	release := make(chan struct{})
	h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		writeReport(w, hash, report{mal: 3})
	})
	hash := hashN(1)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			h.c.Request(hash)
		}()
	}
	close(start)
	wg.Wait()

	// Waiters share the same lookup too.
	results := make(chan Result, 20)
	for range 20 {
		go func() {
			r, _ := h.c.Wait(context.Background(), hash, patience)
			results <- r
		}()
	}
	eventually(t, func() bool { return h.c.Stats().Deduplicated == 119 }, "waiters not attached")
	close(release)
	for range 20 {
		r := <-results
		assert.Equal(t, indicator.Malicious, r.Verdict)
	}
	assert.Equal(t, 1, h.vt.callsFor(hash))
	s := h.c.Stats()
	assert.Equal(t, uint64(120), s.Requests)
	assert.Equal(t, uint64(1), s.HTTPRequests)
	// Waiters wake before onLate runs.
	eventually(t, func() bool { return h.c.Stats().LateDelivered == 1 }, "onLate not called")
}

func TestRateLimitWithFakeClock(t *testing.T) {
	h := newHarness(t, hopts{fake: true, cfg: func(c *Config) { c.RequestsPerMinute = 4 }})
	for i := range 3 {
		h.c.Request(hashN(i))
	}
	for i := 1; i <= 2; i++ {
		eventually(t, func() bool { return h.vt.totalCalls() == i }, "request not sent")
		assert.Equal(t, 15*time.Second, h.fc.waitTimer(t), "request %d", i)
		h.fc.Advance(15*time.Second - time.Millisecond)
		assert.Equal(t, i, h.vt.totalCalls())
		h.fc.Advance(time.Millisecond)
	}
	eventually(t, func() bool { return h.c.Stats().NotFound == 3 }, "not all answered")
	assert.Equal(t, uint64(2), h.c.Stats().RateLimitedWaits)
}

func TestRateLimitRealTime(t *testing.T) {
	h := newHarness(t, hopts{cfg: func(c *Config) { c.RequestsPerMinute = 600 }}) // 100 ms apart
	for i := range 4 {
		h.c.Request(hashN(i))
	}
	eventually(t, func() bool { return h.c.Stats().NotFound == 4 }, "not all answered")
	at := h.vt.arrivalTimes()
	require.Len(t, at, 4)
	// Unpaced, four local requests take a few milliseconds; paced, 300 ms.
	// A lower bound with slack for a delayed first arrival (connection
	// setup, a loaded machine) cannot flake, as timers never fire early.
	// Exact spacing is checked with the fake clock above.
	assert.GreaterOrEqual(t, at[3].Sub(at[0]), 200*time.Millisecond)
}

func TestDailyCap(t *testing.T) {
	h := newHarness(t, hopts{fake: true, cfg: func(c *Config) { c.RequestsPerDay = 2 }})
	h.fc.Advance(11*time.Hour + 59*time.Minute) // 23:59 UTC
	for i := range 3 {
		h.c.Request(hashN(i))
	}
	h.fc.drive(t, time.Millisecond, func() bool { return h.c.Stats().NotFound == 2 })
	left := h.fc.waitTimer(t)
	assert.LessOrEqual(t, left, time.Minute, "third request waits for midnight")
	assert.Greater(t, left, 59*time.Second, "third request waits for midnight")
	assert.Equal(t, uint64(1), h.c.Stats().DailyCapPauses)
	r, ok := h.c.Wait(context.Background(), hashN(2), time.Second)
	assert.False(t, ok)
	assert.ErrorIs(t, r.Err, ErrQuota)
	assert.ErrorIs(t, r.Err, ErrPaused)
	h.fc.Advance(left)
	eventually(t, func() bool { return h.c.Stats().NotFound == 3 }, "no lookup after midnight")
	assert.Equal(t, 3, h.vt.totalCalls())
}

func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	h := newHarness(t, hopts{cfg: func(c *Config) { c.QueueSize = 3 }})
	inFlight := make(chan struct{}, 1)
	h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		inFlight <- struct{}{}
		<-r.Context().Done() // held until Shutdown
	})
	h.c.Request(hashN(0))
	<-inFlight
	start := time.Now()
	for i := 1; i <= 10; i++ {
		h.c.Request(hashN(i))
	}
	r, ok := h.c.Wait(context.Background(), hashN(11), time.Minute)
	elapsed := time.Since(start)
	assert.False(t, ok)
	assert.ErrorIs(t, r.Err, ErrQueueFull)
	assert.Less(t, elapsed, patience, "Request or Wait blocked on a full queue")
	s := h.c.Stats()
	assert.Equal(t, 3, s.Queued)
	assert.Equal(t, uint64(8), s.Dropped)
	assert.Equal(t, uint64(12), s.Requests)
}

func TestQueueBeforeStart(t *testing.T) {
	h := newHarness(t, hopts{noStart: true, cfg: func(c *Config) { c.QueueSize = 2 }})
	for i := range 5 {
		h.c.Request(hashN(i))
	}
	r, ok := h.c.Wait(context.Background(), hashN(0), time.Minute)
	assert.False(t, ok)
	assert.ErrorIs(t, r.Err, ErrNotRunning, "nothing answers before Start")
	s := h.c.Stats()
	assert.Equal(t, 2, s.Queued)
	assert.Equal(t, uint64(3), s.Dropped)
	require.NoError(t, h.c.Start(context.Background()))
	eventually(t, func() bool { return h.c.Stats().NotFound == 2 }, "queued lookups not served after Start")
}

func TestWaitBudgets(t *testing.T) {
	t.Run("zero budget returns at once and still requests", func(t *testing.T) {
		h := newHarness(t, hopts{})
		release := make(chan struct{})
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, _ int) {
			select {
			case <-release:
				writeReport(w, hash, report{mal: 1})
			case <-r.Context().Done():
			}
		})
		start := time.Now()
		r, ok := h.c.Wait(context.Background(), hashN(1), 0)
		assert.Less(t, time.Since(start), patience, "the lookup is held by the server, so any wait would be long")
		assert.False(t, ok)
		assert.NoError(t, r.Err)
		eventually(t, func() bool { return h.vt.callsFor(hashN(1)) == 1 }, "not requested")
		close(release)
		select {
		case late := <-h.late:
			assert.Equal(t, hashN(1), late.SHA256)
			assert.Equal(t, indicator.Suspicious, late.Verdict)
		case <-time.After(patience):
			t.Fatal("answer never reached onLate")
		}
	})

	t.Run("answer within budget", func(t *testing.T) {
		h := newHarness(t, hopts{})
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, _ int) {
			time.Sleep(50 * time.Millisecond)
			writeReport(w, hash, report{mal: 30})
		})
		r, ok := h.c.Wait(context.Background(), hashN(1), patience)
		require.True(t, ok)
		assert.Equal(t, indicator.Malicious, r.Verdict)
	})

	t.Run("answer too late goes to onLate", func(t *testing.T) {
		h := newHarness(t, hopts{})
		release := make(chan struct{})
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, _ int) {
			select {
			case <-release:
				writeAPIError(w, http.StatusNotFound, "NotFoundError", "not found")
			case <-r.Context().Done():
			}
		})
		start := time.Now()
		r, ok := h.c.Wait(context.Background(), hashN(1), 100*time.Millisecond)
		elapsed := time.Since(start)
		assert.False(t, ok)
		assert.NoError(t, r.Err)
		assert.GreaterOrEqual(t, elapsed, 100*time.Millisecond)
		assert.Less(t, elapsed, patience)
		close(release)
		select {
		case late := <-h.late:
			assert.False(t, late.Found)
		case <-time.After(patience):
			t.Fatal("late answer never delivered")
		}
		assert.Equal(t, uint64(1), h.c.Stats().LateDelivered)
	})

	t.Run("cancelled context", func(t *testing.T) {
		h := newHarness(t, hopts{})
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, _ string, _ int) { <-r.Context().Done() })
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		r, ok := h.c.Wait(ctx, hashN(1), time.Minute)
		assert.False(t, ok)
		assert.ErrorIs(t, r.Err, context.Canceled)
	})

	t.Run("rate limiter slot beyond budget", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true, cfg: func(c *Config) { c.RequestsPerMinute = 4 }})
		r0, ok := h.c.Wait(context.Background(), hashN(1), time.Second)
		require.True(t, ok, "%+v", r0)
		done := make(chan Result, 1)
		go func() {
			r, _ := h.c.Wait(context.Background(), hashN(2), time.Second)
			done <- r
		}()
		select {
		case r := <-done:
			assert.NoError(t, r.Err)
		case <-time.After(patience):
			t.Fatal("Wait held on although the next slot is 15 s away")
		}
	})
}

func TestOnLateGetsEveryAnswerButNoErrors(t *testing.T) {
	h := newHarness(t, hopts{})
	h.vt.setReport(hashN(1), report{mal: 5})
	h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, hash string, n int) {
		if hash == hashN(3) {
			writeAPIError(w, http.StatusBadRequest, "BadRequestError", "no")
			return
		}
		h.vt.standard(w, r, hash)
	})
	for i := 1; i <= 3; i++ {
		h.c.Request(hashN(i))
	}
	eventually(t, func() bool { s := h.c.Stats(); return s.Found+s.NotFound+s.GaveUp == 3 }, "not all done")
	eventually(t, func() bool { return len(h.late) == 2 }, "answers not delivered")
	got := map[string]bool{}
	for len(h.late) > 0 {
		r := <-h.late
		got[r.SHA256] = r.Found
		assert.NoError(t, r.Err)
	}
	assert.Equal(t, map[string]bool{hashN(1): true, hashN(2): false}, got)
	assert.Equal(t, uint64(2), h.c.Stats().LateDelivered)
}

func TestShutdown(t *testing.T) {
	t.Run("prompt with a request on the wire, waiters and a queue", func(t *testing.T) {
		h := newHarness(t, hopts{cfg: func(c *Config) { c.Timeout = 10 * patience }})
		inFlight := make(chan struct{}, 1)
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
			inFlight <- struct{}{}
			<-r.Context().Done()
		})
		h.c.Request(hashN(0))
		<-inFlight
		for i := 1; i < 5; i++ {
			h.c.Request(hashN(i))
		}
		waited := make(chan Result, 2)
		for _, hash := range []string{hashN(0), hashN(3)} {
			go func() {
				r, _ := h.c.Wait(context.Background(), hash, time.Minute)
				waited <- r
			}()
		}
		eventually(t, func() bool { return h.c.Stats().Deduplicated == 2 }, "waiters not attached")

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		require.NoError(t, h.c.Shutdown(ctx))
		assert.Less(t, time.Since(start), patience, "Shutdown waited for the request timeout")
		for range 2 {
			select {
			case r := <-waited:
				assert.ErrorIs(t, r.Err, ErrNotRunning)
			case <-time.After(patience):
				t.Fatal("Wait not woken by Shutdown")
			}
		}
		h.c.Request(hashN(9)) // must not panic or block
		r, ok := h.c.Wait(context.Background(), hashN(9), time.Minute)
		assert.False(t, ok)
		assert.ErrorIs(t, r.Err, ErrNotRunning)
		assert.Error(t, h.c.Start(context.Background()), "restart after Shutdown")
		assert.Zero(t, h.c.Stats().LateDelivered)
		assert.NoError(t, h.c.Shutdown(ctx), "Shutdown is idempotent")
	})

	t.Run("prompt during a long backoff", func(t *testing.T) {
		h := newHarness(t, hopts{fake: true})
		h.vt.setHandler(func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
			writeAPIError(w, http.StatusUnauthorized, "WrongCredentialsError", "Wrong API key")
		})
		h.c.Request(hashN(1))
		h.fc.waitTimer(t)
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		require.NoError(t, h.c.Shutdown(ctx))
	})

	t.Run("never started", func(t *testing.T) {
		h := newHarness(t, hopts{noStart: true})
		require.NoError(t, h.c.Shutdown(context.Background()))
	})

	t.Run("double start", func(t *testing.T) {
		h := newHarness(t, hopts{})
		assert.Error(t, h.c.Start(context.Background()))
	})

	t.Run("no goroutines left", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		vt := newFakeVT(t)
		c, err := New(Config{Endpoint: vt.srv.URL, APIKey: testKey, RequestsPerMinute: 6000}, nil, nil)
		require.NoError(t, err)
		require.NoError(t, c.Start(context.Background()))
		for i := range 5 {
			c.Request(hashN(i))
		}
		eventually(t, func() bool { return c.Stats().NotFound == 5 }, "not answered")
		require.NoError(t, c.Shutdown(context.Background()))
		vt.srv.Close()
		goleak.VerifyNone(t, before)
	})
}

func TestShutdownTimeout(t *testing.T) {
	h := newHarness(t, hopts{})
	block := make(chan struct{})
	h.c.onLate = func(Result) { <-block } // a misbehaving callback holds the worker
	h.c.Request(hashN(1))
	eventually(t, func() bool { return h.c.Stats().NotFound == 1 }, "not answered")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, h.c.Shutdown(ctx), context.DeadlineExceeded)
	close(block)
	// The harness cleanup calls Shutdown again, which now completes.
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":          0,
		"garbage":   0,
		"-5":        0,
		"0":         time.Second,
		"30":        30 * time.Second,
		" 45 ":      45 * time.Second,
		"999999999": maxRetryAfter,
		now.Add(2 * time.Minute).Format(http.TimeFormat):  2 * time.Minute,
		now.Add(-2 * time.Minute).Format(http.TimeFormat): time.Second,
		now.Add(72 * time.Hour).Format(http.TimeFormat):   maxRetryAfter,
	} {
		assert.Equal(t, want, parseRetryAfter(in, now), "%q", in)
	}
}

func TestErrorsUnwrapToSentinelsOnly(t *testing.T) {
	c := &Client{cfg: Config{APIKey: testKey}}
	err := c.statusError(ErrAuth, 401, "WrongCredentialsError", c.redact("key "+testKey+" is wrong"))
	assert.ErrorIs(t, err, ErrAuth)
	assert.False(t, errors.Is(err, ErrQuota))
	assert.NotContains(t, err.Error(), testKey)
	assert.Equal(t, "online lookup: API key rejected (HTTP 401 WrongCredentialsError: key [REDACTED] is wrong)", err.Error())
	assert.Empty(t, sanitizeCode("Not a code; rm -rf"))
	assert.Equal(t, "a b", boundText("a\nb", 10))
}
