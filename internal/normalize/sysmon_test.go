package normalize

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sysmonDir = "testdata/sysmon"

func sysmonLines(t testing.TB) [][]byte {
	t.Helper()
	return fileLines(t, sysmonDir+"/events.log")
}

func TestSysmonEvents(t *testing.T) {
	lines := sysmonLines(t)
	for _, format := range []string{FormatSysmon, FormatAuto} {
		t.Run(format, func(t *testing.T) {
			n := newNormalizer(t, format)

			// 1: process create, after a syslog tag, with hashes and
			// an entity.
			d := event(t, n, lines[0])
			assert.Equal(t, "2024-05-01T09:00:00.125Z", d.str("@timestamp"), "UtcTime")
			assert.Equal(t, []string{"process"}, d.strs("event.category"))
			assert.Equal(t, []string{"start"}, d.strs("event.type"))
			assert.Equal(t, "exec", d.str("event.action"))
			assert.Equal(t, "sysmon", d.str("event.module"))
			assert.Equal(t, "sysmon.process", d.str("event.dataset"))
			assert.Equal(t, "1", d.str("event.code"))
			assert.Equal(t, "web-01", d.str("host.name"))
			assert.Equal(t, "c9eb4a87-4093-637f-789d-2406ab550000", d.str("process.entity_id"))
			assert.Equal(t, float64(4005), d.num("process.pid"))
			assert.Equal(t, "/usr/bin/curl", d.str("process.executable"))
			assert.Equal(t, "curl", d.str("process.name"))
			assert.Equal(t, "curl -s -O http://203.0.113.7/x?a=1&b=2", d.str("process.command_line"))
			assert.Equal(t, []string{"curl", "-s", "-O", "http://203.0.113.7/x?a=1&b=2"}, d.strs("process.args"))
			assert.Equal(t, float64(4), d.num("process.args_count"))
			assert.Equal(t, "/opt/automation", d.str("process.working_directory"))
			assert.Equal(t, "2024-05-01T09:00:00.125Z", d.str("process.start"))
			assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", d.str("process.hash.sha256"))
			assert.Equal(t, "d41d8cd98f00b204e9800998ecf8427e", d.str("process.hash.md5"))
			assert.Equal(t, "c9eb4a87-4093-637f-4884-6c9bed550000", d.str("process.parent.entity_id"))
			assert.Equal(t, float64(4004), d.num("process.parent.pid"))
			assert.Equal(t, "/bin/bash", d.str("process.parent.executable"))
			assert.Equal(t, "bash", d.str("process.parent.name"))
			assert.Equal(t, []string{"/bin/bash", "./injector.sh"}, d.strs("process.parent.args"))
			assert.Equal(t, "root", d.str("process.parent.user.name"))
			assert.Equal(t, "root", d.str("user.name"))
			assert.Equal(t, "0", d.str("winlog.logon.id"))

			// 1 alone (journald MESSAGE), Hashes "-": no hash section.
			d = event(t, n, lines[1])
			assert.Equal(t, "/bin/chmod", d.str("process.executable"))
			assert.Nil(t, d.get("process.hash"))
			assert.Equal(t, "c9eb4a87-4093-637f-4884-6c9bed550000", d.str("process.parent.entity_id"))

			// 3: network connect.
			d = event(t, n, lines[2])
			assert.Equal(t, []string{"network"}, d.strs("event.category"))
			assert.Equal(t, []string{"connection", "start"}, d.strs("event.type"))
			assert.Equal(t, "connection-opened", d.str("event.action"))
			assert.Equal(t, "sysmon.network", d.str("event.dataset"))
			assert.Equal(t, "172.31.60.25", d.str("source.ip"))
			assert.Equal(t, float64(42234), d.num("source.port"))
			assert.Nil(t, d.get("source.domain"), "- is no value")
			assert.Equal(t, "203.0.113.7", d.str("destination.ip"))
			assert.Equal(t, float64(80), d.num("destination.port"))
			assert.Equal(t, "mirror.example.net", d.str("destination.domain"))
			assert.Equal(t, "tcp", d.str("network.transport"))
			assert.Equal(t, "ipv4", d.str("network.type"))
			assert.Equal(t, "egress", d.str("network.direction"))
			assert.Equal(t, "c9eb4a87-4093-637f-789d-2406ab550000", d.str("process.entity_id"))
			assert.Equal(t, "/usr/bin/curl", d.str("process.executable"))
			assert.Equal(t, "root", d.str("user.name"))

			// 11: file create.
			d = event(t, n, lines[3])
			assert.Equal(t, []string{"file"}, d.strs("event.category"))
			assert.Equal(t, []string{"creation"}, d.strs("event.type"))
			assert.Equal(t, "creation", d.str("event.action"))
			assert.Equal(t, "/opt/automation/xmrig", d.str("file.path"))
			assert.Equal(t, "xmrig", d.str("file.name"))
			assert.Equal(t, "2024-05-01T09:00:00.310Z", d.str("file.created"))
			assert.Equal(t, "c9eb4a87-4093-637f-789d-2406ab550000", d.str("process.entity_id"))
			assert.Equal(t, float64(4005), d.num("process.pid"))

			// 5: process terminate.
			d = event(t, n, lines[4])
			assert.Equal(t, []string{"end"}, d.strs("event.type"))
			assert.Equal(t, "end", d.str("event.action"))
			assert.Equal(t, "2024-05-01T09:00:02.004Z", d.str("process.end"))
			assert.Equal(t, "c9eb4a87-4093-637f-789d-2406ab550000", d.str("process.entity_id"))

			// 4 (not mapped): passed through in Winlogbeat's form.
			out, o, err := n.Record(lines[5])
			require.NoError(t, err)
			require.Equal(t, Passthrough, o)
			d = decode(t, out)
			assert.Equal(t, "4", d.str("winlog.event_id"))
			assert.Equal(t, "Linux-Sysmon", d.str("winlog.provider_name"))
			assert.Equal(t, "web-01", d.str("winlog.computer_name"))
			assert.Equal(t, "Started", d.str("winlog.event_data.State"))
			assert.Equal(t, "2024-05-01T08:59:00.000Z", d.str("@timestamp"))

			c := countsOf(n)
			assert.Equal(t, int64(2), c["sysmon/process_create/normalized"])
			assert.Equal(t, int64(1), c["sysmon/network_connect/normalized"])
			assert.Equal(t, int64(1), c["sysmon/file_create/normalized"])
			assert.Equal(t, int64(1), c["sysmon/process_terminate/normalized"])
			assert.Equal(t, int64(1), c["sysmon/event_4/unknown"])
		})
	}
}

// SystemTime stands in for a missing UtcTime; IPv6 and inbound
// connections; unspecified addresses are left out.
func TestSysmonVariants(t *testing.T) {
	n := newNormalizer(t, FormatSysmon)
	d := event(t, n, sysmonXML(5, "", `<Data Name="ProcessId">9</Data>`))
	assert.Equal(t, "2024-05-01T09:00:00.123456000Z", d.str("@timestamp"))
	d = event(t, n, sysmonXML(3, "", `<Data Name="Protocol">udp</Data><Data Name="Initiated">false</Data><Data Name="SourceIp">2001:db8::1</Data><Data Name="SourcePort">5353</Data><Data Name="DestinationIp">::</Data><Data Name="DestinationPort">53</Data>`))
	assert.Equal(t, "ingress", d.str("network.direction"))
	assert.Equal(t, "udp", d.str("network.transport"))
	assert.Equal(t, "ipv6", d.str("network.type"))
	assert.Nil(t, d.get("destination.ip"))
	assert.Equal(t, float64(53), d.num("destination.port"))
	// A command line of more than maxArgs words.
	d = event(t, n, sysmonXML(1, "", `<Data Name="Image">/x</Data><Data Name="CommandLine">`+strings.Repeat("a ", 2000)+`</Data>`))
	assert.Len(t, d.strs("process.args"), maxArgs)
	assert.Equal(t, true, d.get("cairn.process.args_truncated"))
	// Character references and an attribute in single quotes.
	d = event(t, n, []byte(strings.Replace(string(sysmonXML(11, "", `<Data Name='TargetFilename'>/tmp/&#x61;&#98;&lt;&gt;&quot;&apos;</Data>`)), "<Event>", `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">`, 1)))
	assert.Equal(t, `/tmp/ab<>"'`, d.str("file.path"))
}

// sysmonXML builds an event with the given id and EventData.
func sysmonXML(id int, prefix, data string) []byte {
	return []byte(prefix + `<Event><System><Provider Name="Linux-Sysmon"/><EventID>` + itoa(id) +
		`</EventID><TimeCreated SystemTime="2024-05-01T09:00:00.123456000Z"/><Computer>h</Computer></System><EventData>` +
		data + `</EventData></Event>`)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// auto picks sysmon for Sysmon lines, and leaves ECS, Tetragon and Zeek
// records to their formats; sysmon claims no JSON line.
func TestSysmonDetection(t *testing.T) {
	for _, l := range sysmonLines(t) {
		assert.GreaterOrEqual(t, sysmonStart(l), 0, "%s", l)
	}
	for _, l := range []string{
		`<Event><System/></Event>`,
		`<134>1 2024-05-01T09:00:00Z web-01 sysmon: <Event></Event>`,
		`May  1 09:00:00 web-01 sysmon[1109]: <Event x="1"></Event>`,
	} {
		assert.GreaterOrEqual(t, sysmonStart([]byte(l)), 0, l)
	}
	for _, l := range []string{
		`{"@timestamp":"2024-05-01T09:00:00Z","message":"<Event>"}`,
		`{"message":"sysmon: <Event>"}`,
		`May  1 09:00:00 web-01 notsysmon: <Event></Event>`,
		`May  1 09:00:00 web-01 sudo: <Event></Event>`,
		`May  1 09:00:00 web-01 sysmon[]: <Event></Event>`,
		`<Events></Events>`,
		`text <Event></Event>`,
		strings.Repeat("x", sysmonMaxPrefix) + ` sysmon: <Event></Event>`,
	} {
		assert.Less(t, sysmonStart([]byte(l)), 0, l)
	}

	var s sysmon
	n := newNormalizer(t, FormatAuto)
	for name, l := range tetragonLines(t) {
		n.rec.line = l
		n.rec.stream = n.stream
		n.rec.scan()
		assert.False(t, s.sniff(&n.rec), name)
	}
	n = newNormalizer(t, FormatAuto)
	for _, path := range []string{zeekDir + "/conn-wiki.log", zeekDir + "/dns.log"} {
		for _, l := range fileLines(t, path) {
			n.Record(l)
		}
	}
	ecs := []byte(`{"@timestamp":"2024-05-01T09:00:00.000Z","event":{"kind":"event"},"process":{"command_line":"sysmon: <Event>"}}`)
	n.Record(ecs)
	for _, c := range n.Counts() {
		assert.NotEqual(t, FormatSysmon, c.Format, "%+v", c)
	}
	// Under a Zeek TSV header in force, a Sysmon line holding a tab is
	// still Sysmon's.
	lines := sysmonLines(t)
	_, o, err := n.Record([]byte(strings.Replace(string(lines[1]), "chmod +x", "chmod\t+x", 1)))
	require.NoError(t, err)
	assert.Equal(t, Event, o)
	assert.Equal(t, int64(1), countsOf(n)["sysmon/process_create/normalized"])
}

// Hostile input: refused with a reason and counted, never a panic nor a
// half document; what is kept is bounded.
func TestSysmonHostile(t *testing.T) {
	good := string(sysmonLines(t)[1])
	for _, c := range []struct {
		name, line, want string
	}{
		{"deep nesting", `<Event>` + strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000) + `</Event>`, "nested deeper"},
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><Event>&lol2;</Event>`, "not a Sysmon event"},
		{"DTD inside", `<Event><!DOCTYPE x [<!ENTITY a "b">]><System/></Event>`, "DTD"},
		{"external entity", `<Event><!ENTITY xxe SYSTEM "file:///etc/passwd"><System><EventID>&xxe;</EventID></System></Event>`, "DTD"},
		{"undeclared entity", strings.Replace(good, "chmod +x", "chmod &xxe;", 1), "unknown entity"},
		{"bad char ref", strings.Replace(good, "chmod +x", "chmod &#0;", 1), "character reference"},
		{"surrogate char ref", strings.Replace(good, "chmod +x", "chmod &#xD800;", 1), "character reference"},
		{"1 MB attribute", `<Event><System><Provider Name="` + strings.Repeat("A", 1<<20) + `"/></System></Event>`, "longer than"},
		{"1 MB attribute name", `<Event><System><Provider ` + strings.Repeat("A", 100<<10) + `="x"/></System></Event>`, "bad attribute"},
		{"many attributes", `<Event><System><Provider` + strings.Repeat(` a="1"`, 100) + `/></System></Event>`, "more than 16 attributes"},
		{"many elements", `<Event><EventData>` + strings.Repeat(`<Data Name="x">1</Data>`, 1000) + `</EventData></Event>`, "more than"},
		{"huge record", `<Event><EventData><Data Name="CommandLine">` + strings.Repeat("a", sysmonMaxRecord) + `</Data></EventData></Event>`, "longer than"},
		{"truncated", good[:len(good)/2], "truncated"},
		{"truncated tag", good[:len(good)-3], "truncated"},
		{"no end", strings.TrimSuffix(good, "</Event>"), "truncated"},
		{"mismatched", strings.Replace(good, "</System>", "</Systen>", 1), "mismatched"},
		{"trailing", good + "<Event></Event>", "after </Event>"},
		{"comment", strings.Replace(good, "<EventData>", "<EventData><!-- x -->", 1), "comment"},
		{"cdata", strings.Replace(good, ">chmod +x xmrig<", "><![CDATA[x]]><", 1), "CDATA"},
		{"mixed text", strings.Replace(good, "<EventData>", "<EventData>text", 1), "text between"},
		{"lt in attribute", strings.Replace(good, `Name="Image"`, `Name="Im<age"`, 1), "'<' in an attribute"},
		{"no event id", `<Event><System><Computer>h</Computer></System></Event>`, "EventID"},
		{"event id text", strings.Replace(good, "<EventID>1<", "<EventID>one<", 1), "EventID"},
		{"no image", string(sysmonXML(1, "", `<Data Name="ProcessId">1</Data>`)), "no Image"},
		{"bad pid", strings.Replace(good, ">4006<", ">-1<", 1), "ProcessId is not an integer"},
		{"pid overflow", strings.Replace(good, ">4006<", ">99999999999999999999999<", 1), "ProcessId is not an integer"},
		{"bad time", strings.Replace(good, "2024-05-01 09:00:01.002", "yesterday", 1), "UtcTime is not a time"},
		{"bad ip", string(sysmonXML(3, "", `<Data Name="DestinationIp">999.1.1.1</Data>`)), "DestinationIp"},
		{"bad port", string(sysmonXML(3, "", `<Data Name="DestinationIp">1.1.1.1</Data><Data Name="DestinationPort">70000</Data>`)), "DestinationPort is not an integer"},
		{"bad initiated", string(sysmonXML(3, "", `<Data Name="DestinationIp">1.1.1.1</Data><Data Name="Initiated">maybe</Data>`)), "Initiated"},
		{"no target", string(sysmonXML(11, "", `<Data Name="TargetFilename">-</Data>`)), "TargetFilename"},
		{"terminate nothing", string(sysmonXML(5, "", ``)), "neither"},
		{"wrong root", `<Event x="1"/>` + "<Other/>", "after </Event>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := newNormalizer(t, FormatSysmon)
			out, o, err := n.Record([]byte(c.line))
			assert.Equal(t, Malformed, o)
			assert.Nil(t, out)
			if assert.Error(t, err) {
				assert.ErrorIs(t, err, ErrRecord)
				assert.Contains(t, err.Error(), c.want)
			}
			for _, k := range n.Counts() {
				assert.Equal(t, Refused, k.Kind, "counted as refused")
				assert.Equal(t, FormatSysmon, k.Format)
			}
		})
	}
	// In auto mode a line that is not Sysmon's by its shape is left to
	// the ECS decoder (which refuses non-JSON as it always did).
	n := newNormalizer(t, FormatAuto)
	_, o, _ := n.Record([]byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Event>&lol;</Event>`))
	assert.Equal(t, Passthrough, o)
	assert.Equal(t, int64(1), countsOf(n)["ecs//native"])
}

func FuzzSysmon(f *testing.F) {
	for _, l := range fileLines(f, sysmonDir+"/events.log") {
		f.Add(l)
	}
	f.Add(sysmonXML(3, "x sysmon: ", `<Data Name="DestinationIp">::1</Data><Data Name="SourcePort">1</Data>`))
	f.Add(sysmonXML(99, "", `<Data Name="a&amp;b">&#x1F600;</Data><Data Name="-">x</Data>`))
	f.Add([]byte(`<Event><System><EventID>1</EventID></System><EventData><Data Name="Image">&lt;</Data><Data Name="Hashes">SHA1=A,SHA256=zz,MD5</Data></EventData></Event>`))
	f.Add([]byte(`<Event><!DOCTYPE a [<!ENTITY b "c">]></Event>`))
	f.Add([]byte(`<Event ` + strings.Repeat("<", 10)))
	auto, _ := New(FormatAuto)
	sn, _ := New(FormatSysmon)
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, n := range []*Normalizer{auto, sn} {
			out, o, err := n.Record(line)
			switch o {
			case Event:
				if !json.Valid(out) {
					t.Fatalf("invalid document %q from %q", out, line)
				}
			case Passthrough:
				if string(out) != string(line) && !json.Valid(out) {
					t.Fatalf("bad pass-through %q from %q", out, line)
				}
			case Malformed:
				if err == nil {
					t.Fatal("malformed without a reason")
				}
			}
		}
	})
}

// One process create of ~1.9 KB after a syslog tag.
func BenchmarkSysmonProcessCreate(b *testing.B) {
	for _, format := range []string{FormatSysmon, FormatAuto} {
		b.Run(format, func(b *testing.B) {
			n, _ := New(format)
			benchRecord(b, n, fileLines(b, sysmonDir+"/events.log")[0])
		})
	}
}
