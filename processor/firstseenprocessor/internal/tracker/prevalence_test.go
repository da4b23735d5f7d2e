package tracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/netclass"
)

// fleet runs several trackers over events as the processor does: one Env,
// the clock moved by every event.
type fleet struct {
	t   *testing.T
	trs []*Tracker
	env *Env
	v   *event.View
}

func newFleet(t *testing.T, specs ...Spec) *fleet {
	t.Helper()
	c, err := netclass.New(nil, nil)
	require.NoError(t, err)
	f := &fleet{t: t, env: &Env{Classifier: c, MaxValueBytes: 4096}, v: event.NewView()}
	for _, s := range specs {
		if s.History == 0 {
			s.History = 30 * 24 * time.Hour
		}
		if s.MaxTerms == 0 {
			s.MaxTerms = 1000
		}
		if s.MaxScopes == 0 {
			s.MaxScopes = 1000
		}
		tr, err := New(s)
		require.NoError(t, err)
		f.trs = append(f.trs, tr)
	}
	for _, tr := range f.trs {
		tr.ShareScopeBirth(f.trs)
	}
	return f
}

// see returns each tracker's result for one event at t0+at.
func (f *fleet) see(at time.Duration, attrs map[string]any) []Result {
	f.t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(f.t, rec.Attributes().FromRaw(attrs))
	f.v.Reset(rl.Resource(), rec)
	f.env.Event++
	ts := EventSeconds(t0.Add(at))
	f.env.Clock = max(f.env.Clock, ts)
	if f.env.Active != nil {
		f.env.EventHost(f.v)
		f.env.Active.See(f.env.Env32(), f.env.Host32(), ts)
	}
	out := make([]Result, len(f.trs))
	for i, tr := range f.trs {
		out[i] = tr.Observe(f.v, ts, f.env)
	}
	return out
}

func envSpec(known, rareHosts int, share float64) Spec {
	return Spec{Name: "env", Fields: [][]string{{"process.executable"}}, Scope: ScopeEnvironment,
		KnownAfterHosts: known, RareHosts: rareHosts, RareShare: share, RareSignal: "rare_env"}
}

func TestPrevalenceKnownAfterHosts(t *testing.T) {
	f := newFleet(t, envSpec(3, 0, 0))
	assert.Equal(t, NewTerm, f.see(0, exe("a", "/x"))[0], "first host")
	assert.Equal(t, Seen, f.see(time.Minute, exe("a", "/x"))[0], "the same host again: prevalence counts hosts, not sightings")
	assert.Equal(t, NewTerm, f.see(2*time.Minute, exe("b", "/x"))[0], "second host: not known yet")
	assert.Equal(t, TaughtHost, f.trs[0].Taught())
	assert.Equal(t, NotApplicable, f.see(2*time.Minute, map[string]any{"host.name": "b"})[0])
	assert.Equal(t, TaughtNothing, f.trs[0].Taught(), "what Record taught is about the last event only")
	assert.Equal(t, NewTerm, f.see(3*time.Minute, exe("c", "/x"))[0], "third host: two hosts had it")
	assert.Equal(t, Seen, f.see(4*time.Minute, exe("d", "/x"))[0], "fourth host: known after three")
	n, _ := f.trs[0].Terms.HostCount(f.lastTerm(exe("d", "/x")))
	assert.Equal(t, 3, n, "the bound is known_after_hosts: the set saturated at three")
}

// lastTerm works out the term fingerprint of an event for tracker 0.
func (f *fleet) lastTerm(attrs map[string]any) uint64 {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(f.t, rec.Attributes().FromRaw(attrs))
	f.v.Reset(rl.Resource(), rec)
	f.env.Event++
	term, _, res := f.trs[0].Term(f.v, f.env)
	require.Equal(f.t, Located, res)
	return term
}

func TestPrevalenceRareHosts(t *testing.T) {
	f := newFleet(t, envSpec(2, 4, 0))
	var got []Result
	for h := range 7 {
		got = append(got, f.see(time.Duration(h)*time.Minute, exe(fmt.Sprintf("h%d", h), "/x"))[0])
	}
	assert.Equal(t, []Result{NewTerm, NewTerm, RareTerm, RareTerm, RareTerm, Seen, Seen}, got,
		"new on the first two hosts, rare while at most four had it")
	assert.Equal(t, "rare_env", f.trs[0].RareSignal())
	assert.Equal(t, "cairn.first_seen.rare_env", f.trs[0].RareFlagKey)
	assert.Equal(t, 5, f.trs[0].HostCap())
}

func TestPrevalenceRareShare(t *testing.T) {
	f := newFleet(t, envSpec(1, 1, 0.1))
	f.env.Active = NewActiveHosts(1000, 30*24*time.Hour)
	// 80 hosts are active.
	for h := range 80 {
		f.see(0, exe(fmt.Sprintf("h%d", h), "/usr/bin/common"))
	}
	require.Equal(t, 80, f.env.Active.Count(f.env.Env32()))
	assert.Equal(t, 8, f.trs[0].RareThreshold(f.env), "10% of 80 active hosts")
	var got []Result
	for h := range 10 {
		got = append(got, f.see(time.Hour, exe(fmt.Sprintf("h%d", h), "/opt/tool"))[0])
	}
	assert.Equal(t, []Result{NewTerm, RareTerm, RareTerm, RareTerm, RareTerm, RareTerm, RareTerm, RareTerm, RareTerm, Seen}, got,
		"rare while at most 8 hosts had it")
	assert.Equal(t, 32, f.trs[0].HostCap(), "a share counts up to the bound")

	// The share is capped by what a host set can count.
	f.env.Active = NewActiveHosts(10_000, 30*24*time.Hour)
	for h := range 1000 {
		f.env.Active.See(f.env.Env32(), uint32(h+1), EventSeconds(t0))
	}
	assert.Equal(t, 31, f.trs[0].RareThreshold(f.env))
}

func TestPrevalenceWaitsForHostLearning(t *testing.T) {
	host := Spec{Name: "host", Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, Learning: 24 * time.Hour}
	env := envSpec(2, 5, 0)
	env.Learning = 24 * time.Hour
	f := newFleet(t, host, env)
	for _, h := range []string{"a", "b", "c"} {
		f.see(0, exe(h, "/usr/sbin/postgres"))
	}
	// Day 2: a new database host runs the role's binary, seen on three hosts.
	got := f.see(48*time.Hour, exe("d", "/usr/sbin/postgres"))
	assert.Equal(t, []Result{NewTermLearning, NewTermLearning}, got, "a host still learning raises no prevalence signal")
	// Past its learning, the next rare binary is evidence.
	for _, h := range []string{"a", "b"} {
		f.see(49*time.Hour, exe(h, "/usr/bin/pg_tool"))
	}
	got = f.see(73*time.Hour, exe("d", "/usr/bin/pg_tool"))
	assert.Equal(t, []Result{NewTerm, RareTerm}, got)
	// A never-seen term is new even on a learning host (as before).
	got = f.see(73*time.Hour, exe("e", "/tmp/implant"))
	assert.Equal(t, []Result{NewTermLearning, NewTerm}, got)
}

func TestNoLearnLooksOnly(t *testing.T) {
	f := newFleet(t, envSpec(2, 0, 0), Spec{Name: "plain", Fields: [][]string{{"process.executable"}}, Scope: ScopeEnvironment})
	f.env.NoLearn = true
	assert.Equal(t, []Result{NewTerm, NewTerm}, f.see(0, exe("a", "/bad")))
	assert.Equal(t, TaughtNothing, f.trs[0].Taught())
	assert.Equal(t, []Result{NewTerm, NewTerm}, f.see(time.Minute, exe("a", "/bad")), "nothing was learned")
	assert.Zero(t, f.trs[0].Terms.Len())
	assert.Zero(t, f.trs[1].Terms.Len())
	f.env.NoLearn = false
	f.see(2*time.Minute, exe("a", "/good"))
	f.env.NoLearn = true
	assert.Equal(t, []Result{NewTerm, Seen}, f.see(3*time.Minute, exe("b", "/good")), "known terms are looked up as usual")
	n, _ := f.trs[0].Terms.HostCount(f.lastTerm(exe("b", "/good")))
	assert.Equal(t, 1, n, "without adding the host")
}

func TestForgetAndBlock(t *testing.T) {
	f := newFleet(t, envSpec(3, 0, 0), Spec{Name: "host", Fields: [][]string{{"process.executable"}}, Scope: ScopeHost})
	f.see(0, exe("a", "/c2"))
	require.Equal(t, TaughtTerm, f.trs[0].Taught())
	term := f.lastTerm(exe("a", "/c2"))
	until := EventSeconds(t0.Add(time.Hour))
	assert.True(t, f.trs[0].Forget(term, 0, TaughtTerm, until))
	assert.Zero(t, f.trs[0].Terms.Len(), "forgotten")

	got := f.see(time.Minute, exe("b", "/c2"))
	assert.Equal(t, NewTerm, got[0], "a second host sees it new")
	assert.True(t, f.trs[0].LastBlocked())
	assert.Equal(t, TaughtNothing, f.trs[0].Taught(), "a blocked term is not learned")
	assert.Equal(t, Seen, f.see(2*time.Minute, exe("b", "/c2"))[0], "each host is flagged once while blocked")
	assert.Equal(t, NewTerm, f.see(3*time.Minute, exe("a", "/c2"))[0], "also the host it came from")
	assert.Zero(t, f.trs[0].Terms.Len())

	// The block ends at its time: then the term is learned as usual.
	assert.Equal(t, NewTerm, f.see(2*time.Hour, exe("c", "/c2"))[0])
	assert.False(t, f.trs[0].LastBlocked())
	assert.Equal(t, 1, f.trs[0].Terms.Len())
	assert.Zero(t, f.trs[0].Blocked.Len())

	// A host added to a held term is taken out again.
	f.see(3*time.Hour, exe("d", "/c2"))
	require.Equal(t, TaughtHost, f.trs[0].Taught())
	host := f.env.Host32()
	term = f.lastTerm(exe("d", "/c2"))
	n, _ := f.trs[0].Terms.HostCount(term)
	require.Equal(t, 2, n)
	assert.True(t, f.trs[0].Forget(term, host, TaughtHost, 0))
	n, _ = f.trs[0].Terms.HostCount(term)
	assert.Equal(t, 1, n)
	assert.Zero(t, f.trs[0].Blocked.Len(), "a host taken back blocks nothing")
}

// TestFloodOfMadeUpHostsKeepsHostsDoneLearning: a learning table full of
// hosts, then more new names than it holds: only scopes still learning are
// evicted, the hosts done learning move to their own table.
func TestFloodOfMadeUpHostsKeepsHostsDoneLearning(t *testing.T) {
	f := newFleet(t, Spec{Name: "host", Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, Learning: 24 * time.Hour, MaxScopes: 100})
	tr := f.trs[0]
	for h := range 50 {
		f.see(0, exe(fmt.Sprintf("real-%d", h), "/bin/sh"))
	}
	// Two days later: 1000 made-up names, each with one event.
	for h := range 1000 {
		f.see(48*time.Hour, exe(fmt.Sprintf("fake-%d", h), "/bin/sh"))
	}
	assert.Equal(t, 50, tr.Scopes.Len(), "the real hosts are done learning")
	assert.Zero(t, tr.Scopes.Evictions())
	assert.Equal(t, 100, tr.Learning.Len())
	assert.Equal(t, uint64(1000-100), tr.Learning.Evictions(), "only made-up hosts were evicted")
	for h := range 50 {
		got := f.see(49*time.Hour, exe(fmt.Sprintf("real-%d", h), "/tmp/new"))
		require.Equal(t, NewTerm, got[0], "real-%d is still past learning", h)
	}
}

func TestDoneTableUsesTheTrustedClock(t *testing.T) {
	f := newFleet(t, Spec{Name: "host", Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, Learning: time.Hour, MaxScopes: 2})
	tr := f.trs[0]
	f.see(0, exe("a", "/x"))
	f.see(0, exe("b", "/x"))
	// A third host while the clock says a and b are still learning: one of
	// them is evicted (they are all learning).
	f.see(30*time.Minute, exe("c", "/x"))
	assert.Equal(t, uint64(1), tr.Learning.Evictions())
	assert.Zero(t, tr.Scopes.Len())
	// Once the clock passed their learning, room is made by moving them.
	f.see(3*time.Hour, exe("d", "/x"))
	assert.Equal(t, uint64(1), tr.Learning.Evictions())
	assert.Equal(t, 1, tr.Scopes.Len(), "c graduated")
}

func TestActiveHosts(t *testing.T) {
	a := NewActiveHosts(3, time.Hour)
	day := EventSeconds(t0)
	a.See(1, 10, day)
	a.See(1, 11, day+1)
	a.See(1, 11, day+2) // same host again: counted once
	a.See(2, 10, day+3)
	assert.Equal(t, 2, a.Count(1))
	assert.Equal(t, 1, a.Count(2))
	// The bound pushes out the least recently seen host, and its
	// environment's count follows.
	a.See(2, 12, day+10)
	assert.Equal(t, 1, a.Count(1))
	assert.Equal(t, 2, a.Count(2))
	a.Expire(day + 3600 + 2)
	assert.Equal(t, 1, a.Count(1), "host 11 last seen at day+2 is within the hour")
	a.Expire(day + 3600 + 5)
	assert.Zero(t, a.Count(1))
	assert.Equal(t, 1, a.Count(2), "host 12 last seen at day+10 is within the hour")
	a.Expire(day + 3600 + 11)
	assert.Zero(t, a.Count(2))
	a.See(1, 11, day)
	assert.Equal(t, 1, a.Count(1), "a host that left is counted again when it returns")
	a.Rebuild()
	assert.Equal(t, 1, a.Count(1))
}

func TestPrevalenceValidation(t *testing.T) {
	base := Spec{Name: "x", Fields: [][]string{{"a"}}, Scope: ScopeEnvironment, History: time.Hour, MaxTerms: 10, MaxScopes: 10}
	for _, mut := range []func(*Spec){
		func(s *Spec) { s.KnownAfterHosts = 33 },
		func(s *Spec) { s.RareHosts = 32 },
		func(s *Spec) { s.RareShare = 1.5 },
		func(s *Spec) { s.RareShare = -0.1 },
		func(s *Spec) { s.KnownAfterHosts, s.MaxTerms = 2, MaxPrevalenceTerms+1 },
	} {
		s := base
		mut(&s)
		_, err := New(s)
		assert.Error(t, err)
	}
	tr, err := New(base)
	require.NoError(t, err)
	assert.False(t, tr.HasPrevalence(), "known after one host and no rare signal: no host sets")
	s := base
	s.RareHosts = 3
	tr, _ = New(s)
	assert.False(t, tr.HasPrevalence(), "rare hosts without a rare signal do nothing")
	s.Scope, s.KnownAfterHosts, s.RareSignal = ScopeHost, 3, "r"
	tr, _ = New(s)
	assert.False(t, tr.HasPrevalence(), "host scope has no prevalence")
}
