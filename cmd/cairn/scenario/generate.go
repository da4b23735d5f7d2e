package scenario

import (
	"cmp"
	"io"
	"math/rand/v2"
	"slices"
	"time"
)

const dayMS = int64(24 * time.Hour / time.Millisecond)

const (
	evStart uint8 = iota
	evConn
	evDNS
)

const (
	tagNormal uint8 = iota
	tagRollout
	tagAttack
)

// event is kept small because a whole day of the fleet is buffered for
// sorting; everything textual lives in the generator's tables.
type event struct {
	ts     int64
	seq    uint32
	host   int32
	pid    int32
	ppid   int32
	args   int32
	dst    int32
	answer int32
	bin    int16
	pbin   int16
	user   int16
	port   uint16
	sport  uint16
	kind   uint8
	tag    uint8
	udp    bool
}

type slotKind uint8

const (
	slotActivity slotKind = iota
	slotBoot
	slotRollout
	slotAttack
)

type slot struct {
	t    int64 // ms since the start of the day
	kind slotKind
	act  int32
}

func (g *generator) run(w io.Writer) (Stats, error) {
	st := Stats{
		Hosts:          len(g.hosts),
		RolloutOldHash: g.binHash[bNodeExporter],
		RolloutNewHash: g.binHash[bNodeExporterNew],
	}
	if g.attackHost >= 0 {
		h := g.hosts[g.attackHost]
		st.AttackHost, st.AttackHostID = h.name, h.id
		st.AttackStart = g.cfg.Start.Add(time.Duration(g.cfg.Days-1)*24*time.Hour + attackHour)
		st.AttackUser, st.AttackHash = AttackUser, AttackHash
		st.AttackBeaconIP, st.AttackRelayIP, st.AttackDomain = AttackBeaconIP, AttackRelayIP, AttackDomain
	}
	enc := newEncoder(g, w)
	var events []event
	var slots []slot
	start := g.cfg.Start.UnixMilli()
	for d := 0; d < g.cfg.Days; d++ {
		day := start + int64(d)*dayMS
		events = events[:0]
		for _, h := range g.hosts {
			// One stream per host and day keeps a host's output independent
			// of the fleet size and of the order hosts are visited in.
			rng := rand.New(rand.NewPCG(uint64(g.cfg.Seed), uint64(h.idx)<<16|uint64(d)))
			slots = g.plan(h, d, rng, slots[:0])
			for _, s := range slots {
				events = g.play(h, s, day, rng, events)
			}
		}
		slices.SortFunc(events, func(a, b event) int {
			if c := cmp.Compare(a.ts, b.ts); c != 0 {
				return c
			}
			if c := cmp.Compare(a.host, b.host); c != 0 {
				return c
			}
			return cmp.Compare(a.seq, b.seq)
		})
		for i := range events {
			ev := &events[i]
			if err := enc.write(ev); err != nil {
				return st, err
			}
			g.count(&st, ev)
		}
	}
	if err := enc.flush(); err != nil {
		return st, err
	}
	st.Bytes = enc.n
	return st, nil
}

func (g *generator) count(st *Stats, ev *event) {
	ts := time.UnixMilli(ev.ts).UTC()
	if st.Events == 0 {
		st.First = ts
	}
	st.Last = ts
	st.Events++
	switch ev.kind {
	case evStart:
		st.ProcessStarts++
	case evConn:
		st.Connections++
	case evDNS:
		st.DNSAnswers++
	}
	switch ev.tag {
	case tagRollout:
		if st.RolloutEvents == 0 {
			st.RolloutStart = ts
		}
		st.RolloutEvents++
		st.RolloutEnd = ts
	case tagAttack:
		st.AttackEvents++
	}
}

// plan decides what a host does on one day and when, as offsets into the day.
func (g *generator) plan(h *host, d int, rng *rand.Rand, slots []slot) []slot {
	n := 0
	if d == 0 {
		h.nextPID = 300 + rng.Int32N(400)
		// Daemons come up in the first two minutes, before anything uses
		// them, so every connection's pid has a start event earlier on.
		slots = append(slots, slot{t: rng.Int64N(120_000), kind: slotBoot})
		n += len(h.boots)
		// The whole repertoire once, well after boot: this is what makes
		// the rest of the scenario known after learning.
		for i := range h.acts {
			slots = append(slots, slot{t: g.when(rng, 5*60_000), act: int32(i)})
			n += h.acts[i].events
		}
	}
	if g.cfg.Rollout && d == rolloutDay-1 {
		t := int64(rolloutWindowStart/time.Millisecond) + rng.Int64N(int64(rolloutWindow/time.Millisecond))
		slots = append(slots, slot{t: t, kind: slotRollout})
		n++
	}
	if h.idx == g.attackHost && d == g.cfg.Days-1 {
		slots = append(slots, slot{t: int64((attackHour + attackSshdLead) / time.Millisecond), kind: slotAttack})
		n += 6
	}
	for n < g.cfg.EventsPerHostDay {
		i := pickCDF(rng, h.cdf)
		slots = append(slots, slot{t: g.when(rng, 0), act: int32(i)})
		n += h.acts[i].events
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return cmp.Compare(a.t, b.t) })
	return slots
}

func pickCDF(rng *rand.Rand, cdf []float64) int {
	x := rng.Float64() * cdf[len(cdf)-1]
	i, _ := slices.BinarySearch(cdf, x)
	return min(i, len(cdf)-1)
}

// when draws a time of day following the daily rhythm. It keeps two seconds
// clear of midnight so an activity never spills into the next day's batch.
func (g *generator) when(rng *rand.Rand, notBefore int64) int64 {
	const hourMS = int64(time.Hour / time.Millisecond)
	for {
		hr := pickCDF(rng, g.rhythm[:])
		t := int64(hr)*hourMS + rng.Int64N(hourMS)
		if t >= notBefore && t < dayMS-2000 {
			return t
		}
	}
}

func (h *host) pid(rng *rand.Rand) int32 {
	h.nextPID += 1 + rng.Int32N(24)
	return h.nextPID
}

func (h *host) event(kind, tag uint8, ts int64) event {
	h.seq++
	return event{kind: kind, tag: tag, ts: ts, host: int32(h.idx), seq: h.seq, answer: -1, pbin: -1}
}

func sport(rng *rand.Rand) uint16 { return uint16(32768 + rng.IntN(60999-32768)) }

func (g *generator) play(h *host, s slot, day int64, rng *rand.Rand, out []event) []event {
	t := day + s.t
	switch s.kind {
	case slotBoot:
		for _, b := range h.boots {
			t += 40 + rng.Int64N(400)
			pid := h.pid(rng)
			h.daemonPID[b] = pid
			bin := int16(b)
			if b == bNodeExporter {
				bin = h.nodeExp
			}
			out = append(out, g.startEvent(h, tagNormal, t, pid, 1, bin, bSystemd, int16(binDefs[b].daemonUser), g.argv(binDefs[b].daemonArgs...)))
		}
		return out
	case slotRollout:
		h.nodeExp = bNodeExporterNew
		pid := h.pid(rng)
		h.daemonPID[bNodeExporter] = pid
		return append(out, g.startEvent(h, tagRollout, t, pid, 1, bNodeExporterNew, bSystemd, uPrometheus, g.argv(binDefs[bNodeExporterNew].daemonArgs...)))
	case slotAttack:
		return g.attack(h, day, rng, out)
	}

	a := &h.acts[s.act]
	var pids [8]int32
	var bins, users [8]int16
	for i, st := range a.steps {
		switch st.op {
		case opStart:
			t += 3 + rng.Int64N(57)
			ppid, pbin := int32(1), int16(bSystemd)
			switch st.ref.kind {
			case refDaemon:
				ppid, pbin = h.daemonPID[st.ref.n], st.ref.n
			case refStep:
				ppid, pbin = pids[st.ref.n], bins[st.ref.n]
			}
			bin := st.bin
			if bin == bNodeExporter {
				bin = h.nodeExp
			}
			pid := h.pid(rng)
			if st.restart {
				h.daemonPID[st.bin] = pid
			}
			pids[i], bins[i], users[i] = pid, bin, st.user
			out = append(out, g.startEvent(h, tagNormal, t, pid, ppid, bin, pbin, st.user, st.args))
		case opNet:
			var pid int32
			var bin, user int16
			if st.ref.isStep() {
				pid, bin, user = pids[st.ref.n], bins[st.ref.n], users[st.ref.n]
			} else {
				pid, bin, user = h.daemonPID[st.ref.n], st.ref.n, int16(binDefs[st.ref.n].daemonUser)
			}
			t += 2 + rng.Int64N(28)
			if st.answer >= 0 {
				out = append(out, g.dnsEvent(h, tagNormal, t, pid, bin, st.answer, sport(rng)))
				t += 1 + rng.Int64N(4)
			}
			ev := h.event(evConn, tagNormal, t)
			ev.pid, ev.bin, ev.user = pid, bin, user
			ev.dst, ev.port, ev.udp, ev.answer, ev.sport = st.dst, st.port, st.udp, st.answer, sport(rng)
			out = append(out, ev)
		}
	}
	return out
}

func (g *generator) startEvent(h *host, tag uint8, t int64, pid, ppid int32, bin, pbin, user int16, args int32) event {
	ev := h.event(evStart, tag, t)
	ev.pid, ev.ppid, ev.bin, ev.pbin, ev.user, ev.args = pid, ppid, bin, pbin, user, args
	return ev
}

func (g *generator) dnsEvent(h *host, tag uint8, t int64, pid int32, bin int16, ans int32, sp uint16) event {
	ev := h.event(evDNS, tag, t)
	ev.pid, ev.bin, ev.answer, ev.sport = pid, bin, ans, sp
	ev.dst, ev.port, ev.udp = g.resolver, 53, true
	return ev
}

// attack plays the intrusion at fixed offsets from 14:00:00 so that tests and
// the README can name exact times.
func (g *generator) attack(h *host, day int64, rng *rand.Rand, out []event) []event {
	t0 := day + int64(attackHour/time.Millisecond)
	at := func(d time.Duration) int64 { return t0 + int64(d/time.Millisecond) }

	// The contractor's ssh session itself is ordinary sshd activity.
	sshd := h.pid(rng)
	out = append(out, g.startEvent(h, tagNormal, at(attackSshdLead), sshd, h.daemonPID[bSshd], bSshd, bSshd, uRoot,
		g.argv("sshd: "+AttackUser+" [priv]")))
	zsh := h.pid(rng)
	out = append(out, g.startEvent(h, tagAttack, at(0), zsh, sshd, bZsh, bSshd, uContractor, g.argv("-zsh")))
	gs := h.pid(rng)
	out = append(out, g.startEvent(h, tagAttack, at(attackNetcatAfter), gs, zsh, bGsNetcat, bZsh, uRoot,
		g.argv(AttackExecutable, "-s", "ExampleSecretChangeMe", "-l", "-i", "-q")))

	beacon := h.event(evConn, tagAttack, at(attackBeaconAfter))
	beacon.pid, beacon.bin, beacon.user = gs, bGsNetcat, uRoot
	beacon.dst, beacon.port, beacon.sport = g.beacon, AttackBeaconPort, sport(rng)
	out = append(out, beacon)

	out = append(out, g.dnsEvent(h, tagAttack, at(attackDNSAfter), gs, bGsNetcat, g.attackAnswer, sport(rng)))

	relay := h.event(evConn, tagAttack, at(attackRelayAfter))
	relay.pid, relay.bin, relay.user = gs, bGsNetcat, uRoot
	relay.dst, relay.port, relay.answer, relay.sport = g.relay, AttackRelayPort, g.attackAnswer, sport(rng)
	return append(out, relay)
}
