package replay

import (
	"os"
	"testing"

	"github.com/cairnsec/cairn/internal/testkit"
)

// TestMain points deploy/cairn.yaml's feed directory at the scenario feed:
// tests run in the package directory, not at the repository root.
func TestMain(m *testing.M) {
	testkit.UseScenarioFeeds()
	os.Exit(m.Run())
}
