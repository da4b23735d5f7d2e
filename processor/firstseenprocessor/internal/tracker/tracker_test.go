package tracker

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/condition"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/netclass"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	tr  *Tracker
	env *Env
	v   *event.View
}

func newHarness(t *testing.T, spec Spec) *harness {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test"
	}
	if spec.History == 0 {
		spec.History = 30 * 24 * time.Hour
	}
	if spec.MaxTerms == 0 {
		spec.MaxTerms = 1000
	}
	if spec.MaxScopes == 0 {
		spec.MaxScopes = 1000
	}
	tr, err := New(spec)
	require.NoError(t, err)
	c, err := netclass.New(nil, nil)
	require.NoError(t, err)
	return &harness{t: t, tr: tr, env: &Env{Classifier: c, MaxValueBytes: 4096}, v: event.NewView()}
}

// see feeds one event at t0+at and returns the result.
func (h *harness) see(at time.Duration, attrs map[string]any) Result {
	h.t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(h.t, rec.Attributes().FromRaw(attrs))
	h.v.Reset(rl.Resource(), rec)
	h.env.Event++ // as the processor does for every event
	return h.tr.Observe(h.v, EventSeconds(t0.Add(at)), h.env)
}

func exe(host, path string) map[string]any {
	return map[string]any{"host.name": host, "process.executable": path}
}

func TestHostScope(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost})
	assert.Equal(t, NewTerm, h.see(0, exe("a", "/bin/zsh")))
	assert.Equal(t, Seen, h.see(time.Minute, exe("a", "/bin/zsh")))
	assert.Equal(t, NewTerm, h.see(2*time.Minute, exe("b", "/bin/zsh")), "new on another host")
	assert.Equal(t, Malformed, h.see(3*time.Minute, map[string]any{"process.executable": "/bin/zsh"}))
	assert.Equal(t, "missing_host", h.tr.LastReason())
}

func TestEnvironmentScope(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeEnvironment})
	assert.Equal(t, NewTerm, h.see(0, exe("a", "/bin/zsh")))
	assert.Equal(t, Seen, h.see(time.Minute, exe("b", "/bin/zsh")), "known in the environment")

	h = newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeEnvironment, EnvironmentField: "deployment.environment.name"})
	prod := map[string]any{"process.executable": "/bin/zsh", "deployment.environment.name": "prod"}
	staging := map[string]any{"process.executable": "/bin/zsh", "deployment.environment.name": "staging"}
	assert.Equal(t, NewTerm, h.see(0, prod))
	assert.Equal(t, NewTerm, h.see(time.Minute, staging), "environments are separate")
	assert.Equal(t, Seen, h.see(2*time.Minute, prod))
	assert.Equal(t, NewTerm, h.see(3*time.Minute, map[string]any{"process.executable": "/bin/zsh"}), "no value: the default environment")
}

func TestAlternativesAndMultipleFields(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"process.hash.sha256", "process.executable"}}, Scope: ScopeHost})
	withHash := map[string]any{"host.name": "a", "process.executable": "/x", "process.hash.sha256": strings.Repeat("AB", 32)}
	assert.Equal(t, NewTerm, h.see(0, withHash))
	lower := map[string]any{"host.name": "a", "process.executable": "/y", "process.hash.sha256": strings.Repeat("ab", 32)}
	assert.Equal(t, Seen, h.see(time.Second, lower), "hash wins over path and is case-insensitive")
	assert.Equal(t, NewTerm, h.see(2*time.Second, exe("a", "/x")), "falls back to the path")
	assert.Equal(t, NotApplicable, h.see(3*time.Second, map[string]any{"host.name": "a"}))

	h = newHarness(t, Spec{Fields: [][]string{{"process.executable"}, {"destination.ip"}}, Scope: ScopeEnvironment, OnlyExternal: true})
	conn := func(p, ip string) map[string]any {
		return map[string]any{"process.executable": p, "destination.ip": ip}
	}
	assert.Equal(t, NewTerm, h.see(0, conn("/usr/bin/curl", "45.77.141.38")))
	assert.Equal(t, NewTerm, h.see(time.Second, conn("/tmp/gs-netcat", "45.77.141.38")), "known IP, new binary for it")
	assert.Equal(t, Seen, h.see(2*time.Second, conn("/usr/bin/curl", "45.77.141.38")))
	assert.Equal(t, Ignored, h.see(3*time.Second, conn("/usr/bin/curl", "10.0.0.5")))
	assert.Equal(t, NotApplicable, h.see(4*time.Second, map[string]any{"destination.ip": "45.77.141.38"}))
}

func TestHistory(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, History: 24 * time.Hour})
	assert.Equal(t, NewTerm, h.see(0, exe("a", "/bin/x")))
	assert.Equal(t, Seen, h.see(24*time.Hour, exe("a", "/bin/x")), "exactly the history: still known")
	assert.Equal(t, NewTerm, h.see(48*time.Hour+time.Second, exe("a", "/bin/x")), "last seen more than 24h ago: new again")
	assert.Equal(t, Seen, h.see(48*time.Hour+2*time.Second, exe("a", "/bin/x")))
}

func TestLearning(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, Learning: 24 * time.Hour})
	assert.Equal(t, NewTermLearning, h.see(0, exe("a", "/bin/x")), "first event of the scope")
	assert.Equal(t, NewTermLearning, h.see(23*time.Hour, exe("a", "/bin/y")))
	assert.Equal(t, Seen, h.see(25*time.Hour, exe("a", "/bin/y")), "learned terms are known")
	assert.Equal(t, NewTerm, h.see(25*time.Hour, exe("a", "/bin/z")), "after learning, new terms are flagged")
	assert.Equal(t, NewTermLearning, h.see(25*time.Hour, exe("b", "/bin/z")), "a new host learns on its own clock")
	assert.Equal(t, NewTerm, h.see(50*time.Hour, exe("b", "/bin/w")))

	// An event older than the scope's first one moves the start back.
	h = newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, Learning: time.Hour})
	assert.Equal(t, NewTermLearning, h.see(10*time.Hour, exe("a", "/1")))
	assert.Equal(t, NewTermLearning, h.see(0, exe("a", "/2")))
	assert.Equal(t, NewTerm, h.see(2*time.Hour, exe("a", "/3")), "learning ran from the earliest event")

	h = newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, Learning: 0})
	assert.Equal(t, NewTerm, h.see(0, exe("a", "/bin/x")), "learning 0 flags from the first event")
}

func TestOutOfOrder(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, History: time.Hour})
	assert.Equal(t, NewTerm, h.see(10*time.Hour, exe("a", "/bin/x")))
	assert.Equal(t, Seen, h.see(0, exe("a", "/bin/x")), "a late event does not make a term new")
	assert.Equal(t, Seen, h.see(10*time.Hour+30*time.Minute, exe("a", "/bin/x")), "and does not move last-seen back")
}

func TestWhen(t *testing.T) {
	when, err := condition.FromMap(map[string][]string{"event.category": {"process"}, "event.type": {"start"}})
	require.NoError(t, err)
	h := newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, When: when})
	start := exe("a", "/bin/x")
	start["event.category"] = []any{"process"}
	start["event.type"] = []any{"start"}
	end := exe("a", "/bin/y")
	end["event.category"] = []any{"process"}
	end["event.type"] = []any{"end"}
	assert.Equal(t, NotApplicable, h.see(0, end))
	assert.Equal(t, NewTerm, h.see(0, start))
}

func TestExclude(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"dns.question.name"}}, Scope: ScopeEnvironment,
		Exclude: []string{"*.Corp.Example", "update.example.org"}})
	q := func(n string) map[string]any { return map[string]any{"dns.question.name": n} }
	assert.Equal(t, Excluded, h.see(0, q("build.corp.example")))
	assert.Equal(t, Excluded, h.see(0, q("UPDATE.example.org.")))
	assert.Equal(t, NewTerm, h.see(0, q("corp.example")))
	assert.Equal(t, NewTerm, h.see(0, q("l.gs.thc.org")))

	h = newHarness(t, Spec{Fields: [][]string{{"destination.ip"}}, Scope: ScopeEnvironment, Exclude: []string{"45.77.0.0/16", "8.8.8.8"}})
	ip := func(a string) map[string]any { return map[string]any{"destination.ip": a} }
	assert.Equal(t, Excluded, h.see(0, ip("45.77.141.38")))
	assert.Equal(t, Excluded, h.see(0, ip("8.8.8.8")))
	assert.Equal(t, NewTerm, h.see(0, ip("8.8.4.4")))

	h = newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, Exclude: []string{"/opt/*"}})
	assert.Equal(t, Excluded, h.see(0, exe("a", "/opt/app/bin/run")))
	assert.Equal(t, NewTerm, h.see(0, exe("a", "/usr/opt/x")))

	_, err := New(Spec{Name: "x", Fields: [][]string{{"a"}}, History: time.Hour, MaxTerms: 1, MaxScopes: 1, Exclude: []string{" "}})
	assert.Error(t, err)
}

func TestDomainNormalisation(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"dns.question.name", "destination.domain"}}, Scope: ScopeEnvironment})
	assert.Equal(t, NewTerm, h.see(0, map[string]any{"dns.question.name": "L.GS.THC.ORG."}))
	assert.Equal(t, Seen, h.see(time.Second, map[string]any{"destination.domain": "l.gs.thc.org"}))
	assert.Equal(t, Malformed, h.see(time.Second, map[string]any{"dns.question.name": "bad name with spaces"}))
	assert.Equal(t, "not_domain", h.tr.LastReason())
	assert.Equal(t, Malformed, h.see(time.Second, map[string]any{"dns.question.name": "."}))
	assert.Equal(t, Malformed, h.see(time.Second, map[string]any{"dns.question.name": strings.Repeat("a", 300)}))
}

func TestIPs(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"destination.ip"}}, Scope: ScopeEnvironment, OnlyExternal: true})
	ip := func(a any) map[string]any { return map[string]any{"destination.ip": a} }
	assert.Equal(t, NewTerm, h.see(0, ip("1.2.3.4")))
	assert.Equal(t, Seen, h.see(0, ip("::ffff:1.2.3.4")), "mapped form is the same address")
	for _, internal := range []string{"10.0.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.1.1", "224.0.0.1", "192.0.2.1", "fe80::1", "fd00::1"} {
		assert.Equal(t, Ignored, h.see(0, ip(internal)), internal)
	}
	assert.Equal(t, Malformed, h.see(0, ip("not-an-ip")))
	assert.Equal(t, "not_ip", h.tr.LastReason())
	assert.Equal(t, Malformed, h.see(0, ip(int64(7))))

	// Declared networks.
	c, err := netclass.New([]string{"1.2.0.0/16"}, []string{"10.99.0.0/16"})
	require.NoError(t, err)
	h.env.Classifier = c
	assert.Equal(t, Ignored, h.see(0, ip("1.2.9.9")))
	assert.Equal(t, NewTerm, h.see(0, ip("10.99.0.7")))

	// Without only_external every address counts.
	h = newHarness(t, Spec{Fields: [][]string{{"source.ip"}}, Scope: ScopeEnvironment})
	assert.Equal(t, NewTerm, h.see(0, map[string]any{"source.ip": "10.0.0.1"}))
}

func TestMalformedValues(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"process.hash.sha256"}}, Scope: ScopeEnvironment})
	assert.Equal(t, Malformed, h.see(0, map[string]any{"process.hash.sha256": "zz" + strings.Repeat("0", 62)}))
	assert.Equal(t, "not_hash", h.tr.LastReason())
	assert.Equal(t, Malformed, h.see(0, map[string]any{"process.hash.sha256": "abc"}))

	h = newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeEnvironment})
	h.env.MaxValueBytes = 16
	assert.Equal(t, Malformed, h.see(0, map[string]any{"process.executable": strings.Repeat("x", 17)}))
	assert.Equal(t, "too_long", h.tr.LastReason())
	assert.Equal(t, Malformed, h.see(0, map[string]any{"process.executable": []any{"a"}}))
	assert.Equal(t, "not_scalar", h.tr.LastReason())
	assert.Equal(t, NewTerm, h.see(0, map[string]any{"process.executable": int64(5)}), "numbers are text terms")
}

func TestEvictionKeepsRecentTerms(t *testing.T) {
	h := newHarness(t, Spec{Fields: [][]string{{"dns.question.name"}}, Scope: ScopeEnvironment, MaxTerms: 3})
	q := func(n string) map[string]any { return map[string]any{"dns.question.name": n} }
	for i, n := range []string{"a.com", "b.com", "c.com"} {
		assert.Equal(t, NewTerm, h.see(time.Duration(i)*time.Second, q(n)))
	}
	assert.Equal(t, Seen, h.see(4*time.Second, q("a.com")), "refreshes a.com")
	assert.Equal(t, NewTerm, h.see(5*time.Second, q("d.com")), "evicts b.com, the least recently seen")
	assert.Equal(t, 3, h.tr.Terms.Len())
	assert.Equal(t, uint64(1), h.tr.Terms.Evictions())
	assert.Equal(t, Seen, h.see(6*time.Second, q("a.com")))
	assert.Equal(t, Seen, h.see(6*time.Second, q("c.com")))
	assert.Equal(t, NewTerm, h.see(7*time.Second, q("b.com")), "an evicted term is new again")
}

func TestNewValidation(t *testing.T) {
	base := Spec{Name: "x", Fields: [][]string{{"a"}}, History: time.Hour, MaxTerms: 1, MaxScopes: 1}
	bad := []func(s *Spec){
		func(s *Spec) { s.Name = "" },
		func(s *Spec) { s.Fields = nil },
		func(s *Spec) { s.Fields = [][]string{{"a"}, {"b"}, {"c"}, {"d"}} },
		func(s *Spec) { s.Fields = [][]string{{}} },
		func(s *Spec) { s.Fields = [][]string{{""}} },
		func(s *Spec) { s.MaxTerms = 0 },
		func(s *Spec) { s.History = 0 },
		func(s *Spec) { s.Learning = -1 },
	}
	for i, mut := range bad {
		s := base
		mut(&s)
		_, err := New(s)
		assert.Error(t, err, "case %d", i)
	}
	tr, err := New(base)
	require.NoError(t, err)
	assert.Equal(t, "cairn.first_seen.x", tr.FlagKey)
	other := base
	other.Scope = ScopeEnvironment
	tr2, _ := New(other)
	assert.NotEqual(t, tr.Definition(), tr2.Definition())
	same, _ := New(base)
	assert.Equal(t, tr.Definition(), same.Definition())
}

func TestSharedWhenIsEvaluatedOncePerEvent(t *testing.T) {
	calls := 0
	cond := countingCond{n: &calls}
	m := NewMemo(cond)
	a := newHarness(t, Spec{Fields: [][]string{{"process.executable"}}, Scope: ScopeHost, When: cond})
	b, err := New(Spec{Name: "b", Fields: [][]string{{"process.executable"}}, Scope: ScopeEnvironment, History: time.Hour, MaxTerms: 10, MaxScopes: 10, When: cond})
	require.NoError(t, err)
	a.tr.ShareWhen(m)
	b.ShareWhen(m)
	a.see(0, exe("h", "/bin/x"))
	b.Observe(a.v, EventSeconds(t0), a.env)
	assert.Equal(t, 1, calls, "two trackers, one event, one evaluation")
	a.see(time.Second, exe("h", "/bin/x"))
	assert.Equal(t, 2, calls, "a new event evaluates again")
}

type countingCond struct{ n *int }

func (c countingCond) Match(*event.View) bool { *c.n++; return true }

func TestEventSeconds(t *testing.T) {
	assert.Equal(t, uint32(1), EventSeconds(time.Unix(-5, 0)))
	assert.Equal(t, uint32(1<<32-1), EventSeconds(time.Unix(1<<33, 0)))
	assert.Equal(t, uint32(t0.Unix()), EventSeconds(t0))
}

func TestKindFor(t *testing.T) {
	assert.Equal(t, "ip", kindFor("destination.ip").Name())
	assert.Equal(t, "ip", kindFor("dns.resolved_ip").Name())
	assert.Equal(t, "domain", kindFor("destination.domain").Name())
	assert.Equal(t, "domain", kindFor("dns.question.name").Name())
	assert.Equal(t, "hash", kindFor("process.hash.sha256").Name())
	assert.Equal(t, "hash", kindFor("file.hash.md5").Name())
	assert.Equal(t, "text", kindFor("process.executable").Name())
}
