package scenario

import (
	"bytes"
	"encoding/json"
	"flag"
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

	"github.com/cairnsec/cairn/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite testdata/scenario/events.ndjson from Generate(Default())")

var goldenPath = filepath.Join(testkit.RepoRoot(), "testdata", "scenario", "events.ndjson")

func TestGoldenFile(t *testing.T) {
	data, st, _ := defaultScenario(t)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(goldenPath), 0o755))
		require.NoError(t, os.WriteFile(goldenPath, data, 0o644))
		t.Logf("wrote %s: %d events, %d bytes", goldenPath, st.Events, st.Bytes)
	}
	want, err := os.ReadFile(goldenPath)
	require.NoError(t, err, "run: go test ./cmd/cairn/scenario -run TestGoldenFile -update")
	// Not require.Equal: a diff of two multi-megabyte blobs is useless.
	if !bytes.Equal(want, data) {
		t.Fatalf("%s differs from Generate(Default()) (%d vs %d bytes); if the change is intended, run: go test ./cmd/cairn/scenario -run TestGoldenFile -update",
			goldenPath, len(want), len(data))
	}
	assert.Equal(t, int64(len(data)), st.Bytes)
}

func TestDefaultIsSmall(t *testing.T) {
	data, st, _ := defaultScenario(t)
	cfg := Default()
	assert.Equal(t, 12, st.Hosts)
	want := cfg.Hosts * cfg.Days * cfg.EventsPerHostDay
	assert.InDelta(t, want, st.Events, float64(want)/10, "about hosts x days x events per host-day")
	assert.Less(t, len(data), 5<<20)
	assert.Equal(t, st.Events, bytes.Count(data, []byte("\n")))
	assert.Equal(t, st.Events, st.ProcessStarts+st.Connections+st.DNSAnswers)
}

func TestDeterministic(t *testing.T) {
	cfg := Default()
	cfg.Hosts = 20
	a, sa := generate(t, cfg)
	b, sb := generate(t, cfg)
	require.True(t, bytes.Equal(a, b), "same config must give the same bytes")
	require.Equal(t, sa, sb)

	cfg.Seed = 2
	c, _ := generate(t, cfg)
	assert.False(t, bytes.Equal(a, c), "the seed must matter")

	// Zero fields mean defaults, so these two are the same scenario.
	z, _ := generate(t, Config{Attack: true, Rollout: true})
	d, _, _ := defaultScenario(t)
	assert.True(t, bytes.Equal(d, z))
}

var tsPattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
var hexPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestEventShape checks every line against the field contract, from the raw
// JSON so that a missing field cannot hide behind a zero value.
func TestEventShape(t *testing.T) {
	data, _, recs := defaultScenario(t)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	require.Len(t, lines, len(recs))

	hostIDs := map[string]string{}
	for i, line := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), "line %d", i+1)
		r := &recs[i]
		where := fmt.Sprintf("line %d: %s", i+1, line)

		require.Regexp(t, tsPattern, m["@timestamp"], where)
		require.Equal(t, "event", get(m, "event.kind"), where)
		require.Equal(t, "cairn", get(m, "event.module"), where)
		require.Equal(t, "cairn.host", get(m, "event.dataset"), where)
		require.Nil(t, get(m, "event.id"), "the pipeline derives event.id: "+where)
		require.Equal(t, "linux", get(m, "host.os.type"), where)
		require.IsType(t, "", get(m, "host.name"), where)
		require.Regexp(t, `^[0-9a-f]{32}$`, get(m, "host.id"), where)
		if id, ok := hostIDs[r.Host.Name]; ok {
			require.Equal(t, id, r.Host.ID, "host.id must be stable: "+where)
		}
		hostIDs[r.Host.Name] = r.Host.ID

		switch {
		case r.isStart():
			require.Equal(t, []any{"process"}, get(m, "event.category"), where)
			require.Equal(t, []any{"start"}, get(m, "event.type"), where)
			for _, f := range []string{"process.pid", "process.parent.pid"} {
				require.IsType(t, float64(0), get(m, f), f+": "+where)
			}
			for _, f := range []string{"process.name", "process.executable", "process.parent.executable", "user.name", "user.id"} {
				require.IsType(t, "", get(m, f), f+": "+where)
				require.NotEmpty(t, get(m, f), f+": "+where)
			}
			require.IsType(t, []any{}, get(m, "process.args"), where)
			require.NotEmpty(t, r.Process.Args, where)
			require.Regexp(t, hexPattern, get(m, "process.hash.sha256"), where)
		case r.isConn():
			require.Equal(t, []any{"network"}, get(m, "event.category"), where)
			require.Equal(t, []any{"connection", "start"}, get(m, "event.type"), where)
			require.Contains(t, []string{"tcp", "udp"}, get(m, "network.transport"), where)
			require.Equal(t, "egress", get(m, "network.direction"), where)
			for _, f := range []string{"source.port", "destination.port", "process.pid"} {
				require.IsType(t, float64(0), get(m, f), f+": "+where)
			}
			for _, f := range []string{"source.ip", "destination.ip", "process.name", "process.executable", "user.name", "user.id"} {
				require.IsType(t, "", get(m, f), f+": "+where)
				require.NotEmpty(t, get(m, f), f+": "+where)
			}
			if d := get(m, "destination.domain"); d != nil {
				require.IsType(t, "", d, where)
			}
		case r.isDNS():
			require.Equal(t, []any{"network"}, get(m, "event.category"), where)
			require.Equal(t, []any{"protocol", "info"}, get(m, "event.type"), where)
			require.Equal(t, "answer", get(m, "dns.type"), where)
			require.Equal(t, "A", get(m, "dns.question.type"), where)
			require.Equal(t, "NOERROR", get(m, "dns.response_code"), where)
			require.IsType(t, "", get(m, "dns.question.name"), where)
			require.IsType(t, []any{}, get(m, "dns.resolved_ip"), where)
			require.NotEmpty(t, r.DNS.ResolvedIP, where)
			require.Equal(t, resolverIP, get(m, "destination.ip"), where)
			require.Equal(t, float64(53), get(m, "destination.port"), where)
		default:
			t.Fatalf("unknown kind of event: %s", where)
		}
	}
}

// get reads nested document fields.
func get(doc map[string]any, path string) any { return testkit.Nested(doc, path) }

func TestSortedAndSpreadOverTheDay(t *testing.T) {
	_, st, recs := defaultScenario(t)
	cfg := Default()
	for i := 1; i < len(recs); i++ {
		require.False(t, recs[i].TS.Before(recs[i-1].TS), "line %d goes back in time", i+1)
	}
	require.Equal(t, recs[0].TS, st.First)
	require.Equal(t, recs[len(recs)-1].TS, st.Last)
	require.False(t, st.First.Before(cfg.Start))
	require.True(t, st.Last.Before(cfg.Start.Add(time.Duration(cfg.Days)*24*time.Hour)))

	// A daily rhythm: every hour sees something, working hours see more.
	var byHour [24]int
	perHostDay := map[string]int{}
	for _, r := range recs {
		byHour[r.TS.Hour()]++
		perHostDay[fmt.Sprint(r.Host.Name, day(cfg, r.TS))]++
	}
	night := byHour[1] + byHour[2] + byHour[3] + byHour[4]
	office := byHour[10] + byHour[11] + byHour[13] + byHour[14]
	for h, n := range byHour {
		assert.Positive(t, n, "hour %d", h)
	}
	assert.Greater(t, office, 2*night, "working hours should be busier than the night: %v", byHour)
	require.Len(t, perHostDay, cfg.Hosts*cfg.Days)
	for k, n := range perHostDay {
		assert.GreaterOrEqual(t, n, cfg.EventsPerHostDay, k)
		assert.LessOrEqual(t, n, 2*cfg.EventsPerHostDay, k)
	}
}

// day is 1-based, as in the README.
func day(cfg Config, ts time.Time) int {
	return int(ts.Sub(cfg.Start)/(24*time.Hour)) + 1
}

// TestProcessTree checks that pids join: every network event and every
// parent pid refers to a process whose start was seen earlier on that host
// with the same executable (PID 1 excepted), and that named connections are
// preceded by the DNS answer that produced their address.
func TestProcessTree(t *testing.T) {
	_, _, recs := defaultScenario(t)
	type key struct {
		host string
		pid  int
	}
	started := map[key]string{}
	lastAnswer := map[string]*rec{} // host|pid|domain
	for i := range recs {
		r := &recs[i]
		switch {
		case r.isStart():
			if r.Process.Parent.PID != 1 {
				exe, ok := started[key{r.Host.Name, r.Process.Parent.PID}]
				require.True(t, ok, "parent of line %d was never started", r.Line)
				require.Equal(t, exe, r.Process.Parent.Executable, "line %d", r.Line)
			} else {
				require.Equal(t, "/usr/lib/systemd/systemd", r.Process.Parent.Executable)
			}
			_, dup := started[key{r.Host.Name, r.Process.PID}]
			require.False(t, dup, "pid reused at line %d", r.Line)
			started[key{r.Host.Name, r.Process.PID}] = r.Process.Executable
		default:
			exe, ok := started[key{r.Host.Name, r.Process.PID}]
			require.True(t, ok, "process of line %d was never started", r.Line)
			require.Equal(t, exe, r.Process.Executable, "line %d", r.Line)
		}
		if r.isDNS() {
			lastAnswer[fmt.Sprint(r.Host.Name, "|", r.Process.PID, "|", r.DNS.Question.Name)] = r
		}
		if r.isConn() && r.Destination.Domain != "" {
			a := lastAnswer[fmt.Sprint(r.Host.Name, "|", r.Process.PID, "|", r.Destination.Domain)]
			require.NotNil(t, a, "connection at line %d has no DNS answer before it", r.Line)
			require.Contains(t, a.DNS.ResolvedIP, r.Destination.IP, "line %d", r.Line)
			require.Less(t, r.TS.Sub(a.TS), time.Second, "line %d", r.Line)
		}
	}
}

// TestRepertoire is requirement 1: what a host does after day 1 it already
// did on day 1, except for the rollout and the attack, which are listed
// exactly.
func TestRepertoire(t *testing.T) {
	for _, cfg := range []Config{Default(), {Hosts: 30, Days: 5, Start: Default().Start, EventsPerHostDay: 60, Seed: 7, Attack: true, Rollout: true}} {
		t.Run(fmt.Sprintf("hosts=%d/days=%d", cfg.Hosts, cfg.Days), func(t *testing.T) {
			var recs []rec
			var st Stats
			if cfg == Default() {
				_, st, recs = defaultScenario(t)
			} else {
				var data []byte
				data, st = generate(t, cfg)
				recs = parse(t, data)
			}
			seen := map[string]bool{}
			var hosts []string
			var novel []string
			for i := range recs {
				r := &recs[i]
				var items []string
				if r.isStart() {
					items = append(items, "bin "+r.Process.Executable+" "+r.Process.Hash.SHA256)
				}
				if r.isConn() {
					items = append(items, "pair "+r.Process.Executable+" "+r.Destination.IP)
				}
				for _, d := range r.domains() {
					items = append(items, "domain "+d)
				}
				for _, it := range items {
					k := r.Host.Name + " " + it
					if seen[k] {
						continue
					}
					seen[k] = true
					if day(cfg, r.TS) > 1 {
						novel = append(novel, k)
					}
				}
				if !slices.Contains(hosts, r.Host.Name) {
					hosts = append(hosts, r.Host.Name)
				}
			}
			require.Len(t, hosts, cfg.Hosts)

			var want []string
			for _, h := range hosts {
				want = append(want, h+" bin "+RolloutExecutable+" "+st.RolloutNewHash)
			}
			a := st.AttackHost
			want = append(want,
				a+" bin /usr/bin/zsh "+sha256Hex("zsh@5.9"),
				a+" bin "+AttackExecutable+" "+AttackHash,
				a+" pair "+AttackExecutable+" "+AttackBeaconIP,
				a+" domain "+AttackDomain,
				a+" pair "+AttackExecutable+" "+AttackRelayIP,
			)
			assert.ElementsMatch(t, want, novel)

			// A repertoire worth the name: several binaries, external pairs
			// and domains on every host.
			perHost := map[string]map[string]int{}
			for k := range seen {
				f := strings.Fields(k)
				if perHost[f[0]] == nil {
					perHost[f[0]] = map[string]int{}
				}
				perHost[f[0]][f[1]]++
			}
			for h, c := range perHost {
				assert.GreaterOrEqual(t, c["bin"], 9, h)
				assert.GreaterOrEqual(t, c["pair"], 5, h)
				assert.GreaterOrEqual(t, c["domain"], 4, h)
			}
		})
	}
}

// TestFirstSeenExpectation runs a toy first-seen stage (24h learning per
// scope, keyed on event time) over the default scenario and checks that it
// flags exactly what the README promises.
func TestFirstSeenExpectation(t *testing.T) {
	_, st, recs := defaultScenario(t)
	const learning = 24 * time.Hour
	scopeStart := map[string]time.Time{}
	known := map[string]bool{}
	var flagged []string
	observe := func(r *rec, scope, key, label string) {
		if _, ok := scopeStart[scope]; !ok {
			scopeStart[scope] = r.TS
		}
		if known[scope+"|"+key] {
			return
		}
		known[scope+"|"+key] = true
		if r.TS.Sub(scopeStart[scope]) >= learning {
			flagged = append(flagged, r.Timestamp+" "+r.Host.Name+" "+label)
		}
	}
	for i := range recs {
		r := &recs[i]
		// A scope starts with its first event of any kind.
		for _, s := range []string{"env", "host " + r.Host.Name, "bin " + r.Host.Name + " " + r.Process.Executable} {
			if _, ok := scopeStart[s]; !ok {
				scopeStart[s] = r.TS
			}
		}
		if r.isStart() {
			observe(r, "host "+r.Host.Name, r.Process.Hash.SHA256, "new binary on host "+r.Process.Executable)
			observe(r, "env", r.Process.Hash.SHA256, "new binary in environment "+r.Process.Executable)
		}
		if r.isConn() && isExternal(t, r.Destination.IP) {
			observe(r, "env", "ip "+r.Destination.IP, "new external IP "+r.Destination.IP)
			observe(r, "bin "+r.Host.Name+" "+r.Process.Executable, r.Destination.IP, "new IP for binary "+r.Destination.IP)
		}
		for _, d := range r.domains() {
			observe(r, "env", "domain "+d, "new domain "+d)
		}
	}

	var want []string
	firstRollout := true
	for i := range recs {
		r := &recs[i]
		if r.isStart() && r.Process.Hash.SHA256 == st.RolloutNewHash && !slices.ContainsFunc(want, func(s string) bool {
			return strings.Contains(s, " "+r.Host.Name+" new binary on host "+RolloutExecutable)
		}) {
			want = append(want, r.Timestamp+" "+r.Host.Name+" new binary on host "+RolloutExecutable)
			if firstRollout {
				want = append(want, r.Timestamp+" "+r.Host.Name+" new binary in environment "+RolloutExecutable)
				firstRollout = false
			}
		}
	}
	a := st.AttackHost
	// gs-netcat's own IPs are not flagged per binary: its scope starts at
	// 14:00:40 and is still learning. zsh is known in the environment from
	// the bastion.
	want = append(want,
		"2026-03-05T14:00:00.000Z "+a+" new binary on host /usr/bin/zsh",
		"2026-03-05T14:00:40.000Z "+a+" new binary on host "+AttackExecutable,
		"2026-03-05T14:00:40.000Z "+a+" new binary in environment "+AttackExecutable,
		"2026-03-05T14:00:41.000Z "+a+" new external IP "+AttackBeaconIP,
		"2026-03-05T14:00:41.250Z "+a+" new domain "+AttackDomain,
		"2026-03-05T14:00:41.262Z "+a+" new external IP "+AttackRelayIP,
	)
	assert.ElementsMatch(t, want, flagged)
	assert.Len(t, flagged, Default().Hosts+1+6, "one upgrade per host, the upgrade once fleet-wide, six attack findings")
}

// TestRollout is requirement 2.
func TestRollout(t *testing.T) {
	_, st, recs := defaultScenario(t)
	cfg := Default()
	from := cfg.Start.Add(2*24*time.Hour + 10*time.Hour)
	to := from.Add(2 * time.Hour)
	require.NotEqual(t, st.RolloutOldHash, st.RolloutNewHash)
	assert.Equal(t, sha256Hex("node_exporter@"+nodeExporterOld), st.RolloutOldHash)
	assert.Equal(t, sha256Hex("node_exporter@"+nodeExporterNew), st.RolloutNewHash)

	upgraded := map[string]time.Time{}
	later := 0
	for _, r := range recs {
		if !r.isStart() || r.Process.Name != "node_exporter" {
			continue
		}
		require.Equal(t, RolloutExecutable, r.Process.Executable)
		at, done := upgraded[r.Host.Name]
		switch {
		case !done && r.Process.Hash.SHA256 == st.RolloutOldHash:
		case !done && r.Process.Hash.SHA256 == st.RolloutNewHash:
			require.False(t, r.TS.Before(from), "line %d", r.Line)
			require.True(t, r.TS.Before(to), "line %d", r.Line)
			upgraded[r.Host.Name] = r.TS
		case done:
			require.Equal(t, st.RolloutNewHash, r.Process.Hash.SHA256, "%s went back to the old version at line %d", r.Host.Name, r.Line)
			require.True(t, r.TS.After(at))
			later++
		default:
			t.Fatalf("unexpected node_exporter hash at line %d", r.Line)
		}
	}
	assert.Len(t, upgraded, cfg.Hosts, "every host upgrades")
	assert.Positive(t, later, "hosts keep running the new version after the upgrade")
	assert.Equal(t, cfg.Hosts, st.RolloutEvents)
	assert.False(t, st.RolloutStart.Before(from))
	assert.True(t, st.RolloutEnd.Before(to))

	// node_exporter is scraped, it never connects anywhere.
	for _, r := range recs {
		if !r.isStart() {
			require.NotEqual(t, "node_exporter", r.Process.Name, "line %d", r.Line)
		}
	}

	cfg.Rollout = false
	data, st2 := generate(t, cfg)
	assert.Zero(t, st2.RolloutEvents)
	assert.NotContains(t, string(data), st.RolloutNewHash)
}

// TestAttack is requirement 3, to the millisecond.
func TestAttack(t *testing.T) {
	_, st, recs := defaultScenario(t)
	cfg := Default()
	t0 := time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)

	require.Equal(t, "web-03", st.AttackHost)
	require.Equal(t, t0, st.AttackStart)
	require.Equal(t, AttackBeaconIP, st.AttackBeaconIP)
	require.Equal(t, AttackRelayIP, st.AttackRelayIP)
	require.Equal(t, AttackDomain, st.AttackDomain)
	require.Equal(t, AttackHash, st.AttackHash)
	require.Equal(t, AttackUser, st.AttackUser)
	require.Equal(t, 5, st.AttackEvents)
	for _, ip := range []string{AttackBeaconIP, AttackRelayIP} {
		require.True(t, isExternal(t, ip), ip)
		for s := range svcDefs {
			require.NotContains(t, svcDefs[s].ips, ip)
		}
	}

	var onHost []*rec
	zshElsewhere := false
	for i := range recs {
		r := &recs[i]
		if r.Host.Name == st.AttackHost && !r.TS.Before(t0) && r.TS.Before(t0.Add(time.Minute)) &&
			(r.Process.Name == "zsh" || r.Process.Name == "gs-netcat") {
			onHost = append(onHost, r)
			continue
		}
		if r.TS.Before(t0) {
			if r.isStart() && r.Process.Name == "zsh" {
				require.True(t, strings.HasPrefix(r.Host.Name, "bastion-"), "zsh only runs on bastions: line %d", r.Line)
				require.Equal(t, sha256Hex("zsh@5.9"), r.Process.Hash.SHA256)
				zshElsewhere = true
			}
		}
		// Never seen anywhere, in any role, outside the attack.
		line := fmt.Sprint(r.Destination.IP, r.DNS.ResolvedIP, r.Destination.Domain, r.DNS.Question.Name, r.Process.Executable, r.Process.Hash.SHA256)
		for _, s := range []string{AttackBeaconIP, AttackRelayIP, AttackDomain, AttackExecutable, AttackHash} {
			require.NotContains(t, line, s, "line %d", r.Line)
		}
	}
	require.True(t, zshElsewhere, "zsh must be known in the environment before the attack")
	require.Len(t, onHost, 5)
	zsh, gs, beacon, dns, relay := onHost[0], onHost[1], onHost[2], onHost[3], onHost[4]

	assert.True(t, zsh.isStart())
	assert.Equal(t, t0, zsh.TS)
	assert.Equal(t, "/usr/bin/zsh", zsh.Process.Executable)
	assert.Equal(t, AttackUser, zsh.User.Name)
	assert.NotEqual(t, "0", zsh.User.ID)
	assert.Equal(t, "/usr/sbin/sshd", zsh.Process.Parent.Executable)

	assert.True(t, gs.isStart())
	assert.Equal(t, t0.Add(40*time.Second), gs.TS)
	assert.Equal(t, AttackExecutable, gs.Process.Executable)
	assert.Equal(t, "gs-netcat", gs.Process.Name)
	assert.Equal(t, AttackHash, gs.Process.Hash.SHA256)
	assert.Equal(t, zsh.Process.PID, gs.Process.Parent.PID)
	assert.Equal(t, "/usr/bin/zsh", gs.Process.Parent.Executable)
	assert.Equal(t, "root", gs.User.Name)
	assert.Equal(t, "0", gs.User.ID)

	assert.True(t, beacon.isConn())
	assert.Equal(t, t0.Add(41*time.Second), beacon.TS)
	assert.Equal(t, "tcp", beacon.Network.Transport)
	assert.Equal(t, AttackBeaconIP, beacon.Destination.IP)
	assert.Equal(t, 80, beacon.Destination.Port)
	assert.Empty(t, beacon.Destination.Domain)
	assert.Equal(t, gs.Process.PID, beacon.Process.PID)

	assert.True(t, dns.isDNS())
	assert.Equal(t, t0.Add(41*time.Second+250*time.Millisecond), dns.TS)
	assert.Equal(t, AttackDomain, dns.DNS.Question.Name)
	assert.Equal(t, []string{AttackRelayIP}, dns.DNS.ResolvedIP)

	assert.True(t, relay.isConn())
	assert.Equal(t, t0.Add(41*time.Second+262*time.Millisecond), relay.TS)
	assert.Equal(t, "tcp", relay.Network.Transport)
	assert.Equal(t, AttackRelayIP, relay.Destination.IP)
	assert.Equal(t, 7350, relay.Destination.Port)
	assert.Equal(t, AttackDomain, relay.Destination.Domain)
	assert.Equal(t, gs.Process.PID, relay.Process.PID)
	assert.Equal(t, "root", relay.User.Name)

	// Ordinary activity of the host goes on around the attack.
	var before, after int
	for _, r := range recs {
		if r.Host.Name != st.AttackHost || r.Process.Name == "zsh" || r.Process.Name == "gs-netcat" {
			continue
		}
		if r.TS.After(t0.Add(-2*time.Hour)) && r.TS.Before(t0) {
			before++
		}
		if r.TS.After(t0.Add(time.Minute)) && r.TS.Before(t0.Add(2*time.Hour)) {
			after++
		}
	}
	assert.Positive(t, before)
	assert.Positive(t, after)

	cfg.Attack = false
	data, st2 := generate(t, cfg)
	assert.Zero(t, st2.AttackEvents)
	assert.Empty(t, st2.AttackHost)
	assert.NotContains(t, string(data), AttackExecutable)
	assert.NotContains(t, string(data), AttackDomain)
}

// TestAddresses checks every address in the output: internal ones are the
// fleet, the resolver and the metadata service; all others must look public.
func TestAddresses(t *testing.T) {
	_, _, recs := defaultScenario(t)
	internal := netip.MustParsePrefix("10.0.0.0/16")
	external := map[string]bool{}
	domains := map[string]bool{}
	for _, r := range recs {
		ips := append([]string{r.Destination.IP}, r.DNS.ResolvedIP...)
		if r.Source.IP != "" {
			require.True(t, internal.Contains(netip.MustParseAddr(r.Source.IP)), "line %d", r.Line)
		}
		for _, ip := range ips {
			if ip == "" {
				continue
			}
			a, err := netip.ParseAddr(ip)
			require.NoError(t, err, "line %d", r.Line)
			switch {
			case internal.Contains(a), ip == metadataIP:
			default:
				require.False(t, isSpecial(a), "%s at line %d is in a special range", ip, r.Line)
				external[ip] = true
			}
		}
		for _, d := range r.domains() {
			domains[d] = true
		}
	}
	// The whole catalogue, whether or not the default fleet uses it.
	for _, d := range svcDefs {
		for _, ip := range d.ips {
			require.False(t, isSpecial(netip.MustParseAddr(ip)), ip)
		}
	}
	assert.GreaterOrEqual(t, len(svcDefs), 18)
	for _, d := range svcDefs {
		if d.domain != "" {
			assert.True(t, domains[d.domain], "service %s unused in the default scenario", d.domain)
		}
		for _, ip := range d.ips {
			assert.True(t, external[ip], "address %s (%s) unused in the default scenario", ip, d.domain)
		}
	}
	assert.Len(t, external, countIPs()+2, "the catalogue's addresses plus the two attack addresses")
}

func countIPs() int {
	n := 0
	for _, d := range svcDefs {
		n += len(d.ips)
	}
	return n
}

func TestFleet(t *testing.T) {
	_, _, recs := defaultScenario(t)
	roles := map[string]int{}
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.Host.Name] {
			seen[r.Host.Name] = true
			roles[r.Host.Name[:strings.LastIndex(r.Host.Name, "-")]]++
		}
	}
	assert.Equal(t, map[string]int{"web": 4, "db": 2, "worker": 3, "bastion": 1, "ci": 2}, roles)

	// Any fleet size works and puts the attack on a web host.
	for n := 1; n <= 13; n++ {
		cfg := Default()
		cfg.Hosts = n
		cfg.EventsPerHostDay = 10
		_, st := generate(t, cfg)
		assert.Equal(t, n, st.Hosts)
		assert.True(t, strings.HasPrefix(st.AttackHost, "web-"), "hosts=%d: %s", n, st.AttackHost)
		assert.Equal(t, 5, st.AttackEvents)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"rollout before day 3": {Days: 2, Rollout: true},
		"attack on day 1":      {Days: 1, Attack: true},
		"negative hosts":       {Hosts: -1},
		"too many hosts":       {Hosts: maxHosts + 1},
	} {
		_, err := Generate(cfg, io.Discard)
		assert.Error(t, err, name)
	}
	_, err := Generate(Config{Days: 1}, io.Discard)
	assert.NoError(t, err, "a quiet single day is fine")
}

type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, io.ErrClosedPipe
}

func TestWriteError(t *testing.T) {
	cfg := Default()
	cfg.Hosts = 100
	w := &errWriter{}
	_, err := Generate(cfg, w)
	require.ErrorIs(t, err, io.ErrClosedPipe)
	assert.Equal(t, 1, w.n, "generation stops at the first failed write")
}

// countingWriter records how much was written by each call, to show that
// output leaves in pieces while generation is still going on.
type countingWriter struct {
	calls int
	bytes int64
	lines int
	prev  []byte // last timestamp seen, carried across calls
	err   error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n := len(p)
	w.calls++
	w.bytes += int64(len(p))
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		line := p
		if i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		w.lines++
		// "@timestamp" is the first key, so its value sits at a fixed offset.
		ts := line[len(`{"@timestamp":"`) : len(`{"@timestamp":"`)+24]
		if w.err == nil && bytes.Compare(ts, w.prev) < 0 {
			w.err = fmt.Errorf("line %d: %s before %s", w.lines, ts, w.prev)
		}
		w.prev = append(w.prev[:0], ts...)
	}
	return n, nil
}

func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("generates ~100k events")
	}
	cfg := Default()
	cfg.Hosts = 200
	w := &countingWriter{}
	start := time.Now()
	st, err := Generate(cfg, w)
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.NoError(t, w.err)
	assert.Equal(t, st.Events, w.lines)
	assert.Equal(t, st.Bytes, w.bytes)
	assert.InDelta(t, 200*4*120, st.Events, 200*4*120/10)
	assert.Equal(t, 200, st.RolloutEvents)
	assert.Equal(t, "web-03", st.AttackHost)
	assert.Greater(t, w.calls, cfg.Days, "output must be streamed, not written at the end")
	assert.Less(t, elapsed, 10*time.Second)
	t.Logf("%d events, %d MB in %v (%.0f events/s), %d writes", st.Events, st.Bytes>>20, elapsed, float64(st.Events)/elapsed.Seconds(), w.calls)
}

func BenchmarkGenerate1M(b *testing.B) {
	cfg := Config{Hosts: 2000, Days: 4, EventsPerHostDay: 125, Seed: 1, Attack: true, Rollout: true}
	var st Stats
	for b.Loop() {
		var err error
		st, err = Generate(cfg, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.Bytes)
	b.ReportMetric(float64(st.Events), "events/op")
	b.ReportMetric(float64(st.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
