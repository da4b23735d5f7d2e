package feed

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/cairnsec/cairn/internal/dirwatch"
	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Feed files come from outside: a download from a community MISP, a TAXII
// server, a list someone pasted. Whatever a file holds, parsing it must not
// take the collector down (a stack overflow is a fatal error that recover
// cannot catch), nor hold memory or time out of proportion to what the
// feed is worth. The bounds below are fixed far above what any real feed
// uses; the ones an operator may need to change (file size, indicators per
// file) come in Limits.

// MaxPatternDepth bounds the nesting of a STIX pattern: parentheses and
// brackets while parsing, and the levels of the parsed tree (AND, OR,
// FOLLOWEDBY, qualifiers) that later walks recurse through. Real patterns
// nest a handful of levels; the STIX 2.1 grammar sets no limit, so without
// one a pattern of a few million "(" overflowed the stack.
const MaxPatternDepth = 64

// MaxPatternLen bounds one STIX pattern, in bytes. It leaves room for an
// IN list of some ten thousand hashes.
const MaxPatternLen = 1 << 20

// MaxJSONDepth bounds the nesting of arrays and objects in a JSON feed. The
// deepest real feeds (MISP events with galaxies on attributes of objects)
// reach about twelve levels. The decoder's own limit (10000) applies only to
// values decoded whole, not to values walked token by token, whose stack
// of open delimiters grew by eight bytes per level with no bound.
const MaxJSONDepth = 100

// MaxJSONEntry bounds the bytes read for one JSON entry (a STIX object, a
// ThreatFox IOC, a MISP event, which is decoded whole) or one token of the
// walk between entries. The decoder holds an entry in memory whole, and a
// MISP event of tens of thousands of attributes is a few MB.
const MaxJSONEntry = 64 << 20

// MaxText bounds the name and provider kept per indicator: they are copied
// into every enrichment the indicator produces, and a feed whose malware
// name is a megabyte would make every matching event that much larger.
const MaxText = 256

// maxIdentities bounds the STIX identity objects remembered to name the
// provider of indicators that refer to them.
const maxIdentities = 1 << 16

// Limits bound what one file may cost. Zero fields mean no limit.
type Limits struct {
	// MaxBytes bounds the bytes read from the file.
	MaxBytes int64
	// MaxIndicators bounds the indicators a file yields (emitted, or held
	// by the parser until the end of the file).
	MaxIndicators int
}

// Reasons of a LimitError, stable names for metrics.
const (
	ReasonFileTooLarge      = "file_too_large"
	ReasonTooManyIndicators = "too_many_indicators"
	ReasonJSONTooDeep       = "json_too_deep"
	ReasonEntryTooLarge     = "entry_too_large"
	ReasonNotRegular        = "not_regular_file"
)

// LimitError is a file refused by a limit or a safety check, as a whole.
// Entries refused one by one are counted in Stats.Limited instead.
type LimitError struct {
	Reason string // one of the Reason constants
	Msg    string
}

func (e *LimitError) Error() string { return "feed: " + e.Msg }

func limitErr(reason, format string, args ...any) *LimitError {
	return &LimitError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// LimitReason returns the reason of the LimitError in err's chain, "" if
// there is none.
func LimitReason(err error) string {
	var le *LimitError
	if errors.As(err, &le) {
		return le.Reason
	}
	return ""
}

// OpenRegular opens a feed file for reading as the feeds directory's files
// are opened (dirwatch.OpenRegular: through root when it is not nil, without
// blocking on a FIFO, the type checked on the open file), with a refusal
// that says ReasonNotRegular.
func OpenRegular(root *os.Root, name string) (*os.File, os.FileInfo, error) {
	f, fi, err := dirwatch.OpenRegular(root, name, name)
	var nr *dirwatch.NotRegularError
	if errors.As(err, &nr) {
		return nil, nil, limitErr(ReasonNotRegular, "%s is not a regular file (%s)", name, dirwatch.TypeName(nr.Mode))
	}
	return f, fi, err
}

// byteLimit fails the read that would go past max bytes. A file can grow
// after its size was checked; this bounds what is read regardless.
type byteLimit struct {
	r    io.Reader
	left int64
	max  int64
}

func (l *byteLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte past the limit tells a file of exactly max bytes, which
		// is fine, from a longer one.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, limitErr(ReasonFileTooLarge, "file is larger than the limit of %d bytes", l.max)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// capEmit wraps emit so that it fails past max indicators (max <= 0: no
// limit).
func capEmit(max int, emit func(indicator.Indicator) error) func(indicator.Indicator) error {
	if max <= 0 {
		return emit
	}
	n := 0
	return func(ind indicator.Indicator) error {
		if n >= max {
			return tooManyIndicators(max)
		}
		n++
		return emit(ind)
	}
}

func tooManyIndicators(max int) *LimitError {
	return limitErr(ReasonTooManyIndicators, "more than %d indicators in one file", max)
}

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
