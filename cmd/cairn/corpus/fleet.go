package corpus

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

const (
	hourMS = int64(time.Hour / time.Millisecond)
	dayMS  = 24 * hourMS
)

// Day1 is the start of every scenario: three days of fleet activity, so that
// firstseen's 24h learning ends with day 1 and day 2 is ordinary,
// baselined activity before the attacks and one-off jobs of day 3.
var Day1 = time.Date(2026, 4, 6, 0, 0, 0, 0, time.UTC)

const (
	// Days of activity per scenario.
	Days = 3
	// eventsPerHostDay is the approximate number of ordinary events a host
	// makes per day after day 1 (day 1 adds the whole repertoire once).
	eventsPerHostDay = 32
	fleetSeed        = 20260406
)

// at returns the Unix milliseconds of day d (1-based) at the given time of day.
func at(d int, hh, mm, ss, ms int) int64 {
	return Day1.UnixMilli() + int64(d-1)*dayMS + int64(hh)*hourMS + int64(mm)*60_000 + int64(ss)*1000 + int64(ms)
}

// proc is a running process an event can name as parent or actor.
type proc struct {
	pid int
	exe string
	usr user
}

var pid1 = proc{pid: 1, exe: "/usr/lib/systemd/systemd", usr: uRoot}

type host struct {
	idx      int
	name, ip string
	id       string
	role     role
	ordinal  int // 0-based index within its role
	doc      *jsonHost
	bins     map[string]*binary
	daemons  map[string]proc // by binary key
	nextPID  int
	pidRand  *rand.Rand
	seq      int
	joinDay  int   // 1-based day of the host's first event
	joinAt   int64 // ms offset into joinDay of its boot
	repert   []activity
	cdf      []float64
	peers    []*host // bastion: ssh targets
	dbIP     string  // web and worker: their database
	primary  string  // db replicas: the primary
	ciFresh  bool    // CI runner that builds and runs fresh binaries (scenario k)
	// tag is the tag of all the host's events that have none (a host that
	// is itself a scenario's subject, such as a new host).
	tag string
}

// bin returns the host's current build of a binary key.
func (h *host) bin(key string) *binary {
	if b, ok := h.bins[key]; ok {
		return b
	}
	b := catalogBinary(key)
	h.bins[key] = b
	return b
}

func (h *host) pid() int {
	h.nextPID += 1 + h.pidRand.IntN(23)
	return h.nextPID
}

// activity is one thing a host does: it emits its events from t on and
// returns the time it ended.
type activity struct {
	name   string
	weight float64
	run    func(g *gen, h *host, t int64, r *rand.Rand) int64
}

// slot is a planned activity at a time.
type slot struct {
	t   int64
	run func(g *gen, h *host, t int64, r *rand.Rand) int64
	// own: the slot's run draws from its own generator, not the host's, so
	// that adding it to a host leaves the host's ordinary activity as it is.
	own *rand.Rand
}

type gen struct {
	hosts  []*host
	byName map[string]*host
	events []*event
	tag    string
	extra  map[*host][]slot
	rhythm [24]float64
}

func newGen() *gen {
	g := &gen{byName: map[string]*host{}, extra: map[*host][]slot{}}
	sum := 0.0
	for i, w := range hourWeights {
		sum += w
		g.rhythm[i] = sum
	}
	for _, l := range fleetLayout {
		for k := 0; k < l.count; k++ {
			g.addHost(l.role, k, 1, 0)
		}
	}
	g.wire()
	return g
}

// addHost adds a host of role r that boots on day joinDay at joinAt (ms
// into the day).
func (g *gen) addHost(r role, ordinal, joinDay int, joinAt int64) *host {
	i := len(g.hosts)
	name := fmt.Sprintf("%s-%02d", roleNames[r], ordinal+1)
	h := &host{
		idx: i, name: name, role: r, ordinal: ordinal,
		ip:      fmt.Sprintf("10.0.1.%d", 10+i),
		id:      hashOf("cairn-eval/host/" + name)[:32],
		bins:    map[string]*binary{},
		daemons: map[string]proc{},
		pidRand: rand.New(rand.NewPCG(fleetSeed, uint64(i)<<32|0xffff)),
		joinDay: joinDay, joinAt: joinAt,
	}
	h.nextPID = 300 + h.pidRand.IntN(400)
	h.doc = &jsonHost{Name: h.name, ID: h.id, IP: []string{h.ip}}
	h.doc.OS.Type = "linux"
	g.hosts = append(g.hosts, h)
	g.byName[name] = h
	return h
}

// wire connects hosts to each other (databases, replicas, bastion peers).
func (g *gen) wire() {
	var dbs, nonBastion []*host
	for _, h := range g.hosts {
		if h.role == roleDB {
			dbs = append(dbs, h)
		}
		if h.role != roleBastion {
			nonBastion = append(nonBastion, h)
		}
	}
	for _, h := range g.hosts {
		switch h.role {
		case roleWeb, roleWorker:
			h.dbIP = dbs[h.ordinal%len(dbs)].ip
		case roleDB:
			if h.ordinal > 0 {
				h.primary = dbs[0].ip
			}
		case roleBastion:
			for j := 0; j < 8; j++ {
				h.peers = append(h.peers, nonBastion[(j*len(nonBastion)/8)%len(nonBastion)])
			}
		}
	}
}

func timeOf(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func (g *gen) host(name string) *host {
	h, ok := g.byName[name]
	if !ok {
		panic("corpus: no host " + name)
	}
	return h
}

// at schedules fn on h at t, with its own random source.
func (g *gen) at(h *host, t int64, seed uint64, fn func(g *gen, h *host, t int64, r *rand.Rand) int64) {
	g.extra[h] = append(g.extra[h], slot{t: t, run: fn, own: rand.New(rand.NewPCG(fleetSeed+1, seed))})
}

func (g *gen) emit(e *event) *event {
	e.host.seq++
	e.seq = e.host.seq
	if e.stamp == 0 {
		e.stamp = e.real
	}
	e.tag = g.tag
	if e.tag == "" {
		e.tag = e.host.tag
	}
	g.events = append(g.events, e)
	return e
}

// start emits a process start and returns the new process.
func (g *gen) start(h *host, t int64, parent proc, b *binary, u user, cwd string, args ...string) proc {
	return g.startAs(h, t, parent, b, u, u, cwd, args...)
}

// startAs is start with an effective user other than the real one (setuid).
func (g *gen) startAs(h *host, t int64, parent proc, b *binary, u, eff user, cwd string, args ...string) proc {
	p := proc{pid: h.pid(), exe: b.exe, usr: u}
	g.emit(&event{real: t, host: h, kind: evStart, pid: p.pid, exe: b.exe, args: args, cwd: cwd, hash: b.hash,
		ppid: parent.pid, pexe: parent.exe, usr: u, eff: eff, hasUser: true})
	return p
}

// reexec emits the start of a process that replaces its own image (execve
// without fork): same pid, new executable and arguments.
func (g *gen) reexec(h *host, t int64, p proc, parent proc, b *binary, cwd string, args ...string) proc {
	g.emit(&event{real: t, host: h, kind: evStart, pid: p.pid, exe: b.exe, args: args, cwd: cwd, hash: b.hash,
		ppid: parent.pid, pexe: parent.exe, usr: p.usr, eff: p.usr, hasUser: true})
	return proc{pid: p.pid, exe: b.exe, usr: p.usr}
}

// fork returns a child that never calls execve (a cron job's child, an sshd
// session, a php-fpm worker): the proc connector reports no start for it.
func (h *host) fork(p proc, u user) proc {
	return proc{pid: h.pid(), exe: p.exe, usr: u}
}

func (g *gen) connect(h *host, t int64, p proc, dst string, port int, domain string, udp bool, r *rand.Rand) {
	g.emit(&event{real: t, host: h, kind: evConn, pid: p.pid, exe: p.exe, usr: p.usr, hasUser: true,
		udp: udp, sport: 32768 + r.IntN(28000), dst: dst, dport: port, domain: domain})
}

func (g *gen) dns(h *host, t int64, name string, r *rand.Rand, ips ...string) {
	g.emit(&event{real: t, host: h, kind: evDNS, qname: name, ips: ips, sport: 32768 + r.IntN(28000), dnsID: r.IntN(65536)})
}

// reach resolves a service (when it has a name) and connects to one of its
// addresses, returning the time after the connection.
func (g *gen) reach(h *host, t int64, p proc, s service, ipIdx int, r *rand.Rand) int64 {
	ip := s.ips[ipIdx%len(s.ips)]
	if s.domain != "" {
		t += 2 + r.Int64N(20)
		ordered := append([]string{ip}, without(s.ips, ip)...)
		g.dns(h, t, s.domain, r, ordered...)
		t += 1 + r.Int64N(4)
	} else {
		t += 2 + r.Int64N(20)
	}
	g.connect(h, t, p, ip, s.port, s.domain, s.udp, r)
	return t
}

func without(l []string, x string) []string {
	var out []string
	for _, s := range l {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}

func step(t int64, r *rand.Rand) int64 { return t + 3 + r.Int64N(60) }

// when draws a time of day following the daily rhythm, at or after
// notBefore and clear of midnight so nothing spills into the next day.
func (g *gen) when(r *rand.Rand, notBefore int64) int64 {
	for {
		x := r.Float64() * g.rhythm[23]
		hr, _ := slices.BinarySearch(g.rhythm[:], x)
		t := int64(min(hr, 23))*hourMS + r.Int64N(hourMS)
		if t >= notBefore && t < dayMS-60_000 {
			return t
		}
	}
}

func pick(r *rand.Rand, cdf []float64) int {
	x := r.Float64() * cdf[len(cdf)-1]
	i, _ := slices.BinarySearch(cdf, x)
	return min(i, len(cdf)-1)
}

// run generates every host's days and returns the events in file order.
func (g *gen) run() []*event {
	for _, h := range g.hosts {
		g.repertoire(h)
	}
	day1 := Day1.UnixMilli()
	for d := 1; d <= Days; d++ {
		dayStart := day1 + int64(d-1)*dayMS
		for _, h := range g.hosts {
			if d < h.joinDay {
				continue
			}
			r := rand.New(rand.NewPCG(fleetSeed, uint64(h.idx)<<16|uint64(d)))
			slots := g.plan(h, d, r)
			for _, s := range g.extra[h] {
				if s.t >= dayStart && s.t < dayStart+dayMS {
					s.t -= dayStart
					slots = append(slots, s)
				}
			}
			slices.SortStableFunc(slots, func(a, b slot) int { return cmp.Compare(a.t, b.t) })
			g.tag = ""
			for _, s := range slots {
				rr := r
				if s.own != nil {
					rr = s.own
				}
				s.run(g, h, dayStart+s.t, rr)
				g.tag = ""
			}
		}
	}
	slices.SortStableFunc(g.events, func(a, b *event) int {
		if c := cmp.Compare(a.real, b.real); c != 0 {
			return c
		}
		if c := cmp.Compare(a.host.idx, b.host.idx); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return g.events
}

// plan decides a host's ordinary activity of one day, as offsets into it.
func (g *gen) plan(h *host, d int, r *rand.Rand) []slot {
	var slots []slot
	n := 0
	from := int64(0)
	if d == h.joinDay {
		from = h.joinAt
		slots = append(slots, slot{t: from + 2000 + r.Int64N(60_000), run: boot})
		// The whole repertoire once, after boot: what makes the rest of
		// the scenario known once learning is over.
		for _, a := range h.repert {
			slots = append(slots, slot{t: g.when(r, from+5*60_000), run: a.run})
			n += 3
		}
	}
	if h.role == roleDB && from < 2*hourMS {
		// The nightly database backup, at a fixed time.
		slots = append(slots, slot{t: 2*hourMS + 15*60_000 + r.Int64N(120_000), run: dbBackup})
	}
	if h.ciFresh {
		// Busy runners: a test or generate job every hour of the working
		// day, and some at night, on top of their ordinary jobs.
		for hr := int64(0); hr < 24; hr++ {
			if hr*hourMS < from || (hr < 7 || hr > 20) && hr%3 != 0 {
				continue
			}
			run := ciGoTest
			if hr%3 == 1 {
				run = ciGoRun
			}
			slots = append(slots, slot{t: hr*hourMS + r.Int64N(hourMS-60_000), run: run})
		}
	}
	target := eventsPerHostDay * int(dayMS-from) / int(dayMS)
	for n < target {
		a := h.repert[pick(r, h.cdf)]
		slots = append(slots, slot{t: g.when(r, from+5*60_000), run: a.run})
		n += 3
	}
	return slots
}
