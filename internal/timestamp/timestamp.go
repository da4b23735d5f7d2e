// Package timestamp parses event times: RFC 3339 strings and epoch
// milliseconds, the two forms of ECS @timestamp. The decoder of ECS documents
// and the event model read times of every event, so this avoids time.Parse,
// which costs several times more and allocates its error.
package timestamp

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/cairnsec/cairn/internal/ascii"
)

// ParseRFC3339 reads YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM) and returns Unix
// nanoseconds. It is hand-written because time.Parse costs several times more
// and allocates its error, and most documents carry a timestamp. Digits past
// nanoseconds are truncated, as time.Parse does.
func ParseRFC3339(b []byte) (int64, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") {
		return 0, false
	}
	// The fixed part, YYYY-MM-DDTHH:MM:SS, is read as three words (bytes
	// 0-7, 8-15 and 11-18), each checked at once: digits where digits
	// belong, each separator where it belongs (T or t). Every event's
	// time goes through here, some records' three or four.
	const (
		zeros = 0x3030303030303030
		// Digit bytes of each word.
		m0 = 0x00FF_FF00_FFFF_FFFF // YYYY-MM-
		m1 = 0xFFFF_00FF_FF00_FFFF // DDTHH:MM
		m2 = 0xFFFF_00FF_FF00_FFFF // HH:MM:SS
		// Their separators; T is compared in lower case.
		s0 = '-'<<56 | '-'<<32
		s1 = ':'<<40 | 't'<<16
		s2 = ':'<<40 | ':'<<16
	)
	x0 := binary.LittleEndian.Uint64(b[0:])
	x1 := binary.LittleEndian.Uint64(b[8:])
	x2 := binary.LittleEndian.Uint64(b[11:])
	if x0&^m0 != s0 || (x1|0x20<<16)&^m1 != s1 || x2&^m2 != s2 {
		return 0, false
	}
	// Separators become '0' so that every byte is tested as a digit, none
	// borrowing from its neighbour.
	y0, y1, y2 := x0&m0|zeros&^m0, x1&m1|zeros&^m1, x2&m2|zeros&^m2
	if ascii.NonDigits(y0)|ascii.NonDigits(y1)|ascii.NonDigits(y2) != 0 {
		return 0, false
	}
	y0, y1, y2 = y0-zeros, y1-zeros, y2-zeros // each byte its digit's value
	dig := func(y uint64, k int) int { return int(y >> (8 * k) & 0xFF) }
	year := dig(y0, 0)*1000 + dig(y0, 1)*100 + dig(y0, 2)*10 + dig(y0, 3)
	month := dig(y0, 5)*10 + dig(y0, 6)
	day := dig(y1, 0)*10 + dig(y1, 1)
	hour := dig(y1, 3)*10 + dig(y1, 4)
	minute := dig(y1, 6)*10 + dig(y1, 7)
	sec := dig(y2, 6)*10 + dig(y2, 7)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := b[19:]
	var nsec int64
	if rest[0] == '.' {
		i := 1
		for ; i < len(rest); i++ {
			d := rest[i] - '0'
			if d > 9 {
				break
			}
			if i <= 9 {
				nsec = nsec*10 + int64(d)
			}
		}
		if i == 1 {
			return 0, false
		}
		if i < 10 {
			nsec *= pow10[10-i] // i-1 digits read
		}
		rest = rest[i:]
	}
	var offset int
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	// time.Date would accept years the nanosecond count cannot hold; bound
	// them first so the multiplication below cannot overflow.
	if year < 1969 || year > 2262 {
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(offset)
	const maxSecs = math.MaxInt64 / 1_000_000_000
	if secs < 0 || secs > maxSecs || secs == maxSecs && nsec > math.MaxInt64%1_000_000_000 {
		return 0, false
	}
	return secs*1e9 + nsec, true
}

// pow10[k] is 10^k.
var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// daysFromCivil returns the days from 1970-01-01 to a date of the
// proleptic Gregorian calendar (Howard Hinnant's days_from_civil, for
// years from 0 on), which is what time.Date computes, without its
// normalisation of out-of-range fields (checked before) and at a fraction
// of its cost: every record time goes through here.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := m - 3
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// EpochMillis converts an @timestamp number of milliseconds. A fraction is
// kept down to the nanosecond.
func EpochMillis(isInt bool, i int64, f float64) (int64, bool) {
	if isInt {
		if i <= 0 || i > math.MaxInt64/1_000_000 {
			return 0, false
		}
		return i * 1e6, true
	}
	if !(f > 0 && f < math.MaxInt64/1_000_000) {
		return 0, false
	}
	whole := math.Floor(f)
	ns := int64(whole)*1e6 + int64(math.Round((f-whole)*1e6))
	return ns, ns > 0
}

// ParseRFC3339String is ParseRFC3339 for a string, without copying it.
func ParseRFC3339String(s string) (int64, bool) {
	return ParseRFC3339(unsafe.Slice(unsafe.StringData(s), len(s)))
}
