package feed

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// Each parser is fuzzed on its own, seeded with its fixtures (the committed
// corpus under testdata/fuzz/<target> adds edge cases). Whatever the input,
// nothing may panic, every emitted indicator must be in Normalize's
// canonical form with its fields in range, and Stats must agree with what
// was emitted.
//
// Run each with -fuzzminimizetime=1s (e.g. go test -run XXX -fuzz
// '^FuzzSTIX2$' -fuzztime 30s -fuzzminimizetime 1s): the JSON seeds are a few
// KB, and with the default minute of minimising per new input the STIX and
// MISP fuzzers spend their whole time minimising instead of fuzzing.

func fuzzFormat(f *testing.F, format Format, fixtures ...string) {
	for _, pattern := range fixtures {
		files, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil || len(files) == 0 {
			f.Fatalf("no fixtures match %s", pattern)
		}
		for _, file := range files {
			f.Add(readFixture(f, file[len("testdata/"):]))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if name, err := classify(data); err == nil {
			if _, ok := Lookup(name); !ok {
				t.Fatalf("classify returned unknown format %q", name)
			}
		}
		_ = format.Sniff(data)
		n := 0
		st, _ := format.Parse(bytes.NewReader(data), "fuzz", func(ind indicator.Indicator) error {
			if msg := checkIndicator(ind); msg != "" {
				t.Fatalf("bad indicator %+v: %s", ind, msg)
			}
			n++
			return nil
		})
		if st.Indicators != n {
			t.Fatalf("Stats.Indicators %d, emitted %d", st.Indicators, n)
		}
		if len(st.Problems) > MaxProblems || len(st.Problems) > st.Skipped || st.Skipped < 0 || st.Ignored < 0 {
			t.Fatalf("inconsistent stats %+v", st)
		}
	})
}

func FuzzMalwareBazaarCSV(f *testing.F) {
	fuzzFormat(f, MalwareBazaarCSV{}, "constructed/malwarebazaar_*.csv")
}

func FuzzThreatFoxCSV(f *testing.F) {
	fuzzFormat(f, ThreatFoxCSV{}, "constructed/threatfox_recent.csv")
}

func FuzzThreatFoxJSON(f *testing.F) {
	fuzzFormat(f, ThreatFoxJSON{}, "constructed/threatfox_*.json")
}

func FuzzSTIX2(f *testing.F) {
	fuzzFormat(f, STIX2{}, "constructed/stix_bundle.json", "realdata/stix/indicators-for-C2-with-COA.json")
}

func FuzzMISP(f *testing.F) {
	fuzzFormat(f, MISP{}, "constructed/misp_response.json", "realdata/misp/*.json")
}

func FuzzPlain(f *testing.F) {
	fuzzFormat(f, Plain{}, "constructed/allowlist.csv", "constructed/blocklist.tsv")
}

// FuzzSTIXPattern drives the pattern parser alone, faster than through
// bundles: whatever the pattern, it returns (no stack overflow, no panic)
// and a parsed tree stays within MaxPatternDepth, which is what bounds
// the recursion of sufficient and describe.
func FuzzSTIXPattern(f *testing.F) {
	for _, seed := range []string{
		"[file:hashes.'SHA-256' = 'aa']",
		"([ipv4-addr:value IN ('192.0.2.1', '192.0.2.2/32')] OR [domain-name:value = 'a.example']) FOLLOWEDBY [x:y[*].z NOT LIKE 'q'] WITHIN 5 SECONDS",
		"[a:b = 'x'] REPEATS 2 TIMES START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
		strings.Repeat("(", 70) + "[a:b = 'x']" + strings.Repeat(")", 70),
		"[" + strings.Repeat("(", 70) + "a:b = 'x'" + strings.Repeat(")", 70) + "]",
		"[a:b = 'x'] AND [c:d = 'y']" + strings.Repeat(" WITHIN 1 SECONDS", 70),
		"[file:name = 'x'] OR [" + strings.Repeat("a[", 100) + "0]]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		n, err := parsePattern(pattern)
		if err != nil {
			if n != nil {
				t.Fatal("a tree with an error")
			}
			return
		}
		if n.height < 1 || n.height > MaxPatternDepth {
			t.Fatalf("tree height %d", n.height)
		}
		cmps, unusable := n.sufficient(nil, nil)
		_ = n.describe()
		for _, c := range cmps {
			_ = c.String()
		}
		_ = unusable
	})
}
