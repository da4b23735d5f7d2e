package correlateprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/normalize"
	"github.com/cairnsec/cairn/internal/testkit"
)

// TestFalcoShellThenNewExternalIP: a Falco "Terminal shell in container"
// alert (Notice, as Falco's default rule has it), normalised by
// internal/normalize, then a connection of the same host to a never-seen
// external IP: two signals, Execution (the rule's mitre_execution tag) and
// Command and Control, one of them an anchor: the early warning, which
// names the Falco rule. The Falco alert alone raises nothing.
func TestFalcoShellThenNewExternalIP(t *testing.T) {
	n, err := normalize.New(normalize.FormatFalco)
	require.NoError(t, err)
	line := `{"hostname":"node-7","output":"Notice A shell was spawned in a container with an attached terminal","priority":"Notice","rule":"Terminal shell in container","source":"syscall","tags":["container","mitre_execution","shell"],"time":"` +
		t0.Format(time.RFC3339Nano) + `","output_fields":{"container.id":"ee97d9c4186f","k8s.ns.name":"default","k8s.pod.name":"web","proc.cmdline":"sh -c id","proc.exepath":"/bin/sh","proc.name":"sh","proc.pname":"runc","user.name":"root","user.uid":0}}`
	shell, o, err := n.Record([]byte(line))
	require.NoError(t, err)
	require.Equal(t, normalize.Event, o)

	h := newHarness(t, createDefaultConfig().(*Config))
	assert.Empty(t, alertsIn(h.send(string(shell))), "one Falco notice is no alert")
	out := h.send(conn(time.Minute, "node-7", "/usr/bin/curl", "root", "0", "198.51.100.23", 443, "new_external_ip"))
	alerts := alertsIn(out)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, RuleEarlyWarning, testkit.Nested(a, "rule.id"))
	assert.Equal(t, []string{"TA0002", "TA0011"}, strList(testkit.Nested(a, "threat.tactic.id")))
	assert.Contains(t, testkit.Nested(a, "message"), `Falco rule "Terminal shell in container"`)
}
