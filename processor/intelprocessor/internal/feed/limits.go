package feed

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"unicode/utf8"

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

// OpenRegular opens a feed file for reading, through root when it is not
// nil (so that neither the name nor a symbolic link on the way can lead
// outside root's directory, even if the tree changes meanwhile), and makes
// sure it is a regular file. It opens without blocking: opening a FIFO for
// reading otherwise waits for a writer, which would hang the load, and the
// type is checked on the open file, not on the name, so swapping the file
// between a check and the open changes nothing.
func OpenRegular(root *os.Root, name string) (*os.File, os.FileInfo, error) {
	const flags = os.O_RDONLY | syscall.O_NONBLOCK
	var f *os.File
	var err error
	if root != nil {
		f, err = root.OpenFile(name, flags, 0)
	} else {
		f, err = os.OpenFile(name, flags, 0)
	}
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, limitErr(ReasonNotRegular, "%s is not a regular file (%s)", name, TypeName(fi.Mode()))
	}
	return f, fi, nil
}

// TypeName names the type of a file mode, for messages.
func TypeName(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "irregular file"
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
