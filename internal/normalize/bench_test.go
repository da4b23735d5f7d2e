package normalize

import (
	"testing"

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
