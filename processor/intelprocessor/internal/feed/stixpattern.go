package feed

import (
	"fmt"
	"strings"
)

// A STIX 2.1 pattern is reduced to the comparisons that each, on its own,
// make the whole pattern match: the operands of OR, at both the observation
// level ("[a] OR [b]") and inside one observation ("[a OR b]"). A part that
// needs more than one thing to be true (AND, FOLLOWEDBY) or that is limited
// by a qualifier (WITHIN, REPEATS, START/STOP) cannot be matched one event
// at a time, so it is reported instead.

type patTokKind uint8

const (
	tokEOF patTokKind = iota
	tokLBrack
	tokRBrack
	tokLParen
	tokRParen
	tokComma
	tokString // 'quoted'
	tokLit    // t'…', h'…', b'…', numbers, true/false
	tokWord   // object paths and keywords
	tokOp     // = != < <= > >=
)

type patTok struct {
	kind patTokKind
	text string
}

// patLexer reads the tokens of a pattern one at a time, as the parser asks
// for them: a malformed pattern costs only the tokens up to its fault, and
// a long one no slice of a token per byte (a million-token slice of a 1 MB
// pattern took half a second to grow on a small VM).
type patLexer struct {
	src string
	i   int
}

// next returns the next token, tokEOF at the end.
func (l *patLexer) next() (patTok, error) {
	p := l.src
	for l.i < len(p) {
		i := l.i
		c := p[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.i++
			continue
		case c == '[':
			l.i++
			return patTok{tokLBrack, "["}, nil
		case c == ']':
			l.i++
			return patTok{tokRBrack, "]"}, nil
		case c == '(':
			l.i++
			return patTok{tokLParen, "("}, nil
		case c == ')':
			l.i++
			return patTok{tokRParen, ")"}, nil
		case c == ',':
			l.i++
			return patTok{tokComma, ","}, nil
		case c == '\'':
			s, n, err := lexString(p[i:])
			if err != nil {
				return patTok{}, err
			}
			l.i += n
			return patTok{tokString, s}, nil
		case (c == 't' || c == 'h' || c == 'b') && i+1 < len(p) && p[i+1] == '\'':
			s, n, err := lexString(p[i+1:])
			if err != nil {
				return patTok{}, err
			}
			l.i += 1 + n
			return patTok{tokLit, string(c) + s}, nil
		case c == '=' || c == '<' || c == '>' || c == '!':
			op := p[i : i+1]
			if i+1 < len(p) && p[i+1] == '=' {
				op = p[i : i+2]
			}
			if op == "!" {
				return patTok{}, fmt.Errorf("stray '!' at %d", i)
			}
			l.i += len(op)
			return patTok{tokOp, op}, nil
		case isPathChar(c):
			w, n, err := lexWord(p[i:])
			if err != nil {
				return patTok{}, err
			}
			kind := tokWord
			if (w[0] >= '0' && w[0] <= '9') || w[0] == '-' || w == "true" || w == "false" {
				kind = tokLit
			}
			l.i += n
			return patTok{kind, w}, nil
		default:
			return patTok{}, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return patTok{kind: tokEOF}, nil
}

func isPathChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == ':' || c == '.' || c == '*' || c == '+'
}

// lexString reads a 'quoted' string with \' and \\ escapes; n counts the
// quotes.
func lexString(p string) (s string, n int, err error) {
	var b strings.Builder
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 >= len(p) {
				return "", 0, fmt.Errorf("unterminated string")
			}
			i++
			b.WriteByte(p[i])
		case '\'':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(p[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

// lexWord reads a keyword, number or object path. A path can hold quoted
// components (file:hashes.'SHA-256') and list indexes (sections[*]).
func lexWord(p string) (string, int, error) {
	i := 0
	for i < len(p) {
		c := p[i]
		switch {
		case isPathChar(c):
			i++
		case c == '\'' && i > 0 && p[i-1] == '.':
			_, n, err := lexString(p[i:])
			if err != nil {
				return "", 0, err
			}
			i += n
		case c == '[' && i > 0 && p[i-1] != ':':
			// Only a list index ([*] or [digits]) belongs to the path; the
			// search for its ']' stops at the first character that cannot be
			// in one. Searching the rest of the pattern instead made a
			// pattern of many "a[" quadratic.
			j := i + 1
			for j < len(p) && (p[j] == '*' || p[j] >= '0' && p[j] <= '9') {
				j++
			}
			if j == len(p) {
				return "", 0, fmt.Errorf("unterminated index in %q", truncate(p, 80))
			}
			idx := p[i+1 : j]
			if p[j] != ']' || (idx != "*" && !allDigits(idx)) {
				return p[:i], i, nil
			}
			i = j + 1
		default:
			return p[:i], i, nil
		}
	}
	return p[:i], i, nil
}

// patNode is a node of a parsed pattern.
type patNode struct {
	op       string // "OR", "AND", "FOLLOWEDBY", "QUALIFIED" or "" for a comparison
	children []*patNode
	cmp      patComparison
	// height is the levels of the tree from this node down, a comparison
	// being 1: sufficient and describe recurse that deep.
	height int
}

type patComparison struct {
	path    string
	op      string // "=", "!=", "IN", "LIKE", …
	negated bool
	values  []string // string operands
	nonStr  bool     // an operand is not a plain string
}

func (c patComparison) String() string {
	not := ""
	if c.negated {
		not = "NOT "
	}
	v := ""
	if len(c.values) > 0 {
		v = " '" + truncate(c.values[0], 70) + "'"
	}
	return c.path + " " + not + c.op + v
}

type patParser struct {
	lex    patLexer
	look   patTok // the next token, once peeked
	peeked bool
	// lexErr is the first error of the lexer; the parser sees tokEOF from
	// there on, and parsePattern reports lexErr instead of what the parser
	// made of the early end.
	lexErr error
	// depth is the parentheses and brackets open: the parser recurses once
	// per level.
	depth int
}

// errTooDeep is returned for patterns nested beyond MaxPatternDepth.
var errTooDeep = fmt.Errorf("pattern nests deeper than %d levels", MaxPatternDepth)

// open enters one level of parentheses or brackets.
func (p *patParser) open() error {
	if p.depth >= MaxPatternDepth {
		return errTooDeep
	}
	p.depth++
	return nil
}

// node makes an operator node over children, within MaxPatternDepth.
func node(op string, children ...*patNode) (*patNode, error) {
	h := 0
	for _, c := range children {
		h = max(h, c.height)
	}
	if h+1 > MaxPatternDepth {
		return nil, errTooDeep
	}
	return &patNode{op: op, children: children, height: h + 1}, nil
}

func (p *patParser) peek() patTok {
	if !p.peeked {
		p.peeked = true
		if p.lexErr != nil {
			p.look = patTok{kind: tokEOF}
		} else if p.look, p.lexErr = p.lex.next(); p.lexErr != nil {
			p.look = patTok{kind: tokEOF}
		}
	}
	return p.look
}

func (p *patParser) next() patTok {
	t := p.peek()
	if t.kind != tokEOF {
		p.peeked = false
	}
	return t
}

func (p *patParser) keyword(k string) bool {
	t := p.peek()
	if t.kind == tokWord && strings.EqualFold(t.text, k) {
		p.peeked = false
		return true
	}
	return false
}

// errPatternTooLong is returned for patterns over MaxPatternLen.
var errPatternTooLong = fmt.Errorf("pattern is longer than %d bytes", MaxPatternLen)

func parsePattern(s string) (*patNode, error) {
	if len(s) > MaxPatternLen {
		return nil, errPatternTooLong
	}
	p := &patParser{lex: patLexer{src: s}}
	n, err := p.observations()
	if p.lexErr != nil {
		return nil, p.lexErr
	}
	if err != nil {
		return nil, err
	}
	if t := p.peek(); p.lexErr != nil {
		return nil, p.lexErr
	} else if t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	return n, nil
}

// binary parses operand (KEYWORD operand)* into one node of that operator.
func (p *patParser) binary(keyword string, operand func() (*patNode, error)) (*patNode, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	if !p.keyword(keyword) {
		return first, nil
	}
	children := []*patNode{first}
	for {
		right, err := operand()
		if err != nil {
			return nil, err
		}
		children = append(children, right)
		if !p.keyword(keyword) {
			return node(keyword, children...)
		}
	}
}

// Observation operators bind FOLLOWEDBY loosest, then OR, then AND, as in
// the STIX 2.1 grammar.
func (p *patParser) observations() (*patNode, error) {
	return p.binary("FOLLOWEDBY", func() (*patNode, error) {
		return p.binary("OR", func() (*patNode, error) {
			return p.binary("AND", p.observation)
		})
	})
}

func (p *patParser) observation() (*patNode, error) {
	var n *patNode
	switch t := p.next(); t.kind {
	case tokLBrack:
		if err := p.open(); err != nil {
			return nil, err
		}
		var err error
		if n, err = p.comparisons(); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRBrack {
			return nil, fmt.Errorf("expected ']', found %q", t.text)
		}
		p.depth--
	case tokLParen:
		if err := p.open(); err != nil {
			return nil, err
		}
		var err error
		if n, err = p.observations(); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, fmt.Errorf("expected ')', found %q", t.text)
		}
		p.depth--
	default:
		return nil, fmt.Errorf("expected '[' or '(', found %q", t.text)
	}
	for {
		switch {
		case p.keyword("WITHIN"):
			if p.next().kind != tokLit || !p.keyword("SECONDS") {
				return nil, fmt.Errorf("malformed WITHIN qualifier")
			}
		case p.keyword("REPEATS"):
			if p.next().kind != tokLit || !p.keyword("TIMES") {
				return nil, fmt.Errorf("malformed REPEATS qualifier")
			}
		case p.keyword("START"):
			if p.next().kind != tokLit || !p.keyword("STOP") || p.next().kind != tokLit {
				return nil, fmt.Errorf("malformed START/STOP qualifier")
			}
		default:
			return n, nil
		}
		// Qualifiers stack without recursion here, but each is a level
		// of the tree that later walks recurse through.
		var err error
		if n, err = node("QUALIFIED", n); err != nil {
			return nil, err
		}
	}
}

// Inside an observation AND binds tighter than OR.
func (p *patParser) comparisons() (*patNode, error) {
	return p.binary("OR", func() (*patNode, error) {
		return p.binary("AND", p.comparison)
	})
}

func (p *patParser) comparison() (*patNode, error) {
	if p.peek().kind == tokLParen {
		p.next()
		if err := p.open(); err != nil {
			return nil, err
		}
		n, err := p.comparisons()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, fmt.Errorf("expected ')', found %q", t.text)
		}
		p.depth--
		return n, nil
	}
	path := p.next()
	if path.kind != tokWord || !strings.Contains(path.text, ":") {
		return nil, fmt.Errorf("expected an object path, found %q", path.text)
	}
	c := patComparison{path: path.text}
	if p.keyword("NOT") {
		c.negated = true
	}
	switch t := p.next(); {
	case t.kind == tokOp:
		c.op = t.text
	case t.kind == tokWord:
		switch up := strings.ToUpper(t.text); up {
		case "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS":
			c.op = up
		default:
			return nil, fmt.Errorf("unknown operator %q", t.text)
		}
	default:
		return nil, fmt.Errorf("expected an operator after %s, found %q", path.text, t.text)
	}
	if err := p.operand(&c); err != nil {
		return nil, err
	}
	return &patNode{cmp: c, height: 1}, nil
}

func (p *patParser) operand(c *patComparison) error {
	t := p.next()
	switch t.kind {
	case tokString:
		c.values = append(c.values, t.text)
	case tokLit:
		c.nonStr = true
	case tokLParen:
		for {
			v := p.next()
			switch v.kind {
			case tokString:
				c.values = append(c.values, v.text)
			case tokLit:
				c.nonStr = true
			default:
				return fmt.Errorf("expected a value in the list, found %q", v.text)
			}
			sep := p.next()
			if sep.kind == tokRParen {
				return nil
			}
			if sep.kind != tokComma {
				return fmt.Errorf("expected ',' or ')' in the list, found %q", sep.text)
			}
		}
	default:
		return fmt.Errorf("expected a value after %s %s, found %q", c.path, c.op, t.text)
	}
	return nil
}

// sufficient returns the comparisons that each make n match by themselves,
// and a description of every part that cannot be used that way.
func (n *patNode) sufficient(cmps []patComparison, unusable []string) ([]patComparison, []string) {
	switch n.op {
	case "":
		return append(cmps, n.cmp), unusable
	case "OR":
		for _, c := range n.children {
			cmps, unusable = c.sufficient(cmps, unusable)
		}
		return cmps, unusable
	case "QUALIFIED":
		return cmps, append(unusable, "a qualified observation (WITHIN/REPEATS/START) is not supported")
	default:
		return cmps, append(unusable, fmt.Sprintf("%s of %d parts (%s) is not supported", n.op, len(n.children), n.describe()))
	}
}

// describeLen bounds a description.
const describeLen = 160

// describe writes the part of the pattern n stands for, shortened: it
// stops once the description is long enough, so describing a part of a
// million comparisons costs no more than describing a small one.
func (n *patNode) describe() string {
	var b strings.Builder
	n.describeTo(&b)
	return truncate(b.String(), describeLen)
}

func (n *patNode) describeTo(b *strings.Builder) {
	if n.op == "" {
		b.WriteString(n.cmp.String())
		return
	}
	for i, c := range n.children {
		if b.Len() > describeLen {
			return
		}
		if i > 0 {
			b.WriteString(" " + n.op + " ")
		}
		c.describeTo(b)
	}
}
