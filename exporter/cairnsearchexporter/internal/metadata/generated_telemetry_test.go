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
	tb.ExporterCairnSearchDocsSkipped.Add(ctx, 1)
	tb.ExporterCairnSearchBulkLatency.Record(ctx, 1)
	tb.ExporterCairnSearchSpoolFull.Add(ctx, 1)
	tb.ExporterCairnSearchSpoolReplayed.Add(ctx, 1)
	require.NoError(t, tb.RegisterCallback(func(_ context.Context, o Observers) error {
		o.SpoolBytes.Observe(1)
		o.SpoolRecords.Observe(1)
		o.SpoolOldestAge.Observe(1)
		return nil
	}))
	for _, name := range []string{
		"otelcol_exporter_cairn_search_docs_sent", "otelcol_exporter_cairn_search_docs_delivered",
		"otelcol_exporter_cairn_search_docs_retried", "otelcol_exporter_cairn_search_docs_dead_lettered",
		"otelcol_exporter_cairn_search_docs_dropped", "otelcol_exporter_cairn_search_docs_skipped",
		"otelcol_exporter_cairn_search_bulk_latency",
		"otelcol_exporter_cairn_search_spool_bytes", "otelcol_exporter_cairn_search_spool_records",
		"otelcol_exporter_cairn_search_spool_oldest_age", "otelcol_exporter_cairn_search_spool_full",
		"otelcol_exporter_cairn_search_spool_replayed",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "cairn_search", Type.String())
}
