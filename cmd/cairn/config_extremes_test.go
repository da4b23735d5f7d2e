package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/cairnsec/cairn/exporter/cairnsearchexporter"
	"github.com/cairnsec/cairn/processor/correlateprocessor"
	"github.com/cairnsec/cairn/processor/firstseenprocessor"
	"github.com/cairnsec/cairn/processor/intelprocessor"
	"github.com/cairnsec/cairn/processor/sigmaprocessor"
	"github.com/cairnsec/cairn/receiver/filereceiver"
	"github.com/cairnsec/cairn/receiver/hostreceiver"
)

// extremeInts, extremeDurations and extremeFloats are what the sweep sets
// each option of their kind to.
var (
	extremeInts      = []any{-1, math.MinInt32, math.MaxInt32, int64(math.MaxInt32) + 1, int64(math.MaxUint32) + 1, int64(1) << 40, int64(math.MaxInt64), int64(math.MinInt64)}
	extremeDurations = []any{"-1ns", "-2562047h", "1ns", "100000h", "2562047h"}
	extremeFloats    = []any{math.NaN(), math.Inf(1), math.Inf(-1), 1e308, -1e308}
)

// sweepComponent is one component's factory with the settings it needs to
// validate at all (base) and, when it can run in a test, a way to create
// and start it.
type sweepComponent struct {
	name    string
	factory interface {
		Type() component.Type
		CreateDefaultConfig() component.Config
	}
	base map[string]any
	// lists are options inside lists and maps (trackers, rules, ...), which
	// a default config does not show: each entry is set with every
	// extreme of its kind in place of the "X".
	lists []map[string]any
	// run creates and starts the component (nil: validate only).
	run func(t *testing.T, cfg component.Config) (component.Component, error)
}

// TestConfigExtremes feeds every numeric and duration option of every Cairn
// component, and the sizes inside their lists, with extreme values (huge,
// negative, NaN, infinite) through the factory's CreateDefaultConfig, a
// confmap unmarshal and Validate, as `otelcol-cairn validate` and `cairn
// replay` do: none may panic (max_terms: 2000000000 did, in firstseen's
// Validate). Every configuration that validates is then created and started
// where a test can (processors, the exporter in offline and spool mode, the
// file receiver): no panic, and no allocation sized from the configuration
// (at most 256 MiB for a whole create and start).
func TestConfigExtremes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several hundred components")
	}
	dir := t.TempDir()
	ctx := context.Background()
	proc := func(f processor.Factory) func(*testing.T, component.Config) (component.Component, error) {
		return func(_ *testing.T, cfg component.Config) (component.Component, error) {
			return f.CreateLogs(ctx, processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
		}
	}
	exp := func(f exporter.Factory) func(*testing.T, component.Config) (component.Component, error) {
		return func(_ *testing.T, cfg component.Config) (component.Component, error) {
			return f.CreateLogs(ctx, exportertest.NewNopSettings(f.Type()), cfg)
		}
	}
	rcv := func(f receiver.Factory) func(*testing.T, component.Config) (component.Component, error) {
		return func(_ *testing.T, cfg component.Config) (component.Component, error) {
			return f.CreateLogs(ctx, receivertest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
		}
	}
	noCreds := map[string]any{"password": "", "api_key": "", "bearer_token": ""}
	merge := func(ms ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	fs, co, in, si := firstseenprocessor.NewFactory(), correlateprocessor.NewFactory(), intelprocessor.NewFactory(), sigmaprocessor.NewFactory()
	se, fr, hr := cairnsearchexporter.NewFactory(), filereceiver.NewFactory(), hostreceiver.NewFactory()
	components := []sweepComponent{
		{name: "firstseen", factory: fs, run: proc(fs), lists: []map[string]any{
			{"trackers": []any{map[string]any{"name": "new_binary_on_host", "max_terms": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_domain", "max_terms": "X"}}},
			{"trackers": []any{map[string]any{"name": "x", "fields": []any{"user.name"}, "scope": "host", "max_terms": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_binary_on_host", "max_scopes": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_domain", "max_scopes": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_domain", "known_after_hosts": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_domain", "rare_hosts": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_domain", "rare_share": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_domain", "history": "X"}}},
			{"trackers": []any{map[string]any{"name": "new_domain", "learning": "X"}}},
		}},
		{name: "correlate", factory: co, run: proc(co), lists: []map[string]any{
			{"rules": []any{map[string]any{"id": correlateprocessor.RuleCompromisedHost, "window": "X"}}},
			{"rules": []any{map[string]any{"id": correlateprocessor.RuleCompromisedHost, "suppress_for": "X"}}},
			{"rules": []any{map[string]any{"id": correlateprocessor.RuleCompromisedHost, "risk_score": "X"}}},
			{"rules": []any{map[string]any{"id": correlateprocessor.RuleCompromisedHost, "condition": map[string]any{"min_score": "X"}}}},
			{"rules": []any{map[string]any{"id": correlateprocessor.RuleCompromisedHost, "condition": map[string]any{"min_distinct_signals": "X"}}}},
			{"rules": []any{map[string]any{"id": correlateprocessor.RuleCompromisedHost, "condition": map[string]any{"min_tactics": "X"}}}},
			{"signals": map[string]any{"new_domain": map[string]any{"weight": "X"}}},
			{"signals": map[string]any{"new_domain": map[string]any{"cap": "X"}}},
			{"signals": map[string]any{"new_domain": map[string]any{"ratio": "X"}}},
			{"modifiers": []any{map[string]any{"name": "m", "when": map[string]any{"user.id": []any{"0"}}, "multiplier": "X"}}},
		}},
		{name: "intel", factory: in, run: proc(in), base: map[string]any{"feeds": []any{filepath.Join(dir, "absent.csv")}}},
		{name: "intel online", factory: in, base: map[string]any{"online": map[string]any{"enabled": true, "api_key_file": filepath.Join(dir, "key")}}},
		{name: "sigma", factory: si, run: proc(si)},
		{name: "cairn_search offline", factory: se, run: exp(se), base: merge(noCreds, map[string]any{"offline": map[string]any{"directory": filepath.Join(dir, "offline")}})},
		{name: "cairn_search spool", factory: se, run: exp(se), base: merge(noCreds, map[string]any{"endpoint": "http://127.0.0.1:1", "bootstrap": false,
			"spool": map[string]any{"directory": filepath.Join(dir, "spool")}})},
		{name: "cairn_search queue", factory: se, base: merge(noCreds, map[string]any{"endpoint": "http://127.0.0.1:1",
			"sending_queue": map[string]any{"queue_size": 1000, "num_consumers": 2}})},
		{name: "cairn_file", factory: fr, run: rcv(fr), base: map[string]any{"include": []any{filepath.Join(dir, "none", "*.log")}}},
		{name: "cairn_host", factory: hr, base: map[string]any{"audit": map[string]any{"enabled": true}}},
	}

	type trial struct {
		option string
		value  any
		conf   map[string]any
	}
	var validated, started int
	t0 := time.Now()
	for _, c := range components {
		def := confmap.New()
		require.NoError(t, def.Marshal(c.factory.CreateDefaultConfig()), c.name)
		require.NoError(t, def.Merge(confmap.NewFromStringMap(c.base)), c.name)
		baseMap := def.ToStringMap()
		// The base itself must validate, or the sweep would test nothing.
		cfg := c.factory.CreateDefaultConfig()
		require.NoError(t, confmap.NewFromStringMap(baseMap).Unmarshal(cfg), c.name)
		require.NoError(t, confmap.Validate(cfg), c.name)

		var trials []trial
		leaves := map[string]any{}
		flatten("", baseMap, leaves)
		options := make([]string, 0, len(leaves))
		for k := range leaves {
			options = append(options, k)
		}
		sort.Strings(options)
		for _, opt := range options {
			for _, v := range extremesFor(leaves[opt]) {
				m := def.ToStringMap()
				setPath(m, strings.Split(opt, "::"), v)
				trials = append(trials, trial{opt, v, m})
			}
		}
		for _, l := range c.lists {
			for _, v := range append(append(append([]any{}, extremeInts...), extremeFloats...), extremeDurations...) {
				m := def.ToStringMap()
				for k, lv := range substitute(l, v).(map[string]any) {
					m[k] = lv
				}
				trials = append(trials, trial{fmt.Sprint(l), v, m})
			}
		}

		for _, tr := range trials {
			what := fmt.Sprintf("%s: %s = %v", c.name, tr.option, tr.value)
			cfg := c.factory.CreateDefaultConfig()
			var err error
			require.NotPanics(t, func() {
				if err = confmap.NewFromStringMap(tr.conf).Unmarshal(cfg); err == nil {
					err = confmap.Validate(cfg)
				}
			}, what)
			if err != nil || c.run == nil {
				continue
			}
			validated++
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			require.NotPanics(t, func() {
				comp, cerr := c.run(t, cfg)
				if cerr != nil {
					return // refused at creation: an error, not a crash
				}
				if comp.Start(ctx, componenttest.NewNopHost()) == nil {
					started++
				}
				_ = comp.Shutdown(ctx)
			}, what)
			runtime.ReadMemStats(&after)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(256<<20), "%s: bytes allocated by create and start", what)
		}
	}
	t.Logf("%d valid extreme configurations created, %d started, in %s", validated, started, time.Since(t0).Round(time.Millisecond))
}

// extremesFor returns the extreme values of an option's kind, judged by its
// default value; nil for options that are not numbers or durations.
func extremesFor(v any) []any {
	switch x := v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return extremeInts
	case float32, float64:
		return append(append([]any{}, extremeFloats...), extremeInts...)
	case time.Duration:
		return extremeDurations
	case string:
		if _, err := time.ParseDuration(x); err == nil {
			return extremeDurations
		}
	}
	return nil
}

// flatten lists the leaves of a nested map by their "a::b" paths.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "::" + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

// substitute returns a deep copy of v with every "X" replaced by x.
func substitute(v, x any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = substitute(e, x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = substitute(e, x)
		}
		return out
	case string:
		if t == "X" {
			return x
		}
	}
	return v
}
