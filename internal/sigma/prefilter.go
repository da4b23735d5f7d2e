package sigma

import (
	"sort"

	"github.com/cairnsec/cairn/internal/event"
)

// The prefilter. Most events match no rule, and most rules can be ruled
// out from one field: "Image ends with /nc or /ncat" fails for nearly
// every process. For each rule, the compiler picks a set of atoms (a field
// equals, starts with, ends with or contains a literal, or is present) of
// which at least one holds whenever the rule matches: the atoms of one
// item of an AND, the union of the atoms of an OR's branches. An event
// then reads each field the atoms of its logsource need once, lower-cased,
// finds every atom that holds with one map lookup and one pass of each
// automaton, and only the rules with an atom that holds are evaluated.
// Rules without such a set (a condition that can hold on an empty event,
// such as "not filter") are always evaluated.
//
// Atoms compare lower-cased values with lower-cased literals, which is
// what the rules themselves do; for a case-sensitive value (cased, re) the
// lower-cased literal is still necessary, since lower-casing maps each
// character on its own and so keeps equality, prefixes, suffixes and
// substrings.

type atomKind uint8

const (
	aEq atomKind = iota
	aPrefix
	aSuffix
	aContains
	aPresent
)

type atom struct {
	field int
	kind  atomKind
	lit   string
}

// atomCost ranks atom sets: fewer and more selective atoms are better.
// Presence holds for nearly every event that has the field, and a field
// with two values (Initiated) is not much better.
func atomCost(as []atom, fields []source) int {
	c := 0
	for _, a := range as {
		switch a.kind {
		case aEq:
			c++
		case aPrefix, aSuffix:
			c += 2
		case aContains:
			c += 3
		case aPresent:
			c += 50
		}
		if fields[a.field].values != nil {
			c += 20
		}
	}
	return c
}

// required returns atoms of which one holds whenever n does; ok is false
// when there is no such set (n can hold with none of its fields present).
func required(n *node, fields []source) (as []atom, ok bool) {
	switch n.op {
	case nConst:
		// true: no field needed. false: never holds, so the empty set is
		// right (the rule is never a candidate).
		return nil, !n.val
	case nNot:
		return nil, false
	case nItem:
		return itemAtoms(n.item)
	case nOr:
		for _, k := range n.kids {
			ka, ok := required(k, fields)
			if !ok {
				return nil, false
			}
			as = append(as, ka...)
		}
		return as, true
	}
	// nAnd: any one of its terms' sets will do; take the cheapest.
	best, bestCost := []atom(nil), -1
	for _, k := range n.kids {
		ka, ok := required(k, fields)
		if !ok {
			continue
		}
		if c := atomCost(ka, fields); bestCost < 0 || c < bestCost {
			best, bestCost = ka, c
		}
	}
	return best, bestCost >= 0
}

func itemAtoms(it *item) ([]atom, bool) {
	var sets [][]atom
	for _, alts := range it.values {
		var as []atom
		ok := true
		for i := range alts {
			a, aok := matcherAtom(&alts[i], it.field)
			if !aok {
				ok = false
				break
			}
			as = append(as, a)
		}
		if !ok {
			if !it.all {
				return nil, false
			}
			continue
		}
		sets = append(sets, as)
	}
	if len(sets) == 0 {
		return nil, false
	}
	if !it.all {
		var out []atom
		for _, s := range sets {
			out = append(out, s...)
		}
		return out, true
	}
	// |all: every value must hold, so any one value's atoms will do.
	best := sets[0]
	for _, s := range sets[1:] {
		if len(s) < len(best) || len(s) == len(best) && longest(s) > longest(best) {
			best = s
		}
	}
	return best, true
}

func longest(as []atom) int {
	n := 0
	for _, a := range as {
		if len(a.lit) > n {
			n = len(a.lit)
		}
	}
	return n
}

// matcherAtom is the atom a value needs.
func matcherAtom(m *matcher, field int) (atom, bool) {
	lit := m.lit
	if m.cased {
		lit = lowerString(lit)
	}
	switch m.kind {
	case mEq:
		return atom{field, aEq, lit}, true
	case mPrefix:
		return atom{field, aPrefix, lit}, true
	case mSuffix:
		return atom{field, aSuffix, lit}, true
	case mContains:
		return atom{field, aContains, lit}, true
	case mGlob:
		return globAtom(m.glob, m.cased, field), true
	case mNull:
		return atom{}, false
	case mExists:
		return atom{field, aPresent, ""}, m.b
	}
	// Anything, regular expressions, CIDR, comparisons: the field must be
	// there.
	return atom{field, aPresent, ""}, true
}

// globAtom picks a literal a glob's matches must have: its leading one (a
// prefix), else its trailing one (a suffix), else its longest (a
// substring); presence if it has none.
func globAtom(g *glob, cased bool, field int) atom {
	low := func(s string) string {
		if cased {
			return lowerString(s)
		}
		return s
	}
	if g.anchorStart {
		if u := g.segs[0][0]; u.k == tLit && len(u.s) >= 2 {
			return atom{field, aPrefix, low(u.s)}
		}
	}
	if g.anchorEnd {
		last := g.segs[len(g.segs)-1]
		if u := last[len(last)-1]; u.k == tLit && len(u.s) >= 2 {
			return atom{field, aSuffix, low(u.s)}
		}
	}
	best := ""
	for _, seg := range g.segs {
		for _, u := range seg {
			if u.k == tLit && len(u.s) > len(best) {
				best = u.s
			}
		}
	}
	if best == "" {
		return atom{field, aPresent, ""}
	}
	return atom{field, aContains, low(best)}
}

// bucket is the rules of one class with their prefilter.
type bucket struct {
	rules  []*Rule
	always []int32
	fields []fieldIndex
	words  int
	// readAt[i] says where fields[i]'s field (and its join array, or -1)
	// are in the rule set's bulk read.
	readAt []readPos
}

type readPos struct{ prim, join int }

// fieldIndex finds the atoms of one field that hold.
type fieldIndex struct {
	field    int
	present  []int32
	eq       map[string][]int32
	prefix   *automaton
	suffix   *automaton
	contains *automaton
}

func newBucket(rules []*Rule, fields []source) *bucket {
	b := &bucket{rules: rules, words: (len(rules) + 63) / 64}
	type lits struct {
		present                  []int32
		eq                       map[string][]int32
		prefix, suffix, contains []trieLit
	}
	per := map[int]*lits{}
	for i, r := range rules {
		id := int32(i)
		as, ok := required(r.root, fields)
		if !ok {
			b.always = append(b.always, id)
			continue
		}
		for _, a := range as {
			l := per[a.field]
			if l == nil {
				l = &lits{eq: map[string][]int32{}}
				per[a.field] = l
			}
			switch {
			case a.kind == aPresent || (a.kind != aEq && a.lit == ""):
				l.present = appendUnique(l.present, id)
			case a.kind == aEq:
				l.eq[a.lit] = appendUnique(l.eq[a.lit], id)
			case a.kind == aPrefix:
				l.prefix = append(l.prefix, trieLit{a.lit, id})
			case a.kind == aSuffix:
				l.suffix = append(l.suffix, trieLit{a.lit, id})
			default:
				l.contains = append(l.contains, trieLit{a.lit, id})
			}
		}
	}
	var ids []int
	for f := range per {
		ids = append(ids, f)
	}
	sort.Ints(ids)
	for _, f := range ids {
		l := per[f]
		fi := fieldIndex{field: f, present: l.present}
		if len(l.eq) > 0 {
			fi.eq = l.eq
		}
		build := func(ls []trieLit, reverse, ac bool) *automaton {
			if len(ls) == 0 {
				return nil
			}
			a := buildAutomaton(ls, reverse, ac)
			if a == nil {
				// Too many literals for one table: the rules are
				// candidates whenever the field is there.
				for _, x := range ls {
					fi.present = appendUnique(fi.present, x.id)
				}
			}
			return a
		}
		fi.prefix = build(l.prefix, false, false)
		fi.suffix = build(l.suffix, true, false)
		fi.contains = build(l.contains, false, true)
		b.fields = append(b.fields, fi)
	}
	return b
}

// bulkRead is the fields an event is read for in one walk: its
// categorization, then the prefilter fields of every bucket, each once.
type bulkRead struct {
	fields []*event.Field
	pos    map[*event.Field]int
}

func (r *bulkRead) at(f *event.Field) int {
	if f == nil {
		return -1
	}
	if i, ok := r.pos[f]; ok {
		return i
	}
	r.pos[f] = len(r.fields)
	r.fields = append(r.fields, f)
	return len(r.fields) - 1
}

func (r *bulkRead) add(b *bucket, fields []source) {
	for _, fi := range b.fields {
		src := fields[fi.field]
		b.readAt = append(b.readAt, readPos{prim: r.at(src.field), join: r.at(src.join)})
	}
}
