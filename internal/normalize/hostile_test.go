package normalize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const hostileProc = `"process":{"exec_id":"eA==","pid":7,"uid":0,"binary":"/bin/x","arguments":"a b"}`

func hostileExec(extra string) []byte {
	return []byte(`{"process_exec":{` + hostileProc + extra + `},"node_name":"w","time":"2024-05-01T09:00:00Z"}`)
}

// Nesting, arrays and objects far larger than any record: the records are
// walked, not built, and what is kept is bounded.
func TestHostileSizesAreBounded(t *testing.T) {
	n := newNormalizer(t, FormatAuto)

	// Nested deeper than the ECS decoder accepts: not a record of any
	// format; the ECS decoder refuses it.
	deep := hostileExec(`,"x":` + strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5))
	_, o, err := n.Record(deep)
	require.NoError(t, err)
	assert.Equal(t, Passthrough, o)
	// Deep but within the bound, in a member no field needs: mapped.
	ok := hostileExec(`,"x":` + strings.Repeat(`{"a":`, maxDepth-10) + "1" + strings.Repeat("}", maxDepth-10))
	event(t, n, ok)

	// A huge capability list and 100 000 labels: the document stays
	// small.
	caps := `"CAP_X"` + strings.Repeat(`,"CAP_X"`, 100000)
	var labels strings.Builder
	for i := 0; i < 100000; i++ {
		if i > 0 {
			labels.WriteByte(',')
		}
		fmt.Fprintf(&labels, `"k%d":"v"`, i)
	}
	big := []byte(`{"process_exec":{"process":{"exec_id":"eA==","pid":7,"binary":"/bin/x","cap":{"permitted":[` + caps + `]},"pod":{"namespace":"n","name":"p","pod_labels":{` + labels.String() + `}}}},"node_name":"w"}`)
	out, o, err := n.Record(big)
	require.NoError(t, err)
	require.Equal(t, Event, o)
	assert.Less(t, len(out), 4096, "nothing of the caps, 64 labels")
	assert.Len(t, decode(t, out).strs("orchestrator.resource.label"), maxLabels)

	// An arguments string of a million spaces: 1024 empty arguments.
	out, o, err = n.Record(hostileExec(`,"parent":{"binary":"/p","arguments":"` + strings.Repeat(" ", 1<<20) + `"}`))
	require.NoError(t, err)
	require.Equal(t, Event, o)
	assert.Less(t, len(out), 16<<10)

	// 100 000 Zeek answers: 64 kept.
	answers := `"a"` + strings.Repeat(`,"1.2.3.4"`, 100000)
	out, o, err = n.Record([]byte(`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.orig_p":1,"id.resp_h":"10.0.0.2","id.resp_p":53,"proto":"udp","query":"x","rcode_name":"NOERROR","answers":[` + answers + `]}`))
	require.NoError(t, err)
	require.Equal(t, Event, o)
	d := decode(t, out)
	assert.Len(t, d.get("dns.answers"), maxZeekAnswers)
	assert.Len(t, d.strs("dns.resolved_ip"), maxZeekAnswers-1)

	// Unknown type names from the input are interned up to a bound.
	for i := 0; i < 3*maxUnknownTypes; i++ {
		_, o, _ := n.Record([]byte(fmt.Sprintf(`{"process_x%d":{},"node_name":"w"}`, i)))
		require.Equal(t, Passthrough, o)
	}
	unknown := 0
	for _, c := range n.Counts() {
		if c.Kind == Unknown {
			unknown++
		}
	}
	assert.LessOrEqual(t, unknown, maxUnknownTypes+1, "the bound plus other")
	assert.Equal(t, int64(2*maxUnknownTypes), countsOf(n)["tetragon/other/unknown"])
}

// Records with missing or mistyped fields are refused with a reason, never
// mapped half-way.
func TestHostileFieldsAreRefused(t *testing.T) {
	for _, c := range []struct {
		line, want string
	}{
		{`{"process_exec":{"parent":{"binary":"/p"}},"node_name":"w"}`, "has no process"},
		{`{"process_exec":{"process":{"pid":3}},"node_name":"w"}`, "has no binary"},
		{`{"process_exec":{"process":{}},"node_name":"w"}`, "neither binary"},
		{`{"process_exec":{"process":[]},"node_name":"w"}`, "process is not an object"},
		{`{"process_exec":{"process":{"binary":42}},"node_name":"w"}`, "binary is not a string"},
		{`{"process_exec":{"process":{"binary":"/x","pid":"abc"}},"node_name":"w"}`, "pid is not an integer"},
		{`{"process_exec":{"process":{"binary":"/x","pid":-1}},"node_name":"w"}`, "pid is not an integer"},
		{`{"process_exec":{"process":{"binary":"/x","pid":1e3}},"node_name":"w"}`, "pid is not an integer"},
		{`{"process_exec":{"process":{"binary":"/x","pid":4294967296}},"node_name":"w"}`, "pid is not an integer"},
		{`{"process_exec":{"process":{"binary":"/x","pod":"p"}},"node_name":"w"}`, "pod is not an object"},
		{`{"process_exec":{"process":{"binary":"/x","pod":{"container":7}}},"node_name":"w"}`, "container is not an object"},
		{`{"process_exec":{"process":{"binary":"/x","start_time":"yesterday"}},"node_name":"w"}`, "start_time is not an RFC 3339 time"},
		{`{"process_exec":{"process":{"binary":"/x"}},"node_name":5}`, "node_name is not a string"},
		{`{"process_exec":{"process":{"binary":"/x"}},"time":1700000000}`, "time is not a time"},
		{`{"process_kprobe":{"process":{"binary":"/x"},"function_name":"tcp_connect","args":{}},"node_name":"w"}`, "args is not an array"},
		{`{"process_kprobe":{"process":{"binary":"/x"},"function_name":"tcp_connect","args":[{"sock_arg":{"daddr":"not-an-ip"}}]},"node_name":"w"}`, "not an IP address"},
		{`{"process_kprobe":{"process":{"binary":"/x"},"function_name":"tcp_connect","args":[{"sock_arg":{"dport":70000}}]},"node_name":"w"}`, "dport is not an integer"},
		{`{"process_connect":{"process":{"binary":"/x"},"destination_ip":"999.1.1.1"},"node_name":"w"}`, "not an IP address"},
		{`{"ts":1,"uid":"C","id.resp_h":"10.0.0.2","conn_state":"S0"}`, "id.orig_h is missing"},
		{`{"ts":1,"uid":"C","id.orig_h":5,"id.resp_h":"10.0.0.2","conn_state":"S0"}`, "id.orig_h is missing or not an IP"},
		{`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.orig_p":"http","id.resp_h":"10.0.0.2","conn_state":"S0"}`, "id.orig_p is not an integer"},
		{`{"ts":"noon","uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","conn_state":"S0"}`, "ts is not a time"},
		{`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","conn_state":"S0","orig_bytes":-4}`, "orig_bytes is not an integer"},
		{`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","conn_state":"S0","local_orig":"yes"}`, "local_orig is not a boolean"},
		{`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","query":"x","answers":"1.2.3.4"}`, "answers is not an array"},
		{`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","query":"x","answers":["a"],"TTLs":[{}]}`, "TTLs holds something other"},
		{`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","query":["x"]}`, "query is not a string"},
	} {
		n := newNormalizer(t, FormatAuto)
		out, o, err := n.Record([]byte(c.line))
		assert.Equal(t, Malformed, o, c.line)
		assert.Nil(t, out)
		if assert.Error(t, err, c.line) {
			assert.ErrorIs(t, err, ErrRecord)
			assert.Contains(t, err.Error(), c.want, c.line)
		}
		for _, k := range n.Counts() {
			assert.Equal(t, Refused, k.Kind, "%s: counted as refused", c.line)
		}
	}
	// Fields that may be missing: the event says what is known.
	n := newNormalizer(t, FormatAuto)
	d := event(t, n, []byte(`{"process_connect":{"process":{"binary":"/x"}},"node_name":"w"}`))
	assert.Nil(t, d.get("destination"))
	assert.Nil(t, d.get("@timestamp"))
	d = event(t, n, []byte(`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","conn_state":"S0"}`))
	assert.Nil(t, d.get("source.port"), "no ports without both")
	assert.Equal(t, "1970-01-01T00:00:01.000Z", d.str("@timestamp"))
}

// Bad TSV headers are refused, and so are the rows under them, until a
// good header.
func TestHostileZeekHeaders(t *testing.T) {
	good := []string{"#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
		"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto", "#types\ttime\tstring\taddr\tport\taddr\tport\tenum"}
	row := "1300475168.724007\tC1\t10.0.0.1\t1234\t10.0.0.2\t80\ttcp"
	many := make([]string, maxZeekFields+1)
	for i := range many {
		many[i] = fmt.Sprintf("f%d", i)
	}
	for _, c := range []struct {
		name   string
		header []string // replaces the good header line of the same directive
		want   string
	}{
		{"two-byte separator", []string{"#separator \\x09\\x09"}, "#separator must be one byte"},
		{"set separator = separator", []string{"#set_separator\t\\x09"}, "#set_separator must be one byte"},
		{"too many fields", []string{"#fields\t" + strings.Join(many, "\t")}, "more than 512 names"},
		{"empty field name", []string{"#fields\tts\t\tuid"}, "empty or over-long name"},
		{"trailing separator", []string{"#fields\tts\tuid\t"}, "empty name"},
		{"long field name", []string{"#fields\t" + strings.Repeat("x", maxZeekName+1)}, "empty or over-long name"},
		{"types mismatch", []string{"#types\ttime\tstring"}, "names 2 types for 7 #fields"},
		{"unknown directive", []string{"#bogus\tx"}, "unknown Zeek header line"},
		{"long path", []string{"#path\t" + strings.Repeat("p", 100)}, "#path must be"},
		{"empty marker", []string{"#empty_field\t" + strings.Repeat("e", 100)}, "#empty_field must be"},
		{"no value", []string{"#fields"}, "without a value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNormalizer(t, FormatZeek)
			refused := false
			for _, g := range good {
				line := g
				for _, h := range c.header {
					if strings.SplitN(h, "\t", 2)[0] == strings.SplitN(g, "\t", 2)[0] ||
						strings.HasPrefix(h, "#separator") && strings.HasPrefix(g, "#separator") ||
						h == "#fields" && strings.HasPrefix(g, "#fields") {
						line = h
					}
				}
				_, o, err := n.Record([]byte(line))
				if o == Malformed {
					refused = true
					assert.Contains(t, err.Error(), c.want)
				}
			}
			if !strings.HasPrefix(c.header[0], "#bogus") {
				assert.True(t, refused, "the bad header line is refused")
			} else {
				_, o, err := n.Record([]byte(c.header[0]))
				require.Equal(t, Malformed, o)
				assert.Contains(t, err.Error(), c.want)
			}
			_, o, err := n.Record([]byte(row))
			assert.Equal(t, Malformed, o, "rows under a refused header are refused")
			assert.Error(t, err)
			assert.LessOrEqual(t, cap(n.own.zeek.fieldsBuf)+cap(n.own.zeek.typesBuf), 2*(maxZeekFields*(maxZeekName+1)+64),
				"a header keeps at most a copy of its lines")
		})
	}

	n := newNormalizer(t, FormatZeek)
	_, o, err := n.Record([]byte(row))
	assert.Equal(t, Malformed, o)
	assert.Contains(t, err.Error(), "without a #fields header", "a row before any header")
	for _, l := range good {
		_, o, err := n.Record([]byte(l))
		require.NoError(t, err)
		require.Equal(t, Skip, o)
	}
	_, o, err = n.Record([]byte(row))
	require.NoError(t, err)
	assert.Equal(t, Event, o)
	for _, bad := range []string{row + "\textra", "1300475168.724007\tC1\t10.0.0.1", "x\tC1\t10.0.0.1\t1234\t10.0.0.2\t80\ttcp"} {
		_, o, err := n.Record([]byte(bad))
		assert.Equal(t, Malformed, o, bad)
		assert.Error(t, err)
	}
	_, o, _ = n.Record([]byte("#close\t2019-09-17-17-56-40"))
	assert.Equal(t, Skip, o)
	_, o, err = n.Record([]byte(row))
	assert.Equal(t, Malformed, o, "#close ends the log")
	assert.Contains(t, err.Error(), "without a #fields header")

	// In auto mode a line that merely starts with # and is no directive
	// is not Zeek's: the ECS decoder refuses it as it always did.
	n = newNormalizer(t, FormatAuto)
	_, o, _ = n.Record([]byte("# a comment"))
	assert.Equal(t, Passthrough, o)
	_, o, _ = n.Record([]byte("plain text\twith a tab"))
	assert.Equal(t, Passthrough, o, "no TSV row without a header")
}

func FuzzNormalize(f *testing.F) {
	for _, l := range tetragonLines(f) {
		f.Add(l)
	}
	for _, path := range []string{zeekDir + "/conn-wiki.log", zeekDir + "/dns.log"} {
		for _, l := range fileLines(f, path) {
			f.Add(l)
		}
	}
	f.Add([]byte(`{"ts":1,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","query":"x","answers":["1.2.3.4"],"TTLs":[1]}`))
	f.Add([]byte(`{"process_exec":{"process":{"binary":"/x\u0000\"","arguments":"\" \"\" \\\"a b\\\"  "}},"node_name":"w"}`))
	f.Add([]byte(`{"process_lsm":{"process":{"binary":"/x"},"function_name":"bprm_check_security","args":[{"linux_binprm_arg":{"path":"x"}}],"ima_hash":"sha256:ab"},"node_name":"w"}`))
	f.Add([]byte("#fields\ta\tb"))
	f.Add([]byte("1\t2"))
	// One normaliser for the whole run, so header state carries over
	// between inputs as it would in a stream.
	n, err := New(FormatAuto)
	if err != nil {
		f.Fatal(err)
	}
	zn, _ := New(FormatZeek)
	// The same stream again without the string index (as on a CPU
	// without the vector pass): the results must not differ.
	plain, _ := New(FormatAuto)
	f.Fuzz(func(t *testing.T, line []byte) {
		if haveMasks {
			a := run(n, line)
			var b result
			withoutIndex(func() { b = run(plain, line) })
			if !bytes.Equal(a.out, b.out) || a.o != b.o || a.err != b.err {
				t.Fatalf("with the index %+v, without %+v, for %q", a, b, line)
			}
		}
		for _, nn := range []*Normalizer{n, zn} {
			out, o, err := nn.Record(line)
			switch o {
			case Event:
				if !json.Valid(out) {
					t.Fatalf("invalid document %q from %q", out, line)
				}
			case Passthrough:
				if len(line) > 0 && line[0] == '{' && string(out) != string(line) && !json.Valid(out) {
					t.Fatalf("bad pass-through %q", out)
				}
			case Malformed:
				if err == nil {
					t.Fatal("malformed without a reason")
				}
			}
		}
	})
}

// A record with megabytes of escaped text grows the unescaping arena; the
// next record does not keep it.
func TestArenaNotKeptAfterHugeRecord(t *testing.T) {
	n := newNormalizer(t, FormatTetragon)
	huge := hostileExec(`,"parent":{"binary":"/bin/sh","arguments":"` + strings.Repeat(`\"a\" `, 1<<19) + `"}`)
	event(t, n, huge)
	assert.Greater(t, cap(n.rec.arena), maxArenaKeep, "the arena grew")
	event(t, n, hostileExec(""))
	assert.LessOrEqual(t, cap(n.rec.arena), maxArenaKeep)
}
