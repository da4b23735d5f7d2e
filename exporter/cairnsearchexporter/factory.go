// Package cairnsearchexporter ships Cairn's events and alerts to
// Elasticsearch or OpenSearch as ECS documents, or to _bulk files in
// offline mode. See README.md.
package cairnsearchexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter/internal/metadata"
)

// NewFactory returns the factory of the cairn_search exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogsExporter, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultTimeout
	client.Compression = configcompression.TypeGzip

	queue := exporterhelper.NewDefaultQueueConfig()
	// Batches of up to 5000 documents, flushed at least every second.
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.FlushTimeout = time.Second
	batch.Sizer = exporterhelper.RequestSizerTypeItems
	batch.MinSize = 1000
	batch.MaxSize = 5000
	queue.Batch = configoptional.Some(batch)
	queue.Sizer = exporterhelper.RequestSizerTypeItems
	queue.QueueSize = 100_000
	queue.NumConsumers = 4
	// Never drop what the queue holds: a full queue makes the pipeline wait.
	queue.BlockOnOverflow = true
	// Off unless configured: the spool (or synchronous delivery) gives the
	// durability the persistent queue gave, without its second encoding of
	// each batch. Setting any sending_queue option turns it on with the
	// values above as the base.

	retry := configretry.NewDefaultBackOffConfig()
	retry.InitialInterval = time.Second
	retry.MaxInterval = time.Minute
	// Retry for as long as it takes: an outage must not lose data.
	retry.MaxElapsedTime = 0

	return &Config{
		ClientConfig: client,
		Flavour:      FlavourAuto,
		Namespace:    defaultNamespace,
		Bootstrap:    true,
		Lifecycle: LifecycleConfig{
			PolicyName:      defaultPolicy,
			RolloverMaxAge:  "1d",
			RolloverMaxSize: "50gb",
			DeleteAfter:     "90d",
			// Alerts are kept until deleted by hand: their policy can only
			// delete a whole alerts index (see README.md).
			AlertsDeleteAfter: "",
		},
		DeadLetter: DeadLetterConfig{
			Enabled:          true,
			Dataset:          defaultDLQDataset,
			MaxDocumentBytes: defaultDLQMaxDoc,
		},
		MaxRequestBytes:  defaultMaxRequestBytes,
		Offline:          OfflineConfig{MaxFileBytes: defaultMaxFileBytes, Sync: SyncNone},
		Spool:            SpoolConfig{MaxBytes: defaultSpoolMaxBytes, Sync: SyncNone, Senders: defaultSpoolSenders},
		QueueBatchConfig: configoptional.Default(queue),
		BackOffConfig:    retry,
	}
}

func createLogsExporter(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	e, err := newExporter(c, set)
	if err != nil {
		return nil, err
	}
	opts := []exporterhelper.Option{
		// Records are only read: what a document adds (event.id,
		// data_stream.*, event.ingested) goes to the encoder, so the
		// collector need not copy each batch for this exporter.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		// Each HTTP request has its own timeout (timeout); a push may
		// send several.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{}),
	}
	if c.QueueBatchConfig.HasValue() {
		// A configured sending_queue keeps exporterhelper's model: one
		// attempt per push, retries by exporterhelper (whose shutdown
		// leaves an interrupted batch in a persistent queue).
		opts = append(opts, exporterhelper.WithRetry(c.BackOffConfig), exporterhelper.WithQueue(c.QueueBatchConfig))
	}
	// Otherwise the exporter retries itself (retry_on_failure): in the
	// spool's senders, or within ConsumeLogs when delivery is synchronous.
	return exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs, opts...)
}
