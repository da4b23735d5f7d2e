package filereceiver

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cairnsec/cairn/receiver/filereceiver/internal/metadata"
)

func attrs(k, v string) metric.ObserveOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(k, v)))
}

var (
	kindEvent         = attrs("kind", "event")
	kindPipelineError = attrs("kind", "pipeline_error")
	dropPermanent     = attrs("reason", "permanent_error")
	malformedReasons  = func() (o [numReasons]metric.ObserveOption) {
		for i, n := range reasonNames {
			o[i] = attrs("reason", n)
		}
		return o
	}()
)

// registerTelemetry publishes the receiver's counters as collector metrics,
// read when the metrics are collected rather than on every line.
func (r *fileReceiver) registerTelemetry() error {
	tb, err := metadata.NewTelemetryBuilder(r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	c := &r.cnt
	err = tb.RegisterCallback(func(_ context.Context, o metadata.Observers) error {
		o.Lines.Observe(c.lines.Load())
		o.Records.Observe(c.events.Load(), kindEvent)
		o.Records.Observe(c.pipelineErrors.Load(), kindPipelineError)
		for i := range c.malformed {
			o.MalformedLines.Observe(c.malformed[i].Load(), malformedReasons[i])
		}
		o.DroppedRecords.Observe(c.dropped.Load(), dropPermanent)
		o.OpenFiles.Observe(c.open.Load())
		o.BytesRead.Observe(c.bytesRead.Load())
		o.ConsumeRetries.Observe(c.retries.Load())
		if fc := c.formats.Load(); fc != nil {
			for _, n := range *fc {
				o.NormalizedRecords.Observe(n.N, metric.WithAttributeSet(attribute.NewSet(
					attribute.String("format", n.Format),
					attribute.String("type", n.Type),
					attribute.String("kind", n.Kind.String()))))
			}
		}
		return nil
	})
	if err != nil {
		tb.Shutdown()
		return err
	}
	r.telemetry = tb
	return nil
}
