package ecs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestAppendDocExtras(t *testing.T) {
	x := &Extra{ID: "new-id", Dataset: "cairn.events", Ingested: "2026-03-05T00:00:00.000Z", ECSVersion: "8.17.0",
		DataStreamType: "logs", DataStreamDataset: "cairn.events", DataStreamNamespace: "prod"}
	for _, tc := range []struct{ name, doc, want string }{
		{
			"nested document: replaced in place, added at the end of their objects, missing objects appended",
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event":{"kind":"event","dataset":"cairn.host","ingested":"old"},"data_stream":{"namespace":"x","type":"metrics"},"a":1}`,
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event":{"kind":"event","dataset":"cairn.events","ingested":"2026-03-05T00:00:00.000Z","id":"new-id"},"data_stream":{"namespace":"prod","type":"logs","dataset":"cairn.events"},"a":1,"ecs":{"version":"8.17.0"}}`,
		},
		{
			"an id and an ecs.version of the document's own are kept",
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event":{"id":"mine"},"ecs":{"version":"1.12.0"}}`,
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event":{"id":"mine","dataset":"cairn.events","ingested":"2026-03-05T00:00:00.000Z"},"ecs":{"version":"1.12.0"},"data_stream":{"type":"logs","dataset":"cairn.events","namespace":"prod"}}`,
		},
		{
			"dotted keys take the tree path with the same result",
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event.dataset":"cairn.host","event.kind":"event","data_stream.type":"metrics"}`,
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event":{"dataset":"cairn.events","kind":"event","id":"new-id","ingested":"2026-03-05T00:00:00.000Z"},"data_stream":{"type":"logs","dataset":"cairn.events","namespace":"prod"},"ecs":{"version":"8.17.0"}}`,
		},
		{
			"an object where a replaced value goes becomes the value",
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event":{"dataset":{"a":1}}}`,
			`{"@timestamp":"2026-03-02T14:00:00.000Z","event":{"dataset":"cairn.events","id":"new-id","ingested":"2026-03-05T00:00:00.000Z"},"ecs":{"version":"8.17.0"},"data_stream":{"type":"logs","dataset":"cairn.events","namespace":"prod"}}`,
		},
	} {
		rec := decode(t, tc.doc)
		var e Encoder
		got := string(e.AppendDoc(nil, pcommon.NewResource(), rec, x))
		assert.Equal(t, tc.want, got, tc.name)
		tree := Encoder{noStream: true}
		assert.Equal(t, tc.want, string(tree.AppendDoc(nil, pcommon.NewResource(), rec, x)), "tree: "+tc.name)
	}
}

func TestAppendDocTime(t *testing.T) {
	var e Encoder
	// An @timestamp field (a parser that left the record time empty) is
	// the event time: written normalised, not the read time.
	rec := plog.NewLogRecord()
	rec.Attributes().PutStr("@timestamp", "2026-03-02T16:00:00+02:00")
	rec.Attributes().PutStr("a", "b")
	rec.SetObservedTimestamp(pcommon.Timestamp(1))
	assert.Equal(t, `{"@timestamp":"2026-03-02T14:00:00.000Z","a":"b"}`, string(e.Append(nil, pcommon.NewResource(), rec)))

	// No time at all: Now when the writer gives one.
	rec = plog.NewLogRecord()
	rec.Attributes().PutStr("a", "b")
	assert.Equal(t, `{"a":"b"}`, string(e.Append(nil, pcommon.NewResource(), rec)))
	assert.Equal(t, `{"@timestamp":"2026-03-02T14:00:00.000Z","a":"b"}`,
		string(e.AppendDoc(nil, pcommon.NewResource(), rec, &Extra{Now: 1772460000000000000})))
}
