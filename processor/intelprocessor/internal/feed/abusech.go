package feed

import (
	"bytes"
	"fmt"
	"io"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// The abuse.ch CSV exports share their framing: "#" comment lines (a banner,
// then the column names as a quoted, commented header line), then one quoted
// row per line.

// csvHeader reads a column header line, commented or not. ok is false if the
// line is not a header (its first column is not first_seen_utc).
func csvHeader(line []byte) (cols map[string]int, ok bool) {
	line = trimSpace(bytes.TrimLeft(trimSpace(line), "#"))
	fields, _, good := splitQuoted(line, nil, nil, 0)
	if !good || len(fields) == 0 || string(fields[0]) != "first_seen_utc" {
		return nil, false
	}
	cols = make(map[string]int, len(fields))
	for i, f := range fields {
		cols[string(f)] = i
	}
	return cols, true
}

// column returns the index of name in cols, or def when the file has no
// header; -1 if the header lacks it.
func column(cols map[string]int, name string, def int) int {
	if cols == nil {
		return def
	}
	if i, ok := cols[name]; ok {
		return i
	}
	return -1
}

// field returns fields[i] unless i is out of range or the value is one of
// the exports' placeholders for "nothing".
func field(fields [][]byte, i int) []byte {
	if i < 0 || i >= len(fields) || nullish(fields[i]) {
		return nil
	}
	return fields[i]
}

// needed is the number of leading fields that hold all of cols.
func needed(cols ...int) int {
	n := 0
	for _, c := range cols {
		n = max(n, c+1)
	}
	return n
}

// csvRows drives the line loop of an abuse.ch CSV export: it handles
// comments, the header, long and unbalanced lines, and calls row for each
// data row with its fields.
type csvRows struct {
	format  string
	st      *Stats
	header  func(cols map[string]int) error
	row     func(line int, fields [][]byte) error
	limit   int // fields the row function needs, see splitQuoted
	fields  [][]byte
	scratch []byte
}

func (c *csvRows) run(r io.Reader) error {
	lr := newLineReader(r)
	seenHeader, seenData := false, false
	for {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("feed: %s: read: %w", c.format, err)
		}
		if tooLong {
			c.st.refuse(lr.n, "line longer than %d bytes", maxLine)
			continue
		}
		line = trimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' || (!seenData && !seenHeader && bytes.HasPrefix(bytes.TrimLeft(line, `"`), []byte("first_seen_utc"))) {
			if !seenHeader && !seenData {
				if cols, ok := csvHeader(line); ok {
					seenHeader = true
					if err := c.header(cols); err != nil {
						return err
					}
				}
			}
			continue
		}
		seenData = true
		var ok bool
		c.fields, c.scratch, ok = splitQuoted(line, c.fields, c.scratch, c.limit)
		if !ok {
			c.st.skip(lr.n, "unbalanced quotes")
			continue
		}
		if err := c.row(lr.n, c.fields); err != nil {
			return err
		}
	}
	return allBad(c.format, c.st)
}

// MalwareBazaarCSV is the abuse.ch MalwareBazaar CSV export (full.csv,
// recent.csv). Each row is one malware sample: it yields a Malicious
// indicator for each of its SHA-256, MD5 and SHA-1, named after the
// sample's signature (malware family).
//
// Confidence is -1 ("the feed gives none"), not 100: MalwareBazaar rates no
// sample, and a made-up 100 could not be told from ThreatFox's real 100 by a
// confidence threshold. The verdict already carries the feed's claim.
type MalwareBazaarCSV struct{}

func (MalwareBazaarCSV) Name() string { return NameMalwareBazaarCSV }

func (MalwareBazaarCSV) Sniff(head []byte) bool {
	name, err := classify(head)
	return err == nil && name == NameMalwareBazaarCSV
}

// Column positions of the documented layout, for files without a header:
// first_seen_utc, sha256_hash, md5_hash, sha1_hash, reporter, file_name,
// file_type_guess, mime_type, signature, clamav, vtpercent, imphash, ssdeep,
// tlsh.
const (
	mbFirstSeen = 0
	mbSHA256    = 1
	mbMD5       = 2
	mbSHA1      = 3
	mbSignature = 8
)

func (MalwareBazaarCSV) Parse(r io.Reader, provider string, emit func(indicator.Indicator) error) (Stats, error) {
	provider = orDefault(provider, ProviderMalwareBazaar)
	var st Stats
	out := emitter{emit: emit, st: &st}
	names := interner{}
	firstSeen, sha256, md5, sha1, signature := mbFirstSeen, mbSHA256, mbMD5, mbSHA1, mbSignature
	hashes := [...]struct {
		col  *int
		typ  indicator.Type
		name string
	}{
		{&sha256, indicator.SHA256, "sha256_hash"},
		{&md5, indicator.MD5, "md5_hash"},
		{&sha1, indicator.SHA1, "sha1_hash"},
	}

	var times timeCache
	var hbuf []byte
	rows := &csvRows{format: NameMalwareBazaarCSV, st: &st, limit: needed(firstSeen, sha256, md5, sha1, signature)}
	rows.header = func(cols map[string]int) error {
		if _, ok := cols["sha256_hash"]; !ok {
			if _, tf := cols["ioc_value"]; tf {
				return structuralError(NameMalwareBazaarCSV, "the column header is ThreatFox's, not MalwareBazaar's")
			}
			return structuralError(NameMalwareBazaarCSV, "the column header has no sha256_hash column")
		}
		firstSeen = column(cols, "first_seen_utc", mbFirstSeen)
		sha256 = column(cols, "sha256_hash", mbSHA256)
		md5 = column(cols, "md5_hash", mbMD5)
		sha1 = column(cols, "sha1_hash", mbSHA1)
		signature = column(cols, "signature", mbSignature)
		rows.limit = needed(firstSeen, sha256, md5, sha1, signature)
		return nil
	}
	rows.row = func(line int, fields [][]byte) error {
		if len(fields) <= sha256 {
			st.skip(line, "%d fields, expected at least %d", len(fields), sha256+1)
			return nil
		}
		ind := indicator.Indicator{
			Verdict:    indicator.Malicious,
			Provider:   provider,
			Confidence: -1,
		}
		if b := field(fields, signature); b != nil {
			ind.Name = names.get(b)
		}
		if b := field(fields, firstSeen); b != nil {
			ind.FirstSeen, _ = times.parse(b)
		}
		// The row's hashes share one string: one allocation instead of
		// three, a third of the parse's garbage. The store keeps all three
		// anyway, so no hash pins memory another would not.
		hbuf = hbuf[:0]
		var ends [len(hashes)]int
		for i, h := range hashes {
			ends[i] = -1
			b := field(fields, *h.col)
			if b == nil {
				if h.typ == indicator.SHA256 {
					st.skip(line, "no sha256_hash")
				}
				continue
			}
			var err error
			if hbuf, err = appendHash(hbuf, h.typ, b); err != nil {
				st.skip(line, "%s: %v", h.name, err)
				continue
			}
			ends[i] = len(hbuf)
		}
		all := string(hbuf)
		start := 0
		for i, h := range hashes {
			if ends[i] < 0 {
				continue
			}
			ind.Type, ind.Value = h.typ, all[start:ends[i]]
			start = ends[i]
			if err := out.send(ind); err != nil {
				return err
			}
		}
		return nil
	}
	err := rows.run(r)
	return st, err
}
