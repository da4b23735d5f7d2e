// Package feed reads threat-intel feed files into indicator.Indicator values.
//
// Each supported file format is a Format. Detect picks the format from the
// start of a file and ParseFile detects and parses in one go.
//
// Contract for callers: a Parse or ParseFile that returns an error may already
// have emitted indicators (parsing streams). The caller must throw away
// everything emitted by that call and keep the contents it loaded before, so
// that a truncated download or a file in the wrong format never replaces a
// good indicator set with a partial one. Entries that are merely malformed do
// not cause an error: they are skipped and reported in Stats.
package feed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Format parses one feed format.
type Format interface {
	// Name is the format's configuration name, e.g. "malwarebazaar-csv".
	Name() string
	// Sniff reports whether head, the start of a file (up to SniffLen
	// bytes), looks like this format. Sniffers of the built-in formats
	// agree with each other: at most one of them claims any given head.
	Sniff(head []byte) bool
	// Parse reads a whole file and calls emit for every indicator. provider
	// names the feed for indicators whose entry carries no source of its
	// own; "" means the format's default (see ParseFile). An error from
	// emit stops parsing and is returned.
	Parse(r io.Reader, provider string, emit func(indicator.Indicator) error) (Stats, error)
}

// Names of the built-in formats, as Format.Name returns them.
const (
	NameMalwareBazaarCSV = "malwarebazaar-csv"
	NameThreatFoxCSV     = "threatfox-csv"
	NameThreatFoxJSON    = "threatfox-json"
	NameSTIX2            = "stix2"
	NameMISP             = "misp"
	NamePlain            = "plain"
)

// Default providers, used when a file does not name its own source.
const (
	ProviderMalwareBazaar = "abuse.ch MalwareBazaar"
	ProviderThreatFox     = "abuse.ch ThreatFox"
	ProviderSTIX          = "STIX"
	ProviderMISP          = "MISP"
	// ProviderPlain is only used when Parse of a plain list gets no provider;
	// ParseFile passes the file name instead.
	ProviderPlain = "local"
)

// SniffLen is how much of a file Detect looks at.
const SniffLen = 64 << 10

// MaxProblems caps Stats.Problems: a feed with a systematic fault would
// otherwise produce one problem per line, and a log line per problem.
const MaxProblems = 20

// Stats says what a Parse did with the entries of a file.
type Stats struct {
	// Indicators is the number of indicators emitted.
	Indicators int
	// Skipped counts entries (or values of a multi-value entry) that were
	// malformed or unusable and so not emitted. Every one of them has a
	// Problem, as long as fewer than MaxProblems were recorded.
	Skipped int
	// Ignored counts well-formed entries of a kind Cairn does not match
	// (a MISP "link" attribute, a ThreatFox sha3_384_hash, a revoked STIX
	// indicator). They are not problems with the file.
	Ignored int
	// Limited counts the skipped entries (included in Skipped) that were
	// refused by a safety limit rather than malformed: a STIX pattern
	// nested or sized beyond MaxPatternDepth or MaxPatternLen, a line
	// longer than the line limit, identities beyond the ones remembered.
	Limited int
	// FirstLimited describes the first of them.
	FirstLimited Problem
	// Problems describes the first MaxProblems skipped entries.
	Problems []Problem
}

// Problem is one skipped entry.
type Problem struct {
	// Line is the 1-based line of the entry in line-based formats, 0 in JSON
	// formats (whose Reason names the entry instead).
	Line   int
	Reason string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
	}
	return p.Reason
}

// skip records a skipped entry. The reason is only formatted while there is
// room for it, so a file of a million bad lines costs no more than counting.
func (s *Stats) skip(line int, format string, args ...any) {
	s.Skipped++
	if len(s.Problems) < MaxProblems {
		s.Problems = append(s.Problems, Problem{Line: line, Reason: fmt.Sprintf(format, args...)})
	}
}

// refuse records an entry skipped because it exceeds a safety limit. The
// first one is kept apart from Problems, so that it is reported even in a
// file whose first twenty problems are ordinary ones.
func (s *Stats) refuse(line int, format string, args ...any) {
	if s.Limited == 0 {
		s.FirstLimited = Problem{Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	s.Limited++
	s.skip(line, format, args...)
}

// ErrEmpty is returned by Detect and ParseFile for a file with no content
// (nothing but white space). An empty file is far more often a failed
// download than an intentionally empty feed, so it is not loaded as "no
// indicators"; a deliberately empty list can hold a comment line instead.
var ErrEmpty = errors.New("feed: file is empty")

// Formats returns all built-in formats in detection order.
func Formats() []Format {
	return []Format{
		STIX2{},
		MISP{},
		ThreatFoxJSON{},
		MalwareBazaarCSV{},
		ThreatFoxCSV{},
		Plain{},
	}
}

// Lookup returns the built-in format with the given name, for configurations
// that name the format instead of relying on detection.
func Lookup(name string) (Format, bool) {
	for _, f := range Formats() {
		if f.Name() == name {
			return f, true
		}
	}
	return nil, false
}

// Detect returns the format that head, the start of a file, is in.
func Detect(head []byte) (Format, error) {
	name, err := classify(head)
	if err != nil {
		return nil, err
	}
	f, _ := Lookup(name)
	return f, nil
}

// ParseFile detects the format of the file at path and parses it. The
// provider is the format's own (ProviderMalwareBazaar, ProviderThreatFox,
// ProviderSTIX, ProviderMISP) unless the file names one per entry (STIX
// identity, MISP Orgc, a plain list's source column); a plain list without a
// source column is attributed to its file name. Only regular files are
// read (see OpenRegular); the fixed limits of this package apply, no size
// or indicator limit (see ParseFileLimits).
func ParseFile(path string, emit func(indicator.Indicator) error) (Format, Stats, error) {
	return ParseFileLimits(path, Limits{}, emit)
}

// ParseFileLimits is ParseFile within lim.
func ParseFileLimits(path string, lim Limits, emit func(indicator.Indicator) error) (Format, Stats, error) {
	f, fi, err := OpenRegular(nil, path)
	if err != nil {
		return nil, Stats{}, err
	}
	defer f.Close()
	return ParseOpen(f, fi.Size(), path, lim, emit)
}

// ParseOpen parses an opened feed file of the given size (as its Stat
// said); path names it in errors and, for plain lists, as the provider.
// A file over lim.MaxBytes is refused before anything is read.
func ParseOpen(r io.Reader, size int64, path string, lim Limits, emit func(indicator.Indicator) error) (Format, Stats, error) {
	if lim.MaxBytes > 0 {
		if size > lim.MaxBytes {
			return nil, Stats{}, fmt.Errorf("%s: %w", path, limitErr(ReasonFileTooLarge, "file of %d bytes is larger than the limit of %d bytes", size, lim.MaxBytes))
		}
		r = &byteLimit{r: r, left: lim.MaxBytes, max: lim.MaxBytes}
	}
	br := bufio.NewReaderSize(r, SniffLen)
	head, err := br.Peek(SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		if LimitReason(err) != "" {
			return nil, Stats{}, fmt.Errorf("%s: %w", path, err)
		}
		return nil, Stats{}, fmt.Errorf("feed: reading %s: %w", path, err)
	}
	format, err := Detect(head)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("%s: %w", path, err)
	}
	emit = capEmit(lim.MaxIndicators, emit)
	var st Stats
	if lf, ok := format.(limitedFormat); ok {
		st, err = lf.parseLimited(br, defaultProvider(format.Name(), path), lim, emit)
	} else {
		st, err = format.Parse(br, defaultProvider(format.Name(), path), emit)
	}
	if err != nil {
		return format, st, fmt.Errorf("%s: %w", path, err)
	}
	return format, st, nil
}

// limitedFormat is a format that holds indicators back while it parses
// (STIX, whose indicators may name an identity that comes later) and so
// must count them against the limit itself.
type limitedFormat interface {
	parseLimited(r io.Reader, provider string, lim Limits, emit func(indicator.Indicator) error) (Stats, error)
}

func defaultProvider(format, path string) string {
	switch format {
	case NameMalwareBazaarCSV:
		return ProviderMalwareBazaar
	case NameThreatFoxCSV, NameThreatFoxJSON:
		return ProviderThreatFox
	case NameSTIX2:
		return ProviderSTIX
	case NameMISP:
		return ProviderMISP
	case NamePlain:
		if path != "" {
			return filepath.Base(path)
		}
		return ProviderPlain
	}
	return format
}

func orDefault(provider, def string) string {
	if strings.TrimSpace(provider) == "" {
		return def
	}
	return provider
}

// structuralError marks a file as unusable as a whole.
func structuralError(format, msg string, args ...any) error {
	return fmt.Errorf("feed: %s: %s", format, fmt.Sprintf(msg, args...))
}

// allBad turns a line-based file in which every entry was malformed into an
// error: that is what a file in another format, or an HTML error page saved
// under the feed's name, looks like, and loading it would replace a good
// indicator set with nothing.
func allBad(format string, st *Stats) error {
	if st.Indicators > 0 || st.Skipped == 0 || st.Ignored > 0 {
		return nil
	}
	first := ""
	if len(st.Problems) > 0 {
		first = " (first: " + st.Problems[0].String() + ")"
	}
	return structuralError(format, "none of the %d entries is usable; is this file really in this format?%s", st.Skipped, first)
}

// emitter counts emitted indicators and wraps emit's errors so the caller
// can tell them from parse errors.
type emitter struct {
	emit func(indicator.Indicator) error
	st   *Stats
}

func (e emitter) send(ind indicator.Indicator) error {
	ind.Name, ind.Provider = clip(ind.Name, MaxText), clip(ind.Provider, MaxText)
	if err := e.emit(ind); err != nil {
		return fmt.Errorf("feed: emit: %w", err)
	}
	e.st.Indicators++
	return nil
}
