package event

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// setFields are the fields of the sets under test: known fields with
// aliases of every kind, and custom names sharing prefixes.
var setFields = []*Field{
	ProcessHashSHA256, ProcessHashSHA1, ProcessHashMD5,
	Lookup("file.hash.sha256"), Lookup("file.hash.md5"), Lookup("process.parent.hash.sha256"),
	DestinationIP, DestinationDomain, DNSQuestionName, SourceIP,
	ProcessExecutable, ProcessName, HostName, UserName, EventCategory,
	Lookup("a"), Lookup("a.b"), Lookup("a.b.c"),
}

// randomShape writes path = val into m in a random shape: flat, nested or
// split at any dot, sometimes with a scalar or an empty value in the way.
func randomShape(r *rand.Rand, m pcommon.Map, path string, val string) {
	for {
		dots := []int{}
		for i := 0; i < len(path); i++ {
			if path[i] == '.' {
				dots = append(dots, i)
			}
		}
		if len(dots) == 0 || r.IntN(3) == 0 {
			switch r.IntN(10) {
			case 0:
				m.PutEmpty(path)
			case 1:
				m.PutInt(path, 7)
			case 2:
				m.PutEmptyMap(path).PutStr("path", val)
			default:
				m.PutStr(path, val)
			}
			return
		}
		d := dots[r.IntN(len(dots))]
		head := path[:d]
		cur, ok := m.Get(head)
		switch {
		case ok && cur.Type() == pcommon.ValueTypeMap:
			m = cur.Map()
		case ok:
			m.PutStr(path, val) // a scalar in the way: flat beside it
			return
		case r.IntN(8) == 0:
			m.PutStr(head, "scalar")
			m.PutStr(path, val)
			return
		default:
			m = m.PutEmptyMap(head)
		}
		path = path[d+1:]
	}
}

var setPaths = []string{
	"process.hash.sha256", "process.hash.sha1", "process.hash.md5", "file.hash.sha256", "file.hash.md5",
	"process.parent.hash.sha256", "destination.ip", "destination.address", "destination.domain",
	"server.address", "network.peer.address", "dns.question.name", "source.ip", "client.address",
	"process.executable", "process.executable.path", "process.name", "process.executable.name",
	"host.name", "host.hostname", "user.name", "process.user.name", "process.owner", "event.category",
	"a", "a.b", "a.b.c", "a.bc", "ab", "processes", "process.hashes", "dns", "p", "",
}

var setValues = []string{"45.77.141.38", "::1", "evil.example", "", "0123abcd", "x"}

func randomMap(r *rand.Rand, m pcommon.Map) {
	for range r.IntN(8) {
		randomShape(r, m, setPaths[r.IntN(len(setPaths))], setValues[r.IntN(len(setValues))])
	}
}

func TestGetAllMatchesGet(t *testing.T) {
	fs := NewFieldSet(setFields...)
	require.False(t, fs.perField)
	vals := make([]pcommon.Value, fs.Len())
	ok := make([]bool, fs.Len())
	get, all := NewView(), NewView()
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20000; n++ {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		randomMap(r, rec.Attributes())
		if r.IntN(3) == 0 {
			randomMap(r, rec.Body().SetEmptyMap())
		}
		if r.IntN(3) == 0 {
			randomMap(r, rl.Resource().Attributes())
		}
		get.Reset(rl.Resource(), rec)
		all.Reset(rl.Resource(), rec)
		all.GetAll(fs, vals, ok)
		for i, f := range setFields {
			want, wantOK := get.Get(f)
			require.Equal(t, wantOK, ok[i], "%s in %v / %v / %v", f.Name, rec.Attributes().AsRaw(), rec.Body().AsRaw(), rl.Resource().Attributes().AsRaw())
			if wantOK {
				// The same value, not an equal one: the same place in the record.
				require.Equal(t, want.AsRaw(), vals[i].AsRaw(), f.Name)
				saved := pcommon.NewValueEmpty()
				want.CopyTo(saved)
				want.SetStr("marker")
				require.Equal(t, "marker", vals[i].Str(), "%s: same value", f.Name)
				saved.CopyTo(want)
			}
		}
	}
}

func TestFieldSetFallsBackToGet(t *testing.T) {
	odd := Lookup("a..b")
	fs := NewFieldSet(odd, HostName)
	require.True(t, fs.perField)
	v := view(t, map[string]any{"a": map[string]any{".b": "x"}, "host": map[string]any{"name": "h"}})
	vals, ok := make([]pcommon.Value, 2), make([]bool, 2)
	v.GetAll(fs, vals, ok)
	want, wantOK := v.Get(odd)
	assert.Equal(t, wantOK, ok[0])
	if wantOK {
		assert.Equal(t, want.AsRaw(), vals[0].AsRaw())
	}
	assert.True(t, ok[1])
	assert.Equal(t, "h", vals[1].Str())

	var many []*Field
	for i := range 70 {
		many = append(many, Lookup("f"+strings.Repeat("x", i)))
	}
	assert.True(t, NewFieldSet(many...).perField)
}

func TestGetAllDoesNotAllocate(t *testing.T) {
	fs := NewFieldSet(setFields...)
	v := view(t, map[string]any{
		"host":        map[string]any{"name": "web-03"},
		"process":     map[string]any{"executable": "/usr/bin/zsh", "hash": map[string]any{"sha256": "ab"}},
		"destination": map[string]any{"ip": "45.77.141.38"},
		"event":       map[string]any{"category": []any{"process"}},
	})
	vals, ok := make([]pcommon.Value, fs.Len()), make([]bool, fs.Len())
	v.GetAll(fs, vals, ok)
	allocs := testing.AllocsPerRun(200, func() { v.GetAll(fs, vals, ok) })
	assert.Zero(t, allocs)
	assert.True(t, ok[0])
	assert.Equal(t, "ab", vals[0].Str())
}
