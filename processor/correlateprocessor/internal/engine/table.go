package engine

// table holds the entities within MaxEntities, in two segments. A new
// entity starts on probation; its second event or an alert makes it
// protected. At the bound the least recently active entity on probation is
// evicted first, so a flood of made-up entity names (one event each: a
// forged or broken sender) only evicts its own kind and never a host with
// an alert or evidence from several events. Protected entities are bounded
// to 7/8 of the table, so that new entities always find room on probation;
// when protected is full, its least recently active entity goes back on
// probation. Only when probation is empty does a protected entity go.
type table struct {
	m            map[string]*Entity
	seg          [3]ring // indexed by segProbation, segProtected
	max          int
	maxProtected int
	// evicted is called for entities dropped to make room.
	evicted func(*Entity)
}

// Segments; the zero value of Entity.seg is segNone (not in a table).
const (
	segNone int8 = iota
	segProbation
	segProtected
)

// ring is a doubly linked list through Entity.prev/next with a sentinel:
// head.next is the most recently active entity, head.prev the least.
type ring struct {
	head Entity
	n    int
}

func newTable(maxEntities int, evicted func(*Entity)) *table {
	t := &table{m: map[string]*Entity{}, max: maxEntities, evicted: evicted}
	t.maxProtected = max(1, maxEntities-maxEntities/8)
	for _, seg := range []int8{segProbation, segProtected} {
		h := &t.seg[seg].head
		h.prev, h.next = h, h
	}
	return t
}

func (t *table) len() int { return len(t.m) }

func (t *table) peek(key string) (*Entity, bool) {
	ent, ok := t.m[key]
	return ent, ok
}

// get returns the entity and marks it as the most recently active of its
// segment.
func (t *table) get(key string) (*Entity, bool) {
	ent, ok := t.m[key]
	if ok {
		seg := ent.seg
		t.unlink(ent)
		t.pushFront(ent, seg)
	}
	return ent, ok
}

// add inserts an entity not held yet, on probation or protected, making
// room first.
func (t *table) add(ent *Entity, protected bool) {
	for len(t.m) >= t.max {
		t.evictOne()
	}
	t.m[ent.Key] = ent
	seg := segProbation
	if protected {
		seg = segProtected
	}
	t.pushFront(ent, seg)
	t.trimProtected()
}

// promote moves an entity on probation to the protected segment.
func (t *table) promote(ent *Entity) {
	if ent.seg != segProbation {
		return
	}
	t.unlink(ent)
	t.pushFront(ent, segProtected)
	t.trimProtected()
}

func (t *table) trimProtected() {
	for t.seg[segProtected].n > t.maxProtected {
		old := t.seg[segProtected].head.prev
		t.unlink(old)
		t.pushFront(old, segProbation)
	}
}

func (t *table) evictOne() {
	seg := segProbation
	if t.seg[seg].n == 0 {
		seg = segProtected
	}
	victim := t.seg[seg].head.prev
	t.unlink(victim)
	delete(t.m, victim.Key)
	if t.evicted != nil {
		t.evicted(victim)
	}
}

// remove drops an entity (not an eviction).
func (t *table) remove(key string) bool {
	ent, ok := t.m[key]
	if !ok {
		return false
	}
	t.unlink(ent)
	delete(t.m, key)
	return true
}

// each calls fn for every entity: those on probation, then the protected,
// each from the least recently active. fn must not change the table.
func (t *table) each(fn func(*Entity)) {
	for _, seg := range []int8{segProbation, segProtected} {
		h := &t.seg[seg].head
		for ent := h.prev; ent != h; ent = ent.prev {
			fn(ent)
		}
	}
}

func (t *table) pushFront(ent *Entity, seg int8) {
	r := &t.seg[seg]
	ent.seg = seg
	ent.prev, ent.next = &r.head, r.head.next
	r.head.next.prev = ent
	r.head.next = ent
	r.n++
}

func (t *table) unlink(ent *Entity) {
	if ent.seg == segNone {
		return
	}
	ent.prev.next = ent.next
	ent.next.prev = ent.prev
	ent.prev, ent.next = nil, nil
	t.seg[ent.seg].n--
	ent.seg = segNone
}
