package online

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults follow the VirusTotal public tier so that a key from a free
// account works without tuning; premium users raise the rates.
const (
	DefaultEndpoint            = "https://www.virustotal.com"
	DefaultRequestsPerMinute   = 4
	DefaultRequestsPerDay      = 500
	DefaultTimeout             = 10 * time.Second
	DefaultQueueSize           = 1000
	DefaultPositiveTTL         = 24 * time.Hour
	DefaultNegativeTTL         = time.Hour
	DefaultCacheSize           = 100000
	DefaultMaliciousThreshold  = 3
	DefaultSuspiciousThreshold = 1
	// A tenth of the public tier's daily quota per host, and a queue per
	// host of what it may use in a few hours.
	DefaultHostQueueSize      = 20
	DefaultHostRequestsPerDay = 50
	DefaultCorroboratingHosts = 2
)

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// Endpoint is the base URL of a VirusTotal API v3 compatible service.
	Endpoint string
	// APIKey is sent in the x-apikey header and nowhere else: it is never
	// logged and never part of an error.
	APIKey string
	// RequestsPerMinute paces requests with a token bucket of burst 1.
	RequestsPerMinute int
	// RequestsPerDay caps requests per UTC day on our side, so that an
	// exhausted daily quota pauses lookups until midnight instead of
	// spending the rest of the day collecting 429s. Negative disables it.
	RequestsPerDay int
	// Timeout bounds one HTTP exchange, body included.
	Timeout time.Duration
	// QueueSize bounds the distinct hashes waiting for a lookup; when full,
	// requests are dropped rather than blocking the pipeline.
	QueueSize int
	// PositiveTTL is how long a found file's report is reused, NegativeTTL
	// how long "unknown to the service" is: short, because a file unknown
	// now may be submitted and analysed minutes later.
	PositiveTTL, NegativeTTL time.Duration
	// CacheSize bounds the cached answers (LRU).
	CacheSize int
	// MaliciousThreshold is the number of engines saying "malicious" that
	// makes a file Malicious; SuspiciousThreshold the number of engines
	// saying "malicious" or "suspicious" that makes it Suspicious.
	MaliciousThreshold, SuspiciousThreshold int

	// The fairness policy, see fair.go.

	// HostQueueSize bounds the lookups waiting for one entity.
	HostQueueSize int
	// HostRequestsPerDay bounds the lookups charged to one entity per UTC
	// day; negative disables it.
	HostRequestsPerDay int
	// CorroboratingHosts is the number of distinct entities whose asking
	// for a hash puts it first; negative disables it.
	CorroboratingHosts int
}

// String keeps the key out of anything that formats a Config with %v.
func (c Config) String() string {
	key := "<unset>"
	if c.APIKey != "" {
		key = "[REDACTED]"
	}
	return fmt.Sprintf("{Endpoint:%s APIKey:%s RequestsPerMinute:%d RequestsPerDay:%d Timeout:%s QueueSize:%d PositiveTTL:%s NegativeTTL:%s CacheSize:%d MaliciousThreshold:%d SuspiciousThreshold:%d HostQueueSize:%d HostRequestsPerDay:%d CorroboratingHosts:%d}",
		c.Endpoint, key, c.RequestsPerMinute, c.RequestsPerDay, c.Timeout, c.QueueSize,
		c.PositiveTTL, c.NegativeTTL, c.CacheSize, c.MaliciousThreshold, c.SuspiciousThreshold,
		c.HostQueueSize, c.HostRequestsPerDay, c.CorroboratingHosts)
}

// GoString covers %#v, which would otherwise print the fields verbatim.
func (c Config) GoString() string { return "online.Config" + c.String() }

func (c Config) withDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = DefaultRequestsPerMinute
	}
	if c.RequestsPerDay == 0 {
		c.RequestsPerDay = DefaultRequestsPerDay
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.PositiveTTL == 0 {
		c.PositiveTTL = DefaultPositiveTTL
	}
	if c.NegativeTTL == 0 {
		c.NegativeTTL = DefaultNegativeTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.MaliciousThreshold == 0 {
		c.MaliciousThreshold = DefaultMaliciousThreshold
	}
	if c.SuspiciousThreshold == 0 {
		c.SuspiciousThreshold = DefaultSuspiciousThreshold
	}
	if c.HostQueueSize == 0 {
		c.HostQueueSize = DefaultHostQueueSize
	}
	if c.HostRequestsPerDay == 0 {
		c.HostRequestsPerDay = DefaultHostRequestsPerDay
	}
	if c.CorroboratingHosts == 0 {
		c.CorroboratingHosts = DefaultCorroboratingHosts
	}
	return c
}

// validate checks a Config that already has its defaults.
func (c Config) validate() error {
	var errs []error
	u, err := url.Parse(c.Endpoint)
	switch {
	case err != nil:
		errs = append(errs, errors.New("endpoint is not a valid URL"))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("endpoint scheme must be http or https, got %q", u.Scheme))
	case u.Host == "":
		errs = append(errs, errors.New("endpoint has no host"))
	case u.User != nil:
		// Credentials in the URL would end up in transport errors.
		errs = append(errs, errors.New("endpoint must not contain credentials; use the API key setting"))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, errors.New("endpoint must not have a query or fragment"))
	}
	if err := checkKey(c.APIKey); err != nil {
		errs = append(errs, err)
	}
	if c.RequestsPerMinute < 0 {
		errs = append(errs, errors.New("requests per minute must be positive"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	if c.QueueSize < 0 {
		errs = append(errs, errors.New("queue size must be positive"))
	}
	if c.PositiveTTL < 0 || c.NegativeTTL < 0 {
		errs = append(errs, errors.New("cache TTLs must be positive"))
	}
	if c.CacheSize < 0 {
		errs = append(errs, errors.New("cache size must be positive"))
	}
	if c.MaliciousThreshold < 0 || c.SuspiciousThreshold < 0 {
		errs = append(errs, errors.New("verdict thresholds must be positive"))
	}
	if c.HostQueueSize < 0 {
		errs = append(errs, errors.New("host queue size must be positive"))
	}
	if c.CorroboratingHosts == 1 || c.CorroboratingHosts > maxCorroborating {
		errs = append(errs, fmt.Errorf("corroborating hosts must be negative (off) or from 2 to %d", maxCorroborating))
	}
	return errors.Join(errs...)
}

// checkKey rejects keys that cannot travel in a header. The messages never
// quote the key, not even in part.
func checkKey(k string) error {
	if k == "" {
		return errors.New("API key is empty")
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f {
			return errors.New("API key contains whitespace, control or non-ASCII characters")
		}
	}
	return nil
}

// maxKeyFile keeps a mistyped path (a log, a binary) from being read whole.
const maxKeyFile = 4096

// LoadAPIKey reads the API key from the environment variable named envVar
// or from file, trimmed of surrounding whitespace. Exactly one source must
// be configured, since two would leave it unclear which key is in use.
// Errors name the variable or the file, never the key.
func LoadAPIKey(envVar, file string) (string, error) {
	switch {
	case envVar != "" && file != "":
		return "", errors.New("API key: set either an environment variable or a file, not both")
	case envVar == "" && file == "":
		return "", errors.New("API key: no environment variable or file configured")
	}
	var key string
	if envVar != "" {
		v, ok := os.LookupEnv(envVar)
		if !ok {
			return "", fmt.Errorf("API key: environment variable %s is not set", envVar)
		}
		key = strings.TrimSpace(v)
		if key == "" {
			return "", fmt.Errorf("API key: environment variable %s is empty", envVar)
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("API key: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
		if err != nil {
			return "", fmt.Errorf("API key: reading %s: %w", file, err)
		}
		if len(b) > maxKeyFile {
			return "", fmt.Errorf("API key: %s is larger than %d bytes; is it the right file?", file, maxKeyFile)
		}
		key = strings.TrimSpace(string(b))
		if key == "" {
			return "", fmt.Errorf("API key: %s is empty", file)
		}
	}
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("%s: %w", source(envVar, file), err)
	}
	return key, nil
}

func source(envVar, file string) string {
	if envVar != "" {
		return "environment variable " + envVar
	}
	return file
}
