//go:build !unix

package replay

// lockedFile cannot probe flock(2) locks here; the storage extension's
// own timeout reports a locked database.
func lockedFile(string) string { return "" }
