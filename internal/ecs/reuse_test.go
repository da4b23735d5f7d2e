package ecs

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// sameRecord fails unless a and b hold the same attributes, in the same
// order, and the same Timestamp.
func sameRecord(t *testing.T, a, b plog.LogRecord, msg string) {
	t.Helper()
	var e Encoder
	ja := string(e.Append(nil, pcommon.NewResource(), a))
	jb := string(e.Append(nil, pcommon.NewResource(), b))
	require.Equal(t, ja, jb, msg)
	require.Equal(t, a.Attributes().AsRaw(), b.Attributes().AsRaw(), msg)
	require.Equal(t, a.Timestamp(), b.Timestamp(), msg)
}

var reuseDocs = []string{
	processStartEvent,
	networkEvent,
	`{"@timestamp":"2026-03-02T14:00:00Z","a":1,"b":{"c":[1,2,3],"d":"x"}}`,
	`{"a":"now a string","b":{"d":"x","c":[1,null,3,4]}}`,
	`{"b":{"c":[],"d":{"e":true}},"a":[{"x":1},{"y":2}]}`,
	`{"a":null,"b":{"c":null}}`,
	`{"a":1,"a":2,"b":{"c":1,"c":null}}`,
	`{"@timestamp":"not a time","event":{"id":"x","kind":"k"}}`,
	`{}`,
}

func TestDecodeIntoAUsedRecordIsLikeAFreshOne(t *testing.T) {
	for _, first := range reuseDocs {
		for _, second := range reuseDocs {
			var d Decoder
			used := plog.NewLogRecord()
			_, err := d.DecodeID([]byte(first), used)
			require.NoError(t, err)
			got, err := d.DecodeID([]byte(second), used)
			require.NoError(t, err)
			fresh := plog.NewLogRecord()
			want, err := d.DecodeID([]byte(second), fresh)
			require.NoError(t, err)
			sameRecord(t, fresh, used, first+" then "+second)
			require.Equal(t, want, got, "id of "+second+" after "+first)
		}
	}
}

// FuzzDecodeReuse: decoding a document into a record that held another one
// gives the record and id a fresh decode gives.
func FuzzDecodeReuse(f *testing.F) {
	for i, a := range reuseDocs {
		f.Add([]byte(a), []byte(reuseDocs[(i+1)%len(reuseDocs)]))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var d Decoder
		used := plog.NewLogRecord()
		if _, err := d.DecodeID(first, used); err != nil {
			used = plog.NewLogRecord()
			// A failed decode leaves part of a document: decoding
			// over it must still be exact.
			_ = d.Decode(first, used)
		}
		got, err := d.DecodeID(second, used)
		fresh := plog.NewLogRecord()
		want, ferr := d.DecodeID(second, fresh)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("errors differ: %v vs %v", err, ferr)
		}
		if err != nil {
			return
		}
		sameRecord(t, fresh, used, string(first)+" then "+string(second))
		if got != want {
			t.Fatalf("ids differ: %+v vs %+v", got, want)
		}
	})
}
