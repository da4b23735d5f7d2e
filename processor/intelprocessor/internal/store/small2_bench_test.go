package store

import "testing"

func BenchmarkTmpCmpRest(b *testing.B) {
	q := sha256Of(7)
	var key [32]byte
	decodeHex(key[:], q, &unhex)
	c := 0
	for b.Loop() {
		x, _ := cmpHexRest(key[4:], q[8:])
		c += x
	}
}

func BenchmarkTmpHex8(b *testing.B) {
	q := sha256Of(7)
	c := uint32(0)
	for b.Loop() {
		x, _ := hex8(q[8:16])
		c += x
	}
}
