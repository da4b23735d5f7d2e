package ecs

import (
	"bufio"
	"fmt"
	"io"

	"go.opentelemetry.io/collector/pdata/plog"
)

// DecodeNDJSON reads one ECS document per line into the records of one
// batch, for tests and benchmarks that need a realistic batch in memory.
// Blank lines are skipped; any other bad line is an error naming it.
func DecodeNDJSON(r io.Reader) (plog.Logs, error) {
	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	var dec Decoder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if isBlank(sc.Bytes()) {
			continue
		}
		if err := dec.Decode(sc.Bytes(), recs.AppendEmpty()); err != nil {
			return ld, fmt.Errorf("line %d: %w", line, err)
		}
	}
	return ld, sc.Err()
}
