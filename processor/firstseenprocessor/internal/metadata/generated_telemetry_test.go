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
	require.NoError(t, tb.RegisterProcessorFirstseenTermsCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(7)
		return nil
	}))
	ctx := context.Background()
	tb.ProcessorFirstseenEvents.Add(ctx, 1)
	tb.ProcessorFirstseenSignals.Add(ctx, 1)
	tb.ProcessorFirstseenLearning.Add(ctx, 1)
	tb.ProcessorFirstseenMalformed.Add(ctx, 1)
	tb.ProcessorFirstseenEvictions.Add(ctx, 1)
	tb.ProcessorFirstseenStateErrors.Add(ctx, 1)
	tb.ProcessorFirstseenDegraded.Add(ctx, 1)
	tb.ProcessorFirstseenShared.Add(ctx, 1)
	tb.ProcessorFirstseenReconciled.Add(ctx, 1)
	tb.ProcessorFirstseenRare.Add(ctx, 1)
	tb.ProcessorFirstseenSkewed.Add(ctx, 1)
	tb.ProcessorFirstseenNotLearned.Add(ctx, 1)
	tb.ProcessorFirstseenTaint.Add(ctx, 1)
	for _, name := range []string{
		"otelcol_processor_firstseen_events", "otelcol_processor_firstseen_signals",
		"otelcol_processor_firstseen_learning", "otelcol_processor_firstseen_malformed",
		"otelcol_processor_firstseen_evictions", "otelcol_processor_firstseen_state_errors",
		"otelcol_processor_firstseen_terms", "otelcol_processor_firstseen_degraded",
		"otelcol_processor_firstseen_shared_requests", "otelcol_processor_firstseen_reconciled",
		"otelcol_processor_firstseen_rare", "otelcol_processor_firstseen_skewed",
		"otelcol_processor_firstseen_not_learned", "otelcol_processor_firstseen_taint",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "firstseen", Type.String())
}
