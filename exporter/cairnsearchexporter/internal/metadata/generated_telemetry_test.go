package metadata

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
)

func TestTelemetryBuilder(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	tb, err := NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	defer tb.Shutdown()
	ctx := context.Background()
	tb.ExporterCairnSearchDocsSent.Add(ctx, 1)
	tb.ExporterCairnSearchDocsDelivered.Add(ctx, 1)
	tb.ExporterCairnSearchDocsRetried.Add(ctx, 1)
	tb.ExporterCairnSearchDocsDeadLettered.Add(ctx, 1)
	tb.ExporterCairnSearchDocsDropped.Add(ctx, 1)
	tb.ExporterCairnSearchBulkLatency.Record(ctx, 1)
	for _, name := range []string{
		"otelcol_exporter_cairn_search_docs_sent", "otelcol_exporter_cairn_search_docs_delivered",
		"otelcol_exporter_cairn_search_docs_retried", "otelcol_exporter_cairn_search_docs_dead_lettered",
		"otelcol_exporter_cairn_search_docs_dropped", "otelcol_exporter_cairn_search_bulk_latency",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "cairn_search", Type.String())
}
