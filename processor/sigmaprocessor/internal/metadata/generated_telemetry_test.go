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
	observe := func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(3)
		return nil
	}
	require.NoError(t, tb.RegisterProcessorSigmaRulesLoadedCallback(observe))
	require.NoError(t, tb.RegisterProcessorSigmaRulesUnsupportedCallback(observe))
	require.NoError(t, tb.RegisterProcessorSigmaRulesSkippedCallback(observe))
	ctx := context.Background()
	for _, c := range []metric.Int64Counter{tb.ProcessorSigmaEvents, tb.ProcessorSigmaMatchedEvents, tb.ProcessorSigmaMatches,
		tb.ProcessorSigmaEvalErrors, tb.ProcessorSigmaLoadErrors, tb.ProcessorSigmaFilesRefused} {
		c.Add(ctx, 1)
	}
	for _, name := range []string{
		"otelcol_processor_sigma_events", "otelcol_processor_sigma_matched_events", "otelcol_processor_sigma_matches",
		"otelcol_processor_sigma_eval_errors", "otelcol_processor_sigma_load_errors", "otelcol_processor_sigma_files_refused",
		"otelcol_processor_sigma_rules_loaded", "otelcol_processor_sigma_rules_unsupported", "otelcol_processor_sigma_rules_skipped",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "sigma", Type.String())
}
