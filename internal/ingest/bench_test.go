package ingest

import (
	"os"
	"strings"
	"testing"

	"github.com/cairnsec/cairn/internal/normalize"
)

// go test -run '^$' -bench . -benchmem ./internal/ingest/
//
// A whole line to its record (normalising, then the ECS decoder), against
// the same Tetragon line decoded as it is (format ecs).
func BenchmarkLineNormalized(b *testing.B) {
	exec := tetragonLine(b, "00_process_lifecycle/nc_process_exec.json")
	conn, err := os.ReadFile(captures + "zeek/conn-wiki.log")
	if err != nil {
		b.Fatal(err)
	}
	connLines := strings.Split(string(conn), "\n")
	for _, c := range []struct {
		name, format string
		header       []string
		line         []byte
	}{
		{"tetragon-exec/as-ecs", FormatECS, nil, exec},
		{"tetragon-exec/tetragon", normalize.FormatTetragon, nil, exec},
		{"zeek-conn-tsv/zeek", normalize.FormatZeek, connLines[:8], []byte(connLines[8+32])},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(withFormat(c.format))
			for _, h := range c.header {
				d.Line([]byte(h), newRecs())
			}
			recs := newRecs()
			if res, err := d.Line(c.line, recs); res != Decoded {
				b.Fatal(res, err)
			}
			b.SetBytes(int64(len(c.line)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if recs.Len() >= 1024 {
					recs = newRecs()
				}
				d.Line(c.line, recs)
			}
		})
	}
}
