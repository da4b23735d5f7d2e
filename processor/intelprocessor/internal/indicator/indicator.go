// Package indicator holds the threat-intel indicator model shared by the
// feed parsers, the indicator store and the intel processor.
package indicator

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Type is what an indicator's value is.
type Type uint8

const (
	// Unknown is the zero Type.
	Unknown Type = iota
	SHA256
	SHA1
	MD5
	// IP is an IPv4 or IPv6 address.
	IP
	// Domain is a DNS name.
	Domain
)

// String names the type as configuration and metrics do.
func (t Type) String() string {
	switch t {
	case SHA256:
		return "sha256"
	case SHA1:
		return "sha1"
	case MD5:
		return "md5"
	case IP:
		return "ip"
	case Domain:
		return "domain"
	}
	return "unknown"
}

// ECSType is the ECS threat.indicator.type of the type.
func (t Type) ECSType() string {
	switch t {
	case SHA256, SHA1, MD5:
		return "file"
	case IP:
		return "ipv4-addr"
	case Domain:
		return "domain-name"
	}
	return "unknown"
}

// Verdict is what a feed says of an indicator. Benign comes from allow
// lists and overrides a bad verdict for the same value.
type Verdict uint8

const (
	// NoVerdict is the zero Verdict.
	NoVerdict Verdict = iota
	Benign
	Suspicious
	Malicious
)

// String is the verdict as written in cairn.intel.verdict.
func (v Verdict) String() string {
	switch v {
	case Benign:
		return "benign"
	case Suspicious:
		return "suspicious"
	case Malicious:
		return "malicious"
	}
	return "none"
}

// ParseVerdict reads verdict words used by in-house lists.
func ParseVerdict(s string) (Verdict, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "malicious", "malware", "bad", "block", "deny":
		return Malicious, nil
	case "suspicious", "suspect", "warn":
		return Suspicious, nil
	case "benign", "good", "allow", "allowed", "clean", "known-good", "known_good":
		return Benign, nil
	}
	return NoVerdict, fmt.Errorf("unknown verdict %q (use malicious, suspicious or benign)", s)
}

// Indicator is one entry of a feed, with its value normalised (see Normalize).
type Indicator struct {
	Type  Type
	Value string
	// Port is set for ip:port indicators (ThreatFox); 0 otherwise.
	Port    int
	Verdict Verdict
	// Provider names the feed or source, e.g. "abuse.ch MalwareBazaar".
	Provider string
	// Confidence is 0–100, or -1 when the feed gives none.
	Confidence int
	// Name is a threat or malware name (MalwareBazaar signature, ThreatFox
	// malware, STIX indicator name), empty when unknown.
	Name string
	// FirstSeen is when the feed first saw it; zero when unknown.
	FirstSeen time.Time
	// ValidFrom and ValidUntil bound when it applies (STIX); zero means unbounded.
	ValidFrom, ValidUntil time.Time
}

// ValidAt reports whether the indicator applies at event time t.
func (i *Indicator) ValidAt(t time.Time) bool { return ValidBetween(t, i.ValidFrom, i.ValidUntil) }

// ValidBetween is the validity rule: from inclusive, until exclusive, a
// zero bound being unbounded.
func ValidBetween(t, from, until time.Time) bool {
	if !from.IsZero() && t.Before(from) {
		return false
	}
	return until.IsZero() || t.Before(until)
}

// Normalize returns the canonical form of a value of type t, the form used
// for storage and lookups: lower-case hex for hashes (whose length must fit
// the type), the canonical text of an IP (IPv4-mapped IPv6 as IPv4), and a
// lower-case domain without the trailing dot.
func Normalize(t Type, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch t {
	case SHA256, SHA1, MD5:
		want := map[Type]int{SHA256: 64, SHA1: 40, MD5: 32}[t]
		if len(v) != want {
			return "", fmt.Errorf("%s must be %d hex digits, got %d characters", t, want, len(v))
		}
		b := []byte(v)
		for i, c := range b {
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				b[i] = c + 'a' - 'A'
			default:
				return "", fmt.Errorf("%s has a non-hex character %q", t, c)
			}
		}
		return string(b), nil
	case IP:
		a, err := netip.ParseAddr(strings.Trim(v, "[]"))
		if err != nil {
			return "", fmt.Errorf("not an IP address: %q", v)
		}
		return a.Unmap().WithZone("").String(), nil
	case Domain:
		d := strings.ToLower(strings.TrimSuffix(v, "."))
		if d == "" || len(d) > 253 || strings.ContainsAny(d, " /\t:@") {
			return "", fmt.Errorf("not a domain name: %q", v)
		}
		return d, nil
	}
	return "", fmt.Errorf("unknown indicator type")
}

// HashType guesses a hash type from its length.
func HashType(v string) Type {
	switch len(strings.TrimSpace(v)) {
	case 64:
		return SHA256
	case 40:
		return SHA1
	case 32:
		return MD5
	}
	return Unknown
}
