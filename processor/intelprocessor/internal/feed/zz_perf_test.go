package feed

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestZZPerf(t *testing.T) {
	path := "/tmp/zzfull.csv"
	if _, err := os.Stat(path); err != nil {
		writeMalwareBazaarCSV(t, path, benchRows)
	}
	for round := 0; round < 2; round++ {
		f, _ := os.Open(path)
		t0 := time.Now()
		n, _ := io.Copy(io.Discard, f)
		f.Close()
		t.Logf("read %d bytes: %v", n, time.Since(t0))

		f, _ = os.Open(path)
		t0 = time.Now()
		lr := newLineReader(f)
		lines := 0
		for {
			_, _, err := lr.next()
			if err != nil {
				break
			}
			lines++
		}
		f.Close()
		t.Logf("lines %d: %v", lines, time.Since(t0))

		f, _ = os.Open(path)
		t0 = time.Now()
		lr = newLineReader(f)
		var fields [][]byte
		var scratch []byte
		for {
			l, _, err := lr.next()
			if err != nil {
				break
			}
			fields, scratch, _ = splitQuoted(l, fields, scratch, 9)
		}
		f.Close()
		t.Logf("split: %v", time.Since(t0))

		t0 = time.Now()
		_, st, err := ParseFile(path, func(indicator.Indicator) error { return nil })
		t.Logf("parse: %v %d %v", time.Since(t0), st.Indicators, err)
	}
}

func BenchmarkZZParse(b *testing.B) {
	for b.Loop() {
		_, st, err := ParseFile("/tmp/zzfull.csv", func(indicator.Indicator) error { return nil })
		if err != nil || st.Indicators != 3000000 {
			b.Fatal(err)
		}
	}
}
