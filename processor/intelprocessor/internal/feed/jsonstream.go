package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonStream walks a JSON document token by token, so a large export is
// decoded one entry at a time instead of as one tree. Every read of the
// decoder goes through a jsonGuard, and every step of the walk (a token,
// an entry decoded whole) through the methods below, which give the step
// its byte budget.
type jsonStream struct {
	dec    *json.Decoder
	guard  *jsonGuard
	format string
}

func newJSONStream(r io.Reader, format string) *jsonStream {
	g := &jsonGuard{r: newReader(r), maxDepth: MaxJSONDepth, budget: jsonEntryLimit}
	dec := json.NewDecoder(g)
	dec.UseNumber()
	return &jsonStream{dec: dec, guard: g, format: format}
}

// token reads the next token with a fresh byte budget.
func (s *jsonStream) token() (json.Token, error) {
	s.guard.budget = jsonEntryLimit
	return s.dec.Token()
}

// decode decodes the next value whole, within a fresh byte budget.
func (s *jsonStream) decode(v any) error {
	s.guard.budget = jsonEntryLimit
	return s.dec.Decode(v)
}

// more reports whether the current array or object has another element.
func (s *jsonStream) more() bool {
	s.guard.budget = jsonEntryLimit
	return s.dec.More()
}

// jsonEntryLimit is MaxJSONEntry, lowered by tests.
var jsonEntryLimit int64 = MaxJSONEntry

// jsonGuard sits under the decoder and refuses, with a LimitError, input
// nested deeper than maxDepth and a step of the walk that reads more than
// its budget. It follows strings (with their escapes) so that brackets
// inside them do not count. It sees bytes as the decoder reads ahead, not
// as it decodes them, so an error can come a little before the decoder
// reaches the offending byte; either way the file is refused.
type jsonGuard struct {
	r        io.Reader
	maxDepth int
	budget   int64 // bytes the current step may still read
	depth    int
	inString bool
	escaped  bool
	offset   int64
	err      error
}

func (g *jsonGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.budget <= 0 {
		g.err = limitErr(ReasonEntryTooLarge, "a JSON entry or value larger than %d bytes (near byte %d)", jsonEntryLimit, g.offset)
		return 0, g.err
	}
	if int64(len(p)) > g.budget {
		p = p[:g.budget]
	}
	n, err := g.r.Read(p)
	g.budget -= int64(n)
	if i := g.scan(p[:n]); i >= 0 {
		g.err = limitErr(ReasonJSONTooDeep, "JSON nested deeper than %d levels (at byte %d)", g.maxDepth, g.offset+int64(i))
		return 0, g.err
	}
	g.offset += int64(n)
	return n, err
}

// scan follows the nesting through b; it returns the index of the byte
// that goes past maxDepth, or -1.
func (g *jsonGuard) scan(b []byte) int {
	depth, inString, escaped := g.depth, g.inString, g.escaped
	for i, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > g.maxDepth {
				return i
			}
		case '}', ']':
			// Unbalanced input is the decoder's to report.
			if depth > 0 {
				depth--
			}
		}
	}
	g.depth, g.inString, g.escaped = depth, inString, escaped
	return -1
}

// fail turns a decoder error into the structural error of the file: a syntax
// error or early EOF means the file is truncated or not JSON at all. A
// limit keeps its own error, so the caller can tell why.
func (s *jsonStream) fail(err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", s.format, le)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return structuralError(s.format, "truncated JSON (ends at byte %d)", s.dec.InputOffset())
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// se.Offset counts from the start of the value being decoded, not
		// of the file.
		return structuralError(s.format, "invalid JSON near byte %d: %v", s.dec.InputOffset(), err)
	}
	return structuralError(s.format, "%v", err)
}

// broken reports whether err from Decode leaves the stream unusable. Type
// errors (an entry with a field of the wrong kind) do not: the decoder has
// consumed the whole value and the next entry can be read.
func broken(err error) bool {
	if err == nil {
		return false
	}
	var le *LimitError
	if errors.As(err, &le) {
		return true
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return false
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// Errors from UnmarshalJSON methods (jsonText on an object, say) are
	// per-entry too.
	return false
}

// delim reads the next token and requires it to be d.
func (s *jsonStream) delim(d json.Delim, what string) error {
	tok, err := s.token()
	if err != nil {
		return s.fail(err)
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return structuralError(s.format, "expected %s, found %s", what, describeToken(tok))
	}
	return nil
}

// beginObject starts the walk of the top-level object.
func (s *jsonStream) beginObject() error {
	tok, err := s.token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return structuralError(s.format, "no JSON content")
		}
		return s.fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return structuralError(s.format, "expected a JSON object, found %s", describeToken(tok))
	}
	return nil
}

// key reads the next key of the current object; ok is false at its end
// (whose '}' it consumes).
func (s *jsonStream) key() (key string, ok bool, err error) {
	if !s.more() {
		if err := s.delim('}', "end of object"); err != nil {
			return "", false, err
		}
		return "", false, nil
	}
	tok, err := s.token()
	if err != nil {
		return "", false, s.fail(err)
	}
	k, isStr := tok.(string)
	if !isStr {
		return "", false, structuralError(s.format, "expected an object key, found %s", describeToken(tok))
	}
	return k, true, nil
}

// valueStart reads the first token of the next value: a scalar entirely, or
// the opening delimiter of an array or object (then see skipRest).
func (s *jsonStream) valueStart() (json.Token, error) {
	tok, err := s.token()
	if err != nil {
		return nil, s.fail(err)
	}
	return tok, nil
}

// skipRest consumes the rest of an array or object whose opening delimiter
// valueStart returned.
func (s *jsonStream) skipRest() error {
	for depth := 1; depth > 0; {
		tok, err := s.token()
		if err != nil {
			return s.fail(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// skipValueAfter finishes a value whose first token was tok.
func (s *jsonStream) skipValueAfter(tok json.Token) error {
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		return s.skipRest()
	}
	return nil
}

// end requires that nothing but white space follows the top-level value: a
// second document appended to the file means it is not what we think it is.
func (s *jsonStream) end() error {
	tok, err := s.token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return s.fail(err)
	}
	return structuralError(s.format, "unexpected %s after the end of the document", describeToken(tok))
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return fmt.Sprintf("string %q", truncate(t, 40))
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%v", t)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
