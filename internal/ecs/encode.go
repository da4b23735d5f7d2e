package ecs

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
)

// Encoder writes log records as ECS JSON documents. Not safe for concurrent
// use; reuse it.
//
// In general fields from several sources, with dotted and nested keys mixed,
// have to be merged before anything is written, so the encoder builds a small
// tree of the output document in nodes and then walks it. Nodes refer to each
// other by index so that the slice can be reused without allocating and can
// grow while the tree is walked (Maps inside Slices are expanded only then).
// A record with nothing to merge, the usual case when replaying decoded
// documents, is written directly instead (see stream.go), which saves most
// of that work.
type Encoder struct {
	nodes []node
	// index finds the children of nodes that have more than hashAbove of
	// them; a linear scan is faster for the handful most objects have, but
	// a document with thousands of keys at one level must not go quadratic.
	index  map[childKey]int32
	lockTS bool // @timestamp comes from the record; attributes may not override it
	ts     uint64
	sev    string
	trace  pcommon.TraceID
	span   pcommon.SpanID
	body   pcommon.Value
	// inj are the fields the record and the caller's Extra add to the
	// document (see injection), in the order they are appended.
	inj   []injection
	b64   [192]byte // multiple of 3, so chunks encode like the whole
	times timeFormatter

	noStream bool // tests: always take the tree path
}

const hashAbove = 16

type childKey struct {
	parent int32
	key    string
}

// node is one member of the output document. Index 0 is the root, which is
// never anyone's child, so 0 doubles as "none" in the links.
type node struct {
	key   string
	val   pcommon.Value // the scalar when kind is kindValue
	first int32         // first child
	last  int32         // last child, to append in first-occurrence order
	next  int32         // next sibling
	kids  int32
	kind  uint8 // which scalar the node holds, if any
	form  form  // how the value of kind kindValue was written
	obj   bool  // the node is an object; a scalar then goes to its "value" child
	// hashed: the node's children are in Encoder.index.
	hashed bool
}

const (
	kindNone uint8 = iota
	kindValue
	kindTime
	kindSeverity
	kindTraceID
	kindSpanID
	kindBodyText
	// kindInjected + i is the string of injection i.
	kindInjected
)

// Extra is what a writer adds to a record's document without changing the
// record: the id it derived, routing fields, the ingest time. Empty fields
// add nothing.
type Extra struct {
	// ID is written as event.id unless the record has one.
	ID string
	// Dataset replaces event.dataset.
	Dataset string
	// Ingested replaces event.ingested (an RFC 3339 time).
	Ingested string
	// ECSVersion is written as ecs.version unless the record has one.
	ECSVersion string
	// DataStreamType, DataStreamDataset and DataStreamNamespace replace
	// data_stream.type, .dataset and .namespace.
	DataStreamType, DataStreamDataset, DataStreamNamespace string
	// Now, in Unix nanoseconds, is the @timestamp of a record that has no
	// time at all (0: none is written).
	Now int64
}

// injection is one field the encoder adds to an object of the document's
// top level: log.level from the record's SeverityText, trace.id and span.id
// from its IDs, and the fields of an Extra. A missing object is created. An
// injection either replaces the member of the same name (override) or only
// fills it in when the document has none.
type injection struct {
	obj, key string
	kind     uint8
	override bool
	val      string
}

// Append appends rec, with the attributes of res, to dst as one ECS JSON
// object and returns the extended buffer.
func (e *Encoder) Append(dst []byte, res pcommon.Resource, rec plog.LogRecord) []byte {
	return e.AppendDoc(dst, res, rec, nil)
}

// AppendDoc is Append with the fields of x added (x may be nil).
func (e *Encoder) AppendDoc(dst []byte, res pcommon.Resource, rec plog.LogRecord, x *Extra) []byte {
	// The stored @timestamp is the event time of internal/event: what the
	// processors windowed on. A time read from an @timestamp field is
	// written normalised in its place, and the field dropped.
	ns, src := event.RecordTime(rec)
	if src == event.NoTime && x != nil && x.Now > 0 {
		ns, src = x.Now, event.FromObserved
	}
	e.ts = uint64(ns)
	e.lockTS = src != event.NoTime
	e.inject(rec, x)
	if !e.noStream && res.Attributes().Len() == 0 {
		start := len(dst)
		out, ok := e.stream(dst, rec)
		if ok {
			e.sev = ""
			return out
		}
		dst = out[:start]
	}
	dst = e.appendTree(dst, res, rec)
	e.sev = ""
	return dst
}

// inject lists the fields to add to the document of rec.
func (e *Encoder) inject(rec plog.LogRecord, x *Extra) {
	e.inj = e.inj[:0]
	if e.sev = rec.SeverityText(); e.sev != "" {
		e.inj = append(e.inj, injection{obj: "log", key: "level", kind: kindSeverity})
	}
	if e.trace = rec.TraceID(); !e.trace.IsEmpty() {
		e.inj = append(e.inj, injection{obj: "trace", key: "id", kind: kindTraceID})
	}
	if e.span = rec.SpanID(); !e.span.IsEmpty() {
		e.inj = append(e.inj, injection{obj: "span", key: "id", kind: kindSpanID})
	}
	if x == nil {
		return
	}
	add := func(obj, key, val string, override bool) {
		if val != "" {
			e.inj = append(e.inj, injection{obj: obj, key: key, kind: kindInjected, override: override, val: val})
		}
	}
	add("event", "id", x.ID, false)
	add("event", "dataset", x.Dataset, true)
	add("event", "ingested", x.Ingested, true)
	add("ecs", "version", x.ECSVersion, false)
	add("data_stream", "type", x.DataStreamType, true)
	add("data_stream", "dataset", x.DataStreamDataset, true)
	add("data_stream", "namespace", x.DataStreamNamespace, true)
}

// appendTree is the general path: build the merged document, then write it.
func (e *Encoder) appendTree(dst []byte, res pcommon.Resource, rec plog.LogRecord) []byte {
	e.nodes = e.nodes[:0]
	root := e.newNode("")
	// Created first so that @timestamp is the first key whatever its source.
	tsNode := e.addChild(root, "@timestamp")
	if e.lockTS {
		e.nodes[tsNode].kind = kindTime
	}

	e.mergeMap(root, res.Attributes(), srcResource, 0, 0)
	e.mergeMap(root, rec.Attributes(), srcAttrs, 0, 0)
	body := rec.Body()
	switch body.Type() {
	case pcommon.ValueTypeEmpty:
	case pcommon.ValueTypeMap:
		e.mergeMap(root, body.Map(), srcBody, 0, 0)
	case pcommon.ValueTypeStr:
		if body.Str() != "" && e.child(root, "message") == 0 {
			n := e.addChild(root, "message")
			e.nodes[n].kind = kindValue
			e.nodes[n].val = body
		}
	default:
		if e.child(root, "message") == 0 {
			e.body = body
			e.nodes[e.addChild(root, "message")].kind = kindBodyText
		}
	}
	for i := range e.inj {
		e.applyInjection(i)
	}

	dst = e.writeObject(dst, root)

	// Zero the nodes for newNode, which also drops the references into
	// rec and res so that a reused encoder does not keep them alive.
	clear(e.nodes)
	e.nodes = e.nodes[:0]
	if len(e.index) > 0 {
		clear(e.index)
	}
	e.body = pcommon.Value{}
	return dst
}

// newNode takes the next free node. Nodes past len(e.nodes) are always zero
// (Append and truncate clear what they release), so it only sets the key
// instead of copying in a whole new node.
func (e *Encoder) newNode(key string) int32 {
	n := len(e.nodes)
	if n < cap(e.nodes) {
		e.nodes = e.nodes[:n+1]
	} else {
		e.nodes = append(e.nodes, node{})
	}
	e.nodes[n].key = key
	return int32(n)
}

// child returns the child of p named key, or 0.
func (e *Encoder) child(p int32, key string) int32 {
	if e.nodes[p].hashed {
		return e.index[childKey{p, key}]
	}
	for c := e.nodes[p].first; c != 0; c = e.nodes[c].next {
		if e.nodes[c].key == key {
			return c
		}
	}
	return 0
}

// addChild appends a new child named key to p; the caller has checked that p
// has none yet.
func (e *Encoder) addChild(p int32, key string) int32 {
	c := e.newNode(key)
	pn := &e.nodes[p]
	if pn.last == 0 {
		pn.first = c
	} else {
		e.nodes[pn.last].next = c
	}
	pn.last = c
	pn.kids++
	switch {
	case pn.hashed:
		e.index[childKey{p, key}] = c
	case pn.kids > hashAbove:
		if e.index == nil {
			e.index = make(map[childKey]int32)
		}
		pn.hashed = true
		for k := pn.first; k != 0; k = e.nodes[k].next {
			e.index[childKey{p, e.nodes[k].key}] = k
		}
	}
	return c
}

// objChild returns the child of p named key, created if needed, as an object.
func (e *Encoder) objChild(p int32, key string) int32 {
	c := e.child(p, key)
	if c == 0 {
		c = e.addChild(p, key)
	}
	e.nodes[c].obj = true
	return c
}

// truncate drops the nodes from mark on, which a Map inside a Slice used.
func (e *Encoder) truncate(mark int32) {
	for i := mark; i < int32(len(e.nodes)); i++ {
		if e.nodes[i].hashed {
			for k := e.nodes[i].first; k != 0; k = e.nodes[k].next {
				delete(e.index, childKey{i, e.nodes[k].key})
			}
		}
	}
	clear(e.nodes[mark:])
	e.nodes = e.nodes[:mark]
}

// One leaf can be written several ways in one record: as a flat dotted key
// and nested ({"host.name": "a", "host": {"name": "b"}}), or in the
// attributes and in a Map body or the resource. The event model
// (internal/event) reads such a field one way; the document must hold what
// the processors read, so the encoder keeps, of the values of one leaf, the
// one the event model's lookup finds, whatever their order:
//
//   - the record attributes win over a Map body, which wins over the
//     resource attributes;
//   - within one map, the key that holds the rest of the path whole (flat,
//     "b.c") wins over nested maps; among nested forms, the shortest prefix
//     that is a map ("b" → "c.d" before "b.c" → "d"), and so on down.
//
// A leaf's form is its source and the set of key boundaries ("cuts") on its
// path: bit i is set when a key ends after the path's segment i. Paths
// deeper than 64 segments are not ranked: the later value wins there.
const (
	srcAttrs uint8 = iota
	srcBody
	srcResource
)

// form is how one value of a leaf was written.
type form struct {
	src  uint8
	cuts uint64
	// ranked: the path is at most 64 segments deep.
	ranked bool
}

// wins reports whether a value written as f replaces one written as old.
func (f form) wins(old form) bool {
	if !f.ranked || !old.ranked {
		return true
	}
	if f.src != old.src {
		return f.src < old.src
	}
	if f.cuts == old.cuts {
		return false // the same key twice in a map: the first, as Map.Get finds it
	}
	// The first boundary where the two differ: one form ends a key there,
	// the other goes on. The one that goes on wins if it holds the rest of
	// the path in that one key (lookup tries the flat rest first);
	// otherwise the one that ends the key there, the shorter prefix.
	i := bits.TrailingZeros64(f.cuts ^ old.cuts)
	fEnds := f.cuts&(1<<i) != 0
	goesOn := f.cuts
	if fEnds {
		goesOn = old.cuts
	}
	flatRest := goesOn>>(i+1) == 0
	return fEnds != flatRest
}

func (e *Encoder) mergeMap(parent int32, m pcommon.Map, src uint8, depth int, cuts uint64) {
	m.Range(func(k string, v pcommon.Value) bool {
		e.merge(parent, k, v, src, depth, cuts)
		return true
	})
}

// merge sets key, which may be dotted, under parent to v. The key starts at
// segment depth of the leaf paths it holds, whose key boundaries so far are
// cuts (see form).
func (e *Encoder) merge(parent int32, key string, v pcommon.Value, src uint8, depth int, cuts uint64) {
	if parent == 0 && e.lockTS && strings.HasPrefix(key, "@timestamp") &&
		(len(key) == len("@timestamp") || key[len("@timestamp")] == '.') {
		return
	}
	depth++
	if strings.IndexByte(key, '.') >= 0 && expandable(key) {
		for {
			i := strings.IndexByte(key, '.')
			if i < 0 {
				break
			}
			parent = e.objChild(parent, key[:i])
			key = key[i+1:]
			depth++
		}
	}
	if v.Type() == pcommon.ValueTypeMap {
		// A key ends here: a cut after segment depth-1.
		if depth <= 64 {
			cuts |= 1 << (depth - 1)
		}
		e.mergeMap(e.objChild(parent, key), v.Map(), src, depth, cuts)
		return
	}
	f := form{src: src, cuts: cuts, ranked: depth <= 64}
	n := e.child(parent, key)
	if n == 0 {
		n = e.addChild(parent, key)
	} else if e.nodes[n].kind == kindValue && !f.wins(e.nodes[n].form) {
		return
	}
	e.nodes[n].kind = kindValue
	e.nodes[n].val = v
	e.nodes[n].form = f
}

// expandable reports whether splitting key at its dots yields no empty
// field name.
func expandable(key string) bool {
	return key[0] != '.' && key[len(key)-1] != '.' && !strings.Contains(key, "..")
}

// applyInjection adds injection i to the tree: a new member at the end of
// its object, or, for an override, the existing member's value replaced in
// its place (an object there becomes the scalar, as on the streaming path).
func (e *Encoder) applyInjection(i int) {
	in := &e.inj[i]
	kind := in.kind
	if kind == kindInjected {
		kind = kindInjected + uint8(i)
	}
	p := e.child(0, in.obj)
	if p != 0 {
		if c := e.child(p, in.key); c != 0 {
			if in.override {
				n := &e.nodes[c]
				n.kind, n.val, n.obj, n.first, n.last, n.kids = kind, pcommon.Value{}, false, 0, 0, 0
			}
			return
		}
	}
	p = e.objChild(0, in.obj)
	e.nodes[e.addChild(p, in.key)].kind = kind
}

// writeObject writes node n and its subtree. It re-reads e.nodes by index
// after each member because writing a Slice may grow the slice.
func (e *Encoder) writeObject(dst []byte, n int32) []byte {
	dst = append(dst, '{')
	sep := false
	for c := e.nodes[n].first; c != 0; c = e.nodes[c].next {
		if e.nodes[c].kind == kindNone && !e.nodes[c].obj {
			continue // @timestamp that nothing provided
		}
		if sep {
			dst = append(dst, ',')
		}
		sep = true
		dst = appendString(dst, e.nodes[c].key)
		dst = append(dst, ':')
		if e.nodes[c].obj {
			dst = e.writeObject(dst, c)
		} else {
			dst = e.writeScalar(dst, c)
		}
	}
	if e.nodes[n].kind != kindNone && e.child(n, "value") == 0 {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"value":`...)
		dst = e.writeScalar(dst, n)
	}
	return append(dst, '}')
}

func (e *Encoder) writeScalar(dst []byte, n int32) []byte {
	if e.nodes[n].kind == kindValue {
		return e.writeValue(dst, e.nodes[n].val)
	}
	return e.writeKind(dst, e.nodes[n].kind)
}

// writeKind writes the record-level scalars, which live in the Encoder.
func (e *Encoder) writeKind(dst []byte, kind uint8) []byte {
	switch kind {
	case kindTime:
		return e.times.appendTimestamp(dst, e.ts)
	case kindSeverity:
		return appendString(dst, e.sev)
	case kindTraceID:
		dst = append(dst, '"')
		dst = hex.AppendEncode(dst, e.trace[:])
		return append(dst, '"')
	case kindSpanID:
		dst = append(dst, '"')
		dst = hex.AppendEncode(dst, e.span[:])
		return append(dst, '"')
	case kindBodyText:
		return e.writeBodyText(dst, e.body)
	}
	if kind >= kindInjected && int(kind-kindInjected) < len(e.inj) {
		return appendString(dst, e.inj[kind-kindInjected].val)
	}
	return append(dst, "null"...)
}

func (e *Encoder) writeValue(dst []byte, v pcommon.Value) []byte {
	return e.writeTyped(dst, v, v.Type())
}

// writeTyped writes v, whose type t the caller already has: Value.Type is a
// type switch, worth doing once per value.
func (e *Encoder) writeTyped(dst []byte, v pcommon.Value, t pcommon.ValueType) []byte {
	switch t {
	case pcommon.ValueTypeStr:
		return appendString(dst, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return appendFloat(dst, v.Double())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool())
	case pcommon.ValueTypeBytes:
		return e.appendBase64(dst, v.Bytes())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		dst = append(dst, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.writeValue(dst, s.At(i))
		}
		return append(dst, ']')
	case pcommon.ValueTypeMap:
		// Only Maps inside Slices get here; they are expanded and merged
		// like the top level, in a subtree dropped once written.
		mark := int32(len(e.nodes))
		r := e.newNode("")
		e.mergeMap(r, v.Map(), srcAttrs, 0, 0)
		dst = e.writeObject(dst, r)
		e.truncate(mark)
		return dst
	}
	return append(dst, "null"...)
}

// writeBodyText writes a non-string, non-Map body as the JSON string of
// Value.AsString. The common scalar types are formatted here because
// AsString allocates.
func (e *Encoder) writeBodyText(dst []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, v.Int(), 10)
		return append(dst, '"')
	case pcommon.ValueTypeBool:
		dst = append(dst, '"')
		dst = strconv.AppendBool(dst, v.Bool())
		return append(dst, '"')
	case pcommon.ValueTypeDouble:
		f := v.Double()
		dst = append(dst, '"')
		switch {
		case math.IsNaN(f):
			dst = append(dst, "NaN"...)
		case math.IsInf(f, 1):
			dst = append(dst, "Infinity"...)
		case math.IsInf(f, -1):
			dst = append(dst, "-Infinity"...)
		default:
			dst = appendShortFloat(dst, f)
		}
		return append(dst, '"')
	case pcommon.ValueTypeBytes:
		return e.appendBase64(dst, v.Bytes())
	}
	return appendString(dst, v.AsString())
}

// appendBase64 encodes in chunks because ByteSlice exposes its contents
// only by copy or byte by byte.
func (e *Encoder) appendBase64(dst []byte, b pcommon.ByteSlice) []byte {
	dst = append(dst, '"')
	n := b.Len()
	for i := 0; i < n; {
		chunk := e.b64[:0]
		for ; i < n && len(chunk) < len(e.b64); i++ {
			chunk = append(chunk, b.At(i))
		}
		dst = base64.StdEncoding.AppendEncode(dst, chunk)
	}
	return append(dst, '"')
}

// appendFloat writes f as a JSON number. Integral values get ".0" so that
// they decode as Double again instead of turning into Int.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	start := len(dst)
	dst = appendShortFloat(dst, f)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// appendShortFloat writes the shortest text that parses back to f, as
// ECMAScript does: plain decimals for 1e-6 <= |f| < 1e21, an exponent
// outside. This is also what AsString produces.
func appendShortFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// strconv pads the exponent to two digits: 1e-07 -> 1e-7.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
