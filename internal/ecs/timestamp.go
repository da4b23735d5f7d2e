package ecs

import (
	"time"
)

// timeFormatter writes record timestamps. Consecutive events mostly fall in
// the same second, so it keeps the date and time of the last second it
// formatted and only writes the fraction anew.
type timeFormatter struct {
	sec    uint64
	prefix [len("2006-01-02T15:04:05")]byte
	valid  bool
}

// appendTimestamp writes ns as a quoted RFC 3339 UTC time. Three fractional
// digits keep the common millisecond case short; nine appear only when there
// is something below the millisecond to keep.
func (f *timeFormatter) appendTimestamp(dst []byte, ns uint64) []byte {
	sec, frac := ns/1e9, int(ns%1e9)
	if !f.valid || sec != f.sec {
		t := time.Unix(int64(sec), 0).UTC()
		year, month, day := t.Date()
		hour, minute, second := t.Clock()
		b := appendDigits(f.prefix[:0], year, 4)
		b = append(b, '-')
		b = appendDigits(b, int(month), 2)
		b = append(b, '-')
		b = appendDigits(b, day, 2)
		b = append(b, 'T')
		b = appendDigits(b, hour, 2)
		b = append(b, ':')
		b = appendDigits(b, minute, 2)
		b = append(b, ':')
		appendDigits(b, second, 2)
		f.sec, f.valid = sec, true
	}
	dst = append(dst, '"')
	dst = append(dst, f.prefix[:]...)
	dst = append(dst, '.')
	if frac%1e6 == 0 {
		dst = appendDigits(dst, frac/1e6, 3)
	} else {
		dst = appendDigits(dst, frac, 9)
	}
	return append(dst, 'Z', '"')
}

// appendDigits writes n zero-padded to width digits.
func appendDigits(dst []byte, n, width int) []byte {
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, buf[:width]...)
}

// FormatTime returns ns (Unix nanoseconds) as Cairn writes @timestamp:
// RFC 3339 UTC with three fractional digits, or nine when there are
// sub-millisecond digits, so that every date field of a document reads alike.
func FormatTime(ns int64) string {
	var f timeFormatter
	b := f.appendTimestamp(make([]byte, 0, 32), uint64(ns))
	return string(b[1 : len(b)-1])
}

// TimeFormatter writes Unix nanoseconds as Cairn writes @timestamp, for the
// other writers of ECS JSON (internal/normalize builds documents from sensor
// records): one format for every date Cairn writes. Times before 1970 are
// written as the epoch.
type TimeFormatter struct{ f timeFormatter }

// Append writes ns as a quoted RFC 3339 UTC time.
func (t *TimeFormatter) Append(dst []byte, ns int64) []byte {
	return t.f.appendTimestamp(dst, uint64(max(ns, 0)))
}
