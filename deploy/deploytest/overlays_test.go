package deploytest

import (
	"path/filepath"
	"testing"

	"github.com/cairnsec/cairn/internal/testkit"
)

// TestConfigOverlays: every combination of the reference config with its
// documented overlays is a valid collector configuration for the binary.
func TestConfigOverlays(t *testing.T) {
	d := func(name string) string { return filepath.Join(testkit.RepoRoot(), "deploy", name) }
	env := map[string]string{"CAIRN_ES_URL": "http://127.0.0.1:9200", "CAIRN_REDIS_ADDR": "127.0.0.1:6379"}
	for _, configs := range [][]string{
		{d("cairn.yaml")},
		{d("cairn.yaml"), d("cairn-es.yaml")},
		{d("cairn.yaml"), d("cairn-live.yaml")},
		{d("cairn.yaml"), d("cairn-live.yaml"), d("cairn-es.yaml")},
		{d("cairn.yaml"), d("cairn-live.yaml"), d("cairn-redis.yaml")},
	} {
		validateWithCollector(t, env, configs...)
	}
}
