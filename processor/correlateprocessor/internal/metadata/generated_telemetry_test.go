package metadata

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/metric"
)

func TestTelemetryBuilder(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	tb, err := NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	defer tb.Shutdown()
	require.NoError(t, tb.RegisterProcessorCorrelateEntitiesCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(7)
		return nil
	}))
	ctx := context.Background()
	tb.ProcessorCorrelateEvents.Add(ctx, 1)
	tb.ProcessorCorrelateSignals.Add(ctx, 1)
	tb.ProcessorCorrelateAlerts.Add(ctx, 1)
	tb.ProcessorCorrelateEvictions.Add(ctx, 1)
	tb.ProcessorCorrelateDropped.Add(ctx, 1)
	tb.ProcessorCorrelateStateErrors.Add(ctx, 1)
	tb.ProcessorCorrelateTimeAdjusted.Add(ctx, 1)
	for _, name := range []string{
		"otelcol_processor_correlate_events", "otelcol_processor_correlate_signals",
		"otelcol_processor_correlate_alerts", "otelcol_processor_correlate_entities",
		"otelcol_processor_correlate_evictions", "otelcol_processor_correlate_dropped",
		"otelcol_processor_correlate_state_errors", "otelcol_processor_correlate_time_adjusted",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "correlate", Type.String())
}
