package event

import (
	"math/bits"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// FieldSet is a fixed list of fields that a stage reads from every event,
// for View.GetAll. Reading fields one by one walks the same objects again
// for each: process.hash.sha256, .sha1 and .md5 each look for "process",
// then "hash", and most fields are absent, which is the costly case (every
// name and alias is searched for in vain). GetAll walks each object once
// for all the fields under it, with the same result as Get on each field.
//
// A FieldSet is immutable and may be shared between goroutines.
type FieldSet struct {
	fields []*Field
	// paths are the distinct names of the fields' aliases; aliasPath[i][j]
	// is the index in paths of fields[i].aliases[j].
	paths     []string
	aliasPath [][]int
	// pathMask[i] has the bits of fields[i]'s names in paths, so that a
	// field none of whose names was found is passed over at once.
	pathMask []uint64
	root     *setNode
	// children is the number of setChild in the tree: each node's
	// children have the slots [base, base+len(children)) of GetAll's
	// scratch space.
	children int
	// perField is set when the set is too big or its names too odd for the
	// walk (more than 64 names, an empty segment such as "a..b", or an
	// object with more than maxChildren sub-names): GetAll then calls Get
	// for each field.
	perField bool
}

// setNode is an object on the way to some of the set's names: its
// children are the next name segments.
type setNode struct {
	children []setChild
	base     int
	// firsts has bit c&63 for the first byte c of every child's segment:
	// most keys of an object are rejected on their first byte alone.
	firsts uint64
}

type setChild struct {
	seg string
	// leaf is the index of the name ending with this segment, or -1.
	leaf int
	// node holds the names continuing below this segment; nil if none.
	node *setNode
	// under lists every name ending at or below this segment, with its
	// remainder from this segment on, for objects that mix nested and
	// dotted keys (see GetAll).
	under []relPath
}

type relPath struct {
	rest string
	path int
}

// maxChildren bounds the sub-names of one object, so that one bit per
// child fits resolve's masks.
const maxChildren = 32

// NewFieldSet returns the set of the given fields, in that order.
func NewFieldSet(fields ...*Field) *FieldSet {
	fs := &FieldSet{fields: fields, root: &setNode{}}
	index := map[string]int{}
	for _, f := range fields {
		ap := make([]int, len(f.aliases))
		var mask uint64
		for j, a := range f.aliases {
			pi, ok := index[a.path]
			if !ok {
				pi = len(fs.paths)
				index[a.path] = pi
				fs.paths = append(fs.paths, a.path)
			}
			ap[j] = pi
			mask |= 1 << (pi & 63)
		}
		fs.aliasPath = append(fs.aliasPath, ap)
		fs.pathMask = append(fs.pathMask, mask)
	}
	if len(fs.paths) > 64 {
		fs.perField = true
		return fs
	}
	for pi, p := range fs.paths {
		segs := strings.Split(p, ".")
		for _, s := range segs {
			if s == "" {
				// lookup treats a leading, trailing or doubled dot as part
				// of a key, not as a separator; such names keep to Get.
				fs.perField = true
				return fs
			}
		}
		n := fs.root
		for d, s := range segs {
			c := n.child(s)
			if c == nil {
				if len(n.children) == maxChildren {
					fs.perField = true
					return fs
				}
				fs.children++
				n.children = append(n.children, setChild{seg: s, leaf: -1})
				n.firsts |= 1 << (s[0] & 63)
				c = &n.children[len(n.children)-1]
			}
			c.under = append(c.under, relPath{rest: strings.Join(segs[d:], "."), path: pi})
			if d == len(segs)-1 {
				c.leaf = pi
				break
			}
			if c.node == nil {
				c.node = &setNode{}
			}
			n = c.node
		}
	}
	fs.root.number(0)
	return fs
}

// number gives every node its base in the scratch space, from next on,
// and returns the next free slot.
func (n *setNode) number(next int) int {
	n.base = next
	next += len(n.children)
	for i := range n.children {
		if c := n.children[i].node; c != nil {
			next = c.number(next)
		}
	}
	return next
}

func (n *setNode) child(seg string) *setChild {
	for i := range n.children {
		if n.children[i].seg == seg {
			return &n.children[i]
		}
	}
	return nil
}

// Len is the number of fields in the set.
func (fs *FieldSet) Len() int { return len(fs.fields) }

// resolve finds the set's names below n in m with the result of lookup on
// each (rest from n), setting vals[path] and bit path of the result.
//
// lookup tries a name as a flat key first, then every prefix that is an
// object. In an object whose keys have no dots, only the first segment can
// match, so the name is found by descending through that key's object: the
// walk does that for all names at once, in one pass over the keys. A key
// that starts with one of the segments and a dot ("hash.sha256" in the
// process object) may be a flat or partly flat form of the names below
// that segment: those names are then looked up with lookup itself, which
// settles the order of the shapes. Keys are compared as Map.Get does, the
// first of equal keys winning.
//
// scratch holds the values of the children's keys, each node's at its
// base (see FieldSet.children); only those of found keys are read, so it
// is never cleared.
func (n *setNode) resolve(m pcommon.Map, vals, scratch []pcommon.Value) (found uint64) {
	var (
		have    uint32 // children whose key was found, not dotted
		general uint32 // children with a dotted key starting with their segment
	)
	sub := scratch[n.base : n.base+len(n.children)]
	for k, val := range m.All() {
		if len(k) == 0 || n.firsts&(1<<(k[0]&63)) == 0 {
			continue
		}
		for i := range n.children {
			s := n.children[i].seg
			switch {
			case s[0] != k[0]:
			case len(k) == len(s):
				if k == s && have&(1<<i) == 0 {
					sub[i] = val
					have |= 1 << i
				}
			case len(k) > len(s) && k[len(s)] == '.' && k[:len(s)] == s:
				general |= 1 << i
			}
		}
	}
	// Only the children whose key was there: usually one or two of them.
	for todo := have | general; todo != 0; todo &= todo - 1 {
		i := bits.TrailingZeros32(todo)
		c := &n.children[i]
		bit := uint32(1) << i
		switch {
		case general&bit != 0:
			for _, r := range c.under {
				if v, ok := lookup(m, r.rest); ok {
					vals[r.path] = v
					found |= 1 << r.path
				}
			}
		case have&bit != 0:
			v := sub[i]
			if c.leaf >= 0 && v.Type() != pcommon.ValueTypeEmpty {
				vals[c.leaf] = v
				found |= 1 << c.leaf
			}
			if c.node != nil && v.Type() == pcommon.ValueTypeMap {
				found |= c.node.resolve(v.Map(), vals, scratch)
			}
		}
	}
	return found
}

// GetAll reads every field of fs, setting vals[i] and ok[i] (len(vals) and
// len(ok) at least fs.Len()) to what Get(fs's field i) returns, without
// Get's per-field cache: it is meant for a stage that reads its fields
// once per event. It does not allocate once the view has seen the set.
func (v *View) GetAll(fs *FieldSet, vals []pcommon.Value, ok []bool) {
	if fs.perField {
		for i, f := range fs.fields {
			vals[i], ok[i] = v.Get(f)
		}
		return
	}
	np := len(fs.paths)
	if n := 3*np + fs.children; len(v.setVals) < n {
		v.setVals = make([]pcommon.Value, n)
	}
	attrVals, bodyVals, resVals := v.setVals[:np], v.setVals[np:2*np], v.setVals[2*np:3*np]
	scratch := v.setVals[3*np:]
	attrFound := fs.root.resolve(v.attrs, attrVals, scratch)
	var bodyFound, resFound uint64
	if v.hasBody {
		bodyFound = fs.root.resolve(v.body, bodyVals, scratch)
	}
	if v.res.Len() > 0 {
		resFound = fs.root.resolve(v.res, resVals, scratch)
	}
	// Get's order: for each name in turn, the attributes, the body, the
	// resource.
	seen := attrFound | bodyFound | resFound
	for i, f := range fs.fields {
		vals[i], ok[i] = pcommon.Value{}, false
		if seen&fs.pathMask[i] == 0 {
			continue
		}
		for j, pi := range fs.aliasPath[i] {
			a := f.aliases[j]
			if attrFound&(1<<pi) != 0 && a.accepts(attrVals[pi]) {
				vals[i], ok[i] = attrVals[pi], true
				break
			}
			if bodyFound&(1<<pi) != 0 && a.accepts(bodyVals[pi]) {
				vals[i], ok[i] = bodyVals[pi], true
				break
			}
			if resFound&(1<<pi) != 0 && a.accepts(resVals[pi]) {
				vals[i], ok[i] = resVals[pi], true
				break
			}
		}
	}
}
