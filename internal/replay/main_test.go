package replay

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestMain points deploy/cairn.yaml's feed directory (relative to the
// working directory by default) at the repository's scenario feed, since
// tests run in the package directory.
func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if os.Getenv("CAIRN_INTEL_DIR") == "" {
		_ = os.Setenv("CAIRN_INTEL_DIR", filepath.Join(root, "testdata", "intel"))
	}
	os.Exit(m.Run())
}
