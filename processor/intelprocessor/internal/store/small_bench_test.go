package store

import (
	"strings"
	"testing"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func BenchmarkTmpParts(b *testing.B) {
	s := hashStore1M()
	r := newRand(1)
	qs := make([]string, million)
	ps := make([]uint64, million)
	for i := range qs {
		if r.IntN(2) == 0 {
			qs[i] = sha256Of(r.Uint64N(million))
		} else {
			qs[i] = sha256Of(million + r.Uint64N(1<<40))
		}
		ps[i], _ = hexWord(qs[i][:16])
	}
	qs = contiguous(qs)
	b.Run("decode-only", func(b *testing.B) {
		var x uint64
		i := 0
		for b.Loop() {
			p, _ := hexWord(qs[i&(million-1)][:16])
			x += p
			i++
		}
	})
	b.Run("find-only", func(b *testing.B) {
		t := &s.hashes[0]
		c, i := 0, 0
		for b.Loop() {
			j, _, ok := t.find(ps[i&(million-1)])
			if ok {
				c += j
			}
			i++
		}
	})
	b.Run("find-only-misses", func(b *testing.B) {
		t := &s.hashes[0]
		c, i := 0, 0
		for b.Loop() {
			j, _, ok := t.find(ps[i&(million-1)] ^ 0x5555)
			if ok {
				c += j
			}
			i++
		}
	})
	b.Run("decode+find", func(b *testing.B) {
		t := &s.hashes[0]
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
	b.Run("lookupHex", func(b *testing.B) {
		t := &s.hashes[0]
		c, i := 0, 0
		for b.Loop() {
			c += len(t.lookupHex(qs[i&(million-1)]))
			i++
		}
	})
	b.Run("lookup", func(b *testing.B) {
		c, i := 0, 0
		for b.Loop() {
			c += len(s.LookupHash(indicator.SHA256, qs[i&(million-1)]))
			i++
		}
	})
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
