package ecs

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Two typical endpoint events, written the way the Encoder writes them
// (compact, @timestamp first with millisecond precision) so that round trips
// can be compared byte for byte.
const (
	processStartEvent = `{"@timestamp":"2026-03-02T10:00:00.123Z",` +
		`"event":{"kind":"event","category":["process"],"type":["start"],"action":"exec","dataset":"endpoint.events.process"},` +
		`"host":{"name":"ws-0142","os":{"family":"windows"}},` +
		`"user":{"name":"jdoe","domain":"CORP","id":"S-1-5-21-1013"},` +
		`"process":{"pid":4312,"name":"powershell.exe","executable":"C:\\Windows\\System32\\powershell.exe",` +
		`"args":["powershell.exe","-NoProfile","-enc","SQBFAFgA"],"command_line":"powershell.exe -NoProfile -enc SQBFAFgA",` +
		`"parent":{"pid":2260,"name":"cmd.exe"},"hash":{"sha256":"9785001b0dcf755eddb8af294a373c0b87b2498660f724e76c4d53f9c217c7a3"}},` +
		`"agent":{"type":"endpoint"},"ecs":{"version":"8.17.0"}}`

	networkEvent = `{"@timestamp":"2026-03-02T10:00:01.456Z",` +
		`"event":{"kind":"event","category":["network"],"type":["connection","start"],"action":"connection_attempted","dataset":"endpoint.events.network","outcome":"success"},` +
		`"host":{"name":"ws-0142","ip":["10.1.4.22","fe80::1c2b:3aff:fe4d:5e6f"]},` +
		`"user":{"name":"jdoe","domain":"CORP"},` +
		`"process":{"pid":4312,"name":"powershell.exe","entity_id":"MTIzNDU2Nzg5MA=="},` +
		`"source":{"ip":"10.1.4.22","port":49822,"bytes":1420},` +
		`"destination":{"ip":"203.0.113.77","port":443,"domain":"cdn.example.net","bytes":18233},` +
		`"network":{"transport":"tcp","type":"ipv4","direction":"egress","protocol":"tls"},` +
		`"ecs":{"version":"8.17.0"}}`
)

// decode decodes doc into a new record with a new Decoder.
func decode(t testing.TB, doc string) plog.LogRecord {
	t.Helper()
	rec := plog.NewLogRecord()
	var d Decoder
	require.NoError(t, d.Decode([]byte(doc), rec))
	return rec
}

// encode encodes rec with an empty resource and a new Encoder.
func encode(rec plog.LogRecord) string {
	var e Encoder
	return string(e.Append(nil, pcommon.NewResource(), rec))
}

// leafCount counts the scalar fields of m, array elements included.
func leafCount(m pcommon.Map) int {
	n := 0
	for _, v := range m.All() {
		n += valueLeaves(v)
	}
	return n
}

func valueLeaves(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		return leafCount(v.Map())
	case pcommon.ValueTypeSlice:
		n := 0
		for _, e := range v.Slice().All() {
			n += valueLeaves(e)
		}
		return n
	}
	return 1
}
