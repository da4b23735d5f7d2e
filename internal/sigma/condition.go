package sigma

import (
	"fmt"
	"strings"
)

// The condition grammar, as pySigma parses it (sigma/conditions.py), with
// operator precedence from the specification, least binding first:
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | primary
//	primary = "(" expr ")" | quant "of" ( pattern | "them" ) | identifier
//	quant   = "1" | "any" | "all"
//
// Keywords are lower case. Identifiers are ASCII letters, digits, _ and -;
// patterns letters, digits, _ and *. The pipe of the old aggregation syntax
// ("| count() by x > 5", "| near") is not part of the grammar: pySigma
// refuses it, and so does the engine, as unsupported.

type condOp uint8

const (
	cAnd condOp = iota
	cOr
	cNot
	cIdent // name
	cOf    // quant (all or not) of name (a pattern, or "them")
)

type condNode struct {
	op   condOp
	kids []*condNode
	name string
	all  bool // cOf: all of (else 1 of)
}

// errAggregation marks a condition with the pipe syntax.
type errAggregation struct{ detail string }

func (e *errAggregation) Error() string { return e.detail }

type condToken struct {
	s   string
	pos int
}

func tokenizeCondition(s string) ([]condToken, error) {
	var toks []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, condToken{s[i : i+1], i})
			i++
		case c == '|':
			return nil, &errAggregation{fmt.Sprintf("condition uses the aggregation pipe at offset %d (%q): count()/near aggregations are replaced by Sigma correlation rules, which Cairn does not run", i, clip(s[i:], 40))}
		case isCondWordByte(c):
			j := i
			for j < len(s) && isCondWordByte(s[j]) {
				j++
			}
			toks = append(toks, condToken{s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("condition: unexpected character %q at offset %d", c, i)
		}
	}
	return toks, nil
}

func isCondWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '*' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

type condParser struct {
	toks  []condToken
	i     int
	depth int
	src   string
}

// parseCondition parses one condition string.
func parseCondition(s string) (*condNode, error) {
	if len(s) > MaxConditionBytes {
		return nil, &limitError{fmt.Sprintf("condition of %d bytes, more than %d", len(s), MaxConditionBytes)}
	}
	toks, err := tokenizeCondition(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("condition is empty")
	}
	p := &condParser{toks: toks, src: s}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.i].s)
	}
	return n, nil
}

func (p *condParser) errorf(format string, args ...any) error {
	at := len(p.src)
	if p.i < len(p.toks) {
		at = p.toks[p.i].pos
	}
	return fmt.Errorf("condition %q: "+format+" (offset %d)", append([]any{clip(p.src, 80)}, append(args, at)...)...)
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].s
	}
	return ""
}

func (p *condParser) enter() error {
	p.depth++
	if p.depth > MaxConditionDepth {
		return &limitError{fmt.Sprintf("condition nested more than %d levels", MaxConditionDepth)}
	}
	return nil
}

func (p *condParser) expr() (*condNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.peek() != "or" {
		return left, nil
	}
	n := &condNode{op: cOr, kids: []*condNode{left}}
	for p.peek() == "or" {
		p.i++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, right)
	}
	return n, nil
}

func (p *condParser) and() (*condNode, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	if p.peek() != "and" {
		return left, nil
	}
	n := &condNode{op: cAnd, kids: []*condNode{left}}
	for p.peek() == "and" {
		p.i++
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, right)
	}
	return n, nil
}

func (p *condParser) unary() (*condNode, error) {
	if p.peek() != "not" {
		return p.primary()
	}
	p.i++
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	k, err := p.unary()
	if err != nil {
		return nil, err
	}
	return &condNode{op: cNot, kids: []*condNode{k}}, nil
}

func (p *condParser) primary() (*condNode, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, p.errorf("unexpected end")
	case t == "(":
		p.i++
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errorf("missing )")
		}
		p.i++
		return n, nil
	case (t == "1" || t == "any" || t == "all") && p.i+1 < len(p.toks) && p.toks[p.i+1].s == "of":
		p.i += 2
		pat := p.peek()
		if pat == "" || pat == "(" || pat == ")" || strings.Contains(pat, "-") || isCondKeyword(pat) && pat != "them" {
			return nil, p.errorf("%s of: expected a search identifier pattern or them", t)
		}
		p.i++
		return &condNode{op: cOf, name: pat, all: t == "all"}, nil
	case t == ")" || isCondKeyword(t):
		return nil, p.errorf("unexpected %q", t)
	case strings.Contains(t, "*"):
		return nil, p.errorf("pattern %q outside 1 of/all of", t)
	}
	p.i++
	return &condNode{op: cIdent, name: t}, nil
}

func isCondKeyword(s string) bool {
	switch s {
	case "and", "or", "not", "of", "them":
		return true
	}
	return false
}

// matchIdentifierPattern matches a search identifier against a pattern of
// 1 of/all of, where * is any run of characters (the whole name must
// match).
func matchIdentifierPattern(pat, name string) bool {
	if pat == "them" {
		return true
	}
	// Patterns hold letters, digits, _ and *: nothing to escape.
	return newGlob(parsePattern(pat)).match(name)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
