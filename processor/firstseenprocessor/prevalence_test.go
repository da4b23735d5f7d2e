package firstseenprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/testkit"
)

const (
	c2IP     = "45.134.26.117"
	c2Domain = "l.gs.thc.org"
	toolkit  = "/tmp/.x/gs-netcat"
)

var toolkitHash = hash("gs-netcat")

// learnFleet teaches a fleet its ordinary day (day 0): every host runs the
// same binaries and reaches the same destinations.
func learnFleet(t *testing.T, f *fixture, hosts ...string) {
	t.Helper()
	var evs []map[string]any
	for i, h := range hosts {
		at := time.Duration(i) * time.Minute
		evs = append(evs,
			procStart(h, "/usr/sbin/sshd", hash("sshd"), at),
			procStart(h, "/usr/bin/curl", hash("curl"), at),
			conn(h, "/usr/bin/curl", "151.101.2.132", 443, "", at),
			dnsAnswer(h, "deb.mirror.example.net", at),
		)
	}
	f.send(t, evs...)
}

func fleetHosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("host-%02d", i)
	}
	return out
}

// infect is the toolkit on one host: it starts, looks up its C2 domain and
// connects to the C2 address.
func infect(host string, at time.Duration) []map[string]any {
	return []map[string]any{
		procStart(host, toolkit, toolkitHash, at),
		dnsAnswer(host, c2Domain, at+time.Second),
		conn(host, toolkit, c2IP, 443, "", at+2*time.Second),
	}
}

// signalsOf collects every signal of a batch's events, in order.
func signalsOf(out []pcommon.Map) []string {
	var all []string
	for _, m := range out {
		all = append(all, testkit.Signals(m)...)
	}
	return all
}

var allNew = []string{
	"new_binary_on_host", "new_binary_in_environment", "new_domain", "new_external_ip", "new_ip_for_binary",
}

// TestPreseedFromOneHost is issue 12's baseline poisoning: three
// ordinary-looking events from one host mention the C2 executable, domain
// and address days ahead of the attack. Before prevalence they made all
// three known in the environment, and the attack on another host raised
// only new_binary_on_host. A term now needs known_after_hosts hosts.
func TestPreseedFromOneHost(t *testing.T) {
	f := newFixture(t, createDefaultConfig().(*Config), nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	learnFleet(t, f, fleetHosts(6)...)

	f.send(t, infect("host-05", 48*time.Hour)...) // the pre-seed
	attack := f.send(t, infect("host-01", 72*time.Hour)...)
	assert.Equal(t, allNew, signalsOf(attack), "one host taught nothing to the rest of the fleet")
}

// TestSecondAndThirdInfectedHost is issue 12's worm: the same toolkit and
// C2 reach host after host. The first three see the environment signals
// (not known until three hosts had them), the next ones, up to rare_hosts,
// the rare ones, then nothing.
func TestSecondAndThirdInfectedHost(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	hosts := fleetHosts(9)
	learnFleet(t, f, hosts...)

	rare := []string{"new_binary_on_host", "rare_binary_in_environment", "rare_domain", "rare_external_ip", "rare_ip_for_binary"}
	want := [][]string{allNew, allNew, allNew, rare, rare, rare, {"new_binary_on_host"}, {"new_binary_on_host"}}
	for i, w := range want {
		out := f.send(t, infect(hosts[i], 48*time.Hour+time.Duration(i)*time.Hour)...)
		assert.Equal(t, w, signalsOf(out), "infected host %d", i+1)
		if i == 3 {
			flag, ok := testkit.Get(out[0], "cairn.first_seen.rare_binary_in_environment")
			require.True(t, ok)
			assert.True(t, flag.Bool())
			_, ok = testkit.Get(out[0], "cairn.first_seen.new_binary_in_environment")
			assert.False(t, ok)
			id, ok := testkit.Get(out[0], "event.id")
			require.True(t, ok, "a rare raise gets its id like any flagged event")
			assert.Len(t, id.Str(), 32)
		}
	}
	// The same host again: prevalence counts hosts, not sightings.
	again := f.send(t, infect(hosts[1], 60*time.Hour)...)
	assert.Empty(t, signalsOf(again))
	assert.Equal(t, int64(3), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_rare", map[string]string{"tracker": "new_external_ip"}))
	assert.Equal(t, int64(3), testkit.Sum(t, f.tel, "otelcol_processor_firstseen_signals", map[string]string{"tracker": "new_external_ip"}))
}

// TestPrevalenceOff: known_after_hosts 1 and no rare raise is the behaviour
// from before prevalence: known once any host showed it.
func TestPrevalenceOff(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.KnownAfterHosts, cfg.RareHosts, cfg.RareShare = 1, 0, 0
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	learnFleet(t, f, fleetHosts(3)...)
	assert.Equal(t, allNew, signalsOf(f.send(t, infect("host-00", 48*time.Hour)...)))
	assert.Equal(t, []string{"new_binary_on_host"}, signalsOf(f.send(t, infect("host-01", 49*time.Hour)...)))
	for _, tr := range f.fs.trackers {
		assert.False(t, tr.HasPrevalence(), tr.Name())
	}
	assert.Nil(t, f.fs.active, "no active-host counting without rare_share")
}

// TestRareShareScalesWithTheFleet: with 200 active hosts and rare_share
// 0.05, a term is rare while ten hosts had it, beyond rare_hosts.
func TestRareShareScalesWithTheFleet(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.KnownAfterHosts, cfg.RareHosts, cfg.RareShare = 1, 2, 0.05
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	hosts := fleetHosts(200)
	learnFleet(t, f, hosts...)
	var got []bool
	for i := range 12 {
		out := f.send(t, dnsAnswer(hosts[i], "rare.example.org", 48*time.Hour+time.Duration(i)*time.Minute))
		got = append(got, len(testkit.Signals(out[0])) > 0)
	}
	assert.Equal(t, []bool{true, true, true, true, true, true, true, true, true, true, true, false}, got,
		"new on the first host, rare while at most 5% of 200 hosts had it")
}

// TestCustomTrackerRareSignal: a tracker of your own raises rare evidence
// under the signal it names, and none without one.
func TestCustomTrackerRareSignal(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.KnownAfterHosts = 1
	cfg.Trackers = []TrackerConfig{
		{Name: "new_user", Fields: []string{"user.name"}, Scope: "environment", Learning: durPtr(0), RareSignal: "rare_user"},
		{Name: "new_shell", Fields: []string{"process.executable"}, Scope: "environment", Learning: durPtr(0)},
	}
	f := newFixture(t, cfg, nil)
	defer func() { require.NoError(t, f.proc.Shutdown(context.Background())) }()
	ev := func(host string) map[string]any {
		return map[string]any{"host.name": host, "user.name": "deploy", "process.executable": "/bin/ksh", "@timestamp": day0.Format(time.RFC3339)}
	}
	assert.Equal(t, []string{"new_user", "new_shell"}, testkit.Signals(f.send(t, ev("a"))[0]))
	out := f.send(t, ev("b"))
	assert.Equal(t, []string{"rare_user"}, testkit.Signals(out[0]))
	flag, ok := testkit.Get(out[0], "cairn.first_seen.rare_user")
	require.True(t, ok)
	assert.True(t, flag.Bool())
}

// restartable runs batches through a processor with file_storage in dir,
// one processor per run (a restart between runs).
type restartable struct {
	t   *testing.T
	dir string
	id  component.ID
}

func (r restartable) run(cfg *Config, crash bool, batches ...[]map[string]any) ([][]pcommon.Map, *fixture) {
	r.t.Helper()
	ctx := context.Background()
	cfg.Storage = &r.id
	ext := testkit.StartFileStorage(r.t, r.dir)
	f := newFixture(r.t, cfg, storagetest.NewStorageHost().WithExtension(r.id, ext))
	var outs [][]pcommon.Map
	for _, b := range batches {
		outs = append(outs, f.send(r.t, b...))
	}
	if crash {
		// No shutdown snapshot: only what the periodic flush appended.
		f.fs.mu.Lock()
		f.fs.state.flush(ctx, f.fs.trackers, f.fs.active)
		st := f.fs.state
		f.fs.state = nil
		f.fs.mu.Unlock()
		st.loop.Stop()
		require.NoError(r.t, st.client.Close(ctx))
	}
	require.NoError(r.t, f.proc.Shutdown(ctx))
	require.NoError(r.t, ext.Shutdown(ctx))
	return outs, f
}

// TestPrevalenceSurvivesRestart: host sets are part of the baseline kept in
// file_storage, through the shutdown snapshot and through the journal.
func TestPrevalenceSurvivesRestart(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			r := restartable{t: t, dir: t.TempDir(), id: component.MustNewID("file_storage")}
			hosts := fleetHosts(6)
			var learn []map[string]any
			for i, h := range hosts {
				learn = append(learn, procStart(h, "/usr/sbin/sshd", hash("sshd"), time.Duration(i)*time.Minute))
			}
			cfg := func() *Config {
				c := createDefaultConfig().(*Config)
				c.FlushInterval = time.Hour
				c.RareShare = 0.01 // so that active hosts are counted and kept
				return c
			}
			r.run(cfg(), crash, learn, infect(hosts[0], 48*time.Hour), infect(hosts[1], 49*time.Hour))
			outs, f := r.run(cfg(), false,
				infect(hosts[2], 50*time.Hour), infect(hosts[3], 51*time.Hour), infect(hosts[1], 52*time.Hour))
			assert.Equal(t, allNew, signalsOf(outs[0]), "third host: two had it before the restart")
			assert.Contains(t, signalsOf(outs[1]), "rare_external_ip", "fourth host: known after three, rare")
			assert.Empty(t, signalsOf(outs[2]), "a host that had it before the restart")
			assert.Positive(t, f.fs.active.Count(f.fs.env.Env32()), "active hosts restored")
		})
	}
}

// TestStateFromBeforePrevalenceLoads: state written without host sets — by
// trackers without prevalence, in the same format (termstore version 1) and
// key layout as every release before prevalence wrote it — loads into
// trackers with prevalence: its terms count as known everywhere, as they
// were, instead of all becoming new or rare again; terms first seen after
// the upgrade count hosts.
func TestStateFromBeforePrevalenceLoads(t *testing.T) {
	r := restartable{t: t, dir: t.TempDir(), id: component.MustNewID("file_storage")}
	hosts := fleetHosts(4)
	old := createDefaultConfig().(*Config)
	old.KnownAfterHosts, old.RareHosts, old.RareShare = 1, 0, 0
	var learn []map[string]any
	for i, h := range hosts {
		learn = append(learn, procStart(h, "/usr/sbin/sshd", hash("sshd"), time.Duration(i)*time.Minute))
	}
	r.run(old, false, learn, infect(hosts[0], 48*time.Hour))

	outs, _ := r.run(createDefaultConfig().(*Config), false,
		infect(hosts[1], 49*time.Hour),
		[]map[string]any{dnsAnswer(hosts[1], "after.example", 50*time.Hour)},
		[]map[string]any{dnsAnswer(hosts[2], "after.example", 51*time.Hour)})
	assert.Equal(t, []string{"new_binary_on_host"}, signalsOf(outs[0]), "terms from before count as known everywhere")
	assert.Equal(t, []string{"new_domain"}, signalsOf(outs[1]))
	assert.Equal(t, []string{"new_domain"}, signalsOf(outs[2]), "a term first seen after the upgrade counts hosts")
}
