package normalizeprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/internal/normalize"
	"github.com/cairnsec/cairn/processor/normalizeprocessor/internal/metadata"
)

// NewFactory returns the factory of the cairn_normalize processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Format:       normalize.FormatAuto,
		MaxBodyBytes: ingest.DefaultMaxLineBytes,
	}
}

func createLogsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	pl, _, err := newLogsProcessor(ctx, set, cfg.(*Config), next)
	return pl, err
}

// newLogsProcessor also returns the processor behind the helper, for tests.
func newLogsProcessor(ctx context.Context, set processor.Settings, cfg *Config, next consumer.Logs) (processor.Logs, *normalizeProcessor, error) {
	p, err := newNormalizeProcessor(set, cfg)
	if err != nil {
		return nil, nil, err
	}
	pl, err := processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithShutdown(p.shutdown))
	return pl, p, err
}
