package scenario

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

type refKind uint8

const (
	refPID1   refKind = iota // systemd, PID 1
	refDaemon                // the current instance of a daemon binary
	refStep                  // a process started earlier in the same activity
)

type ref struct {
	kind refKind
	n    int16 // binary for refDaemon, step index for refStep
}

func pid1() ref            { return ref{kind: refPID1} }
func daemon(bin int) ref   { return ref{kind: refDaemon, n: int16(bin)} }
func stepRef(i int) ref    { return ref{kind: refStep, n: int16(i)} }
func (r ref) isStep() bool { return r.kind == refStep }

const (
	opStart uint8 = iota
	opNet
)

// step is one concrete action of an activity on one host: every address and
// name is already resolved, so running it only draws timings and pids.
type step struct {
	op      uint8
	restart bool // a start that replaces the daemon's running instance
	udp     bool
	bin     int16
	user    int16
	ref     ref // parent for opStart, acting process for opNet
	args    int32
	dst     int32 // address table index
	port    uint16
	answer  int32 // answer table index, -1 when the address is used literally
}

type activity struct {
	steps  []step
	weight float64
	events int
}

type host struct {
	idx    int
	name   string
	id     string
	role   role
	addr   int32
	frag   []byte // the "host" object
	acts   []activity
	cdf    []float64
	boots  []int // daemons in boot order
	dbAddr int32 // -1 when the fleet has no database

	// State carried from one day to the next.
	nextPID   int32
	daemonPID [numBins]int32
	nodeExp   int16
	seq       uint32
}

type answer struct {
	domain   []byte // JSON string
	resolved []byte // JSON array, the address actually used first
}

type generator struct {
	cfg      Config
	binName  [numBins][]byte // `"name":…,"executable":…`
	binExe   [numBins][]byte // JSON string
	binHash  [numBins]string
	userFrag [numUsers][]byte // `"user":{…}`

	addrs    [][]byte // JSON strings
	addrIdx  map[string]int32
	args     [][]byte // JSON arrays
	argsIdx  map[string]int32
	answers  []answer
	answerIx map[string]int32

	svcAddr [numSvcs][]int32

	resolver, metadata, beacon, relay int32
	attackAnswer                      int32

	hosts      []*host
	attackHost int // -1 without attack
	rhythm     [24]float64
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newGenerator(cfg Config) *generator {
	g := &generator{
		cfg:        cfg,
		addrIdx:    map[string]int32{},
		argsIdx:    map[string]int32{},
		answerIx:   map[string]int32{},
		attackHost: -1,
	}
	for i, b := range binDefs {
		g.binName[i] = fmt.Appendf(nil, `"name":%s,"executable":%s`, jsonString(b.name), jsonString(b.exe))
		g.binExe[i] = jsonString(b.exe)
		// Hashing name@version gives every host the same hash for the same
		// build, as a real package would.
		g.binHash[i] = sha256Hex(b.name + "@" + b.version)
	}
	g.binHash[bGsNetcat] = AttackHash
	for i, u := range userDefs {
		g.userFrag[i] = fmt.Appendf(nil, `"user":{"name":%s,"id":%s}`, jsonString(u.name), jsonString(u.id))
	}
	g.resolver = g.addr(resolverIP)
	g.metadata = g.addr(metadataIP)
	for s, d := range svcDefs {
		for _, ip := range d.ips {
			g.svcAddr[s] = append(g.svcAddr[s], g.addr(ip))
		}
	}
	g.beacon = g.addr(AttackBeaconIP)
	g.relay = g.addr(AttackRelayIP)
	g.attackAnswer = g.answer(AttackDomain, []string{AttackRelayIP}, 0)

	sum := 0.0
	for h, w := range hourWeights {
		sum += w
		g.rhythm[h] = sum
	}
	g.buildFleet()
	return g
}

func (g *generator) addr(ip string) int32 {
	if i, ok := g.addrIdx[ip]; ok {
		return i
	}
	i := int32(len(g.addrs))
	g.addrs = append(g.addrs, jsonString(ip))
	g.addrIdx[ip] = i
	return i
}

func (g *generator) argv(args ...string) int32 {
	key := strings.Join(args, "\x00")
	if i, ok := g.argsIdx[key]; ok {
		return i
	}
	b, _ := json.Marshal(args)
	i := int32(len(g.args))
	g.args = append(g.args, b)
	g.argsIdx[key] = i
	return i
}

// answer returns the DNS answer for a name with the used address listed
// first, as a client takes the first record.
func (g *generator) answer(domain string, ips []string, used int) int32 {
	key := fmt.Sprint(domain, used)
	if i, ok := g.answerIx[key]; ok {
		return i
	}
	ordered := append([]string{ips[used]}, ips[:used]...)
	ordered = append(ordered, ips[used+1:]...)
	res, _ := json.Marshal(ordered)
	i := int32(len(g.answers))
	g.answers = append(g.answers, answer{domain: jsonString(domain), resolved: res})
	g.answerIx[key] = i
	return i
}

func (g *generator) buildFleet() {
	n := g.cfg.Hosts
	var count [numRoles]int
	for i := 0; i < n; i++ {
		count[roleCycle[i%len(roleCycle)]]++
	}
	for r := role(0); r < numRoles; r++ {
		for k := 1; k <= count[r]; k++ {
			i := len(g.hosts)
			name := fmt.Sprintf("%s-%02d", roleNames[r], k)
			h := &host{
				idx:     i,
				name:    name,
				id:      sha256Hex("cairn-scenario/host/" + name)[:32],
				role:    r,
				addr:    g.addr(fmt.Sprintf("10.0.%d.%d", 1+i/250, 5+i%250)),
				dbAddr:  -1,
				nodeExp: bNodeExporter,
			}
			h.frag = fmt.Appendf(nil, `"host":{"name":%s,"id":%s,"ip":[%s],"os":{"type":"linux"}}`,
				jsonString(h.name), jsonString(h.id), g.addrs[h.addr])
			g.hosts = append(g.hosts, h)
		}
	}
	if g.cfg.Attack {
		web := count[roleWeb]
		// web-03 in the default fleet; the last web host in a smaller one.
		g.attackHost = min(3, web) - 1
	}
	var dbs, nonBastion []*host
	for _, h := range g.hosts {
		if h.role == roleDB {
			dbs = append(dbs, h)
		}
		if h.role != roleBastion {
			nonBastion = append(nonBastion, h)
		}
	}
	perRole := [numRoles]int{}
	for _, h := range g.hosts {
		ordinal := perRole[h.role]
		perRole[h.role]++
		if len(dbs) > 0 {
			h.dbAddr = dbs[ordinal%len(dbs)].addr
		}
		var peers []*host
		if h.role == roleBastion {
			peers = pickPeers(nonBastion, ordinal, 6)
		}
		var primary int32 = -1
		if h.role == roleDB && ordinal > 0 {
			primary = dbs[0].addr
		}
		g.buildRepertoire(h, peers, primary)
	}
}

// pickPeers spreads a bastion's ssh targets over the fleet, so that the
// number of (ssh, address) pairs stays bounded whatever the fleet size.
func pickPeers(candidates []*host, ordinal, k int) []*host {
	if len(candidates) == 0 {
		return nil
	}
	var out []*host
	seen := map[int]bool{}
	for j := 0; j < k; j++ {
		i := (ordinal + j*len(candidates)/k) % len(candidates)
		if !seen[i] {
			seen[i] = true
			out = append(out, candidates[i])
		}
	}
	return out
}

// actBuilder accumulates the repertoire of one host.
type actBuilder struct {
	g    *generator
	acts []activity
}

func (b *actBuilder) add(weight float64, steps ...step) {
	events := 0
	for _, s := range steps {
		events++
		if s.op == opNet && s.answer >= 0 {
			events++
		}
	}
	b.acts = append(b.acts, activity{steps: steps, weight: weight, events: events})
}

func (b *actBuilder) start(bin, user int, parent ref, args ...string) step {
	return step{op: opStart, bin: int16(bin), user: int16(user), ref: parent, args: b.g.argv(args...), answer: -1}
}

func (b *actBuilder) svc(proc ref, svc, ipIdx int, port uint16) step {
	d := svcDefs[svc]
	if port == 0 {
		port = d.port
	}
	s := step{op: opNet, ref: proc, dst: b.g.svcAddr[svc][ipIdx], port: port, udp: d.udp, answer: -1}
	if d.domain != "" {
		s.answer = b.g.answer(d.domain, d.ips, ipIdx)
	}
	return s
}

func (b *actBuilder) ip(proc ref, addr int32, port uint16) step {
	return step{op: opNet, ref: proc, dst: addr, port: port, answer: -1}
}

// cron returns the CRON child and the shell it runs, as steps 0 and 1.
func (b *actBuilder) cron(user int, cmd string) []step {
	return []step{
		b.start(bCron, uRoot, daemon(bCron), "/usr/sbin/CRON", "-f"),
		b.start(bBash, user, stepRef(0), "/bin/bash", "-c", cmd),
	}
}

// login returns the privileged sshd session and the user's shell, as steps 0 and 1.
func (b *actBuilder) login(user, shell int) []step {
	argv0 := "-bash"
	if shell == bZsh {
		argv0 = "-zsh"
	}
	return []step{
		b.start(bSshd, uRoot, daemon(bSshd), "sshd: "+userDefs[user].name+" [priv]"),
		b.start(shell, user, stepRef(0), argv0),
	}
}

func (b *actBuilder) job() step {
	return b.start(bBash, uRunner, daemon(bRunner), "/usr/bin/bash", "-e", "/home/runner/_work/_temp/step.sh")
}

func (g *generator) buildRepertoire(h *host, peers []*host, primary int32) {
	b := &actBuilder{g: g}
	h.boots = append(append([]int{}, commonDaemons...), roleDaemons[h.role]...)

	ping := "https://hc-ping.com/cairn/" + h.name
	b.add(6, append(b.cron(uRoot, "curl -fsS -m 10 "+ping),
		b.start(bCurl, uRoot, stepRef(1), "curl", "-fsS", "-m", "10", ping),
		b.svc(stepRef(2), sHCPing, 0, 0))...)
	b.add(3, append(b.cron(uRoot, "curl -s http://169.254.169.254/latest/meta-data/instance-id"),
		b.start(bCurl, uRoot, stepRef(1), "curl", "-s", "http://169.254.169.254/latest/meta-data/instance-id"),
		b.ip(stepRef(2), g.metadata, 80))...)
	b.add(1, append(b.cron(uRoot, "test -x /usr/sbin/logrotate && /usr/sbin/logrotate /etc/logrotate.conf"),
		b.start(bLogrotate, uRoot, stepRef(1), "/usr/sbin/logrotate", "/etc/logrotate.conf"))...)
	for mirror := range svcDefs[sDeb].ips {
		steps := append(b.cron(uRoot, "apt update -qq"),
			b.start(bApt, uRoot, stepRef(1), "apt", "update", "-qq"),
			b.svc(stepRef(2), sDeb, mirror, 0),
			b.svc(stepRef(2), sSecurity, 0, 0))
		switch h.role {
		case roleDB:
			steps = append(steps, b.svc(stepRef(2), sPgApt, 0, 0))
		case roleCI:
			steps = append(steps, b.svc(stepRef(2), sDockerApt, 0, 0))
		}
		b.add(0.5, steps...)
	}
	for server := range svcDefs[sNTP].ips {
		b.add(2, b.svc(daemon(bTimesyncd), sNTP, server, 0))
	}
	b.add(0.5, b.svc(daemon(bRsyslogd), sSyslog, 0, 0))
	b.add(1.5, b.login(uDeploy, bBash)...)
	b.add(0.7, b.start(bSystemd, uDeploy, pid1(), "/usr/lib/systemd/systemd", "--user"))
	ne := b.start(bNodeExporter, uPrometheus, pid1(), binDefs[bNodeExporter].daemonArgs...)
	ne.restart = true
	b.add(0.8, ne)

	switch h.role {
	case roleWeb:
		b.add(2, b.start(bNginx, uWWW, daemon(bNginx), "nginx: worker process"))
		b.add(5, b.svc(daemon(bNode), sStripe, 0, 0))
		b.add(2, b.svc(daemon(bNode), sSentry, 0, 0))
		if h.dbAddr >= 0 {
			b.add(4, b.ip(daemon(bNode), h.dbAddr, 5432))
		}
	case roleDB:
		b.add(10, b.start(bPostgres, uPostgres, daemon(bPostgres), "postgres: app appdb idle"))
		if primary >= 0 {
			b.add(1, b.ip(daemon(bPostgres), primary, 5432))
		}
	case roleWorker:
		for bucket := range svcDefs[sS3].ips {
			b.add(3, b.svc(daemon(bCelery), sS3, bucket, 0))
		}
		b.add(2, b.svc(daemon(bCelery), sSendgrid, 0, 0))
		b.add(1, b.svc(daemon(bCelery), sSentry, 0, 0))
		if h.dbAddr >= 0 {
			b.add(4, b.ip(daemon(bCelery), h.dbAddr, 5432))
		}
		b.add(2, b.start(bCelery, uApp, daemon(bCelery), binDefs[bCelery].daemonArgs...))
		b.add(2, append(b.cron(uApp, "/usr/bin/python3 /opt/app/scripts/nightly_report.py"),
			b.start(bPython3, uApp, stepRef(1), "/usr/bin/python3", "/opt/app/scripts/nightly_report.py"))...)
		b.add(0.3, append(b.cron(uApp, "python3 -m pip install -q -r /opt/app/requirements.txt"),
			b.start(bPython3, uApp, stepRef(1), "python3", "-m", "pip", "install", "-q", "-r", "/opt/app/requirements.txt"),
			b.svc(stepRef(2), sPypi, 0, 0),
			b.svc(stepRef(2), sPyFiles, 0, 0))...)
	case roleBastion:
		ops := []int{uAlice, uBob}
		for _, u := range ops {
			b.add(1.5, b.login(u, bZsh)...)
		}
		for k, p := range peers {
			u := ops[k%len(ops)]
			b.add(1, append(b.login(u, bZsh),
				b.start(bSsh, u, stepRef(1), "ssh", "deploy@"+p.name),
				b.ip(stepRef(2), p.addr, 22))...)
		}
		b.add(0.5, append(b.login(uAlice, bZsh),
			b.start(bSsh, uAlice, stepRef(1), "ssh", "-T", "git@github.com"),
			b.svc(stepRef(2), sGitHub, 0, 22))...)
		b.add(1, append(b.cron(uRoot, "/usr/local/bin/notify-logins"),
			b.start(bCurl, uRoot, stepRef(1), "curl", "-fsS", "-X", "POST", "https://hooks.slack.com/services/T000/B000/cairn"),
			b.svc(stepRef(2), sSlack, 0, 0))...)
	case roleCI:
		b.add(5, b.svc(daemon(bRunner), sGitHubAPI, 0, 0))
		for mirror := range svcDefs[sGitHub].ips {
			b.add(2, b.job(),
				b.start(bGit, uRunner, stepRef(0), "git", "fetch", "--depth=1", "origin"),
				b.svc(stepRef(1), sGitHub, mirror, 0))
		}
		b.add(1.5, b.job(),
			b.start(bGo, uRunner, stepRef(0), "go", "build", "./..."),
			b.svc(stepRef(1), sGoProxy, 0, 0),
			b.svc(stepRef(1), sGoSum, 0, 0))
		for mirror := range svcDefs[sDockerReg].ips {
			b.add(1, b.job(),
				b.start(bDocker, uRunner, stepRef(0), "docker", "pull", "debian:bookworm-slim"),
				b.svc(daemon(bDockerd), sDockerAuth, 0, 0),
				b.svc(daemon(bDockerd), sDockerReg, mirror, 0))
		}
		b.add(1, b.job(),
			b.start(bCurl, uRunner, stepRef(0), "curl", "-fsSL", "https://api.github.com/repos/cairnsec/cairn/commits/main"),
			b.svc(stepRef(1), sGitHubAPI, 0, 0))
	}

	h.acts = b.acts
	sum := 0.0
	h.cdf = make([]float64, len(h.acts))
	for i, a := range h.acts {
		sum += a.weight
		h.cdf[i] = sum
	}
}
