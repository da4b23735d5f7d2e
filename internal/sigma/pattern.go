package sigma

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Sigma string value is a sequence of literal text and wildcards: * any
// run of characters, ? exactly one character. windash adds a third kind, a
// position that matches any of the dashes Windows accepts for a flag.
type tokKind uint8

const (
	tLit  tokKind = iota
	tStar         // *
	tOne          // ?
	tDash         // one of windashChars
)

type tok struct {
	k tokKind
	s string // tLit only
}

type pattern []tok

// windashChars are what windash lets a flag's dash be: hyphen-minus,
// slash, en dash, em dash and horizontal bar (the specification's list).
var windashChars = [...]string{"-", "/", "\u2013", "\u2014", "\u2015"}

// parsePattern reads a value as the specification's escaping rules say: a
// backslash makes the * ? or \ after it plain; before any other character,
// or at the end, it is a plain backslash itself (so Windows paths need no
// doubling).
func parsePattern(s string) pattern {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, tok{k: tLit, s: lit.String()})
			lit.Reset()
		}
	}
	escaped := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			if c != '*' && c != '?' && c != '\\' {
				lit.WriteByte('\\')
			}
			lit.WriteByte(c)
			escaped = false
		case c == '\\':
			escaped = true
		case c == '*':
			flush()
			p = append(p, tok{k: tStar})
		case c == '?':
			flush()
			p = append(p, tok{k: tOne})
		default:
			lit.WriteByte(c)
		}
	}
	if escaped {
		lit.WriteByte('\\')
	}
	flush()
	return p
}

// plainPattern is s as one literal, for numbers and booleans used as
// strings and for values made by modifiers (base64).
func plainPattern(s string) pattern {
	if s == "" {
		return nil
	}
	return pattern{{k: tLit, s: s}}
}

// hasWildcards reports whether the pattern has anything but literals.
func (p pattern) hasWildcards() bool {
	for _, t := range p {
		if t.k != tLit {
			return true
		}
	}
	return false
}

// text is the pattern's literal text (for a pattern without wildcards).
func (p pattern) text() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteString(t.s)
	}
	return b.String()
}

func (p pattern) startsWithStar() bool { return len(p) > 0 && p[0].k == tStar }
func (p pattern) endsWithStar() bool   { return len(p) > 0 && p[len(p)-1].k == tStar }

// wrap puts * before and/or after the pattern, unless there already is
// one (contains, startswith, endswith).
func (p pattern) wrap(before, after bool) pattern {
	out := make(pattern, 0, len(p)+2)
	if before && !p.startsWithStar() {
		out = append(out, tok{k: tStar})
	}
	out = append(out, p...)
	if after && !p.endsWithStar() {
		out = append(out, tok{k: tStar})
	}
	return out
}

// windash replaces, in each literal, a - or / that starts a word (at the
// literal's start or after a non-word character, and followed by a word
// character) with a dash position: pySigma's \B[-/]\b on each plain part.
func (p pattern) windash() pattern {
	var out pattern
	for _, t := range p {
		if t.k != tLit {
			out = append(out, t)
			continue
		}
		s := t.s
		start := 0
		prevWord := false
		for i, r := range s {
			if (r == '-' || r == '/') && !prevWord {
				next, _ := utf8.DecodeRuneInString(s[i+1:])
				if i+1 < len(s) && isWordRune(next) {
					if i > start {
						out = append(out, tok{k: tLit, s: s[start:i]})
					}
					out = append(out, tok{k: tDash})
					start = i + 1
				}
			}
			prevWord = isWordRune(r)
		}
		if start < len(s) {
			out = append(out, tok{k: tLit, s: s[start:]})
		}
	}
	return out
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// wildcards counts the pattern's * and ?.
func (p pattern) wildcards() int {
	n := 0
	for _, t := range p {
		if t.k == tStar || t.k == tOne {
			n++
		}
	}
	return n
}

// lowerString is the case-folded form that both values and literals are
// compared in: each rune by unicode.ToLower, an invalid byte as U+FFFD.
// The same function on both sides keeps the comparisons consistent.
func lowerString(s string) string {
	var buf []byte
	return lowerInto(&buf, s)
}

// lowerInto returns the lower-case form of s, as s itself when it has
// none of A-Z and only ASCII, else written at the end of *buf (the string
// then points into *buf's array: it stays valid while the array is not
// written over).
func lowerInto(buf *[]byte, s string) string {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
	}
	if i == len(s) {
		return s
	}
	b := *buf
	start := len(b)
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, unicode.ToLower(r))
		i += w - 1
	}
	*buf = b
	return bytesString(b[start:])
}

// lowered is the pattern with its literals case-folded.
func (p pattern) lowered() pattern {
	out := make(pattern, len(p))
	for i, t := range p {
		out[i] = t
		if t.k == tLit {
			out[i].s = lowerString(t.s)
		}
	}
	return out
}

// unit is one step of a glob segment.
type unit struct {
	k tokKind // tLit, tOne or tDash
	s string
}

// glob matches a pattern with wildcards inside it: the segments between
// stars, the first anchored at the start unless the pattern starts with a
// star, the last at the end unless it ends with one. Middle segments are
// matched at their leftmost place: a segment matches a fixed number of
// characters, so a later start can only end later, and leftmost leaves the
// most room for the rest.
type glob struct {
	anchorStart, anchorEnd bool
	segs                   [][]unit
	// minLen and maxLen bound, in bytes, what the last segment can match.
	lastMin, lastMax int
}

func newGlob(p pattern) *glob {
	g := &glob{anchorStart: !p.startsWithStar(), anchorEnd: !p.endsWithStar()}
	var seg []unit
	for _, t := range p {
		if t.k == tStar {
			if len(seg) > 0 {
				g.segs = append(g.segs, seg)
				seg = nil
			}
			continue
		}
		seg = append(seg, unit{k: t.k, s: t.s})
	}
	if len(seg) > 0 {
		g.segs = append(g.segs, seg)
	}
	if len(g.segs) == 0 {
		// Only stars: anything, including the empty string.
		g.anchorStart, g.anchorEnd = false, false
	}
	if n := len(g.segs); n > 0 {
		for _, u := range g.segs[n-1] {
			switch u.k {
			case tLit:
				g.lastMin += len(u.s)
				g.lastMax += len(u.s)
			case tOne:
				g.lastMin++
				g.lastMax += utf8.UTFMax
			case tDash:
				g.lastMin++
				g.lastMax += 3
			}
		}
	}
	return g
}

// matchSeg matches seg at s[at:], returning where it ends.
func matchSeg(s string, at int, seg []unit) (int, bool) {
	for _, u := range seg {
		switch u.k {
		case tLit:
			if !strings.HasPrefix(s[at:], u.s) {
				return 0, false
			}
			at += len(u.s)
		case tOne:
			if at >= len(s) {
				return 0, false
			}
			_, w := utf8.DecodeRuneInString(s[at:])
			at += w
		case tDash:
			ok := false
			for _, d := range windashChars {
				if strings.HasPrefix(s[at:], d) {
					at += len(d)
					ok = true
					break
				}
			}
			if !ok {
				return 0, false
			}
		}
	}
	return at, true
}

func (g *glob) match(s string) bool {
	segs := g.segs
	if len(segs) == 0 {
		return true
	}
	pos := 0
	if g.anchorStart {
		end, ok := matchSeg(s, 0, segs[0])
		if !ok {
			return false
		}
		if len(segs) == 1 {
			return !g.anchorEnd || end == len(s)
		}
		pos, segs = end, segs[1:]
	}
	last := len(segs)
	if g.anchorEnd {
		last--
	}
	for _, seg := range segs[:last] {
		end, ok := leftmost(s, pos, seg)
		if !ok {
			return false
		}
		pos = end
	}
	if !g.anchorEnd {
		return true
	}
	seg := segs[len(segs)-1]
	if len(seg) == 1 && seg[0].k == tLit {
		return len(s)-len(seg[0].s) >= pos && strings.HasSuffix(s, seg[0].s)
	}
	// Characters start where decoding from the start puts them (an
	// invalid byte is one character), as for regular expressions: a
	// start inside a multi-byte character would see two invalid ones.
	lo, hi := len(s)-g.lastMax, len(s)-g.lastMin
	for p := pos; p <= hi; {
		if p >= lo {
			if end, ok := matchSeg(s, p, seg); ok && end == len(s) {
				return true
			}
		}
		if p == len(s) {
			break
		}
		_, w := utf8.DecodeRuneInString(s[p:])
		p += w
	}
	return false
}

// leftmost finds the first place at or after pos where seg matches.
func leftmost(s string, pos int, seg []unit) (int, bool) {
	if seg[0].k == tLit {
		lit := seg[0].s
		for pos <= len(s) {
			i := strings.Index(s[pos:], lit)
			if i < 0 {
				return 0, false
			}
			if end, ok := matchSeg(s, pos+i, seg); ok {
				return end, true
			}
			pos += i + 1
		}
		return 0, false
	}
	// The segment starts with ? or a dash. When it has a literal after k
	// of them, the literal's occurrences tell where the segment can
	// start: k to 4k bytes before one (a character is 1 to 4 bytes).
	// That keeps a long value with many near misses linear in its length
	// instead of its length times the literal's. Character starts are
	// found backwards with utf8.RuneStart, which is exact for valid
	// UTF-8 (lower-cased values always are); other values take the
	// plain scan.
	if k := firstLit(seg); k > 0 && utf8.ValidString(s) {
		lit := seg[k].s
		from := pos
		for from <= len(s) {
			i := strings.Index(s[from:], lit)
			if i < 0 {
				return 0, false
			}
			q := from + i
			lo := q - utf8.UTFMax*k
			if lo < pos {
				lo = pos
			}
			for p := lo; p <= q-k; p++ {
				if p < len(s) && !utf8.RuneStart(s[p]) {
					continue
				}
				if end, ok := matchSeg(s, p, seg); ok {
					return end, true
				}
			}
			from = q + 1
		}
		return 0, false
	}
	for pos <= len(s) {
		if end, ok := matchSeg(s, pos, seg); ok {
			return end, true
		}
		if pos == len(s) {
			break
		}
		_, w := utf8.DecodeRuneInString(s[pos:])
		pos += w
	}
	return 0, false
}

// firstLit is the index of the first literal of a segment, 0 if none
// (or if the segment starts with one).
func firstLit(seg []unit) int {
	for i, u := range seg {
		if u.k == tLit {
			return i
		}
	}
	return 0
}
