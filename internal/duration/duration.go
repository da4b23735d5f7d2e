// Package duration holds the Duration type used in Cairn's configuration.
//
// Security windows are naturally written in days ("30d" of first-seen history),
// which time.ParseDuration refuses; this type accepts the usual Go units plus
// "d" (24h) and "w" (7d), so users never have to write "720h".
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that also parses day and week units.
type Duration time.Duration

// D returns the standard library duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints whole days as "Nd" so configs round-trip readably.
func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	return td.String()
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; confmap uses it for config values.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Parse reads a duration such as "30d", "1w2d", "36h", "90s" or "0".
func Parse(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if in == "0" {
		return 0, nil
	}
	var total time.Duration
	rest := in
	neg := false
	if rest[0] == '-' {
		neg = true
		rest = rest[1:]
	}
	for rest != "" {
		// Split off a leading "<digits><d|w>" group; everything else goes to time.ParseDuration.
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i > 0 && i < len(rest) && (rest[i] == 'd' || rest[i] == 'w') && (i+1 == len(rest) || rest[i+1] < 'a' || rest[i+1] > 'z') {
			n, err := strconv.ParseInt(rest[:i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: %w", s, err)
			}
			unit := 24 * time.Hour
			if rest[i] == 'w' {
				unit *= 7
			}
			if n > int64((1<<63-1)/unit) {
				return 0, fmt.Errorf("invalid duration %q: too large", s)
			}
			total += time.Duration(n) * unit
			rest = rest[i+1:]
			continue
		}
		v, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use a number with a unit (s, m, h, d, w), e.g. \"30d\"", s)
		}
		total += v
		break
	}
	if neg {
		total = -total
	}
	return Duration(total), nil
}
