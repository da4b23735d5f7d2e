package feed

import (
	"bufio"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

const benchRows = 1_000_000

// writeMalwareBazaarCSV writes a MalwareBazaar-style export of n rows with
// random hashes and realistically long ssdeep and tlsh columns (rows are
// about 390 bytes, like the real export's).
func writeMalwareBazaarCSV(tb testing.TB, path string, n int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("################################################################\n")
	w.WriteString("# MalwareBazaar full malware samples (CSV), benchmark data     #\n")
	w.WriteString("################################################################\n#\n")
	w.WriteString(`# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess","mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"` + "\n")
	rng := rand.New(rand.NewPCG(1, 2))
	signatures := []string{"Mirai", "AgentTesla", "n/a", "Gafgyt", "RedLineStealer", "gsocket", "CobaltStrike", "Formbook"}
	var raw [32]byte
	var hx [64]byte
	hexOf := func(n int) []byte {
		for i := 0; i < n; i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8 && i+j < n; j++ {
				raw[i+j] = byte(v >> (8 * j))
			}
		}
		hex.Encode(hx[:], raw[:n])
		return hx[:2*n]
	}
	t0 := time.Date(2020, 2, 24, 0, 0, 0, 0, time.UTC)
	var ts []byte
	for i := range n {
		ts = t0.Add(time.Duration(i)*37*time.Second).AppendFormat(ts[:0], "2006-01-02 15:04:05")
		w.WriteString(`"`)
		w.Write(ts)
		w.WriteString(`", "`)
		w.Write(hexOf(32))
		w.WriteString(`", "`)
		w.Write(hexOf(16))
		w.WriteString(`", "`)
		w.Write(hexOf(20))
		w.WriteString(`", "abuse_ch", "sample.exe", "exe", "application/x-dosexec", "`)
		w.WriteString(signatures[i%len(signatures)])
		w.WriteString(`", "n/a", "n/a", "`)
		w.Write(hexOf(16))
		w.WriteString(`", "3072:`)
		w.Write(hexOf(24))
		w.WriteString(`:`)
		w.Write(hexOf(12))
		w.WriteString(`", "T1`)
		w.Write(hexOf(32))
		w.Write(hexOf(3))
		w.WriteString("\"\n")
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	// Write the file back now, not while the benchmark reads it.
	if err := f.Sync(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkMalwareBazaar1M loads a one-million-row MalwareBazaar export with
// ParseFile (detection included) into an emit that keeps the last
// indicator, as a store would look at every field.
func BenchmarkMalwareBazaar1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "full.csv")
	size := writeMalwareBazaarCSV(b, path, benchRows)
	var last indicator.Indicator
	count := 0
	emit := func(ind indicator.Indicator) error {
		last = ind
		count++
		return nil
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		count = 0
		format, st, err := ParseFile(path, emit)
		if err != nil || format.Name() != NameMalwareBazaarCSV || st.Indicators != 3*benchRows || st.Skipped != 0 {
			b.Fatalf("format %v, stats %+v, err %v", format, st, err)
		}
	}
	b.StopTimer()
	if count != 3*benchRows || last.Value == "" {
		b.Fatalf("emitted %d", count)
	}
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(benchRows)/perOp, "lines/s")
	b.ReportMetric(perOp*1e9/float64(benchRows), "ns/line")
}
