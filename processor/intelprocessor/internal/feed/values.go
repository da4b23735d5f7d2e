package feed

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func hashLen(t indicator.Type) int {
	switch t {
	case indicator.SHA256:
		return 64
	case indicator.SHA1:
		return 40
	case indicator.MD5:
		return 32
	}
	return -1
}

// isLowerHex reports whether b is all digits 0-9 and a-f. It checks eight
// bytes at a time: random hex digits make a byte-wise two-range test
// mispredict on every other byte, and this check ran over 136 bytes of every
// row of a MalwareBazaar export.
func isLowerHex(b []byte) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if x&high != 0 {
			return false
		}
		// With every byte below 0x80, adding 0x80-lo to the word adds it to
		// each byte without a carry into the next, and the byte's high bit
		// then says byte >= lo.
		digit := (x + ones*(0x80-'0')) &^ (x + ones*(0x80-'9'-1))
		letter := (x + ones*(0x80-'a')) &^ (x + ones*(0x80-'f'-1))
		if (digit|letter)&high != high {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// normHash normalises a hash of type t. Values that are canonical already
// (as the abuse.ch exports write them) are copied once instead of going
// through indicator.Normalize, which copies twice; the result is the same.
func normHash(t indicator.Type, b []byte) (string, error) {
	if len(b) == hashLen(t) && isLowerHex(b) {
		return string(b), nil
	}
	return indicator.Normalize(t, string(b))
}

// appendHash appends the normalised hash b of type t to dst, with the same
// fast path as normHash.
func appendHash(dst []byte, t indicator.Type, b []byte) ([]byte, error) {
	if len(b) == hashLen(t) && isLowerHex(b) {
		return append(dst, b...), nil
	}
	v, err := indicator.Normalize(t, string(b))
	if err != nil {
		return dst, err
	}
	return append(dst, v...), nil
}

// normIP normalises an IP address. The unspecified address is refused: feeds
// write 0.0.0.0 for sinkholed or parked names, and as an indicator it would
// match every wildcard listen socket.
func normIP(s string) (string, error) {
	v, err := indicator.Normalize(indicator.IP, s)
	if err != nil {
		return "", err
	}
	if v == "0.0.0.0" || v == "::" {
		return "", fmt.Errorf("unspecified address %s is not an indicator", v)
	}
	return v, nil
}

// normIPOrHostPrefix accepts an address, or a CIDR prefix that covers exactly
// one address. Wider prefixes are refused because Cairn matches addresses,
// not ranges.
func normIPOrHostPrefix(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", fmt.Errorf("not an IP address or prefix: %q", s)
		}
		if p.Bits() != p.Addr().BitLen() {
			return "", fmt.Errorf("address range %s is not supported, only single addresses", s)
		}
		s = p.Addr().String()
	}
	return normIP(s)
}

// normDomain normalises a domain name and, beyond indicator.Normalize, insists
// on the characters of a DNS name: feeds carry values like "domain
// autuo.xicp.net" or "evil[.]com", and such a value would never match while
// hiding that the entry was broken.
func normDomain(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("not a domain name: invalid UTF-8")
	}
	d, err := indicator.Normalize(indicator.Domain, s)
	if err != nil {
		return "", err
	}
	allDigits := true
	label := 0
	for _, r := range d {
		switch {
		case r == '.':
			if label == 0 {
				return "", fmt.Errorf("not a domain name: %q has an empty label", s)
			}
			label = 0
			continue
		case r >= '0' && r <= '9':
		case r >= 'a' && r <= 'z', r == '-', r == '_':
			allDigits = false
		case r >= utf8.RuneSelf && r != utf8.RuneError &&
			(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)):
			allDigits = false
		default:
			return "", fmt.Errorf("not a domain name: %q has the character %q", s, r)
		}
		label++
		if label > 63 {
			return "", fmt.Errorf("not a domain name: %q has a label over 63 characters", s)
		}
	}
	if label == 0 {
		return "", fmt.Errorf("not a domain name: %q", s)
	}
	if allDigits {
		// "1.2.3" or "1234": a mangled address, not a name.
		return "", fmt.Errorf("not a domain name: %q is all digits", s)
	}
	return d, nil
}

// inferType guesses the type of an untyped value (plain lists): a hash by
// length and hex digits, an IP if it parses as one, else a domain.
func inferType(v string) indicator.Type {
	v = strings.TrimSpace(v)
	if t := indicator.HashType(v); t != indicator.Unknown && isHex(v) {
		return t
	}
	if _, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
		return indicator.IP
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		// A prefix is an IP entry; normalize says whether it is usable.
		return indicator.IP
	}
	return indicator.Domain
}

// normalize normalises v as type t with the rules above.
func normalize(t indicator.Type, v string) (string, error) {
	switch t {
	case indicator.SHA256, indicator.SHA1, indicator.MD5:
		return normHash(t, []byte(strings.TrimSpace(v)))
	case indicator.IP:
		return normIPOrHostPrefix(v)
	case indicator.Domain:
		return normDomain(v)
	}
	return "", fmt.Errorf("unsupported indicator type")
}

// nullish reports values the feeds use for "no value".
func nullish(b []byte) bool {
	switch len(b) {
	case 0:
		return true
	case 3:
		return string(b) == "n/a" || string(b) == "N/A"
	case 4:
		return string(b) == "None" || string(b) == "null"
	}
	return false
}

// interner shares the strings that repeat across a file (malware names,
// providers) instead of allocating one per row. m[string(b)] does not
// allocate, so a hit is free.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	if len(in) >= 1<<16 {
		// Names are few; if a column turns out to be unique per row, stop
		// caching rather than keep all of it twice.
		return string(b)
	}
	s := string(b)
	in[s] = s
	return s
}

// str is get for a string that is the caller's already.
func (in interner) str(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < 1<<16 {
		in[s] = s
	}
	return s
}

// parseConfidence reads a 0–100 confidence; -1 when it is absent or invalid.
func parseConfidence(s string) int {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f {
			return -1
		}
		n = int(f)
	}
	if n < 0 || n > 100 {
		return -1
	}
	return n
}

// parseRFC3339 reads the timestamps of STIX and MISP, in UTC.
func parseRFC3339(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// parseUnix reads a MISP timestamp (seconds since the epoch, as a string).
func parseUnix(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// jsonText is a JSON scalar kept as text. Feeds are loose about types
// (ThreatFox has written confidence_level both as 75 and "75", MISP
// timestamps are strings, first_seen may be null), and a field of the wrong
// kind should skip the entry, not fail the file.
type jsonText string

func (t *jsonText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = jsonText(s)
	case 'n':
		*t = ""
	case '{', '[':
		return errors.New("expected a string or number, got " + string(b[:1]))
	default:
		*t = jsonText(b)
	}
	return nil
}

// jsonBool is a JSON boolean that also accepts the "1"/"0" and "true"/"false"
// strings of older MISP exports.
type jsonBool bool

func (v *jsonBool) UnmarshalJSON(b []byte) error {
	var t jsonText
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	switch strings.ToLower(string(t)) {
	case "true", "1":
		*v = true
	case "false", "0", "":
		*v = false
	default:
		return fmt.Errorf("expected a boolean, got %q", string(t))
	}
	return nil
}
