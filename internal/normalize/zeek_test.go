package normalize

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zeekDocs normalises a whole TSV log and returns its events in order.
func zeekDocs(t *testing.T, n *Normalizer, path string) []doc {
	t.Helper()
	var out []doc
	for _, l := range fileLines(t, path) {
		b, o, err := n.Record(l)
		require.NoError(t, err, "%s", l)
		switch o {
		case Skip:
			require.Equal(t, byte('#'), l[0], "only header lines give no record")
		case Event:
			require.True(t, json.Valid(b))
			out = append(out, decode(t, b))
		default:
			t.Fatalf("%s: outcome %d", l, o)
		}
	}
	return out
}

func TestZeekConnTSV(t *testing.T) {
	for _, format := range []string{FormatZeek, FormatAuto} {
		n := newNormalizer(t, format)
		docs := zeekDocs(t, n, zeekDir+"/conn-wiki.log")
		require.Len(t, docs, 34, format)
		assert.Equal(t, map[string]int64{"zeek/conn/normalized": 34}, countsOf(n))
		for _, d := range docs {
			assert.Equal(t, []string{"network"}, d.strs("event.category"))
			assert.Equal(t, []string{"connection", "start"}, d.strs("event.type"))
			assert.Equal(t, "connection-opened", d.str("event.action"))
			assert.Equal(t, "zeek.conn", d.str("event.dataset"))
			assert.Equal(t, d.str("source.ip"), d.str("host.name"), "the originator stands for the host")
			assert.Equal(t, []string{d.str("source.ip")}, d.strs("host.ip"))
		}

		// 1300475168.724007 CUM0KZ3MLUfNB0cl11 141.142.220.118 48649 208.80.152.118 80 tcp http 0.119905 525 232 S1 … ShADad 4 … 3 …
		http := docs[32]
		assert.Equal(t, "2011-03-18T19:06:08.724007000Z", http.str("@timestamp"), "ts to the microsecond, no float rounding")
		assert.Equal(t, "141.142.220.118", http.str("source.ip"))
		assert.Equal(t, float64(48649), http.num("source.port"))
		assert.Equal(t, "208.80.152.118", http.str("destination.ip"))
		assert.Equal(t, float64(80), http.num("destination.port"))
		assert.Equal(t, "tcp", http.str("network.transport"))
		assert.Equal(t, "ipv4", http.str("network.type"))
		assert.Equal(t, "http", http.str("network.protocol"))
		assert.Equal(t, float64(119905000), http.num("event.duration"))
		assert.Equal(t, float64(525), http.num("source.bytes"))
		assert.Equal(t, float64(232), http.num("destination.bytes"))
		assert.Equal(t, float64(4), http.num("source.packets"))
		assert.Equal(t, float64(3), http.num("destination.packets"))
		assert.Equal(t, "CUM0KZ3MLUfNB0cl11", http.str("zeek.session_id"))
		assert.Equal(t, "S1", http.str("zeek.connection.state"))
		assert.Equal(t, "ShADad", http.str("zeek.connection.history"))
		assert.Nil(t, http.get("network.direction"), "local_orig/local_resp unset")

		v6 := docs[1]
		assert.Equal(t, "fe80::217:f2ff:fed7:cf65", v6.str("source.ip"))
		assert.Equal(t, "ff02::fb", v6.str("destination.ip"))
		assert.Equal(t, "ipv6", v6.str("network.type"))
		assert.Nil(t, v6.get("event.duration"), "unset duration")

		noService := docs[33]
		assert.Equal(t, "173.192.163.128", noService.str("destination.ip"))
		assert.Nil(t, noService.get("network.protocol"))
		assert.Equal(t, "^h", noService.str("zeek.connection.history"))
	}
}

func TestZeekDNSTSV(t *testing.T) {
	n := newNormalizer(t, FormatAuto)
	docs := zeekDocs(t, n, zeekDir+"/dns.log")
	require.Len(t, docs, 4)
	assert.Equal(t, map[string]int64{"zeek/dns/normalized": 4}, countsOf(n))

	d := docs[0]
	assert.Equal(t, "2018-08-03T15:25:55.393636000Z", d.str("@timestamp"))
	assert.Equal(t, []string{"network"}, d.strs("event.category"))
	assert.Equal(t, []string{"protocol", "info"}, d.strs("event.type"))
	assert.Equal(t, "dns-answer", d.str("event.action"))
	assert.Equal(t, "dns", d.str("network.protocol"))
	assert.Equal(t, "udp", d.str("network.transport"))
	assert.Equal(t, "35.184.172.191", d.str("source.ip"))
	assert.Equal(t, float64(10267), d.num("source.port"))
	assert.Equal(t, "128.175.13.16", d.str("destination.ip"))
	assert.Equal(t, float64(53), d.num("destination.port"))
	assert.Equal(t, "35.184.172.191", d.str("host.name"))
	assert.Equal(t, "answer", d.str("dns.type"))
	assert.Equal(t, float64(17129), d.num("dns.id"))
	assert.Equal(t, "virgo.sas.upenn.edu", d.str("dns.question.name"))
	assert.Equal(t, "A", d.str("dns.question.type"))
	assert.Equal(t, "IN", d.str("dns.question.class"))
	assert.Equal(t, "NOERROR", d.str("dns.response_code"))
	assert.Equal(t, []string{"AA"}, d.strs("dns.header_flags"))
	assert.Equal(t, []any{
		map[string]any{"data": "128.91.234.142", "type": "A", "ttl": float64(30)},
		map[string]any{"data": "RRSIG 1 upenn.edu", "ttl": float64(30)},
	}, d.get("dns.answers"))
	assert.Equal(t, []string{"128.91.234.142"}, d.strs("dns.resolved_ip"))
	assert.Equal(t, float64(3405000), d.num("event.duration"), "the round trip")

	cname := docs[2]
	assert.Equal(t, "workfamily.sas.upenn.edu", cname.str("dns.question.name"))
	answers := cname.get("dns.answers").([]any)
	require.Len(t, answers, 4)
	assert.Equal(t, map[string]any{"data": "quasar.sas.upenn.edu", "ttl": float64(900)}, answers[0], "a name is left untyped")
	assert.Equal(t, map[string]any{"data": "128.91.234.145", "type": "A", "ttl": float64(30)}, answers[2])
	assert.Equal(t, []string{"128.91.234.145"}, cname.strs("dns.resolved_ip"))

	unanswered := docs[3]
	assert.Equal(t, "dns-query", unanswered.str("event.action"))
	assert.Equal(t, "query", unanswered.str("dns.type"))
	assert.Nil(t, unanswered.get("dns.answers"))
	assert.Nil(t, unanswered.get("dns.response_code"))
	assert.Nil(t, unanswered.get("dns.header_flags"))
}

// Zeek's JSON writer gives the same events as its TSV writer. The JSON
// lines are the first records of the captures as LogAscii::use_json writes
// them (times as epoch seconds, sets and vectors as arrays, unset fields
// left out).
func TestZeekJSONMatchesTSV(t *testing.T) {
	tsv := newNormalizer(t, FormatZeek)
	conn := zeekDocs(t, tsv, zeekDir+"/conn-wiki.log")
	dns := zeekDocs(t, tsv, zeekDir+"/dns.log")

	n := newNormalizer(t, FormatAuto)
	for _, c := range []struct {
		line string
		want doc
	}{
		{`{"ts":1300475168.724007,"uid":"CUM0KZ3MLUfNB0cl11","id.orig_h":"141.142.220.118","id.orig_p":48649,"id.resp_h":"208.80.152.118","id.resp_p":80,"proto":"tcp","service":"http","duration":0.119905,"orig_bytes":525,"resp_bytes":232,"conn_state":"S1","missed_bytes":0,"history":"ShADad","orig_pkts":4,"orig_ip_bytes":741,"resp_pkts":3,"resp_ip_bytes":396}`, conn[32]},
		{`{"ts":1300475167.097012,"uid":"ClEkJM2Vm5giqnMf4h","id.orig_h":"fe80::217:f2ff:fed7:cf65","id.orig_p":5353,"id.resp_h":"ff02::fb","id.resp_p":5353,"proto":"udp","service":"dns","conn_state":"S0","missed_bytes":0,"history":"D","orig_pkts":1,"orig_ip_bytes":199,"resp_pkts":0,"resp_ip_bytes":0}`, conn[1]},
		{`{"ts":1533309955.393636,"uid":"ClEkJM2Vm5giqnMf4h","id.orig_h":"35.184.172.191","id.orig_p":10267,"id.resp_h":"128.175.13.16","id.resp_p":53,"proto":"udp","trans_id":17129,"rtt":0.003405,"query":"virgo.sas.upenn.edu","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":true,"TC":false,"RD":false,"RA":false,"Z":1,"answers":["128.91.234.142","RRSIG 1 upenn.edu"],"TTLs":[30.0,30.0],"rejected":false}`, dns[0]},
		// The same with _path, ISO 8601 times and a nested id.
		{`{"_path":"dns","ts":"2018-08-03T15:25:55.393636Z","uid":"ClEkJM2Vm5giqnMf4h","id":{"orig_h":"35.184.172.191","orig_p":10267,"resp_h":"128.175.13.16","resp_p":53},"proto":"udp","trans_id":17129,"rtt":0.003405,"query":"virgo.sas.upenn.edu","qclass_name":"C_INTERNET","qtype_name":"A","rcode_name":"NOERROR","AA":true,"TC":false,"RD":false,"RA":false,"answers":["128.91.234.142","RRSIG 1 upenn.edu"],"TTLs":[30.0,30.0]}`, dns[0]},
	} {
		got := event(t, n, []byte(c.line))
		assert.Equal(t, c.want, got, c.line)
	}
	assert.Equal(t, map[string]int64{"zeek/conn/normalized": 2, "zeek/dns/normalized": 2}, countsOf(n))
}

// Logs with no mapping pass through: JSON lines as they are, TSV rows in
// the form Zeek's JSON writer gives them.
func TestZeekUnknownLogsPassThrough(t *testing.T) {
	n := newNormalizer(t, FormatZeek)
	j := []byte(`{"ts":1300475168.784020,"uid":"CiyBAq1bBLNaTiTAc","id.orig_h":"141.142.220.118","method":"GET","host":"bits.wikimedia.org"}`)
	out, o, err := n.Record(j)
	require.NoError(t, err)
	assert.Equal(t, Passthrough, o)
	assert.Equal(t, string(j), string(out))

	header := "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\thttp\n" +
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tmethod\thost\ttags\tstatus_code\tproxied\tinfo\n" +
		"#types\ttime\tstring\taddr\tport\tstring\tstring\tset[enum]\tcount\tbool\tstring\n"
	for _, l := range bytes.Split([]byte(header), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		_, o, err := n.Record(l)
		require.NoError(t, err, "%s", l)
		require.Equal(t, Skip, o)
	}
	out, o, err = n.Record([]byte("1300475168.784020\tCiyBAq1bBLNaTiTAc\t141.142.220.118\t35642\tGET\tbits.wikimedia.org\tA,B\t200\tT\tx\\x09y\\x5c-"))
	require.NoError(t, err)
	assert.Equal(t, Passthrough, o)
	assert.JSONEq(t, `{"_path":"http","ts":1300475168.784020,"uid":"CiyBAq1bBLNaTiTAc","id.orig_h":"141.142.220.118","id.orig_p":35642,"method":"GET","host":"bits.wikimedia.org","tags":["A","B"],"status_code":200,"proxied":true,"info":"x\ty\\-"}`, string(out))
	out, _, _ = n.Record([]byte("1300475168.784020\tC2\t141.142.220.118\t35642\t-\t(empty)\t(empty)\t-\tF\t\\x2d"))
	assert.JSONEq(t, `{"_path":"http","ts":1300475168.784020,"uid":"C2","id.orig_h":"141.142.220.118","id.orig_p":35642,"host":"","tags":[],"proxied":false,"info":"-"}`, string(out))
	assert.Equal(t, map[string]int64{"zeek/unknown/unknown": 1, "zeek/http/unknown": 2}, countsOf(n))
}

// Two TSV inputs read in turn keep their own headers when each has its
// Stream.
func TestZeekStreamsKeepTheirHeaders(t *testing.T) {
	n := newNormalizer(t, FormatAuto)
	conn := fileLines(t, zeekDir+"/conn-wiki.log")
	dns := fileLines(t, zeekDir+"/dns.log")
	var sc, sd Stream
	got := map[string]int{}
	for i := 0; i < len(conn) || i < len(dns); i++ {
		for _, in := range []struct {
			s     *Stream
			lines [][]byte
		}{{&sc, conn}, {&sd, dns}} {
			if i >= len(in.lines) {
				continue
			}
			n.Use(in.s)
			b, o, err := n.Record(in.lines[i])
			require.NoError(t, err, "%s", in.lines[i])
			if o == Event {
				got[decode(t, b).str("event.dataset")]++
			}
		}
	}
	assert.Equal(t, map[string]int{"zeek.conn": 34, "zeek.dns": 4}, got)

	// Interleaved on one stream, the second header takes over.
	n = newNormalizer(t, FormatZeek)
	for _, l := range dns[:8] {
		_, _, err := n.Record(l)
		require.NoError(t, err)
	}
	_, _, err := n.Record(conn[8])
	require.Error(t, err, "a conn row under dns.log's header has the wrong columns")
}

// A log resumed from a checkpoint past its header (Stream.Header kept
// beside the offset, Stream.Resume at start) reads its rows exactly as
// reading on would have, wherever it was stopped.
func TestZeekStreamResumesPastItsHeader(t *testing.T) {
	for _, path := range []string{zeekDir + "/conn-wiki.log", zeekDir + "/dns.log"} {
		lines := fileLines(t, path)
		for _, format := range []string{FormatZeek, FormatAuto} {
			whole := newNormalizer(t, format)
			var want []result
			for _, l := range lines {
				want = append(want, run(whole, l))
			}
			for k := 1; k < len(lines); k++ {
				first := newNormalizer(t, format)
				var s Stream
				first.Use(&s)
				for _, l := range lines[:k] {
					run(first, l)
				}
				kept := append([]byte(nil), s.Header()...)

				// A new process: a new normaliser and a resumed stream.
				again := newNormalizer(t, format)
				var s2 Stream
				s2.Resume(kept)
				again.Use(&s2)
				for i, l := range lines[k:] {
					require.Equal(t, want[k+i], run(again, l), "%s (%s) stopped after line %d, line %d", path, format, k, k+i+1)
				}
			}
		}
	}
}

func TestZeekStreamHeaderBounds(t *testing.T) {
	n := newNormalizer(t, FormatZeek)
	var s Stream
	n.Use(&s)
	assert.Nil(t, s.Header(), "no header yet")
	n.Record([]byte("#separator \\x09"))
	n.Record([]byte("#fields\tts\tuid"))
	assert.Equal(t, "#separator \\x09\n#fields\tts\tuid", string(s.Header()))

	// A header that outgrows the bound is not kept: a resumed stream has
	// none, and its rows are refused as before, until the next header.
	n.Record([]byte("#path\t" + strings.Repeat("p", 60)))
	for i := 0; len(s.Header()) > 0; i++ {
		n.Record([]byte("#open\t" + strings.Repeat("o", 1000)))
		require.Less(t, i, MaxHeaderKeep/1000+2)
	}
	assert.Nil(t, s.Header())
	var s2 Stream
	s2.Resume(s.Header())
	again := newNormalizer(t, FormatZeek)
	again.Use(&s2)
	_, o, err := again.Record([]byte("1\tC"))
	assert.Equal(t, Malformed, o)
	assert.ErrorContains(t, err, "without a #fields header")
	// The next #separator starts a header that is kept again.
	n.Record([]byte("#separator \\x09"))
	assert.Equal(t, "#separator \\x09", string(s.Header()))

	// A refused header line is kept too: resumed, its rows stay refused.
	n.Record([]byte("#set_separator\t\\x09"))
	var s3 Stream
	s3.Resume(append([]byte(nil), s.Header()...))
	again.Use(&s3)
	n.Record([]byte("#fields\tts\tuid"))
	_, o, err = again.Record([]byte("1\tC"))
	assert.Equal(t, Malformed, o)
	assert.ErrorContains(t, err, "refused header")
}
