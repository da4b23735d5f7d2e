package store

import (
	"strings"
	"testing"
)

func BenchmarkTmpHits(b *testing.B) {
	s := hashStore1M()
	r := newRand(1)
	qs := make([]string, million)
	ps := make([]uint64, million)
	for i := range qs {
		qs[i] = sha256Of(r.Uint64N(million))
		ps[i], _ = hexWord(qs[i][:16])
	}
	qs = contiguous(qs)
	t := &s.hashes[0]
	for round := range 2 {
		_ = round
		b.Run("decode+find", func(b *testing.B) {
			c, i := 0, 0
			for b.Loop() {
				p, _ := hexWord(qs[i&(million-1)][:16])
				j, _, ok := t.find(p)
				if ok {
					c += j
				}
				i++
			}
		})
		b.Run("decode+find+touch", func(b *testing.B) {
			c, i := 0, 0
			for b.Loop() {
				p, _ := hexWord(qs[i&(million-1)][:16])
				j, _, ok := t.find(p)
				if ok {
					c += int(t.rest[j*28])
				}
				i++
			}
		})
		b.Run("decode+find+cmp", func(b *testing.B) {
			c, i := 0, 0
			for b.Loop() {
				q := qs[i&(million-1)]
				p, _ := hexWord(q[:16])
				j, _, ok := t.find(p)
				if ok {
					x, _ := cmpHexRest(t.restOf(j), q[8:])
					c += x
				}
				i++
			}
		})
		b.Run("lookupHex", func(b *testing.B) {
			c, i := 0, 0
			for b.Loop() {
				c += len(t.lookupHex(qs[i&(million-1)]))
				i++
			}
		})
	}
}

func contiguous(qs []string) []string {
	var sb strings.Builder
	for _, q := range qs {
		sb.WriteString(q)
	}
	all := sb.String()
	out := make([]string, len(qs))
	o := 0
	for i, q := range qs {
		out[i] = all[o : o+len(q)]
		o += len(q)
	}
	return out
}
