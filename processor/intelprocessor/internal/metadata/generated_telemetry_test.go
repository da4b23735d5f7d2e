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
	require.NoError(t, tb.RegisterProcessorIntelIndicatorsCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(3)
		return nil
	}))
	ctx := context.Background()
	for _, c := range []metric.Int64Counter{tb.ProcessorIntelEvents, tb.ProcessorIntelMatchedEvents, tb.ProcessorIntelMatches,
		tb.ProcessorIntelAllowed, tb.ProcessorIntelFeedLoads, tb.ProcessorIntelFeedErrors,
		tb.ProcessorIntelFeedRefused, tb.ProcessorIntelFeedEntriesSkipped} {
		c.Add(ctx, 1)
	}
	for _, name := range []string{
		"otelcol_processor_intel_events", "otelcol_processor_intel_matched_events", "otelcol_processor_intel_matches",
		"otelcol_processor_intel_allowed", "otelcol_processor_intel_feed_loads", "otelcol_processor_intel_feed_errors",
		"otelcol_processor_intel_indicators", "otelcol_processor_intel_feed_refused",
		"otelcol_processor_intel_feed_entries_skipped",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "intel", Type.String())
}
