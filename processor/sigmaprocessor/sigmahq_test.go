package sigmaprocessor

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/internal/sigma"
	"github.com/cairnsec/cairn/internal/testkit"
)

// sigmaHQDir holds SigmaHQ's Linux rules as published (testdata/sigmahq/
// SOURCE.md), every file byte for byte.
var sigmaHQDir = filepath.Join("testdata", "sigmahq")

// TestEverySigmaHQLinuxRuleLoadsOrIsReported: each of SigmaHQ's Linux rule
// files either loads or is reported unsupported with a reason at load;
// none is an error and none is dropped without a word. The counts are
// those of the README.
func TestEverySigmaHQLinuxRuleLoadsOrIsReported(t *testing.T) {
	var files []string
	require.NoError(t, filepath.WalkDir(filepath.Join(sigmaHQDir, "rules"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yml") {
			files = append(files, p)
		}
		return err
	}))
	sort.Strings(files)
	require.Len(t, files, 210)

	loaded := map[sigma.Class]int{}
	reasons := map[sigma.Reason]int{}
	var all []*sigma.Rule
	auditdLoaded := 0
	for _, p := range files {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		rules, unsup, err := sigma.ParseFile(p, data)
		require.NoError(t, err, "%s is valid Sigma", p)
		require.Equal(t, 1, len(rules)+len(unsup), "%s: one rule, loaded or reported", p)
		for _, u := range unsup {
			assert.NotEmpty(t, u.Reason, p)
			assert.NotEmpty(t, u.Detail, p)
			assert.NotEmpty(t, u.ID, p)
			reasons[u.Reason]++
		}
		for _, r := range rules {
			loaded[r.Class]++
			if r.Logsource.Service == "auditd" {
				auditdLoaded++
			}
		}
		all = append(all, rules...)
	}
	set, skipped, err := sigma.NewRuleSet(all, sigma.Options{})
	require.NoError(t, err, "rule ids are unique")
	require.Empty(t, skipped)
	total := 0
	for _, n := range loaded {
		total += n
	}
	t.Logf("SigmaHQ Linux rules: %d files; loaded %d (process_creation %d, of which %d auditd EXECVE rules; network_connection %d; file_event %d)",
		len(files), total, loaded[sigma.ClassProcessCreation], auditdLoaded, loaded[sigma.ClassNetworkConnection], loaded[sigma.ClassFileEvent])
	t.Logf("unsupported: %s", fmtReasons(reasons))
	assert.Equal(t, 155, set.Len())
	assert.Equal(t, map[sigma.Class]int{sigma.ClassProcessCreation: 142, sigma.ClassNetworkConnection: 5, sigma.ClassFileEvent: 8}, loaded)
	assert.Equal(t, 22, auditdLoaded)
	assert.Equal(t, map[sigma.Reason]int{sigma.ReasonLogsource: 22, sigma.ReasonAuditd: 25, sigma.ReasonKeywords: 6, sigma.ReasonField: 2}, reasons)
}

// TestSigmaHQAsRulesDir: the same tree as a rules_dir, through the
// processor: every rule is loaded or reported, and the metrics say so.
func TestSigmaHQAsRulesDir(t *testing.T) {
	cfg := defaultConfig()
	cfg.RulesDir = sigmaHQDir
	cfg.DefaultRules = false
	cfg.Statuses = nil
	cfg.MinLevel = "informational"
	logger, logs := observed()
	f := newFixture(t, cfg, logger)
	assert.Equal(t, 155, f.p.loader.rules().set.Len())
	assert.Equal(t, int64(155), sumAll(t, f, "otelcol_processor_sigma_rules_loaded"))
	assert.Equal(t, int64(55), sumAll(t, f, "otelcol_processor_sigma_rules_unsupported"))
	assert.Len(t, logs.FilterMessage("Sigma rule not loaded: unsupported").All(), 55)

	// With the defaults (stable and test, low and above) and the curated
	// set beside: SigmaHQ's copies of the curated rules replace them,
	// except the three experimental ones, whose copies the status filter
	// leaves out, so the curated rule stays, and Cairn's own rule, which
	// SigmaHQ's tree does not have.
	cfg = defaultConfig()
	cfg.RulesDir = sigmaHQDir
	f = newFixture(t, cfg, nil)
	ls := f.p.loader.rules()
	t.Logf("SigmaHQ tree with the default options: %d rules evaluated, skipped %v", ls.set.Len(), ls.skipped)
	assert.Equal(t, map[string]int{skipOverridden: 39, sigma.SkipStatus: 16, sigma.SkipLevel: 4}, ls.skipped)
	assert.Equal(t, 139, ls.set.Len())
}

func sumAll(t *testing.T, f *fixture, name string) int64 {
	return testkit.Sum(t, f.tel, name, nil)
}

func fmtReasons(m map[sigma.Reason]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[sigma.Reason(k)]))
	}
	return strings.Join(parts, ", ")
}
