package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/valyala/fastjson"
)

// go test -run '^$' -bench . -benchmem ./internal/normalize/
//
// Normalising one record (the line to its ECS document); the ECS decoder's
// work on the document comes after, in internal/ingest (see its
// BenchmarkLineNormalized).

func benchRecord(b *testing.B, n *Normalizer, line []byte) {
	b.Helper()
	if _, o, err := n.Record(line); err != nil || o != Event {
		b.Fatalf("outcome %d, %v", o, err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.Record(line)
	}
}

// A 2.4 KB process_exec of the report, with pod, capabilities and parent.
func BenchmarkTetragonExec(b *testing.B) {
	for _, format := range []string{FormatTetragon, FormatAuto} {
		b.Run(format, func(b *testing.B) {
			n, _ := New(format)
			benchRecord(b, n, tetragonFile(b, "00_process_lifecycle/nc_process_exec.json"))
		})
	}
}

// A process_exec as `tetra getevents -o json` writes it (events.json: 1.5
// KB, pod labels, no capabilities).
func BenchmarkTetragonExecEventsJSON(b *testing.B) {
	n, _ := New(FormatTetragon)
	benchRecord(b, n, fileLines(b, tetragonDir+"/events.json")[0])
}

// A yardstick for the machine the benchmarks run on: fastjson parsing the
// same line as BenchmarkTetragonExec (what the ECS decoder does with any
// line, before building its record).
func BenchmarkReferenceFastjsonParse(b *testing.B) {
	line := tetragonFile(b, "00_process_lifecycle/nc_process_exec.json")
	var p fastjson.Parser
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		if _, err := p.ParseBytes(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTetragonConnect(b *testing.B) {
	n, _ := New(FormatTetragon)
	benchRecord(b, n, tetragonFile(b, "03_security_observability_events/02_persistance/merlin-agent-go-connect.json"))
}

// The HTTP connection row of conn-wiki.log, under its header.
func BenchmarkZeekConnTSV(b *testing.B) {
	for _, format := range []string{FormatZeek, FormatAuto} {
		b.Run(format, func(b *testing.B) {
			n, _ := New(format)
			lines := fileLines(b, zeekDir+"/conn-wiki.log")
			for _, l := range lines[:8] {
				n.Record(l)
			}
			benchRecord(b, n, lines[8+32])
		})
	}
}

func BenchmarkZeekConnJSON(b *testing.B) {
	n, _ := New(FormatAuto)
	benchRecord(b, n, []byte(`{"ts":1300475168.724007,"uid":"CUM0KZ3MLUfNB0cl11","id.orig_h":"141.142.220.118","id.orig_p":48649,"id.resp_h":"208.80.152.118","id.resp_p":80,"proto":"tcp","service":"http","duration":0.119905,"orig_bytes":525,"resp_bytes":232,"conn_state":"S1","missed_bytes":0,"history":"ShADad","orig_pkts":4,"orig_ip_bytes":741,"resp_pkts":3,"resp_ip_bytes":396}`))
}

func BenchmarkZeekDNSTSV(b *testing.B) {
	n, _ := New(FormatZeek)
	lines := fileLines(b, zeekDir+"/dns.log")
	for _, l := range lines[:8] {
		n.Record(l)
	}
	benchRecord(b, n, lines[10])
}

// Normalising a record allocates nothing once the normaliser's buffers
// have grown: every record of every format's fixtures (escaped arguments,
// lower-case technique tags and all), normalised again and again. Zeek TSV
// header lines, one per log file, do allocate: the header is copied.
func TestNoAllocationPerRecord(t *testing.T) {
	type rec struct {
		s    *Stream // the record's file's
		line []byte
	}
	var records []rec
	own := &Stream{}
	for _, l := range tetragonLines(t) {
		records = append(records, rec{own, l})
	}
	for _, l := range fileLines(t, sysmonDir+"/events.log") {
		records = append(records, rec{own, l})
	}
	for _, l := range falcoLines(t) {
		records = append(records, rec{own, l})
	}
	n := newNormalizer(t, FormatAuto)
	for _, path := range []string{zeekDir + "/conn-wiki.log", zeekDir + "/dns.log"} {
		s := &Stream{}
		n.Use(s)
		for _, l := range fileLines(t, path) {
			if l[0] == '#' {
				n.Record(l)
			} else {
				records = append(records, rec{s, l})
			}
		}
	}
	run := func() {
		for _, r := range records {
			n.Use(r.s)
			if _, o, err := n.Record(r.line); o == Malformed {
				t.Fatalf("%d %v: %q", o, err, r.line)
			}
		}
	}
	run() // the buffers grow to the largest record
	assert.Zero(t, testing.AllocsPerRun(20, run))
}
