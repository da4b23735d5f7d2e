package document

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
)

func view(attrs map[string]any) *event.View {
	rec := plog.NewLogRecord()
	_ = rec.Attributes().FromRaw(attrs)
	v := event.NewView()
	v.Reset(pcommon.NewResource(), rec)
	return v
}

func TestDataset(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]any
		alert bool
		want  string
	}{
		{map[string]any{}, false, EventsDataset},
		{map[string]any{"event.kind": "alert"}, true, AlertsDataset},
		{map[string]any{"data_stream.dataset": "Zeek Conn"}, false, "zeek_conn"},
		// An alert keeps its own dataset only under cairn.alerts.
		{map[string]any{"event.kind": "alert", "data_stream.dataset": "cairn.alerts.team_a"}, true, "cairn.alerts.team_a"},
		{map[string]any{"event.kind": "alert", "data_stream.dataset": "other"}, true, AlertsDataset},
		// event.dataset is not routing: it is replaced by the dataset.
		{map[string]any{"event.dataset": "cairn.host"}, false, EventsDataset},
	} {
		v := view(tc.attrs)
		assert.Equal(t, tc.alert, IsAlert(v), "%v", tc.attrs)
		assert.Equal(t, tc.want, Dataset(v, IsAlert(v)), "%v", tc.attrs)
	}
}

func TestNamespace(t *testing.T) {
	assert.Equal(t, "default", Namespace(view(map[string]any{}), "default"))
	assert.Equal(t, "team_b", Namespace(view(map[string]any{"data_stream": map[string]any{"namespace": "Team-B"}}), "default"))
}

func TestFill(t *testing.T) {
	var x ecs.Extra
	v := view(map[string]any{"a": "b"})
	Fill(&x, v, "cairn.events")
	assert.Equal(t, v.ContentID(), x.ID, "an event without an id gets its content id")
	assert.Equal(t, ECSVersion, x.ECSVersion)
	assert.Equal(t, "cairn.events", x.Dataset)

	x.Ingested = "left over"
	Fill(&x, view(map[string]any{"event": map[string]any{"id": "mine"}}), "")
	assert.Empty(t, x.ID, "the encoder keeps the record's own id")
	assert.Empty(t, x.Dataset)
	assert.Empty(t, x.Ingested, "Fill starts afresh")
}

func TestSanitizeDSPart(t *testing.T) {
	assert.Equal(t, "cairn.events", SanitizeDSPart("cairn.events"))
	assert.Equal(t, "a_b_c_d", SanitizeDSPart("A-b c:d"))
	assert.Len(t, SanitizeDSPart(string(make([]byte, 150))), 100)
	assert.Equal(t, "", SanitizeDSPart(""))
}
