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

func lexPattern(p string) ([]patTok, error) {
	var toks []patTok
	i := 0
	for i < len(p) {
		c := p[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '[':
			toks = append(toks, patTok{tokLBrack, "["})
			i++
		case c == ']':
			toks = append(toks, patTok{tokRBrack, "]"})
			i++
		case c == '(':
			toks = append(toks, patTok{tokLParen, "("})
			i++
		case c == ')':
			toks = append(toks, patTok{tokRParen, ")"})
			i++
		case c == ',':
			toks = append(toks, patTok{tokComma, ","})
			i++
		case c == '\'':
			s, n, err := lexString(p[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, patTok{tokString, s})
			i += n
		case (c == 't' || c == 'h' || c == 'b') && i+1 < len(p) && p[i+1] == '\'':
			s, n, err := lexString(p[i+1:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, patTok{tokLit, string(c) + s})
			i += 1 + n
		case c == '=' || c == '<' || c == '>' || c == '!':
			op := string(c)
			if i+1 < len(p) && p[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, fmt.Errorf("stray '!' at %d", i)
			}
			toks = append(toks, patTok{tokOp, op})
			i += len(op)
		case isPathChar(c):
			w, n, err := lexWord(p[i:])
			if err != nil {
				return nil, err
			}
			kind := tokWord
			if (w[0] >= '0' && w[0] <= '9') || w[0] == '-' || w == "true" || w == "false" {
				kind = tokLit
			}
			toks = append(toks, patTok{kind, w})
			i += n
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return toks, nil
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
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return "", 0, fmt.Errorf("unterminated index in %q", p)
			}
			idx := p[i+1 : i+j]
			if idx != "*" && !allDigits(idx) {
				return p[:i], i, nil
			}
			i += j + 1
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
	toks []patTok
	pos  int
}

func (p *patParser) peek() patTok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return patTok{kind: tokEOF}
}

func (p *patParser) next() patTok {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *patParser) keyword(k string) bool {
	t := p.peek()
	if t.kind == tokWord && strings.EqualFold(t.text, k) {
		p.pos++
		return true
	}
	return false
}

func parsePattern(s string) (*patNode, error) {
	toks, err := lexPattern(s)
	if err != nil {
		return nil, err
	}
	p := &patParser{toks: toks}
	n, err := p.observations()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
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
	n := first
	for p.keyword(keyword) {
		right, err := operand()
		if err != nil {
			return nil, err
		}
		if n == first {
			n = &patNode{op: keyword, children: []*patNode{first}}
		}
		n.children = append(n.children, right)
	}
	return n, nil
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
		var err error
		if n, err = p.comparisons(); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRBrack {
			return nil, fmt.Errorf("expected ']', found %q", t.text)
		}
	case tokLParen:
		var err error
		if n, err = p.observations(); err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, fmt.Errorf("expected ')', found %q", t.text)
		}
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
		n = &patNode{op: "QUALIFIED", children: []*patNode{n}}
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
		n, err := p.comparisons()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, fmt.Errorf("expected ')', found %q", t.text)
		}
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
	return &patNode{cmp: c}, nil
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

func (n *patNode) describe() string {
	if n.op == "" {
		return n.cmp.String()
	}
	parts := make([]string, 0, len(n.children))
	for _, c := range n.children {
		parts = append(parts, c.describe())
	}
	return truncate(strings.Join(parts, " "+n.op+" "), 160)
}
