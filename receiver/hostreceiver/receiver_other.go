//go:build !linux

package hostreceiver

import (
	"context"
	"fmt"
	"runtime"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

type unsupported struct{}

func newHostReceiver(receiver.Settings, *Config, consumer.Logs) (receiver.Logs, error) {
	return unsupported{}, nil
}

func (unsupported) Start(context.Context, component.Host) error {
	return fmt.Errorf("cairn_host receiver: needs Linux (proc connector, sock_diag, AF_PACKET); this collector runs on %s", runtime.GOOS)
}

func (unsupported) Shutdown(context.Context) error { return nil }
