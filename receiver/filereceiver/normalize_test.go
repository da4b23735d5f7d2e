package filereceiver

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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

// Two Zeek TSV logs with different #fields layouts, read by one receiver
// in small interleaved reads (each file's header is read before the other
// file's rows): each file's rows are read under its own header, and the
// records are counted per format, type and kind.
func TestReceiverKeepsZeekHeadersPerFile(t *testing.T) {
	e := newEnv(t, false)
	for _, f := range []string{"conn-wiki.log", "dns.log"} {
		b, err := os.ReadFile(filepath.Join(captures, "zeek", f))
		require.NoError(t, err)
		appendFile(t, e.path(f), string(b))
	}
	cfg := e.config("*.log")
	cfg.Format = normalize.FormatZeek
	c := &recorder{}
	e.start(cfg, c, func(r *fileReceiver) { r.readBufSize = 64 })
	const conn, dns = 34, 4
	require.Eventually(t, func() bool { return c.count() == conn+dns }, waitFor, tick)
	byDataset := map[string]int{}
	for _, rec := range c.records() {
		ds := attr(rec, "event", "dataset").Str()
		byDataset[ds]++
		switch ds {
		case "zeek.conn":
			assert.NotEmpty(t, attr(rec, "source", "ip").Str())
			assert.NotEmpty(t, attr(rec, "network", "transport").Str())
		case "zeek.dns":
			assert.NotEmpty(t, attr(rec, "dns", "question", "name").Str())
		}
	}
	assert.Equal(t, map[string]int{"zeek.conn": conn, "zeek.dns": dns}, byDataset)
	assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))

	const m = "otelcol_receiver_cairn_file_normalized_records"
	assert.Equal(t, int64(conn), e.sum(m, map[string]string{"format": "zeek", "type": "conn", "kind": "normalized"}))
	assert.Equal(t, int64(dns), e.sum(m, map[string]string{"format": "zeek", "type": "dns", "kind": "normalized"}))
	assert.Equal(t, int64(conn+dns), e.sum(m, nil), "header lines are no records")
}

// format: auto counts the Tetragon records it normalised and the ECS
// lines it read as they are; format ecs publishes no format counts.
func TestReceiverCountsFormats(t *testing.T) {
	var file bytes.Buffer
	for _, f := range []string{"nc_process_exec.json", "nc_process_exit.json"} {
		b, err := os.ReadFile(filepath.Join(captures, "tetragon/security-observability-with-ebpf/00_process_lifecycle", f))
		require.NoError(t, err)
		require.NoError(t, json.Compact(&file, b))
		file.WriteByte('\n')
	}
	file.WriteString(`{"@timestamp":"2024-01-01T00:00:00Z","event":{"kind":"event"},"host":{"name":"a"}}` + "\n")
	file.WriteString(`{"event":{"kind":"event"},"@timestamp":"2024-01-01T00:00:01Z"}` + "\n")
	const m = "otelcol_receiver_cairn_file_normalized_records"

	e := newEnv(t, false)
	appendFile(t, e.path("mixed.json"), file.String())
	cfg := e.config("*.json")
	cfg.Format = normalize.FormatAuto
	c := &recorder{}
	e.start(cfg, c)
	require.Eventually(t, func() bool { return c.count() == 4 }, waitFor, tick)
	assert.Equal(t, int64(1), e.sum(m, map[string]string{"format": "tetragon", "type": "process_exec", "kind": "normalized"}))
	assert.Equal(t, int64(1), e.sum(m, map[string]string{"format": "tetragon", "type": "process_exit", "kind": "normalized"}))
	assert.Equal(t, int64(2), e.sum(m, map[string]string{"format": "ecs", "type": "", "kind": "native"}))
	assert.Equal(t, int64(4), e.sum(m, nil))

	e = newEnv(t, false)
	appendFile(t, e.path("mixed.json"), file.String())
	cfg = e.config("*.json")
	c = &recorder{}
	e.start(cfg, c)
	require.Eventually(t, func() bool { return c.count() == 4 }, waitFor, tick)
	_, err := e.tel.GetMetric(m)
	assert.Error(t, err, "no format counts with format ecs")
}

// A Zeek TSV log resumed after a restart, past its header: the checkpoint
// carries the header, so the rows written while the receiver was stopped
// are read under it, none refused. A checkpoint of the previous version
// (no header) is still read.
func TestZeekHeaderSurvivesRestart(t *testing.T) {
	e := newEnv(t, true)
	b, err := os.ReadFile(filepath.Join(captures, "zeek/conn-wiki.log"))
	require.NoError(t, err)
	lines := strings.SplitAfter(string(b), "\n")
	const header = 8
	require.True(t, strings.HasPrefix(lines[header-1], "#types"))
	path := e.path("conn.log")
	appendFile(t, path, strings.Join(lines[:header+10], ""))
	cfg := e.config("*.log")
	cfg.Format = normalize.FormatZeek
	cfg.StartAt = StartAtBeginning

	c := &recorder{}
	rn := e.start(cfg, c)
	require.Eventually(t, func() bool { return c.count() == 10 }, waitFor, tick)
	require.NoError(t, rn.stop())

	rows := 0
	for _, l := range lines[header+10:] {
		if l != "" && !strings.HasPrefix(l, "#") {
			rows++
		}
	}
	appendFile(t, path, strings.Join(lines[header+10:], ""))
	c = &recorder{}
	rn = e.start(cfg, c)
	require.Eventually(t, func() bool { return c.count() == rows }, waitFor, tick)
	for _, rec := range c.records() {
		assert.Equal(t, "zeek.conn", attr(rec, "event", "dataset").Str())
		assert.NotEmpty(t, attr(rec, "source", "ip").Str())
	}
	assert.Zero(t, e.sum("otelcol_receiver_cairn_file_malformed_lines", nil))
	require.NoError(t, rn.stop())
}

// The codec keeps the header; a version 1 list (no headers) still reads;
// a header longer than the normaliser keeps is refused as corrupt.
func TestCheckpointCodecHeader(t *testing.T) {
	c := checkpoint{key: fileKey{dev: 1, ino: 2}, fpLen: 10, fpHash: 3, offset: 400, path: "/z/conn.log", header: []byte("#separator \\x09\n#fields\tts\tuid")}
	b := appendCheckpoint([]byte{checkpointVersion, 1}, c)
	got, err := decodeCheckpoints(b)
	require.NoError(t, err)
	assert.Equal(t, []checkpoint{c}, got)

	v1 := c
	v1.header = nil
	old := appendCheckpoint([]byte{1, 1}, v1)
	old = old[:len(old)-1] // version 1 had no header length
	got, err = decodeCheckpoints(old)
	require.NoError(t, err)
	assert.Equal(t, []checkpoint{v1}, got)

	long := c
	long.header = bytes.Repeat([]byte("#"), normalize.MaxHeaderKeep+1)
	_, err = decodeCheckpoints(appendCheckpoint([]byte{checkpointVersion, 1}, long))
	assert.ErrorContains(t, err, "header too long")
}
