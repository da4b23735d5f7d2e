package sigma

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

type nodeOp uint8

const (
	nAnd nodeOp = iota
	nOr
	nNot
	nItem
	nConst
)

// node is the compiled detection: a tree of and/or/not over items.
type node struct {
	op   nodeOp
	kids []*node
	item *item
	val  bool // nConst
}

// item is one field of a selection map with its values: true when any
// value matches (all of them with |all). A value is a set of alternative
// matchers (base64offset gives three, Initiated two).
type item struct {
	src    source
	field  int // index in the rule set's field table
	all    bool
	values [][]matcher
	desc   string // the rule's key, for messages
}

type mkind uint8

const (
	mEq mkind = iota
	mPrefix
	mSuffix
	mContains
	mGlob
	mAnything // only stars: any value, even empty
	mRegex
	mCIDR
	mNull   // the field is absent (or null)
	mExists // present == b
	mCmp
)

type cmpOp uint8

const (
	cmpGT cmpOp = iota
	cmpGTE
	cmpLT
	cmpLTE
)

// matcher is one compiled value. Strings are compared lower-cased (lit and
// glob are lower-cased at compile time, values once per event) unless
// cased.
type matcher struct {
	kind   mkind
	cased  bool
	lit    string
	glob   *glob
	re     *regexp.Regexp
	prefix netip.Prefix
	cmp    cmpOp
	num    float64
	b      bool
}

// compileRule resolves the detection of r against its logsource and
// builds its tree.
func compileRule(r *Rule, d *rawDetection) error {
	conds := make([]*condNode, 0, len(d.conditions))
	var aggregation error
	for _, c := range d.conditions {
		cn, err := parseCondition(c)
		var ae *errAggregation
		switch {
		case errors.As(err, &ae):
			aggregation = unsupported(ReasonAggregation, "%s", ae.detail)
			continue
		case err != nil:
			return err
		}
		conds = append(conds, cn)
	}
	used := map[string]bool{}
	for _, cn := range conds {
		if err := resolveNames(cn, d, used); err != nil {
			return err
		}
	}
	class, mode, lsErr := resolveLogsource(r.Logsource)
	switch {
	case lsErr != nil:
		return lsErr
	case aggregation != nil:
		return aggregation
	case d.timeframe:
		return unsupported(ReasonAggregation, "detection has a timeframe, which only aggregations use")
	}
	r.Class = class
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d.selections[n].keywords {
			return unsupported(ReasonKeywords, "search identifier %q is a keyword search (values without a field), which needs the raw log line; Cairn's events are fields", n)
		}
	}
	sels := map[string]*node{}
	for _, n := range names {
		sn, err := compileSelection(class, mode, d.selections[n])
		if err != nil {
			return err
		}
		sels[n] = sn
	}
	var roots []*node
	for _, cn := range conds {
		roots = append(roots, buildTree(cn, d, sels))
	}
	if len(roots) == 1 {
		r.root = roots[0]
	} else {
		// A list of conditions: each one alone is a query; together they
		// are linked by OR (specification, Condition).
		r.root = &node{op: nOr, kids: roots}
	}
	return nil
}

// ofNames lists the search identifiers a "1 of"/"all of" pattern names:
// those it matches that do not start with "_" (specification: them
// leaves them out; pySigma does the same for patterns).
func ofNames(pat string, d *rawDetection) []string {
	var out []string
	for _, n := range d.names {
		if !strings.HasPrefix(n, "_") && matchIdentifierPattern(pat, n) {
			out = append(out, n)
		}
	}
	return out
}

func resolveNames(cn *condNode, d *rawDetection, used map[string]bool) error {
	switch cn.op {
	case cIdent:
		if _, ok := d.selections[cn.name]; !ok {
			return fmt.Errorf("condition refers to %q, which the detection does not define", cn.name)
		}
		used[cn.name] = true
	case cOf:
		names := ofNames(cn.name, d)
		if len(names) == 0 {
			return fmt.Errorf("condition: %q matches no search identifier", cn.name)
		}
		for _, n := range names {
			used[n] = true
		}
	}
	for _, k := range cn.kids {
		if err := resolveNames(k, d, used); err != nil {
			return err
		}
	}
	return nil
}

func buildTree(cn *condNode, d *rawDetection, sels map[string]*node) *node {
	switch cn.op {
	case cIdent:
		return sels[cn.name]
	case cOf:
		n := &node{op: nOr}
		if cn.all {
			n.op = nAnd
		}
		for _, name := range ofNames(cn.name, d) {
			n.kids = append(n.kids, sels[name])
		}
		if len(n.kids) == 1 {
			return n.kids[0]
		}
		return n
	}
	n := &node{op: nAnd}
	switch cn.op {
	case cOr:
		n.op = nOr
	case cNot:
		n.op = nNot
	}
	for _, k := range cn.kids {
		n.kids = append(n.kids, buildTree(k, d, sels))
	}
	return n
}

func compileSelection(c Class, mode int, sel *rawSelection) (*node, error) {
	or := &node{op: nOr}
	for _, m := range sel.maps {
		and := &node{op: nAnd}
		for _, it := range m {
			n, err := compileItem(c, mode, it)
			if err != nil {
				return nil, err
			}
			and.kids = append(and.kids, n)
		}
		if len(and.kids) == 1 {
			or.kids = append(or.kids, and.kids[0])
		} else {
			or.kids = append(or.kids, and)
		}
	}
	if len(or.kids) == 1 {
		return or.kids[0], nil
	}
	return or, nil
}

type vkind uint8

const (
	vStr vkind = iota
	vNum
	vBool
	vNull
	vRegex
	vCIDR
	vExists
	vCmp
)

var vkindNames = [...]string{"string", "number", "boolean", "null", "regular expression", "CIDR", "exists", "comparison"}

// value is a rule value while its modifiers apply.
type value struct {
	kind     vkind
	alts     []pattern // vStr
	raw      string    // the value as written
	text     string    // vNum, vBool: the canonical text
	num      float64
	b        bool
	cased    bool
	reFlags  string
	cmp      cmpOp
	prefix   netip.Prefix
	modified bool
}

// Modifiers the specification defines that the engine does not run.
var unsupportedModifiers = map[string]string{
	"neq":       "neq (its meaning differs between the specification and pySigma)",
	"fieldref":  "field references",
	"expand":    "placeholders, which need values from a processing pipeline",
	"wide":      "UTF-16 encodings (Windows)",
	"utf16":     "UTF-16 encodings (Windows)",
	"utf16le":   "UTF-16 encodings (Windows)",
	"utf16be":   "UTF-16 encodings (Windows)",
	"minute":    "time-part modifiers",
	"hour":      "time-part modifiers",
	"day":       "time-part modifiers",
	"week":      "time-part modifiers",
	"month":     "time-part modifiers",
	"year":      "time-part modifiers",
	"timestamp": "time-part modifiers",
}

func scalarValue(n *yaml.Node) (value, error) {
	switch n.ShortTag() {
	case "!!null":
		return value{kind: vNull}, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return value{kind: vBool, b: b, text: strconv.FormatBool(b), raw: n.Value}, nil
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return value{kind: vNum, num: float64(i), text: strconv.FormatInt(i, 10), raw: n.Value}, nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return value{kind: vNum, num: float64(u), text: strconv.FormatUint(u, 10), raw: n.Value}, nil
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return value{kind: vNum, num: f, text: strconv.FormatFloat(f, 'g', -1, 64), raw: n.Value}, nil
		}
	}
	// Strings, and anything else YAML resolves (a date) as written.
	return value{kind: vStr, alts: []pattern{parsePattern(n.Value)}, raw: n.Value}, nil
}

// asString turns a number or boolean into the string of its text, for
// string modifiers.
func (v *value) asString(mod string) error {
	switch v.kind {
	case vStr:
		return nil
	case vNum, vBool:
		v.kind, v.alts = vStr, []pattern{plainPattern(v.text)}
		return nil
	}
	return fmt.Errorf("modifier %s does not apply to a %s value", mod, vkindNames[v.kind])
}

func (v *value) apply(mod string) error {
	switch mod {
	case "contains", "startswith", "endswith":
		if v.kind == vRegex {
			// A regular expression is searched anywhere in the value
			// already: pySigma's contains/startswith/endswith on it only
			// pad it with .* for backends that anchor.
			return nil
		}
		if err := v.asString(mod); err != nil {
			return err
		}
		for i, p := range v.alts {
			v.alts[i] = p.wrap(mod != "startswith", mod != "endswith")
		}
	case "base64", "base64offset":
		if err := v.asString(mod); err != nil {
			return err
		}
		var out []pattern
		for _, p := range v.alts {
			if p.hasWildcards() {
				return fmt.Errorf("modifier %s does not apply to a value with wildcards", mod)
			}
			out = append(out, base64Patterns(p.text(), mod == "base64offset")...)
		}
		v.alts = out
	case "windash":
		if err := v.asString(mod); err != nil {
			return err
		}
		for i, p := range v.alts {
			v.alts[i] = p.windash()
		}
	case "cased":
		if err := v.asString(mod); err != nil {
			return err
		}
		v.cased = true
	case "re":
		if v.modified || (v.kind != vStr && v.kind != vNum) {
			return errors.New("modifier re applies only to a plain value, before any other modifier")
		}
		v.kind = vRegex
	case "i", "ignorecase", "m", "multiline", "s", "dotall":
		if v.kind != vRegex {
			return fmt.Errorf("modifier %s applies only after re", mod)
		}
		v.reFlags += mod[:1]
	case "cidr":
		if v.modified || v.kind != vStr {
			return errors.New("modifier cidr applies only to a plain string value")
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(v.raw))
		if err != nil {
			return fmt.Errorf("cidr: %w", err)
		}
		v.kind, v.prefix = vCIDR, p.Masked()
	case "exists":
		if v.modified || v.kind != vBool {
			return errors.New("modifier exists applies only to true or false")
		}
		v.kind = vExists
	case "gt", "gte", "lt", "lte":
		if v.kind == vStr {
			f, err := strconv.ParseFloat(strings.TrimSpace(v.raw), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("modifier %s applies only to a number", mod)
			}
			v.kind, v.num = vNum, f
		}
		if v.kind != vNum {
			return fmt.Errorf("modifier %s applies only to a number", mod)
		}
		v.kind = vCmp
		v.cmp = map[string]cmpOp{"gt": cmpGT, "gte": cmpGTE, "lt": cmpLT, "lte": cmpLTE}[mod]
	default:
		if why, ok := unsupportedModifiers[mod]; ok {
			return unsupported(ReasonModifier, "modifier %q is not supported by Cairn's engine: %s", mod, why)
		}
		return unsupported(ReasonModifier, "unknown modifier %q", mod)
	}
	v.modified = true
	return nil
}

// base64Patterns encodes s as base64, or with base64offset as the three
// forms s takes inside a longer encoded string, depending on its offset
// modulo 3: encode it after 0, 1 or 2 bytes of padding and keep only the
// characters that do not depend on the bytes around it (pySigma's
// SigmaBase64OffsetModifier, start offsets 0, 2, 3 and end cuts by the
// length).
func base64Patterns(s string, offset bool) []pattern {
	enc := base64.StdEncoding
	if !offset {
		return []pattern{plainPattern(enc.EncodeToString([]byte(s)))}
	}
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2} // characters cut at the end, by (len+i)%3
	var out []pattern
	for i := 0; i < 3; i++ {
		e := enc.EncodeToString(append([]byte(strings.Repeat(" ", i)), s...))
		end := len(e) - ends[(len(s)+i)%3]
		if starts[i] >= end {
			continue
		}
		out = append(out, plainPattern(e[starts[i]:end]))
	}
	return out
}

func compileItem(c Class, mode int, it rawItem) (*node, error) {
	if mode == auditdExecve && it.field == "type" {
		return auditdType(it)
	}
	src, err := resolveField(c, mode, it.field)
	if err != nil {
		return nil, err
	}
	item := &item{src: src, desc: it.key}
	for _, m := range it.mods {
		if m == "all" {
			item.all = true
		}
	}
	for _, vn := range it.values {
		v, err := scalarValue(vn)
		if err != nil {
			return nil, err
		}
		for _, m := range it.mods {
			if m == "all" {
				continue
			}
			if err := v.apply(m); err != nil {
				if _, ok := err.(*unsupportedError); ok {
					return nil, err
				}
				return nil, fmt.Errorf("%s: %w", it.key, err)
			}
		}
		if src.values != nil {
			if v, err = translateValue(it, src, v); err != nil {
				return nil, err
			}
		}
		ms, err := matchersOf(v)
		if err != nil {
			var le *limitError
			if errors.As(err, &le) {
				return nil, &limitError{it.key + ": " + le.detail}
			}
			if _, ok := err.(*unsupportedError); ok {
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w", it.key, err)
		}
		item.values = append(item.values, ms)
	}
	return &node{op: nItem, item: item}, nil
}

// translateValue maps a value of a field whose values ECS says otherwise
// (Initiated true/false).
func translateValue(it rawItem, src source, v value) (value, error) {
	key := ""
	switch {
	case v.kind == vBool:
		key = v.text
	case v.kind == vStr && !v.cased && len(v.alts) == 1 && !v.alts[0].hasWildcards():
		key = strings.ToLower(v.alts[0].text())
	case v.kind == vNull || v.kind == vExists:
		return v, nil
	}
	to, ok := src.values[key]
	if !ok {
		return v, unsupported(ReasonField, "field %q is compared with %q: Cairn reads it from %s, and knows the meaning of %s only", it.field, v.raw, src.field.Name, strings.Join(sortedKeys(src.values), " and "))
	}
	out := value{kind: vStr, raw: v.raw}
	for _, s := range to {
		out.alts = append(out.alts, plainPattern(s))
	}
	return out, nil
}

func sortedKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// auditdType is the type field of an auditd rule: only EXECVE, the record
// of an execve, is what a process start of Cairn's says; other record
// types need raw audit records.
func auditdType(it rawItem) (*node, error) {
	if len(it.mods) > 0 {
		return nil, unsupported(ReasonAuditd, "auditd field type with modifiers needs raw auditd records")
	}
	for _, vn := range it.values {
		if !strings.EqualFold(vn.Value, "EXECVE") {
			return nil, unsupported(ReasonAuditd, "needs raw auditd records (type %s): Cairn's events carry process starts (EXECVE, as process.args), not SYSCALL/PATH/... records", vn.Value)
		}
	}
	// The rule's events are process starts: an EXECVE record each.
	return &node{op: nConst, val: true}, nil
}

// matchersOf compiles a value into its alternative matchers.
func matchersOf(v value) ([]matcher, error) {
	switch v.kind {
	case vNull:
		return []matcher{{kind: mNull}}, nil
	case vExists:
		return []matcher{{kind: mExists, b: v.b}}, nil
	case vNum, vBool:
		return []matcher{{kind: mEq, lit: lowerString(v.text)}}, nil
	case vCmp:
		return []matcher{{kind: mCmp, cmp: v.cmp, num: v.num}}, nil
	case vCIDR:
		return []matcher{{kind: mCIDR, prefix: v.prefix}}, nil
	case vRegex:
		if len(v.raw) > MaxRegexBytes {
			return nil, &limitError{fmt.Sprintf("regular expression of %d bytes, more than %d", len(v.raw), MaxRegexBytes)}
		}
		expr := v.raw
		if v.reFlags != "" {
			expr = "(?" + dedupFlags(v.reFlags) + ")" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, unsupported(ReasonRegex, "regular expression %q: %v (Go's RE2 syntax has no lookaround or backreferences)", clip(v.raw, 80), err)
		}
		return []matcher{{kind: mRegex, re: re}}, nil
	}
	var out []matcher
	for _, p := range v.alts {
		if p.wildcards() > MaxWildcards {
			return nil, &limitError{fmt.Sprintf("a value with more than %d wildcards", MaxWildcards)}
		}
		if !v.cased {
			p = p.lowered()
		}
		out = append(out, patternMatcher(p, v.cased))
	}
	return out, nil
}

func dedupFlags(f string) string {
	var b strings.Builder
	for _, c := range "ims" {
		if strings.ContainsRune(f, c) {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// patternMatcher picks the cheapest matcher for a pattern: equality,
// prefix, suffix or substring for the forms Sigma's modifiers make, a glob
// for the rest.
func patternMatcher(p pattern, cased bool) matcher {
	// Runs of stars are one star.
	var q pattern
	for _, t := range p {
		if t.k == tStar && len(q) > 0 && q[len(q)-1].k == tStar {
			continue
		}
		q = append(q, t)
	}
	m := matcher{cased: cased}
	isLit := func(i int) bool { return i < len(q) && q[i].k == tLit }
	isStar := func(i int) bool { return i < len(q) && q[i].k == tStar }
	switch {
	case len(q) == 0:
		m.kind = mEq
	case len(q) == 1 && isLit(0):
		m.kind, m.lit = mEq, q[0].s
	case len(q) == 1 && isStar(0):
		m.kind = mAnything
	case len(q) == 2 && isStar(0) && isLit(1):
		m.kind, m.lit = mSuffix, q[1].s
	case len(q) == 2 && isLit(0) && isStar(1):
		m.kind, m.lit = mPrefix, q[0].s
	case len(q) == 3 && isStar(0) && isLit(1) && isStar(2):
		m.kind, m.lit = mContains, q[1].s
	default:
		m.kind, m.glob = mGlob, newGlob(q)
	}
	return m
}
