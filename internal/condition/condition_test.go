package condition

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/event"
)

func viewOf(t *testing.T, attrs map[string]any) *event.View {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, rec.Attributes().FromRaw(attrs))
	v := event.NewView()
	v.Reset(rl.Resource(), rec)
	return v
}

func TestFromMap(t *testing.T) {
	c, err := FromMap(map[string][]string{
		"event.category": {"process"},
		"event.type":     {"start", "info"},
	})
	require.NoError(t, err)
	start := viewOf(t, map[string]any{"event": map[string]any{"category": []any{"process"}, "type": []any{"start"}}})
	info := viewOf(t, map[string]any{"event.category": "process", "event.type": "info"})
	end := viewOf(t, map[string]any{"event.category": []any{"process"}, "event.type": []any{"end"}})
	net := viewOf(t, map[string]any{"event.category": []any{"network"}, "event.type": []any{"start"}})
	none := viewOf(t, map[string]any{})
	assert.True(t, c.Match(start))
	assert.True(t, c.Match(info))
	assert.False(t, c.Match(end))
	assert.False(t, c.Match(net))
	assert.False(t, c.Match(none))

	empty, err := FromMap(nil)
	require.NoError(t, err)
	assert.True(t, empty.Match(none), "no condition matches everything")
}

func TestGlobsAndExists(t *testing.T) {
	c, err := FromMap(map[string][]string{"process.executable": {"/tmp/*", "/dev/shm/*"}, "user.id": nil})
	require.NoError(t, err)
	assert.True(t, c.Match(viewOf(t, map[string]any{"process.executable": "/tmp/.x/gs-netcat", "user.id": "0"})))
	assert.False(t, c.Match(viewOf(t, map[string]any{"process.executable": "/tmp/.x/gs-netcat"})), "user.id must exist")
	assert.False(t, c.Match(viewOf(t, map[string]any{"process.executable": "/usr/bin/ls", "user.id": "0"})))
}

func TestNumbersMatchTheirText(t *testing.T) {
	c, err := OneOf("user.id", []string{"0"})
	require.NoError(t, err)
	assert.True(t, c.Match(viewOf(t, map[string]any{"user.id": int64(0)})))
	assert.False(t, c.Match(viewOf(t, map[string]any{"user.id": int64(1000)})))
}

func TestErrors(t *testing.T) {
	_, err := FromMap(map[string][]string{"": {"x"}})
	assert.Error(t, err)
	_, err = FromMap(map[string][]string{"a": {""}})
	assert.ErrorContains(t, err, `field "a"`)
}
