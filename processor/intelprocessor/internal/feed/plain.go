package feed

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Plain is an in-house list, one entry a line:
//
//	indicator,verdict[,source[,confidence]]
//
// comma- or tab-separated (decided by the first line that is not a comment),
// with an optional header line naming the columns ("indicator,verdict,...").
// A header may reorder the columns and add ones it names otherwise (they are
// ignored), so a list kept as a spreadsheet can carry notes. Blank lines and
// lines starting with "#" are ignored. The indicator's type is inferred: a
// hash by its length and hex digits, an IP (or a prefix of one address) if
// it parses as one, else a domain. The verdict is read by
// indicator.ParseVerdict, so allow lists say "benign" or "allow". The source
// column names the provider; without it the provider is the one passed to
// Parse (ParseFile: the file name). Confidence is 0-100; empty means none.
type Plain struct{}

func (Plain) Name() string { return NamePlain }

func (Plain) Sniff(head []byte) bool {
	name, err := classify(head)
	return err == nil && name == NamePlain
}

func plainSep(line []byte) byte {
	if bytes.IndexByte(line, '\t') >= 0 {
		return '\t'
	}
	return ','
}

// splitPlain splits a plain-list line, trimming spaces and one pair of
// double quotes around each field (spreadsheets add them).
func splitPlain(line []byte, sep byte, fields [][]byte) [][]byte {
	fields = fields[:0]
	for {
		i := bytes.IndexByte(line, sep)
		f := line
		if i >= 0 {
			f = line[:i]
		}
		f = trimSpace(f)
		if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
			f = trimSpace(f[1 : len(f)-1])
		}
		fields = append(fields, f)
		if i < 0 {
			return fields
		}
		line = line[i+1:]
	}
}

func parseVerdict(b []byte) (indicator.Verdict, error) {
	return indicator.ParseVerdict(string(b))
}

// Plain-list column roles.
const (
	plainIndicator = iota
	plainVerdict
	plainSource
	plainConfidence
	plainRoles
)

func plainRole(name string) int {
	switch strings.ToLower(name) {
	case "indicator", "ioc", "value":
		return plainIndicator
	case "verdict":
		return plainVerdict
	case "source", "provider":
		return plainSource
	case "confidence":
		return plainConfidence
	}
	return -1
}

// isPlainHeader reports a header line: one naming both an indicator and a
// verdict column. No entry can look like that, as "verdict" is no verdict.
func isPlainHeader(fields [][]byte) bool {
	var ind, verdict bool
	for _, f := range fields {
		switch plainRole(string(f)) {
		case plainIndicator:
			ind = true
		case plainVerdict:
			verdict = true
		}
	}
	return ind && verdict
}

func (Plain) Parse(r io.Reader, provider string, emit func(indicator.Indicator) error) (Stats, error) {
	provider = orDefault(provider, ProviderPlain)
	var st Stats
	out := emitter{emit: emit, st: &st}
	sources := interner{}
	lr := newLineReader(r)
	cols := [plainRoles]int{0, 1, 2, 3}
	var sep byte
	var fields [][]byte
	get := func(role int) []byte {
		if i := cols[role]; i >= 0 && i < len(fields) {
			return fields[i]
		}
		return nil
	}
	for {
		line, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("feed: %s: read: %w", NamePlain, err)
		}
		if tooLong {
			st.refuse(lr.n, "line longer than %d bytes", maxLine)
			continue
		}
		line = trimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		first := sep == 0
		if first {
			sep = plainSep(line)
		}
		fields = splitPlain(line, sep, fields)
		if first && isPlainHeader(fields) {
			cols = [plainRoles]int{-1, -1, -1, -1}
			for i, f := range fields {
				if role := plainRole(string(f)); role >= 0 && cols[role] < 0 {
					cols[role] = i
				}
			}
			continue
		}
		value := get(plainIndicator)
		if len(value) == 0 {
			st.skip(lr.n, "no indicator")
			continue
		}
		vb := get(plainVerdict)
		if len(vb) == 0 {
			st.skip(lr.n, "no verdict for %q", truncate(string(value), 80))
			continue
		}
		verdict, err := parseVerdict(vb)
		if err != nil {
			st.skip(lr.n, "%v", err)
			continue
		}
		ind := indicator.Indicator{Verdict: verdict, Provider: provider, Confidence: -1}
		if src := get(plainSource); len(src) > 0 {
			ind.Provider = sources.get(src)
		}
		if cb := get(plainConfidence); len(cb) > 0 {
			n, err := strconv.Atoi(string(cb))
			if err != nil || n < 0 || n > 100 {
				st.skip(lr.n, "confidence %q is not a number from 0 to 100", truncate(string(cb), 20))
				continue
			}
			ind.Confidence = n
		}
		v := string(value)
		ind.Type = inferType(v)
		if ind.Value, err = normalize(ind.Type, v); err != nil {
			st.skip(lr.n, "%v", err)
			continue
		}
		if err := out.send(ind); err != nil {
			return st, err
		}
	}
	return st, allBad(NamePlain, &st)
}
