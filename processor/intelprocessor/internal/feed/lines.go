package feed

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"time"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// maxLine bounds one line of a text feed. Longer lines are skipped as
// malformed rather than buffered without limit: no legitimate feed row comes
// near it, and a binary file misread as text could otherwise hold the whole
// file in one "line".
const maxLine = 1 << 20

// readBufSize is the read buffer of the text parsers. Large reads matter at a
// million lines per second; ParseFile's bufio.Reader is this size already and
// is then used as it is.
const readBufSize = 64 << 10

// newReader returns r buffered, without a leading UTF-8 BOM (Windows tools
// write one, and neither JSON nor the CSV layouts allow for it).
func newReader(r io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(r, readBufSize)
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	return br
}

// lineReader returns the lines of a text feed one by one, reusing its
// buffers: a returned line is only valid until the next call.
type lineReader struct {
	r    *bufio.Reader
	long []byte
	n    int // number of the line last returned, from 1
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: newReader(r)}
}

// next returns the next line without its line end (LF or CRLF). tooLong is
// set, and line empty, for a line over maxLine. err is io.EOF after the last
// line, or a read error.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	line, err = lr.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		line, tooLong, err = lr.readLong(line)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if len(line) == 0 && errors.Is(err, io.EOF) && !tooLong {
		return nil, false, io.EOF
	}
	lr.n++
	return trimEOL(line), tooLong, nil
}

// readLong assembles a line that does not fit the read buffer.
func (lr *lineReader) readLong(first []byte) ([]byte, bool, error) {
	lr.long = append(lr.long[:0], first...)
	tooLong := false
	for {
		frag, err := lr.r.ReadSlice('\n')
		if !tooLong {
			lr.long = append(lr.long, frag...)
			if len(lr.long) > maxLine {
				tooLong = true
				lr.long = lr.long[:0]
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		return lr.long, false, err
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// splitQuoted splits one row of an abuse.ch CSV export into fields, appending
// them to fields[:0]. The exports quote every field and put ", " (older
// files: ",") between them; unquoted fields and "" escapes are accepted too.
// Fields point into line, or into scratch where an escape had to be undone.
// ok is false when quotes do not balance.
//
// Splitting stops after limit fields (limit <= 0: no limit): the exports end
// with long columns no parser uses (ssdeep, TLSH), and not splitting them
// saves a third of the work.
//
// encoding/csv is not used: it allocates every record, and at a million rows
// that dominated the parse. Rows never span lines in these exports (file
// names and signatures have no line breaks), so a row is one physical line.
func splitQuoted(line []byte, fields [][]byte, scratch []byte, limit int) (_ [][]byte, _ []byte, ok bool) {
	fields = fields[:0]
	scratch = scratch[:0]
	i := 0
	for {
		if limit > 0 && len(fields) == limit {
			return fields, scratch, true
		}
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i < len(line) && line[i] == '"' {
			i++
			start := i
			var field []byte
			base := -1 // start of the field in scratch once an escape was seen
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return fields, scratch, false
				}
				i += j
				if i+1 < len(line) && line[i+1] == '"' {
					// "" is a literal quote: from here on the field is
					// assembled in scratch.
					if base < 0 {
						base = len(scratch)
					}
					scratch = append(scratch, line[start:i+1]...)
					i += 2
					start = i
					continue
				}
				if base >= 0 {
					scratch = append(scratch, line[start:i]...)
					field = scratch[base:len(scratch):len(scratch)]
				} else {
					field = line[start:i]
				}
				i++
				break
			}
			fields = append(fields, field)
			for i < len(line) && isSpace(line[i]) {
				i++
			}
			if i == len(line) {
				return fields, scratch, true
			}
			if line[i] != ',' {
				return fields, scratch, false
			}
			i++
			continue
		}
		j := bytes.IndexByte(line[i:], ',')
		if j < 0 {
			fields = append(fields, trimSpace(line[i:]))
			return fields, scratch, true
		}
		fields = append(fields, trimSpace(line[i:i+j]))
		i += j + 1
	}
}

// parseSpaceTime reads the "2006-01-02 15:04:05" UTC time of the abuse.ch
// exports (the API adds " UTC"). It is hand-written because time.Parse was a
// visible share of a million-row parse.
func parseSpaceTime(b []byte) (time.Time, bool) {
	var c timeCache
	return c.parse(b)
}

// timeCache remembers the last date seen: export rows are sorted by time, so
// thousands of rows in a row share a date and only the time of day needs
// computing.
type timeCache struct {
	date [10]byte
	day  time.Time
}

func (c *timeCache) parse(b []byte) (time.Time, bool) {
	if len(b) == 23 && string(b[19:]) == " UTC" {
		b = b[:19]
	}
	if len(b) != 19 || (b[10] != ' ' && b[10] != 'T') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	h, mi, s := digits2(b[11:13]), digits2(b[14:16]), digits2(b[17:19])
	if h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 {
		return time.Time{}, false
	}
	if c.day.IsZero() || string(b[:10]) != string(c.date[:]) {
		day, ok := parseDate(b[:10])
		if !ok {
			return time.Time{}, false
		}
		copy(c.date[:], b[:10])
		c.day = day
	}
	return c.day.Add(time.Duration(h*3600+mi*60+s) * time.Second), true
}

func digits2(b []byte) int {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return -1
	}
	return int(b[0]-'0')*10 + int(b[1]-'0')
}

func parseDate(b []byte) (time.Time, bool) {
	if b[4] != '-' || b[7] != '-' {
		return time.Time{}, false
	}
	y1, y2, mo, d := digits2(b[0:2]), digits2(b[2:4]), digits2(b[5:7]), digits2(b[8:10])
	if y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y1*100+y2, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // 31 April and the like roll over: not a real date
		return time.Time{}, false
	}
	return t, true
}
