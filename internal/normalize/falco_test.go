package normalize

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const falcoDir = "testdata/falco"

func falcoLines(t testing.TB) [][]byte { return fileLines(t, falcoDir+"/alerts.json") }

func details(t testing.TB, d doc) map[string]any {
	t.Helper()
	a, _ := d.get("cairn.signal_details").([]any)
	require.Len(t, a, 1)
	return a[0].(map[string]any)
}

// The process, file and network alerts of the fixtures, mapped.
func TestFalcoMapping(t *testing.T) {
	lines := falcoLines(t)
	n := newNormalizer(t, FormatFalco)

	d := event(t, n, lines[0])
	assert.Equal(t, "2023-05-25T13:44:05.478445995Z", d.str("@timestamp"))
	assert.Equal(t, "event", d.str("event.kind"), "not alert: Cairn's own alerts are")
	assert.Equal(t, "falco", d.str("event.module"))
	assert.Equal(t, "syscall", d.str("event.provider"))
	assert.Equal(t, []string{"process"}, d.strs("event.category"))
	assert.Equal(t, "Terminal shell in container", d.str("rule.name"))
	assert.Equal(t, "falco", d.str("rule.ruleset"))
	assert.Equal(t, "critical", d.str("log.level"))
	assert.Equal(t, "falco-xczjd", d.str("host.name"))
	assert.Equal(t, "sh", d.str("process.name"))
	assert.Equal(t, "sh -c clear; (bash || ash || sh)", d.str("process.command_line"))
	assert.Equal(t, "runc", d.str("process.parent.name"))
	assert.Equal(t, "root", d.str("user.name"))
	assert.Nil(t, d.get("user.id"))
	assert.Equal(t, "ee97d9c4186f", d.str("container.id"))
	assert.Equal(t, "docker.io/library/alpine", d.str("container.image.name"))
	assert.Equal(t, "kubernetes", d.str("orchestrator.type"))
	assert.Equal(t, "default", d.str("orchestrator.namespace"))
	assert.Equal(t, "kubecon", d.str("orchestrator.resource.name"))
	assert.Equal(t, []string{"container", "mitre_execution", "shell"}, d.strs("tags"))
	assert.Contains(t, d.str("message"), "A shell was spawned")
	assert.Equal(t, []string{"falco_critical"}, d.strs("cairn.signals"))
	det := details(t, d)
	assert.Equal(t, "falco_critical", det["signal"])
	assert.Equal(t, "falco:Terminal shell in container", det["key"])
	assert.Equal(t, `Falco rule "Terminal shell in container"`, det["label"])
	assert.Equal(t, []any{"TA0002"}, det["tactics"])
	assert.Nil(t, det["techniques"])

	d = event(t, n, lines[1])
	assert.Equal(t, []string{"file"}, d.strs("event.category"))
	assert.Equal(t, []string{"access"}, d.strs("event.type"))
	assert.Equal(t, "openat", d.str("event.action"))
	assert.Equal(t, "/etc/cron.d/job", d.str("file.path"))
	assert.Equal(t, "job", d.str("file.name"))
	assert.Equal(t, "/usr/bin/tee", d.str("process.executable"))
	assert.Equal(t, float64(4242), d.num("process.pid"))
	assert.Equal(t, float64(4200), d.num("process.parent.pid"))
	assert.Equal(t, "0", d.str("user.id"))
	assert.Nil(t, d.get("container"), "container.id host: the host itself")
	assert.Equal(t, []string{"falco_error"}, d.strs("cairn.signals"))
	det = details(t, d)
	assert.Equal(t, []any{"TA0003"}, det["tactics"])
	assert.Equal(t, []any{"T1098"}, det["techniques"])

	d = event(t, n, lines[2])
	assert.Equal(t, []string{"network"}, d.strs("event.category"))
	assert.Equal(t, []string{"connection", "start"}, d.strs("event.type"))
	assert.Equal(t, "10.0.0.5", d.str("source.ip"))
	assert.Equal(t, float64(51234), d.num("source.port"))
	assert.Equal(t, "203.0.113.7", d.str("destination.ip"))
	assert.Equal(t, float64(443), d.num("destination.port"))
	assert.Equal(t, "tcp", d.str("network.transport"))
	assert.Equal(t, "ipv4", d.str("network.type"))
	assert.Equal(t, "egress", d.str("network.direction"))
	assert.Equal(t, "/usr/bin/bash", d.str("process.parent.executable"))
	assert.Nil(t, d.get("file"))
	assert.Equal(t, []string{"falco_warning"}, d.strs("cairn.signals"))
	assert.Equal(t, []any{"TA0011"}, details(t, d)["tactics"], "TA0011 is not a technique; mitre_command_and_control is the tactic")

	// Informational: the event, no signal.
	d = event(t, n, lines[3])
	assert.Equal(t, []string{"intrusion_detection"}, d.strs("event.category"))
	assert.Nil(t, d.get("cairn"))
	assert.Equal(t, "informational", d.str("log.level"))

	assert.Equal(t, map[string]int64{"falco/process/normalized": 1, "falco/file/normalized": 1,
		"falco/network/normalized": 1, "falco/intrusion_detection/normalized": 1}, countsOf(n))
}

// Priorities, any case: which raise which signal.
func TestFalcoPriorities(t *testing.T) {
	n := newNormalizer(t, FormatFalco)
	for prio, want := range map[string]string{
		"Emergency": "falco_critical", "ALERT": "falco_critical", "Critical": "falco_critical",
		"Error": "falco_error", "Warning": "falco_warning", "notice": "falco_notice",
		"Informational": "", "INFO": "", "Debug": "",
	} {
		d := event(t, n, []byte(`{"rule":"r","priority":"`+prio+`","time":"2024-01-01T00:00:00Z","output":"x"}`))
		if want == "" {
			assert.Nil(t, d.get("cairn.signals"), prio)
		} else {
			assert.Equal(t, []string{want}, d.strs("cairn.signals"), prio)
		}
	}
	_, o, err := n.Record([]byte(`{"rule":"r","priority":"Severe","time":"2024-01-01T00:00:00Z","output":"x"}`))
	assert.Equal(t, Malformed, o)
	assert.ErrorIs(t, err, ErrRecord)
}

// format: auto takes Falco's lines as Falco's and nobody else's as Falco's.
func TestFalcoAutoDetection(t *testing.T) {
	n := newNormalizer(t, FormatAuto)
	for _, l := range falcoLines(t) {
		event(t, n, l)
	}
	for _, l := range tetragonLines(t) {
		n.Record(l)
	}
	for _, l := range fileLines(t, zeekDir+"/conn-wiki.log") {
		n.Record(l)
	}
	n.Record([]byte(`{"@timestamp":"2024-01-01T00:00:00Z","rule":{"name":"x"},"event":{"kind":"alert"}}`))
	// An ECS document with a rule object, not first @timestamp: not Falco.
	n.Record([]byte(`{"rule":{"name":"x"},"priority":"high","time":"t","output":"o"}`))
	c := countsOf(n)
	var falco int64
	for k, v := range c {
		if strings.HasPrefix(k, "falco/") {
			falco += v
		}
	}
	assert.Equal(t, int64(4), falco, "%v", c)
	assert.Equal(t, int64(2), c["ecs//native"])
	assert.Zero(t, c["tetragon//refused"]+c["zeek//refused"])
}

// Hostile input: refused with a reason and counted, bounded, no panic.
func TestFalcoHostile(t *testing.T) {
	head := `{"rule":"r","priority":"Warning","time":"2024-01-01T00:00:00Z"`
	for _, c := range []struct{ line, want string }{
		{head + `,"output_fields":[]}`, "output_fields is not an object"},
		{head + `,"output_fields":{"proc.pid":"abc"}}`, "proc.pid is not an integer"},
		{head + `,"output_fields":{"proc.pid":1e3}}`, "proc.pid is not an integer"},
		{head + `,"output_fields":{"fd.sport":70000}}`, "fd.sport is not an integer"},
		{head + `,"output_fields":{"proc.name":7}}`, "proc.name is not a string"},
		{head + `,"output_fields":{"fd.sip":"999.1.1.1"}}`, "not an IP address"},
		{head + `,"output_fields":{"fd.sip":{}}}`, "fd.sip is not a string"},
		{head + `,"output_fields":{},"tags":"mitre_execution"}`, "tags is not an array"},
		{head + `,"output_fields":{},"tags":[1]}`, "tags holds something"},
		{head + `,"output_fields":{},"hostname":["h"]}`, "hostname is not a string"},
		{`{"rule":"r","priority":"Warning","time":1704067200,"output":"x"}`, "time is not a time"},
		{`{"rule":"r","priority":"Warning","time":"yesterday","output":"x"}`, "not an RFC 3339 time"},
		{`{"rule":"r","priority":3,"time":"2024-01-01T00:00:00Z","output":"x"}`, "priority is not one of"},
	} {
		n := newNormalizer(t, FormatAuto)
		out, o, err := n.Record([]byte(c.line))
		assert.Equal(t, Malformed, o, c.line)
		assert.Nil(t, out)
		if assert.Error(t, err, c.line) {
			assert.ErrorIs(t, err, ErrRecord)
			assert.Contains(t, err.Error(), c.want, c.line)
		}
		assert.Equal(t, int64(1), countsOf(n)["falco//refused"], c.line)
	}

	n := newNormalizer(t, FormatAuto)
	// Nested deeper than the ECS decoder accepts: no format's record.
	deep := head + `,"output_fields":{"x":` + strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5) + `}}`
	_, o, err := n.Record([]byte(deep))
	require.NoError(t, err)
	assert.Equal(t, Passthrough, o)
	// 100 000 output fields and 100 000 tags: the document stays small.
	var b strings.Builder
	b.WriteString(head + `,"output_fields":{`)
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&b, `"f%d":"v",`, i)
	}
	b.WriteString(`"proc.name":"x"},"tags":["mitre_execution"` + strings.Repeat(`,"T1059"`, 100000) + `]}`)
	out, o, err := n.Record([]byte(b.String()))
	require.NoError(t, err)
	require.Equal(t, Event, o)
	assert.Less(t, len(out), 4096)
	d := decode(t, out)
	assert.Len(t, d.strs("tags"), maxFalcoTags)
	assert.Equal(t, []any{"T1059"}, details(t, d)["techniques"])
}

func FuzzFalco(f *testing.F) {
	for _, l := range falcoLines(f) {
		f.Add(l)
	}
	f.Add([]byte(`{"rule":"r","priority":"Notice","time":"2024-01-01T00:00:00Z","output_fields":{"fd.name":"a:1->b:2","fd.type":"ipv4"}}`))
	f.Add([]byte(`{"rule":"r\"x","priority":"Notice","time":"2024-01-01T00:00:00Z","output_fields":{"fd.name":"1.2.3.4:5->[::1]:6","fd.typechar":"6","evt.type":"accept"},"tags":["T1059.004","mitre_stealth","\u006ditre_impact"]}`))
	f.Add([]byte(`{"rule":"r","priority":"Debug","time":"2024-01-01T00:00:00Z","output_fields":{"fd.rip":"::1","fd.lip":"10.0.0.1","fd.rport":"80","evt.type":"accept4"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		n, _ := New(FormatFalco)
		out, o, err := n.Record(line)
		switch o {
		case Event:
			if !json.Valid(out) {
				t.Fatalf("invalid document %s from %s", out, line)
			}
		case Malformed:
			if err == nil {
				t.Fatal("refused without a reason")
			}
		}
	})
}

// The documented "Terminal shell in container" alert.
func BenchmarkFalcoAlert(b *testing.B) {
	for _, format := range []string{FormatFalco, FormatAuto} {
		b.Run(format, func(b *testing.B) {
			n, _ := New(format)
			benchRecord(b, n, falcoLines(b)[0])
		})
	}
}
