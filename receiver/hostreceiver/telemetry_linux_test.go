package hostreceiver

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// TestTelemetry: the receiver's counters are collector metrics.
func TestTelemetry(t *testing.T) {
	requireRoot(t)
	cfg := testConfig()
	cfg.Processes.Enabled = true
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.LogsSink)
	r := newReceiver(set, cfg, sink)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	for range 3 {
		require.NoError(t, exec.Command("/bin/true").Run())
	}
	value := func(name, key, val string) int64 {
		m, err := tel.GetMetric(name)
		if err != nil {
			return -1
		}
		var total int64
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			if v, ok := dp.Attributes.Value(attribute.Key(key)); key == "" || (ok && v.AsString() == val) {
				total += dp.Value
			}
		}
		return total
	}
	require.Eventually(t, func() bool {
		return value("otelcol_receiver_cairn_host_events", "source", "process") >= 3
	}, 10*time.Second, 20*time.Millisecond)
	// Each start has its end, counted apart.
	require.Eventually(t, func() bool {
		return value("otelcol_receiver_cairn_host_events", "source", "process_end") >= 3
	}, 10*time.Second, 20*time.Millisecond)
	assert.Zero(t, value("otelcol_receiver_cairn_host_dropped", "reason", "queue_full"))
	assert.Zero(t, value("otelcol_receiver_cairn_host_dropped", "reason", "end_untracked"))
	assert.GreaterOrEqual(t, value("otelcol_receiver_cairn_host_hashes", "", ""), int64(0))
	assert.GreaterOrEqual(t, value("otelcol_receiver_cairn_host_partial_processes", "", ""), int64(0))
}
