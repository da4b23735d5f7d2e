package engine

// How a signal adds up in a window or an alert: raises with the same key
// count once, at their strongest; distinct keys add with diminishing
// weight, strongest first (w1 + w2·r + w3·r² + …), bounded by the signal's
// cap. An analyst reads three new root binaries as more than one, and a
// hundred as not much more than three; the same binary a hundred times is
// one. The series keeps a noisy kind bounded even without a cap (at most
// w/(1-r)), and the cap bounds it further.

// keyWeight is one distinct raise of a signal counted in a tally: its key
// and the strongest weight (after modifiers) it was raised with.
type keyWeight struct {
	signal int32
	key    uint64
	w      float64
}

// MaxKeys bounds the distinct raises of one signal a window or an alert
// keeps. Beyond it a raise counts only when it is stronger than the weakest
// kept (which it replaces); at the default ratio of 0.5 the 17th raise
// would add 1/65536 of the first.
const MaxKeys = 16

// sheet holds the distinct raises of a tally, all signals together (a
// handful per alert: a flat list is smaller and faster than a map).
type sheet []keyWeight

// raise records that key of signal sig was raised with weight w and reports
// whether the signal's raises changed: a new key, or a known key raised
// higher than before.
func (s *sheet) raise(sig int32, key uint64, w float64) bool {
	n, low := 0, -1
	for i := range *s {
		kw := &(*s)[i]
		if kw.signal != sig {
			continue
		}
		if kw.key == key {
			if w <= kw.w {
				return false
			}
			kw.w = w
			return true
		}
		n++
		if low < 0 || kw.w < (*s)[low].w {
			low = i
		}
	}
	if n < MaxKeys {
		*s = append(*s, keyWeight{signal: sig, key: key, w: w})
		return true
	}
	if w <= (*s)[low].w {
		return false
	}
	(*s)[low] = keyWeight{signal: sig, key: key, w: w}
	return true
}

// total is what signal sig adds up to: its raises strongest first, each
// ratio times the weight of the one before, bounded by capacity when
// positive. Raising a key or adding one never lowers it (every position of
// the sorted list is at least what it was), so scores only grow, which the
// rule criteria rely on.
func (s sheet) total(sig int32, ratio, capacity float64) float64 {
	var ws [MaxKeys]float64
	n := 0
	for _, kw := range s {
		if kw.signal != sig || n == MaxKeys {
			continue
		}
		i := n
		for i > 0 && ws[i-1] < kw.w {
			ws[i] = ws[i-1]
			i--
		}
		ws[i] = kw.w
		n++
	}
	sum, f := 0.0, 1.0
	for i := 0; i < n; i++ {
		sum += ws[i] * f
		f *= ratio
	}
	if capacity > 0 && sum > capacity {
		sum = capacity
	}
	return sum
}
