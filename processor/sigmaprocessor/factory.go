package sigmaprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/cairnsec/cairn/processor/sigmaprocessor/internal/metadata"
)

// NewFactory returns the factory of the sigma processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		DefaultRules: true,
		MinLevel:     "low",
		// SigmaHQ: stable and test rules are meant for production; an
		// experimental rule "could lead to false positives results or be
		// noisy".
		Statuses:       []string{"stable", "test"},
		MaxRules:       5000,
		ReloadInterval: 30 * time.Second,
		Settle:         5 * time.Second,
	}
}

func createLogsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	pl, _, err := newLogsProcessor(ctx, set, cfg.(*Config), next)
	return pl, err
}

// newLogsProcessor also returns the processor behind the helper, for tests.
func newLogsProcessor(ctx context.Context, set processor.Settings, cfg *Config, next consumer.Logs) (processor.Logs, *sigmaProcessor, error) {
	p, err := newSigmaProcessor(set, cfg)
	if err != nil {
		return nil, nil, err
	}
	pl, err := processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
	return pl, p, err
}
