package event

import (
	"strconv"
	"strings"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// View reads one log record as an event. A processor keeps one View and
// Resets it per record, so per-event reads allocate nothing.
type View struct {
	res     pcommon.Map
	rec     plog.LogRecord
	attrs   pcommon.Map
	body    pcommon.Map
	hasBody bool

	// cache remembers field reads for the current event: several trackers
	// and conditions read the same fields (host.name, event.category), and
	// a pointer comparison is cheaper than walking the maps again.
	cache  [24]cacheEntry
	cached int

	// Masks of the first segments of the top-level keys of the attributes
	// (with the body) and of the resource: a field whose first segment is
	// not there is absent without a search, which matters because most
	// events lack most fields (a process start has no dns.* at all).
	// They are worked out on the first Get of an event (segsValid), not in
	// Reset: a stage that reads through GetAll, or reads nothing of most
	// events, does not pay for them.
	attrSegs, resSegs uint64
	segsValid         bool
	// attrsDotted says whether any top-level attribute key has a dot. A
	// record without (a nested ECS document) can only hold "a.b.c" under
	// its "a" object, so lookups go straight there, through topCache.
	attrsDotted bool
	topCache    [8]topEntry
	topCached   int

	// setVals is GetAll's scratch space.
	setVals []pcommon.Value

	ids idHasher
}

type topEntry struct {
	seg string
	val pcommon.Value
	ok  bool
}

type cacheEntry struct {
	f   *Field
	val pcommon.Value
	ok  bool
}

// NewView returns a reusable View.
func NewView() *View {
	return &View{ids: newIDHasher()}
}

// Reset points the view at a record and its resource.
func (v *View) Reset(res pcommon.Resource, rec plog.LogRecord) {
	v.res = res.Attributes()
	v.rec = rec
	v.attrs = rec.Attributes()
	v.cached = 0
	v.topCached = 0
	v.segsValid = false
	if b := rec.Body(); b.Type() == pcommon.ValueTypeMap {
		v.body, v.hasBody = b.Map(), true
	} else {
		v.hasBody = false
	}
}

// ensureSegs works out the segment masks and attrsDotted for the current
// event, once.
func (v *View) ensureSegs() {
	if v.segsValid {
		return
	}
	v.attrSegs, v.attrsDotted = segments(v.attrs)
	if v.hasBody {
		bodySegs, _ := segments(v.body)
		v.attrSegs |= bodySegs
	}
	v.resSegs, _ = segments(v.res)
	v.segsValid = true
}

func segments(m pcommon.Map) (mask uint64, dotted bool) {
	for k := range m.All() {
		// One pass over the key gives its bit and whether it has a dot.
		bit, n := segBitLen(k)
		mask |= bit
		dotted = dotted || n < len(k)
	}
	return mask, dotted
}

// attrLookup is lookup on the record attributes, using the nested-document
// shortcut when the record has no dotted top-level keys.
func (v *View) attrLookup(path string) (pcommon.Value, bool) {
	if v.attrsDotted {
		return lookup(v.attrs, path)
	}
	seg, rest := path, ""
	if i := strings.IndexByte(path, '.'); i >= 0 {
		seg, rest = path[:i], path[i+1:]
	}
	top, ok := v.top(seg)
	if !ok {
		return pcommon.Value{}, false
	}
	if rest == "" {
		if top.Type() == pcommon.ValueTypeEmpty {
			return pcommon.Value{}, false
		}
		return top, true
	}
	if top.Type() != pcommon.ValueTypeMap {
		return pcommon.Value{}, false
	}
	return lookup(top.Map(), rest)
}

// top returns a top-level attribute, remembering it for the event's other
// fields under the same object.
func (v *View) top(seg string) (pcommon.Value, bool) {
	for i := 0; i < v.topCached; i++ {
		if v.topCache[i].seg == seg {
			return v.topCache[i].val, v.topCache[i].ok
		}
	}
	val, ok := v.attrs.Get(seg)
	if v.topCached < len(v.topCache) {
		v.topCache[v.topCached] = topEntry{seg: seg, val: val, ok: ok}
		v.topCached++
	}
	return val, ok
}

// Record returns the record under view.
func (v *View) Record() plog.LogRecord { return v.rec }

// Attributes returns the record attributes, where writes go.
func (v *View) Attributes() pcommon.Map { return v.attrs }

// Get returns the first value of f found under any of its names, looking in
// the record attributes, then a map body, then the resource attributes.
// Fields are ECS leaves: an object found under a name is not the field's
// value (semantic conventions nest "process.executable" → {"path": …}), so
// lookups go on past it.
func (v *View) Get(f *Field) (pcommon.Value, bool) {
	for i := 0; i < v.cached; i++ {
		if v.cache[i].f == f {
			return v.cache[i].val, v.cache[i].ok
		}
	}
	val, ok := v.get(f)
	if v.cached < len(v.cache) {
		v.cache[v.cached] = cacheEntry{f: f, val: val, ok: ok}
		v.cached++
	}
	return val, ok
}

// Invalidate forgets cached reads; call it after writing to the record's
// attributes other than through the View.
func (v *View) Invalidate() {
	v.cached = 0
	v.topCached = 0
	v.segsValid = false
}

func (v *View) get(f *Field) (pcommon.Value, bool) {
	v.ensureSegs()
	for _, a := range f.aliases {
		if v.attrSegs&a.seg != 0 {
			if val, ok := v.attrLookup(a.path); ok && a.accepts(val) {
				return val, true
			}
			if v.hasBody {
				if val, ok := lookup(v.body, a.path); ok && a.accepts(val) {
					return val, true
				}
			}
		}
		if v.resSegs&a.seg != 0 {
			if val, ok := lookup(v.res, a.path); ok && a.accepts(val) {
				return val, true
			}
		}
	}
	return pcommon.Value{}, false
}

// Str returns f as a non-empty string; other value types are not converted
// (use AppendValue for that).
func (v *View) Str(f *Field) (string, bool) {
	val, ok := v.Get(f)
	if !ok || val.Type() != pcommon.ValueTypeStr || val.Str() == "" {
		return "", false
	}
	return val.Str(), true
}

// AppendValue appends a scalar value's text form to dst without allocating:
// ints and bools are formatted, strings copied. It reports false for maps,
// slices, bytes and empty values, which are not usable as terms.
func AppendValue(dst []byte, val pcommon.Value) ([]byte, bool) {
	switch val.Type() {
	case pcommon.ValueTypeStr:
		if val.Str() == "" {
			return dst, false
		}
		return append(dst, val.Str()...), true
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, val.Int(), 10), true
	case pcommon.ValueTypeDouble:
		return strconv.AppendFloat(dst, val.Double(), 'g', -1, 64), true
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, val.Bool()), true
	}
	return dst, false
}

// AnyEquals calls match on a value or, for arrays (ECS event.category and
// event.type are arrays), on each string element, and reports whether any
// call returned true.
func AnyEquals(val pcommon.Value, match func(string) bool) bool {
	switch val.Type() {
	case pcommon.ValueTypeStr:
		return match(val.Str())
	case pcommon.ValueTypeSlice:
		s := val.Slice()
		for i := 0; i < s.Len(); i++ {
			if e := s.At(i); e.Type() == pcommon.ValueTypeStr && match(e.Str()) {
				return true
			}
		}
	case pcommon.ValueTypeInt, pcommon.ValueTypeBool, pcommon.ValueTypeDouble:
		var buf [32]byte
		b, _ := AppendValue(buf[:0], val)
		return match(unsafe.String(unsafe.SliceData(b), len(b)))
	}
	return false
}

// HasSignal reports whether the event already carries the named signal.
func (v *View) HasSignal(name string) bool {
	val, ok := lookup(v.attrs, SignalsKey)
	if !ok {
		return false
	}
	return AnyEquals(val, func(s string) bool { return s == name })
}

// AddSignal appends name to cairn.signals unless it is already there,
// keeping signals from earlier stages (or from upstream) wherever they are.
func (v *View) AddSignal(name string) { v.AddToSet(SignalsKey, name) }

// AddToSet appends value to the string array at path (cairn.signals,
// cairn.alert.ids) unless it is already there. A single string found at path
// becomes an array holding it and value; the array is created where the
// record's shape says (see slot) when path is absent.
func (v *View) AddToSet(path, value string) {
	v.cached = 0
	val, ok := lookup(v.attrs, path)
	if ok {
		switch val.Type() {
		case pcommon.ValueTypeSlice:
			if AnyEquals(val, func(s string) bool { return s == value }) {
				return
			}
			val.Slice().AppendEmpty().SetStr(value)
			return
		case pcommon.ValueTypeStr:
			if val.Str() == value {
				return
			}
			prev := val.Str()
			s := val.SetEmptySlice()
			s.AppendEmpty().SetStr(prev)
			s.AppendEmpty().SetStr(value)
			return
		}
	}
	v.slot(path).SetEmptySlice().AppendEmpty().SetStr(value)
}

// SetFlag sets a boolean field such as cairn.first_seen.<tracker>.
func (v *View) SetFlag(path string) {
	v.cached = 0
	v.slot(path).SetBool(true)
}

// slot returns the place to write a field. Writes follow the record's own
// shape: a record that arrived as a nested ECS document (its "event" is an
// object) gets nested fields, so it stays one consistent document and the
// encoder keeps its fast path; any other record gets a flat dotted key, the
// OTel attribute convention.
func (v *View) slot(path string) pcommon.Value {
	// A write may add a top-level key, dotted or not, and move the
	// attribute array: forget what the shortcuts knew. Masks not worked
	// out yet will see the new key when they are.
	v.topCached = 0
	if v.segsValid {
		v.attrSegs |= segBit(path)
		if strings.IndexByte(path, '.') >= 0 && !v.nestedShape() {
			v.attrsDotted = true
		}
	}
	if !v.nestedShape() {
		return v.attrs.PutEmpty(path)
	}
	return PutNested(v.attrs, path)
}

// PutNested returns the value at the dotted path in m, as nested maps,
// created where missing (the value itself is emptied). A scalar in the way
// is kept, and the rest of the path goes flat under its parent.
func PutNested(m pcommon.Map, path string) pcommon.Value {
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			return m.PutEmpty(path)
		}
		head := path[:i]
		cur, ok := m.Get(head)
		switch {
		case !ok:
			m = m.PutEmptyMap(head)
		case cur.Type() == pcommon.ValueTypeMap:
			m = cur.Map()
		default:
			// A scalar in the way: keep the rest flat under it.
			return m.PutEmpty(path)
		}
		path = path[i+1:]
	}
}

func (v *View) nestedShape() bool {
	e, ok := v.attrs.Get("event")
	return ok && e.Type() == pcommon.ValueTypeMap
}

// EnsureID returns the event's event.id, deriving and writing one when the
// event has none. The id is a digest of the event's content, so replaying the
// same input yields the same ids and a retried export overwrites rather than
// duplicates.
func (v *View) EnsureID() string {
	if s, ok := v.Str(EventID); ok {
		return s
	}
	id := v.ids.compute(v)
	v.SetID(id)
	return id
}

// ContentID derives the content id without writing it.
func (v *View) ContentID() string { return v.ids.compute(v) }

// SetID writes id as the event's event.id, where the record's shape says
// (see slot), replacing any other value there.
func (v *View) SetID(id string) {
	v.cached = 0
	v.slot(EventID.Name).SetStr(id)
}

// FormatID formats a content id summed elsewhere (the line decoder sums it
// while decoding) as EnsureID would, from the view's arena of ids.
func (v *View) FormatID(sum IDSum) string {
	v.ids.sum = sum
	return v.ids.id()
}

// Signals returns the event's cairn.signals value, flat or nested.
func (v *View) Signals() (pcommon.Value, bool) { return lookup(v.attrs, SignalsKey) }

// Each calls fn for every record of ld with its resource, in order: the one
// walk over a batch that every Cairn stage makes.
func Each(ld plog.Logs, fn func(res pcommon.Resource, rec plog.LogRecord)) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			recs := sls.At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				fn(rl.Resource(), recs.At(k))
			}
		}
	}
}

// AppendObject appends an empty object to the array field at path (creating
// the array where the record's shape says, see slot) and returns it, for
// fields such as threat.enrichments.
func (v *View) AppendObject(path string) pcommon.Map {
	v.cached = 0
	if val, ok := lookup(v.attrs, path); ok && val.Type() == pcommon.ValueTypeSlice {
		return val.Slice().AppendEmpty().SetEmptyMap()
	}
	return v.slot(path).SetEmptySlice().AppendEmpty().SetEmptyMap()
}

// Release drops the view's references to the last event it read. A view
// kept between batches would otherwise keep that event's whole batch alive
// (a reference into a record or resource holds everything around it).
func (v *View) Release() {
	// An empty event, rather than zero values, so that a stray read before
	// the next Reset finds nothing instead of crashing.
	v.rec = plog.NewLogRecord()
	v.attrs, v.res, v.body = v.rec.Attributes(), pcommon.NewMap(), pcommon.Map{}
	v.hasBody = false
	v.cache = [len(v.cache)]cacheEntry{}
	v.cached = 0
	v.topCache = [len(v.topCache)]topEntry{}
	v.topCached = 0
	v.segsValid = false
	clear(v.setVals)
}
