package correlateprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/redisconf"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the correlate processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Entity:              defaultEntity,
		Modifiers:           defaultModifiers(),
		DistinctRatio:       defaultDistinctRatio,
		Lateness:            defaultLateness,
		MaxFuture:           event.DefaultMaxFuture,
		MaxEntities:         defaultMaxEntities,
		MaxSignalsPerEntity: defaultMaxSignals,
		MaxContributions:    defaultMaxContributions,
		FlushInterval:       defaultFlush,
		LogAlerts:           true,
		Store:               storeLocal,
		Redis:               redisconf.Default(defaultRedisPrefix),
	}
}

func createLogsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	pl, _, err := newLogsProcessor(ctx, set, cfg.(*Config), next)
	return pl, err
}

// newLogsProcessor also returns the processor behind the helper, for tests.
func newLogsProcessor(ctx context.Context, set processor.Settings, cfg *Config, next consumer.Logs) (processor.Logs, *correlate, error) {
	p, err := newCorrelate(set, cfg)
	if err != nil {
		return nil, nil, err
	}
	pl, err := processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
	return pl, p, err
}
