package intelprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/metadata"
)

// NewFactory returns the factory of the intel processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
	)
}

// DefaultHashFields are the ECS fields checked for binary hashes.
var DefaultHashFields = []string{
	"process.hash.sha256", "process.hash.sha1", "process.hash.md5",
	"file.hash.sha256", "file.hash.sha1", "file.hash.md5",
}

func createDefaultConfig() component.Config {
	return &Config{
		ReloadInterval: 30 * time.Second,
		Settle:         5 * time.Second,
		Fields: FieldsConfig{
			Hashes:  append([]string(nil), DefaultHashFields...),
			IPs:     []string{"destination.ip"},
			Domains: []string{"destination.domain", "dns.question.name"},
		},
		Limits: LimitsConfig{
			MaxFileSizeMiB:       1024,
			MaxIndicatorsPerFile: 10_000_000,
			MaxIndicators:        20_000_000,
			MaxFiles:             1000,
		},
		Online: OnlineConfig{
			Endpoint:           "https://www.virustotal.com",
			RequestsPerMinute:  4,
			RequestsPerDay:     500,
			Timeout:            10 * time.Second,
			QueueSize:          1000,
			CacheSize:          100_000,
			PositiveTTL:        24 * time.Hour,
			NegativeTTL:        time.Hour,
			HostQueueSize:      20,
			HostRequestsPerDay: 50,
			CorroboratingHosts: 2,
		},
	}
}

func createLogsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	pl, _, err := newLogsProcessor(ctx, set, cfg.(*Config), next)
	return pl, err
}

// newLogsProcessor also returns the processor behind the helper, for tests.
func newLogsProcessor(ctx context.Context, set processor.Settings, cfg *Config, next consumer.Logs) (processor.Logs, *intel, error) {
	p, err := newIntel(set, cfg, next)
	if err != nil {
		return nil, nil, err
	}
	pl, err := processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
	return pl, p, err
}
