package normalize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	tetragonDir = "testdata/tetragon"
	sobDir      = "testdata/tetragon/security-observability-with-ebpf"
	zeekDir     = "testdata/zeek"
)

// tetragonFile reads a capture of the report (one pretty-printed object)
// as the one line Tetragon's export writes.
func tetragonFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sobDir, rel))
	require.NoError(t, err)
	var c bytes.Buffer
	require.NoError(t, json.Compact(&c, b))
	return c.Bytes()
}

// tetragonLines returns every Tetragon record of the captures, by name.
func tetragonLines(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(sobDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		rel, _ := filepath.Rel(sobDir, p)
		out[rel] = tetragonFile(t, rel)
		return nil
	})
	require.NoError(t, err)
	for i, l := range fileLines(t, filepath.Join(tetragonDir, "events.json")) {
		out["events.json:"+string(rune('1'+i))] = l
	}
	return out
}

func fileLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	require.NoError(t, sc.Err())
	return out
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// doc is a decoded ECS document.
type doc map[string]any

// event normalises one line that must give an event, and decodes it.
func event(t testing.TB, n *Normalizer, line []byte) doc {
	t.Helper()
	out, o, err := n.Record(line)
	require.NoError(t, err)
	require.Equal(t, Event, o, "%s", line)
	return decode(t, out)
}

func decode(t testing.TB, b []byte) doc {
	t.Helper()
	var d doc
	require.NoError(t, json.Unmarshal(b, &d), "%s", b)
	return d
}

// get returns the value at a dotted path of nested objects, or nil.
func (d doc) get(path string) any {
	var cur any = map[string]any(d)
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func (d doc) str(path string) string {
	s, _ := d.get(path).(string)
	return s
}

func (d doc) num(path string) float64 {
	f, _ := d.get(path).(float64)
	return f
}

func (d doc) strs(path string) []string {
	a, _ := d.get(path).([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func newNormalizer(t testing.TB, format string) *Normalizer {
	t.Helper()
	n, err := New(format)
	require.NoError(t, err)
	return n
}

// countsOf returns the counts as "format/type/kind" → n.
func countsOf(n *Normalizer) map[string]int64 {
	out := map[string]int64{}
	for _, c := range n.Counts() {
		out[c.Format+"/"+c.Type+"/"+c.Kind.String()] = c.N
	}
	return out
}
