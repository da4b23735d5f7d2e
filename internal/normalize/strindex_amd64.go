package normalize

import "golang.org/x/sys/cpu"

// haveMasks: the vector pass of strindex_amd64.s can run here.
var haveMasks = cpu.X86.HasAVX2

// masksAVX2 sets, for each 64 bytes of src (whose length is a multiple of
// 64), a bit per byte in quote ('"'), backslash ('\\') and dirty
// (backslash or below 0x20), one word per block; it returns the OR of the
// backslash words.
//
//go:noescape
func masksAVX2(src *byte, blocks int, quote, backslash, dirty *uint64) (anyBackslash uint64)

// masks fills the masks (see masksAVX2) and reports whether src has a
// backslash.
func masks(src []byte, quote, backslash, dirty []uint64) bool {
	n := len(src) / 64
	if n == 0 || len(quote) < n || len(backslash) < n || len(dirty) < n {
		panic("normalize: masks: short buffers")
	}
	return masksAVX2(&src[0], n, &quote[0], &backslash[0], &dirty[0]) != 0
}
