package correlateprocessor

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/redistest"
	"github.com/cairnsec/cairn/internal/testkit"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
)

func redisConfig(t *testing.T, addr string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Store = storeRedis
	cfg.Redis.Endpoint = addr
	cfg.Redis.KeyPrefix = fmt.Sprintf("cairn:test:%s:%d:", t.Name(), time.Now().UnixNano())
	require.NoError(t, cfg.Validate())
	return cfg
}

var (
	// A binary on a feed, known on the host (no other signal): no alert
	// until something corroborates it.
	attackStart = doc(0, "web-03", `"process":{"executable":"/tmp/.x/gs-netcat"},"user":{"name":"root","id":"0"},"cairn":{"signals":["intel_malicious_hash"]}`)
	beacon      = doc(time.Second, "web-03", `"process":{"executable":"/tmp/.x/gs-netcat"},"destination":{"ip":"45.134.26.117","port":80},"cairn":{"signals":["new_external_ip"]}`)
)

// TestSharedStateTakeover: gateway A sees the start of the attack, then the
// host moves to gateway B (a rebalance), which sees the connection. With
// store: redis, B continues A's window and fires the alert A would have.
func TestSharedStateTakeover(t *testing.T) {
	addr := redistest.Addr(t)
	cfg := redisConfig(t, addr)
	a := newHarness(t, cfg)
	assert.Empty(t, alertsIn(a.send(attackStart)))

	b := newHarness(t, cfg)
	alerts := alertsIn(b.send(beacon))
	require.Len(t, alerts, 1, "B continues the window A started")
	assert.Equal(t, engine.AlertID(RuleCompromisedHost, "web-03", t0.UnixNano()), alerts[0]["event"].(map[string]any)["id"],
		"the same alert id as one collector seeing everything")
	assert.EqualValues(t, 95, alerts[0]["cairn"].(map[string]any)["alert"].(map[string]any)["score"], "75 as root, then 20")

	// Back on A (a second rebalance): A's own state is older than Redis',
	// so it takes B's, and the next evidence updates the same alert.
	out := a.send(doc(2*time.Second, "web-03", `"dns":{"question":{"name":"l.gs.thc.org"}},"cairn":{"signals":["new_domain"]}`))
	updated := alertsIn(out)
	require.Len(t, updated, 1)
	assert.Equal(t, alerts[0]["event"].(map[string]any)["id"], updated[0]["event"].(map[string]any)["id"])

	// Control: without shared state, B knows nothing of A's evidence.
	local := createDefaultConfig().(*Config)
	c := newHarness(t, local)
	assert.Empty(t, alertsIn(c.send(beacon)))
}

// TestSharedStateUnavailable: with Redis down, batches wait at most the
// budget, events pass, nothing is lost, failures are counted.
func TestSharedStateUnavailable(t *testing.T) {
	cfg := redisConfig(t, fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)))
	cfg.Redis.Timeout = 50 * time.Millisecond
	cfg.Redis.DialTimeout = 50 * time.Millisecond
	h := newHarness(t, cfg)
	start := time.Now()
	out := h.send(attackStart)
	out = append(out, h.send(beacon)...)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Len(t, alertsIn(out), 1, "local state still correlates")
	assert.Positive(t, testkit.Sum(t, h.tel, "otelcol_processor_correlate_state_errors", nil))
}
