package feed

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// parsed is the outcome of one parse.
type parsed struct {
	format string
	inds   []indicator.Indicator
	st     Stats
	err    error
}

// find returns the indicators with value v.
func (p parsed) find(v string) []indicator.Indicator {
	var out []indicator.Indicator
	for _, ind := range p.inds {
		if ind.Value == v {
			out = append(out, ind)
		}
	}
	return out
}

// one returns the single indicator with value v.
func (p parsed) one(t *testing.T, v string) indicator.Indicator {
	t.Helper()
	got := p.find(v)
	require.Lenf(t, got, 1, "indicators with value %q among %v", v, p.values())
	return got[0]
}

func (p parsed) values() []string {
	out := make([]string, len(p.inds))
	for i, ind := range p.inds {
		out[i] = ind.Type.String() + ":" + ind.Value
	}
	return out
}

func (p parsed) problemLines() []int {
	var out []int
	for _, pr := range p.st.Problems {
		out = append(out, pr.Line)
	}
	return out
}

func (p parsed) problemText() string {
	var b strings.Builder
	for _, pr := range p.st.Problems {
		b.WriteString(pr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func collect(t *testing.T) (*[]indicator.Indicator, func(indicator.Indicator) error) {
	var inds []indicator.Indicator
	return &inds, func(ind indicator.Indicator) error {
		if err := checkIndicator(ind); err != "" {
			t.Errorf("bad indicator %+v: %s", ind, err)
		}
		inds = append(inds, ind)
		return nil
	}
}

func parseFile(t *testing.T, path string) parsed {
	t.Helper()
	inds, emit := collect(t)
	f, st, err := ParseFile(path, emit)
	p := parsed{inds: *inds, st: st, err: err}
	if f != nil {
		p.format = f.Name()
	}
	checkStats(t, p)
	return p
}

func parseWith(t *testing.T, f Format, data string) parsed {
	t.Helper()
	inds, emit := collect(t)
	st, err := f.Parse(strings.NewReader(data), "", emit)
	p := parsed{format: f.Name(), inds: *inds, st: st, err: err}
	checkStats(t, p)
	return p
}

func checkStats(t *testing.T, p parsed) {
	t.Helper()
	require.Equal(t, len(p.inds), p.st.Indicators, "Stats.Indicators counts the emitted indicators")
	require.LessOrEqual(t, len(p.st.Problems), MaxProblems)
	require.LessOrEqual(t, len(p.st.Problems), p.st.Skipped, "every problem is a skipped entry")
	if p.st.Skipped <= MaxProblems {
		require.Len(t, p.st.Problems, p.st.Skipped, "every skipped entry has a problem while there is room")
	}
}

// checkIndicator returns what is wrong with an emitted indicator, "" if
// nothing: every value must be in the canonical form of indicator.Normalize
// and every field in range.
func checkIndicator(ind indicator.Indicator) string {
	switch ind.Type {
	case indicator.SHA256, indicator.SHA1, indicator.MD5, indicator.IP, indicator.Domain:
	default:
		return "unknown type"
	}
	norm, err := indicator.Normalize(ind.Type, ind.Value)
	if err != nil {
		return "value does not normalise: " + err.Error()
	}
	if norm != ind.Value {
		return "value is not normalised: " + norm
	}
	switch ind.Verdict {
	case indicator.Benign, indicator.Suspicious, indicator.Malicious:
	default:
		return "no verdict"
	}
	if ind.Port < 0 || ind.Port > 65535 || (ind.Port != 0 && ind.Type != indicator.IP) {
		return "bad port"
	}
	if ind.Confidence < -1 || ind.Confidence > 100 {
		return "bad confidence"
	}
	if strings.TrimSpace(ind.Provider) == "" {
		return "no provider"
	}
	if !ind.ValidFrom.IsZero() && !ind.ValidUntil.IsZero() && !ind.ValidUntil.After(ind.ValidFrom) {
		return "empty validity window"
	}
	for _, tm := range []time.Time{ind.FirstSeen, ind.ValidFrom, ind.ValidUntil} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			return "time not in UTC"
		}
	}
	return ""
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join("testdata", name)
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(fixture(t, name))
	require.NoError(t, err)
	return b
}

// writeTemp writes data to a file called name in a temporary directory.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

func withBOM(b []byte) []byte {
	return append([]byte{0xEF, 0xBB, 0xBF}, b...)
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}
