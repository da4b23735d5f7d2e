package sigma

// automaton finds, in one pass over a value, which of many literals it
// starts with (a trie walked forward), ends with (a trie of the reversed
// literals walked backward), or contains (Aho-Corasick). Transitions are a
// dense table over byte classes: the bytes that occur in some literal each
// have a class, every other byte shares class 0, so a table row is a few
// dozen entries rather than 256.
type automaton struct {
	class  [256]uint8
	nclass int
	// next[s*nclass+c] is the state after state s reads a byte of class
	// c; -1 is no way on (tries only: Aho-Corasick always has one). Only
	// the build uses it; scans use step.
	next []int16
	// out[s] are the ids (rule indexes) of the literals that end at s;
	// for Aho-Corasick also those that end at the states s falls back to.
	out [][]int32
	// term[s] says out[s] is not empty.
	term []bool
	// step is next for the scans: entry s*nclass+c holds the row of the
	// next state (its number times nclass), with termBit set when that
	// state has outputs, or dead: one load and a mask per byte.
	step []uint32
}

const (
	termBit = 1 << 31
	dead    = ^uint32(0)
)

// maxAutomatonCells bounds the table, and maxStates the states (they are
// int16 while building): above either, the literals are left to the
// rules' own matching (see prefilter.go), which is slower but right.
const (
	maxAutomatonCells = 1 << 22
	maxStates         = 1<<15 - 1
)

type trieLit struct {
	s  string
	id int32
}

// buildAutomaton builds a trie of the literals (reversed when reverse is
// set), with failure links when ac is set. It returns nil if the table
// would exceed maxAutomatonCells.
func buildAutomaton(lits []trieLit, reverse, ac bool) *automaton {
	a := &automaton{}
	var used [256]bool
	total := 1
	for _, l := range lits {
		for i := 0; i < len(l.s); i++ {
			used[l.s[i]] = true
		}
		total += len(l.s)
	}
	n := 1
	for b := 0; b < 256; b++ {
		if used[b] {
			a.class[b] = uint8(n)
			n++
			if n > 255 {
				return nil
			}
		}
	}
	a.nclass = n
	if total*n > maxAutomatonCells || total > maxStates {
		return nil
	}
	a.next = make([]int16, 0, total*n)
	newState := func() int16 {
		for i := 0; i < n; i++ {
			a.next = append(a.next, -1)
		}
		a.out = append(a.out, nil)
		return int16(len(a.out) - 1)
	}
	newState()
	for _, l := range lits {
		s := 0
		for i := 0; i < len(l.s); i++ {
			b := l.s[i]
			if reverse {
				b = l.s[len(l.s)-1-i]
			}
			c := int(a.class[b])
			t := a.next[s*n+c]
			if t < 0 {
				t = newState()
				a.next[s*n+c] = t
			}
			s = int(t)
		}
		a.out[s] = appendUnique(a.out[s], l.id)
	}
	if ac {
		a.link()
	}
	a.term = make([]bool, len(a.out))
	for s, o := range a.out {
		a.term[s] = len(o) > 0
	}
	a.step = make([]uint32, len(a.next))
	defer func() { a.next = nil }() // only the build needs it
	for i, t := range a.next {
		switch {
		case t < 0:
			a.step[i] = dead
		case a.term[t]:
			a.step[i] = uint32(int(t)*n) | termBit
		default:
			a.step[i] = uint32(int(t) * n)
		}
	}
	return a
}

// link turns the trie into an Aho-Corasick automaton: breadth first, each
// missing transition is the one of the state's failure link, and each
// state's outputs include its failure link's.
func (a *automaton) link() {
	n := a.nclass
	fail := make([]int16, len(a.out))
	queue := make([]int16, 0, len(a.out))
	for c := 0; c < n; c++ {
		t := a.next[c]
		if t < 0 {
			a.next[c] = 0
			continue
		}
		fail[t] = 0
		queue = append(queue, t)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, id := range a.out[fail[s]] {
			a.out[s] = appendUnique(a.out[s], id)
		}
		row, frow := int(s)*n, int(fail[s])*n
		for c := 0; c < n; c++ {
			t := a.next[row+c]
			if t < 0 {
				a.next[row+c] = a.next[frow+c]
				continue
			}
			fail[t] = a.next[frow+c]
			queue = append(queue, t)
		}
	}
}

func appendUnique(ids []int32, id int32) []int32 {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

// mark sets the bits of ids in a candidate set.
func mark(cand []uint64, ids []int32) {
	for _, id := range ids {
		cand[id>>6] |= 1 << (uint(id) & 63)
	}
}

// prefixes marks the literals s starts with.
func (a *automaton) prefixes(s string, cand []uint64) {
	if a.term[0] {
		mark(cand, a.out[0])
	}
	step, class, n := a.step, &a.class, uint32(a.nclass)
	row := uint32(0)
	for i := 0; i < len(s); i++ {
		e := step[row+uint32(class[s[i]])]
		if e == dead {
			return
		}
		row = e &^ termBit
		if e&termBit != 0 {
			mark(cand, a.out[row/n])
		}
	}
}

// suffixes marks the literals s ends with (the automaton built with
// reverse).
func (a *automaton) suffixes(s string, cand []uint64) {
	if a.term[0] {
		mark(cand, a.out[0])
	}
	step, class, n := a.step, &a.class, uint32(a.nclass)
	row := uint32(0)
	for i := len(s) - 1; i >= 0; i-- {
		e := step[row+uint32(class[s[i]])]
		if e == dead {
			return
		}
		row = e &^ termBit
		if e&termBit != 0 {
			mark(cand, a.out[row/n])
		}
	}
}

// contains marks the literals s contains (the automaton built with ac).
func (a *automaton) contains(s string, cand []uint64) {
	if a.term[0] {
		mark(cand, a.out[0])
	}
	step, class, n := a.step, &a.class, uint32(a.nclass)
	row := uint32(0)
	for i := 0; i < len(s); i++ {
		e := step[row+uint32(class[s[i]])]
		row = e &^ termBit
		if e&termBit != 0 {
			mark(cand, a.out[row/n])
		}
	}
}
