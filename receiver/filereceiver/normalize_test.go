package filereceiver

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/normalize"
)

const captures = "../../internal/normalize/testdata/"

// attr reads a dotted path of nested maps from a record.
func attr(rec plog.LogRecord, path ...string) pcommon.Value {
	m := rec.Attributes()
	for i, k := range path {
		v, ok := m.Get(k)
		if !ok {
			return pcommon.NewValueEmpty()
		}
		if i == len(path)-1 {
			return v
		}
		if v.Type() != pcommon.ValueTypeMap {
			return pcommon.NewValueEmpty()
		}
		m = v.Map()
	}
	return pcommon.NewValueEmpty()
}

// The receiver configured with format: tetragon turns Tetragon's export
// into the ECS events cairn_host makes: the nc lifecycle of the report.
func TestReceiverNormalizesTetragon(t *testing.T) {
	e := newEnv(t, false)
	var file bytes.Buffer
	for _, f := range []string{"nc_process_exec.json", "nc_process_connect.json", "nc_process_close.json", "nc_process_exit.json"} {
		b, err := os.ReadFile(filepath.Join(captures, "tetragon/security-observability-with-ebpf/00_process_lifecycle", f))
		require.NoError(t, err)
		require.NoError(t, json.Compact(&file, b))
		file.WriteByte('\n')
	}
	appendFile(t, e.path("tetragon.json"), file.String())
	cfg := e.config("*.json")
	cfg.Format = normalize.FormatTetragon
	require.NoError(t, cfg.Validate())
	c := &recorder{}
	e.start(cfg, c)
	require.Eventually(t, func() bool { return c.count() == 4 }, waitFor, tick)
	recs := c.records()
	actions := []string{}
	for _, rec := range recs {
		actions = append(actions, attr(rec, "event", "action").Str())
		assert.Equal(t, "tetragon", attr(rec, "event", "module").Str())
		assert.Equal(t, "/usr/bin/nc", attr(rec, "process", "executable").Str())
		assert.Equal(t, "bWluaWt1YmU6MzM0OTc2NzgxOTUzNTozODMxNA==", attr(rec, "process", "entity_id").Str())
		assert.NotZero(t, rec.Timestamp())
		assert.Len(t, attr(rec, "event", "id").Str(), 32, "the content id")
	}
	assert.Equal(t, []string{"exec", "connection-opened", "connection-closed", "end"}, actions)
	assert.Equal(t, "64.225.45.153", attr(recs[1], "destination", "ip").Str())
	assert.Equal(t, int64(0), e.sum("otelcol_receiver_cairn_file_malformed_lines", map[string]string{"reason": "invalid_value"}))
}

// format: zeek reads a TSV log: the header gives no records.
func TestReceiverNormalizesZeekTSV(t *testing.T) {
	e := newEnv(t, false)
	b, err := os.ReadFile(filepath.Join(captures, "zeek/dns.log"))
	require.NoError(t, err)
	appendFile(t, e.path("dns.log"), string(b))
	cfg := e.config("*.log")
	cfg.Format = normalize.FormatZeek
	c := &recorder{}
	e.start(cfg, c)
	require.Eventually(t, func() bool { return c.count() == 4 }, waitFor, tick)
	recs := c.records()
	assert.Equal(t, "virgo.sas.upenn.edu", attr(recs[0], "dns", "question", "name").Str())
	assert.Equal(t, "dns-query", attr(recs[3], "event", "action").Str())
	for _, rec := range recs {
		assert.Equal(t, "35.184.172.191", attr(rec, "host", "name").Str())
		assert.Equal(t, "128.175.13.16", attr(rec, "destination", "ip").Str())
	}
}
