// Package filereceiver implements the cairn_file receiver: it tails NDJSON
// files of ECS documents (or, with the format option, Tetragon and Zeek
// logs, normalised into ECS events) and decodes each line with
// internal/ingest, the decoder `cairn replay` uses, handing batches to the
// next consumer
// synchronously and moving each file's checkpoint only once a batch was
// delivered. See README.md.
package filereceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/cairnsec/cairn/internal/ingest"
	"github.com/cairnsec/cairn/receiver/filereceiver/internal/metadata"
)

// NewFactory returns the factory of the cairn_file receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogsReceiver, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		StartAt:            StartAtEnd,
		PollInterval:       200 * time.Millisecond,
		DecodeConfig:       DecodeConfig(ingest.DefaultOptions()),
		MaxBatchEvents:     4096,
		MaxConcurrentFiles: 1024,
		FingerprintBytes:   1000,
		ForceFlushPeriod:   500 * time.Millisecond,
	}
}

func createLogsReceiver(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
