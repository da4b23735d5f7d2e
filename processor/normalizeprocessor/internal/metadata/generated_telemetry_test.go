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
	tb.ProcessorCairnNormalizeRecords.Add(ctx, 1)
	tb.ProcessorCairnNormalizeRefusedRecords.Add(ctx, 1)
	for _, name := range []string{
		"otelcol_processor_cairn_normalize_records", "otelcol_processor_cairn_normalize_refused_records",
	} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err, name)
		assert.Equal(t, name, m.Name)
	}
	assert.Equal(t, "cairn_normalize", Type.String())
}
