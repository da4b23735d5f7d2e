package hostreceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// NewFactory returns the factory of the cairn_host receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogsReceiver, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Processes: ProcessesConfig{Enabled: true, ExitEvents: true, MaxArgs: 64, MaxArgBytes: 4096},
		Hashing: HashingConfig{
			Enabled:        true,
			MaxFileSize:    128 << 20,
			MaxHoleBytes:   16 << 20,
			BytesPerSecond: 32 << 20,
			CacheSize:      16384,
			Workers:        1,
			QueueSize:      1024,
			Wait:           10 * time.Second,
		},
		Connections: ConnectionsConfig{
			Enabled:   true,
			Interval:  time.Second,
			Protocols: []string{"tcp"},
		},
		DNS: DNSConfig{
			Enabled:   true,
			CacheSize: 65536,
			MinTTL:    10 * time.Minute,
			MaxTTL:    24 * time.Hour,
			// A stub resolver gives up on a server after 5 s (resolv.conf's
			// default timeout) and may retry the same query.
			MaxPendingQueries: 8192,
			QueryTimeout:      10 * time.Second,
		},
		Audit: AuditConfig{
			Source:            auditSourceFile,
			LogFile:           "/var/log/audit/audit.log",
			StartAt:           "end",
			PollInterval:      time.Second,
			ReassemblyTimeout: 2 * time.Second,
		},
		Inventory:     true,
		FlushInterval: 200 * time.Millisecond,
		MaxBatchSize:  1024,
		QueueSize:     16384,
	}
}

func createLogsReceiver(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newHostReceiver(set, cfg.(*Config), next)
}
