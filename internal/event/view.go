package event

import (
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/zeebo/xxh3"

	"github.com/cairnsec/cairn/internal/timestamp"
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

// Time returns the event time: @timestamp, else the record timestamp, else
// the observed timestamp. Event time, not arrival time, drives first-seen
// history and correlation windows so that a replay of old logs behaves like
// live processing. ok is false when the event carries no time at all.
func (v *View) Time() (t time.Time, ok bool) {
	if val, found := lookup(v.attrs, Timestamp.Name); found {
		if t, ok := parseTime(val); ok {
			return t, true
		}
	}
	if v.hasBody {
		if val, found := lookup(v.body, Timestamp.Name); found {
			if t, ok := parseTime(val); ok {
				return t, true
			}
		}
	}
	if ts := v.rec.Timestamp(); ts != 0 {
		return ts.AsTime(), true
	}
	if ts := v.rec.ObservedTimestamp(); ts != 0 {
		return ts.AsTime(), true
	}
	return time.Time{}, false
}

// parseTime reads RFC 3339 strings and epoch milliseconds, the two forms of
// ECS @timestamp in the wild.
func parseTime(val pcommon.Value) (time.Time, bool) {
	switch val.Type() {
	case pcommon.ValueTypeStr:
		ns, ok := timestamp.ParseRFC3339String(val.Str())
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(0, ns).UTC(), true
	case pcommon.ValueTypeInt:
		ns, ok := timestamp.EpochMillis(true, val.Int(), 0)
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(0, ns).UTC(), true
	case pcommon.ValueTypeDouble:
		ns, ok := timestamp.EpochMillis(false, 0, val.Double())
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(0, ns).UTC(), true
	}
	return time.Time{}, false
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
	m := v.attrs
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
	v.cached = 0
	v.slot(EventID.Name).SetStr(id)
	return id
}

// ContentID derives the content id without writing it.
func (v *View) ContentID() string { return v.ids.compute(v) }

// idHasher derives a content id. Every leaf of the event (its dotted path
// and typed value) is hashed with XXH3-128 and the leaf hashes are added up,
// so the id depends neither on key order (collectors build attribute maps
// from Go maps, whose order varies run to run) nor on whether a document
// was sent nested or with dotted keys. Cairn's own output (cairn.*) and
// event.id itself are left out so that enrichment never changes an event's
// identity. 128 bits, because at a billion events a 64-bit id would collide
// too likely for idempotent writes.
type idHasher struct {
	buf    []byte
	arena  []byte
	hi, lo uint64
}

func newIDHasher() idHasher { return idHasher{buf: make([]byte, 0, 512)} }

// bigValue: longer strings are hashed on their own and only their digest
// enters the leaf, so one huge field does not grow the buffer for good.
const bigValue = 1024

func (h *idHasher) compute(v *View) string {
	h.hi, h.lo = 0, 0
	b := h.buf[:0]
	b = h.walkMap(b, v.attrs, 0)
	if v.hasBody {
		b = h.walkMap(b, v.body, 0)
	} else if body := v.rec.Body(); body.Type() != pcommon.ValueTypeEmpty {
		b = append(b[:0], "message"...)
		b = h.leaf(b, body, body.Type())
	}
	b = append(b[:0], 0xff, 'r', 0)
	b = h.walkMap(b, v.res, len(b))
	ts := uint64(v.rec.Timestamp())
	b = append(b[:0], 0xff, 't', byte(ts), byte(ts>>8), byte(ts>>16), byte(ts>>24), byte(ts>>32), byte(ts>>40), byte(ts>>48), byte(ts>>56))
	h.add(b)
	h.buf = b[:0]

	// Ids are carved out of a shared arena: one allocation per ~128 events
	// instead of one per event. Earlier ids stay valid when the arena is
	// replaced because their bytes are never rewritten.
	if cap(h.arena)-len(h.arena) < 32 {
		h.arena = make([]byte, 0, 4096)
	}
	start := len(h.arena)
	h.arena = appendHex(h.arena, h.hi)
	h.arena = appendHex(h.arena, h.lo)
	id := h.arena[start:]
	return unsafe.String(unsafe.SliceData(id), len(id))
}

func (h *idHasher) add(b []byte) {
	d := xxh3.Hash128(b)
	h.hi += d.Hi
	h.lo += d.Lo
}

const hexDigits = "0123456789abcdef"

func appendHex(dst []byte, x uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, hexDigits[(x>>uint(i))&0xf])
	}
	return dst
}

// walkMap hashes the leaves of m; b holds the path so far (base bytes long,
// base 0 meaning the top of the record, where cairn.* and event.id are
// skipped).
func (h *idHasher) walkMap(b []byte, m pcommon.Map, base int) []byte {
	top := base == 0
	for k, val := range m.All() {
		if top && (k == "cairn" || strings.HasPrefix(k, "cairn.") || k == EventID.Name) {
			continue
		}
		n := len(b)
		if n > base {
			b = append(b, '.')
		}
		b = append(b, k...)
		typ := val.Type()
		switch {
		case top && typ == pcommon.ValueTypeMap && k == "event":
			// The nested form of event.id is not content either.
			p := len(b)
			for ek, ev := range val.Map().All() {
				if ek == "id" {
					continue
				}
				b = append(append(b, '.'), ek...)
				b = h.node(b, ev, ev.Type())
				b = b[:p]
			}
		default:
			b = h.node(b, val, typ)
		}
		b = b[:n]
	}
	return b
}

func (h *idHasher) node(b []byte, val pcommon.Value, typ pcommon.ValueType) []byte {
	switch typ {
	case pcommon.ValueTypeMap:
		// A nested map continues the dotted path: {"a":{"b":1}} hashes like {"a.b":1}.
		return h.walkMap(b, val.Map(), -1)
	case pcommon.ValueTypeSlice:
		// Array elements are leaves under path[i]: order matters in arrays.
		n := len(b)
		sl := val.Slice()
		for i := 0; i < sl.Len(); i++ {
			b = append(b, '[', byte('0'+i%10))
			if i >= 10 {
				b = strconv.AppendInt(b[:len(b)-1], int64(i), 10)
			}
			b = append(b, ']')
			e := sl.At(i)
			b = h.node(b, e, e.Type())
			b = b[:n]
		}
		return b
	}
	return h.leaf(b, val, typ)
}

// leaf hashes path + typed value; b holds the path and is returned as it was.
func (h *idHasher) leaf(b []byte, val pcommon.Value, typ pcommon.ValueType) []byte {
	n := len(b)
	b = append(b, 0, byte(typ))
	switch typ {
	case pcommon.ValueTypeStr:
		s := val.Str()
		if len(s) > bigValue {
			d := xxh3.HashString128(s)
			b = appendHex(appendHex(b, d.Hi), d.Lo)
		} else {
			b = append(b, s...)
		}
	case pcommon.ValueTypeInt:
		b = strconv.AppendInt(b, val.Int(), 10)
	case pcommon.ValueTypeDouble:
		b = strconv.AppendFloat(b, val.Double(), 'g', -1, 64)
	case pcommon.ValueTypeBool:
		b = strconv.AppendBool(b, val.Bool())
	case pcommon.ValueTypeBytes:
		d := xxh3.Hash128(val.Bytes().AsRaw())
		b = appendHex(appendHex(b, d.Hi), d.Lo)
	}
	h.add(b)
	return b[:n]
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
