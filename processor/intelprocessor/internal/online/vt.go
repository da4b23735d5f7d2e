package online

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Errors a Result or Wait can carry. Errors built from responses wrap one
// of these, so callers test them with errors.Is.
var (
	// ErrQuota: the service answered 429, or our daily cap was reached.
	ErrQuota = errors.New("online lookup: quota exceeded")
	// ErrAuth: the service rejected the API key (401 or 403).
	ErrAuth = errors.New("online lookup: API key rejected")
	// ErrOutage: 5xx, timeout, network error or an unusable response.
	ErrOutage = errors.New("online lookup: service unavailable")
	// ErrRejected: another 4xx; the same request would fail again.
	ErrRejected = errors.New("online lookup: request rejected")
	// ErrPaused: lookups are backing off beyond the caller's budget.
	ErrPaused = errors.New("online lookup: paused")
	// ErrQueueFull: the request was dropped because the queue is full.
	ErrQueueFull = errors.New("online lookup: queue full, request dropped")
	// ErrHostQueueFull: the asking entity has HostQueueSize lookups
	// waiting already.
	ErrHostQueueFull = errors.New("online lookup: too many lookups waiting for this host, request dropped")
	// ErrHostDailyCap: the entities that asked have used up their
	// HostRequestsPerDay.
	ErrHostDailyCap = errors.New("online lookup: daily cap of this host reached, request dropped")
	// ErrEvicted: the queued lookup made room for another host's.
	ErrEvicted = errors.New("online lookup: dropped from the full queue for another host's lookup")
	// ErrInvalidHash: not a SHA-256 in hex.
	ErrInvalidHash = errors.New("online lookup: not a SHA-256 hash")
	// ErrNotRunning: the client is not started or is shut down.
	ErrNotRunning = errors.New("online lookup: client not running")
)

// outcome is how the worker must treat a response.
type outcome uint8

const (
	outAnswer   outcome = iota // found or not found: cache it
	outQuota                   // back off, retry the same hash
	outAuth                    // back off long, retry the same hash
	outOutage                  // back off exponentially, retry a few times
	outRejected                // give this hash up, no retry
	outCanceled                // shutting down
)

// lookupError carries a message we built ourselves (redacted and bounded)
// and unwraps to a sentinel only, so that no wrapped transport error can
// bring back text we did not vet.
type lookupError struct {
	kind error
	msg  string
}

func (e *lookupError) Error() string { return e.kind.Error() + " (" + e.msg + ")" }
func (e *lookupError) Unwrap() error { return e.kind }

// Bodies are bounded so a misbehaving server cannot exhaust memory. File
// reports carry per-engine results and can reach hundreds of kilobytes.
const (
	maxReportBody = 8 << 20
	maxErrorBody  = 64 << 10
)

type fileReport struct {
	Data *struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			Stats struct {
				Malicious  int `json:"malicious"`
				Suspicious int `json:"suspicious"`
				Undetected int `json:"undetected"`
				Harmless   int `json:"harmless"`
			} `json:"last_analysis_stats"`
			MeaningfulName string `json:"meaningful_name"`
			Classification struct {
				Label string `json:"suggested_threat_label"`
			} `json:"popular_threat_classification"`
			FirstSubmission int64 `json:"first_submission_date"`
			LastAnalysis    int64 `json:"last_analysis_date"`
		} `json:"attributes"`
	} `json:"data"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fetch performs one lookup. retryAfter is set from a 429's Retry-After.
func (c *Client) fetch(ctx context.Context, hash string) (res Result, out outcome, retryAfter time.Duration, err error) {
	res.SHA256 = hash
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.base+"/api/v3/files/"+hash, nil)
	if err != nil {
		return res, outRejected, 0, c.errf(ErrRejected, "building request failed")
	}
	req.Header.Set("x-apikey", c.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	c.stats.httpRequests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return res, outCanceled, 0, ErrNotRunning
		}
		return res, outOutage, 0, c.transportError(rctx, err)
	}
	defer func() {
		// Draining a little lets the connection be reused; more is not worth it.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
	}()

	switch st := resp.StatusCode; {
	case st == http.StatusOK:
		var rep fileReport
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxReportBody)).Decode(&rep); err != nil || rep.Data == nil {
			if ctx.Err() != nil {
				return res, outCanceled, 0, ErrNotRunning
			}
			if err != nil && rctx.Err() != nil {
				return res, outOutage, 0, c.errf(ErrOutage, "timed out reading the report after "+c.cfg.Timeout.String())
			}
			return res, outOutage, 0, c.errf(ErrOutage, "HTTP 200 with a body that is not a file report")
		}
		a := &rep.Data.Attributes
		res.Found = true
		res.Malicious = a.Stats.Malicious
		res.Suspicious = a.Stats.Suspicious
		res.Total = a.Stats.Malicious + a.Stats.Suspicious + a.Stats.Undetected + a.Stats.Harmless
		res.Name = boundText(a.Classification.Label, 256)
		res.FileName = boundText(a.MeaningfulName, 256)
		res.FirstSeen = unixTime(a.FirstSubmission)
		res.LastAnalysis = unixTime(a.LastAnalysis)
		res.Verdict = c.verdict(res.Malicious, res.Suspicious)
		return res, outAnswer, 0, nil

	case st == http.StatusNotFound:
		code, msg := c.readErrorBody(resp.Body)
		// Only the API's own NotFoundError means "unknown file". A bare 404
		// usually means a wrong endpoint path, and caching that as "unknown"
		// would silently blind every lookup.
		if code == "NotFoundError" {
			return res, outAnswer, 0, nil
		}
		if msg != "" {
			msg += "; "
		}
		return res, outOutage, 0, c.statusError(ErrOutage, st, code, msg+"not the API's NotFoundError, check the endpoint URL")

	case st == http.StatusTooManyRequests:
		code, msg := c.readErrorBody(resp.Body)
		return res, outQuota, parseRetryAfter(resp.Header.Get("Retry-After"), c.clk.Now()), c.statusError(ErrQuota, st, code, msg)

	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		code, msg := c.readErrorBody(resp.Body)
		return res, outAuth, 0, c.statusError(ErrAuth, st, code, msg)

	case st >= 500:
		code, msg := c.readErrorBody(resp.Body)
		return res, outOutage, 0, c.statusError(ErrOutage, st, code, msg)

	case st >= 400:
		code, msg := c.readErrorBody(resp.Body)
		return res, outRejected, 0, c.statusError(ErrRejected, st, code, msg)

	default:
		// Redirects are not followed (see newHTTPClient), so they land here
		// along with anything else the API never sends.
		return res, outOutage, 0, c.statusError(ErrOutage, st, "", "unexpected status")
	}
}

// verdict maps engine counts to a verdict. A file no engine flags gets
// NoVerdict, not Benign: zero detections is not evidence of goodness (new
// and targeted malware often starts at 0/70), and Benign in the indicator
// model comes from allow lists and overrides bad verdicts from other feeds.
func (c *Client) verdict(malicious, suspicious int) indicator.Verdict {
	switch {
	case malicious >= c.cfg.MaliciousThreshold:
		return indicator.Malicious
	case malicious+suspicious >= c.cfg.SuspiciousThreshold:
		return indicator.Suspicious
	}
	return indicator.NoVerdict
}

func (c *Client) readErrorBody(r io.Reader) (code, msg string) {
	var eb errorBody
	if json.NewDecoder(io.LimitReader(r, maxErrorBody)).Decode(&eb) != nil {
		return "", ""
	}
	return sanitizeCode(eb.Error.Code), c.redact(boundText(eb.Error.Message, 200))
}

func (c *Client) statusError(kind error, status int, code, msg string) error {
	s := "HTTP " + strconv.Itoa(status)
	if code != "" {
		s += " " + code
	}
	if msg != "" {
		s += ": " + msg
	}
	return &lookupError{kind: kind, msg: s}
}

func (c *Client) errf(kind error, msg string) error {
	return &lookupError{kind: kind, msg: c.redact(msg)}
}

// transportError describes a failed exchange without quoting the Go error,
// whose text embeds the request URL and whatever a proxy chose to say.
func (c *Client) transportError(rctx context.Context, err error) error {
	var ne net.Error
	switch {
	case rctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
		return c.errf(ErrOutage, "no answer within "+c.cfg.Timeout.String())
	case errors.As(err, new(*net.OpError)):
		return c.errf(ErrOutage, "connection failed")
	}
	return c.errf(ErrOutage, "request failed")
}

// redact is a last line of defence for text that came from the server: a
// compatible service (or a proxy) may echo the key in its messages.
func (c *Client) redact(s string) string {
	if c.cfg.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.APIKey, "[REDACTED]")
}

func sanitizeCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return ""
		}
	}
	return s
}

// boundText keeps server-supplied text printable and short, because it
// ends up in logs and event attributes.
func boundText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return strings.TrimSpace(s)
}

func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// maxRetryAfter bounds what a server can make us wait: a daily quota resets
// within a day, anything longer is a bug we should not obey.
const maxRetryAfter = 24 * time.Hour

func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0
	}
	// Zero would mean "retry now", which is what brought the 429; a second
	// is the least that makes sense.
	return min(max(d, time.Second), maxRetryAfter)
}
