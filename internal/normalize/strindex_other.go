//go:build !amd64

package normalize

// haveMasks: no vector pass on this architecture; the scanner steps
// through strings (see strIndex).
var haveMasks = false

func masks(src []byte, quote, backslash, dirty []uint64) bool {
	panic("normalize: no vector pass on this architecture")
}
