package sigma

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/netclass"
)

// Event is what rules are evaluated on: a field's value by its ECS
// definition, as *event.View reads it (ECS or OTel names, flat or nested,
// record, body or resource).
type Event interface {
	Get(f *event.Field) (pcommon.Value, bool)
}

// BulkEvent is an Event that also reads a set of fields in one walk of
// the record, as *event.View does: most fields an event is asked for are
// under the same few objects, and most are absent, which one walk finds
// out once per object rather than once per name.
type BulkEvent interface {
	Event
	GetAll(fs *event.FieldSet, vals []pcommon.Value, ok []bool)
}

// fitem is one value of a field for the current event: its text (numbers
// and booleans formatted) and its lower-cased text.
type fitem struct {
	raw, lower string
	num        float64
	isNum      bool
}

type fslot struct {
	gen    uint32
	off, n int32
}

// Evaluator evaluates a rule set on events, one at a time. It is not safe
// for concurrent use; it allocates nothing once it has seen the largest
// event.
type Evaluator struct {
	set   *RuleSet
	ev    Event
	bulk  BulkEvent // ev, when it reads in bulk
	gen   uint32
	vals  []pcommon.Value
	oks   []bool
	slots []fslot
	items []fitem
	buf   []byte
	cand  []uint64
	out   []*Rule
}

// NewEvaluator returns an evaluator of the set.
func (s *RuleSet) NewEvaluator() *Evaluator {
	words := 0
	for _, b := range s.buckets {
		if b != nil && b.words > words {
			words = b.words
		}
	}
	n := s.read.Len()
	return &Evaluator{set: s, slots: make([]fslot, len(s.fields)), cand: make([]uint64, words),
		vals: make([]pcommon.Value, n), oks: make([]bool, n)}
}

// Set is the rule set the evaluator evaluates.
func (e *Evaluator) Set() *RuleSet { return e.set }

// Match returns the rules that match ev, in the set's order. The slice is
// the evaluator's: it is valid until the next call.
func (e *Evaluator) Match(ev Event) []*Rule {
	e.out = e.out[:0]
	e.begin(ev)
	mask := e.classes()
	for c := Class(0); c < numClasses; c++ {
		if mask&(1<<c) == 0 || e.set.buckets[c] == nil {
			continue
		}
		e.matchBucket(e.set.buckets[c])
	}
	e.ev, e.bulk = nil, nil
	return e.out
}

// classes reads the event's categorization (see Class).
func (e *Evaluator) classes() uint8 {
	if e.bulk == nil {
		cat, ok := e.ev.Get(event.EventCategory)
		if !ok {
			return 0
		}
		typ, tok := e.ev.Get(event.EventType)
		return classesOf(cat, typ, tok)
	}
	// Everything the prefilters need, with the categorization, in one
	// walk: most events are of some class, and the walk is mostly the
	// visit of the few objects the fields are under.
	e.bulk.GetAll(e.set.read, e.vals, e.oks)
	if !e.oks[0] {
		return 0
	}
	return classesOf(e.vals[0], e.vals[1], e.oks[1])
}

// MatchAll evaluates every rule of the event's logsource, without the
// prefilter: for tests, which compare the two.
func (e *Evaluator) MatchAll(ev Event) []*Rule {
	e.out = e.out[:0]
	e.begin(ev)
	mask := e.classes()
	for _, r := range e.set.rules {
		if mask&(1<<r.Class) != 0 && e.eval(r.root) {
			e.out = append(e.out, r)
		}
	}
	e.ev, e.bulk = nil, nil
	return e.out
}

func (e *Evaluator) begin(ev Event) {
	e.ev = ev
	e.bulk, _ = ev.(BulkEvent)
	e.items = e.items[:0]
	e.buf = e.buf[:0]
	e.gen++
	if e.gen == 0 {
		clear(e.slots)
		e.gen = 1
	}
}

// Release drops what the evaluator holds of the last event, so that a
// kept evaluator does not keep that event's batch alive.
func (e *Evaluator) Release() {
	e.ev, e.bulk = nil, nil
	clear(e.vals)
	clear(e.items[:cap(e.items)])
	e.items = e.items[:0]
	clear(e.out[:cap(e.out)])
	e.out = e.out[:0]
	e.gen++
	if e.gen == 0 {
		clear(e.slots)
		e.gen = 1
	}
}

func (e *Evaluator) matchBucket(b *bucket) {
	cand := e.cand[:b.words]
	clear(cand)
	mark(cand, b.always)
	if e.bulk != nil {
		// Read with the categorization (classes).
		for i := range b.fields {
			r := &b.readAt[i]
			var jv pcommon.Value
			jok := false
			if r.join >= 0 {
				jv, jok = e.vals[r.join], e.oks[r.join]
			}
			e.fill(b.fields[i].field, e.vals[r.prim], e.oks[r.prim], jv, jok)
		}
	}
	for i := range b.fields {
		fi := &b.fields[i]
		vals := e.field(fi.field)
		if len(vals) == 0 {
			continue
		}
		mark(cand, fi.present)
		for j := range vals {
			s := vals[j].lower
			if fi.eq != nil {
				if ids, ok := fi.eq[s]; ok {
					mark(cand, ids)
				}
			}
			if fi.prefix != nil {
				fi.prefix.prefixes(s, cand)
			}
			if fi.suffix != nil {
				fi.suffix.suffixes(s, cand)
			}
			if fi.contains != nil {
				fi.contains.contains(s, cand)
			}
		}
	}
	for w, word := range cand {
		for word != 0 {
			i := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if r := b.rules[i]; e.eval(r.root) {
				e.out = append(e.out, r)
			}
		}
	}
}

func (e *Evaluator) eval(n *node) bool {
	switch n.op {
	case nAnd:
		for _, k := range n.kids {
			if !e.eval(k) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range n.kids {
			if e.eval(k) {
				return true
			}
		}
		return false
	case nNot:
		return !e.eval(n.kids[0])
	case nConst:
		return n.val
	}
	return e.evalItem(n.item)
}

func (e *Evaluator) evalItem(it *item) bool {
	vals := e.field(it.field)
	if it.all {
		for _, alts := range it.values {
			if !anyMatch(alts, vals) {
				return false
			}
		}
		return true
	}
	for _, alts := range it.values {
		if anyMatch(alts, vals) {
			return true
		}
	}
	return false
}

func anyMatch(alts []matcher, vals []fitem) bool {
	for i := range alts {
		if alts[i].match(vals) {
			return true
		}
	}
	return false
}

func (m *matcher) match(vals []fitem) bool {
	switch m.kind {
	case mNull:
		return len(vals) == 0
	case mExists:
		return (len(vals) > 0) == m.b
	}
	for i := range vals {
		if m.matchOne(&vals[i]) {
			return true
		}
	}
	return false
}

func (m *matcher) matchOne(v *fitem) bool {
	s := v.lower
	if m.cased {
		s = v.raw
	}
	switch m.kind {
	case mEq:
		return s == m.lit
	case mPrefix:
		return strings.HasPrefix(s, m.lit)
	case mSuffix:
		return strings.HasSuffix(s, m.lit)
	case mContains:
		return strings.Contains(s, m.lit)
	case mGlob:
		return m.glob.match(s)
	case mAnything:
		return true
	case mRegex:
		return m.re.MatchString(v.raw)
	case mCIDR:
		a, ok := netclass.ParseAddr(v.raw)
		return ok && m.prefix.Contains(a)
	case mCmp:
		f, ok := v.number()
		if !ok {
			return false
		}
		switch m.cmp {
		case cmpGT:
			return f > m.num
		case cmpGTE:
			return f >= m.num
		case cmpLT:
			return f < m.num
		}
		return f <= m.num
	}
	return false
}

// number reads the value as a number: an integer or a double as the
// event has it, or a string that is one.
func (v *fitem) number() (float64, bool) {
	if v.isNum {
		return v.num, true
	}
	s := v.raw
	if s == "" || len(s) > 64 {
		return 0, false
	}
	// Only what ParseFloat accepts without an error (an error allocates).
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// field returns the values of a field for the current event, read once.
func (e *Evaluator) field(id int) []fitem {
	st := &e.slots[id]
	if st.gen == e.gen {
		return e.items[st.off : st.off+st.n]
	}
	src := &e.set.fields[id]
	v, ok := e.ev.Get(src.field)
	var jv pcommon.Value
	jok := false
	if !ok && src.join != nil {
		jv, jok = e.ev.Get(src.join)
	}
	return e.fill(id, v, ok, jv, jok)
}

// fill records field id's values from what was read: the field itself
// (v, ok) and, for a field read from an array when absent, the array.
func (e *Evaluator) fill(id int, v pcommon.Value, ok bool, jv pcommon.Value, jok bool) []fitem {
	off := len(e.items)
	src := &e.set.fields[id]
	switch {
	case src.arg >= 0:
		if ok && v.Type() == pcommon.ValueTypeSlice && v.Slice().Len() > src.arg {
			e.add(v.Slice().At(src.arg))
		}
	case ok:
		e.addValue(v)
	case jok && src.join != nil:
		e.addJoined(jv)
	}
	st := &e.slots[id]
	st.gen, st.off, st.n = e.gen, int32(off), int32(len(e.items)-off)
	return e.items[off:]
}

// addValue adds a value, or each scalar of an array (a rule's value
// matches an array when it matches one of its elements, as in
// Elasticsearch).
func (e *Evaluator) addValue(v pcommon.Value) {
	if v.Type() != pcommon.ValueTypeSlice {
		e.add(v)
		return
	}
	s := v.Slice()
	for i := 0; i < s.Len(); i++ {
		e.add(s.At(i))
	}
}

// add adds one scalar; maps, arrays, bytes and nulls are not values a
// rule can compare with.
func (e *Evaluator) add(v pcommon.Value) {
	var it fitem
	switch v.Type() {
	case pcommon.ValueTypeStr:
		it.raw = v.Str()
	case pcommon.ValueTypeInt:
		start := len(e.buf)
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
		it.raw, it.num, it.isNum = bytesString(e.buf[start:]), float64(v.Int()), true
	case pcommon.ValueTypeDouble:
		start := len(e.buf)
		e.buf = strconv.AppendFloat(e.buf, v.Double(), 'g', -1, 64)
		it.raw, it.num, it.isNum = bytesString(e.buf[start:]), v.Double(), true
	case pcommon.ValueTypeBool:
		it.raw = strconv.FormatBool(v.Bool())
	default:
		return
	}
	it.lower = lowerInto(&e.buf, it.raw)
	e.items = append(e.items, it)
}

// addJoined adds the elements of an array joined by spaces, as one value
// (process.args as the command line).
func (e *Evaluator) addJoined(v pcommon.Value) {
	if v.Type() != pcommon.ValueTypeSlice {
		e.add(v)
		return
	}
	s := v.Slice()
	start := len(e.buf)
	for i := 0; i < s.Len(); i++ {
		if i > 0 {
			e.buf = append(e.buf, ' ')
		}
		e.buf, _ = event.AppendValue(e.buf, s.At(i))
	}
	raw := bytesString(e.buf[start:])
	e.items = append(e.items, fitem{raw: raw, lower: lowerInto(&e.buf, raw)})
}

// bytesString is b as a string without a copy; b must not change while
// the string is used (the arena is only appended to within an event).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
