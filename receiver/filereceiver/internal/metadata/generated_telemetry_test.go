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
	require.NoError(t, tb.RegisterCallback(func(_ context.Context, o Observers) error {
		o.Lines.Observe(1)
		o.Records.Observe(1)
		o.MalformedLines.Observe(1)
		o.DroppedRecords.Observe(1)
		o.OpenFiles.Observe(1)
		o.BytesRead.Observe(1)
		o.ConsumeRetries.Observe(1)
		o.NormalizedRecords.Observe(1)
		return nil
	}))
	for _, name := range []string{
		"otelcol_receiver_cairn_file_lines", "otelcol_receiver_cairn_file_records",
		"otelcol_receiver_cairn_file_malformed_lines", "otelcol_receiver_cairn_file_dropped_records",
		"otelcol_receiver_cairn_file_open_files", "otelcol_receiver_cairn_file_bytes_read",
		"otelcol_receiver_cairn_file_consume_retries", "otelcol_receiver_cairn_file_normalized_records",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "cairn_file", Type.String())
}
