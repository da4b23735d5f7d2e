// Package timestamp parses event times: RFC 3339 strings and epoch
// milliseconds, the two forms of ECS @timestamp. The decoder of ECS documents
// and the event model read times of every event, so this avoids time.Parse,
// which costs several times more and allocates its error.
package timestamp

import (
	"math"
	"unsafe"
)

// ParseRFC3339 reads YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM) and returns Unix
// nanoseconds. It is hand-written because time.Parse costs several times more
// and allocates its error, and most documents carry a timestamp. Digits past
// nanoseconds are truncated, as time.Parse does.
func ParseRFC3339(b []byte) (int64, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	rest := b[19:]
	var nsec int
	if rest[0] == '.' {
		i := 1
		scale := 100_000_000
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
		}
		if i == 1 {
			return 0, false
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
	if secs < 0 || secs > maxSecs || secs == maxSecs && int64(nsec) > math.MaxInt64%1_000_000_000 {
		return 0, false
	}
	return secs*1e9 + int64(nsec), true
}

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
