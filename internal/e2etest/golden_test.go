package e2etest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/cmd/cairn/replay"
	"github.com/cairnsec/cairn/cmd/cairn/scenario"
	"github.com/cairnsec/cairn/internal/testkit"
)

// TestCollectorAndReplayWriteTheSameDocuments is the one-event-path golden
// test: the same input, run through the collector as shipped
// (deploy/cairn.yaml: cairn_file → processors → cairn_search's offline _bulk
// files) and through `cairn replay` on the same config, must give
// byte-identical documents in the same order, with the same ids. The only
// difference allowed is the exporter's bookkeeping: data_stream.* and
// event.ingested, which the test takes out of the collector's documents
// (and checks are there, once each).
func TestCollectorAndReplayWriteTheSameDocuments(t *testing.T) {
	bin := testkit.CollectorBinary(t)
	root := testkit.RepoRoot()
	// replay resolves the config's ${env:...} defaults like the collector.
	t.Setenv("CAIRN_INTEL_DIR", filepath.Join(root, "testdata", "intel"))

	fleet := filepath.Join(t.TempDir(), "fleet.ndjson")
	f, err := os.Create(fleet)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	cfg := scenario.Default()
	cfg.Hosts, cfg.Days, cfg.EventsPerHostDay, cfg.Seed = 60, 4, 125, 7
	_, err = scenario.Generate(cfg, w)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())

	for _, tc := range []struct{ name, input string }{
		{"bundled scenario", filepath.Join(root, "testdata", "scenario", "events.ndjson")},
		{"generated fleet", fleet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replayed, alerts := replayDocs(t, tc.input)
			require.NotZero(t, alerts, "the input holds an attack")
			collected := collectorDocs(t, bin, tc.input, len(replayed))
			require.Equal(t, len(replayed), len(collected), "as many documents")
			diffs := 0
			for i := range replayed {
				if replayed[i] != collected[i] && diffs < 5 {
					diffs++
					t.Errorf("document %d differs:\nreplay:    %.600s\ncollector: %.600s", i+1, replayed[i], collected[i])
				}
			}
			if diffs == 0 {
				t.Logf("%d documents identical (%d alert records)", len(replayed), alerts)
			}
		})
	}

	// The control: the input the reference config had before, contrib's
	// filelog with a json_parser, does not give replay's documents (the
	// read time as @timestamp, the raw line in message, floats, other
	// ids), so the comparison above can tell.
	t.Run("filelog control", func(t *testing.T) {
		input := filepath.Join(root, "testdata", "scenario", "events.ndjson")
		replayed, _ := replayDocs(t, input)
		overlay := filepath.Join(t.TempDir(), "filelog.yaml")
		require.NoError(t, os.WriteFile(overlay, []byte(`receivers:
  file_log:
    include: [ "${env:CAIRN_EVENTS}" ]
    start_at: beginning
    operators:
      - type: json_parser
service:
  pipelines:
    logs:
      receivers: [file_log]
`), 0o600))
		collected := collectorDocs(t, bin, input, len(replayed), overlay)
		same := 0
		for i := range replayed {
			if i < len(collected) && replayed[i] == collected[i] {
				same++
			}
		}
		assert.Zero(t, same, "no document of the old input path is replay's")
		assert.Contains(t, collected[0], `"message":"{\"@timestamp\"`, "the raw line stored again")
	})
}

// replayDocs runs `cairn replay` (the same code as bin/cairn) on the
// reference config and returns its documents and how many are alerts.
func replayDocs(t *testing.T, input string) ([]string, int) {
	out := filepath.Join(t.TempDir(), "replay.ndjson")
	o := replay.Options{
		ConfigPath: filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"),
		InputPath:  input, OutputPath: out, Stderr: &bytes.Buffer{},
		Processors: replay.DefaultProcessors(), Extensions: replay.DefaultExtensions(),
	}
	sum, err := replay.Run(context.Background(), o)
	require.NoError(t, err, "%s", o.Stderr)
	require.Zero(t, sum.Malformed)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	docs := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Equal(t, sum.EventsOut, len(docs))
	return docs, sum.AlertRecords
}

var (
	// The exporter's bookkeeping, as its encoder adds it: data_stream as
	// the document's last member, event.ingested as the last member of
	// its event object (Cairn's documents all have one).
	dataStreamRe = regexp.MustCompile(`,"data_stream":\{"type":"logs","dataset":"cairn\.(events|alerts)","namespace":"default"\}\}$`)
	ingestedRe   = regexp.MustCompile(`,"ingested":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)
	actionIDRe   = regexp.MustCompile(`"_id":"([0-9a-f]{32})"`)
)

// collectorDocs runs the collector on deploy/cairn.yaml as shipped, its
// input, state and output pointed at the test's files through the
// environment variables the config documents, until its exporter has
// written want documents, and returns them, in order, without the
// exporter's bookkeeping.
func collectorDocs(t *testing.T, bin, input string, want int, overlays ...string) []string {
	dir := t.TempDir()
	tel, url := telemetryOverlay(t, dir)
	configs := append([]string{filepath.Join(testkit.RepoRoot(), "deploy", "cairn.yaml"), tel}, overlays...)
	c := launch(t, "collector", bin, configs, filepath.Join(dir, "state"), input, nil, "CAIRN_OUT_DIR="+filepath.Join(dir, "out"))
	deadline := time.Now().Add(2 * time.Minute)
	for sentBy(url, "cairn_search") < want {
		select {
		case <-c.Done():
			t.Fatalf("collector exited: %v", c.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector wrote %d of %d documents in time", sentBy(url, "cairn_search"), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.terminate(t)

	files, err := filepath.Glob(filepath.Join(dir, "out", "bulk", "cairn-bulk-*.ndjson"))
	require.NoError(t, err)
	sort.Strings(files)
	var docs []string
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		require.Zero(t, len(lines)%2, "%s: action and document lines", name)
		for i := 0; i < len(lines); i += 2 {
			action, doc := lines[i], lines[i+1]
			m := actionIDRe.FindStringSubmatch(action)
			require.NotNil(t, m, "action %s", action)
			var d struct {
				Event struct {
					ID       string `json:"id"`
					Ingested string `json:"ingested"`
					Dataset  string `json:"dataset"`
				} `json:"event"`
				DataStream struct {
					Dataset string `json:"dataset"`
				} `json:"data_stream"`
				ECS struct {
					Version string `json:"version"`
				} `json:"ecs"`
			}
			require.NoError(t, json.Unmarshal([]byte(doc), &d))
			assert.Equal(t, m[1], d.Event.ID, "the _id is the document's event.id")
			assert.Equal(t, d.DataStream.Dataset, d.Event.Dataset, "event.dataset is the data stream's")
			assert.NotEmpty(t, d.ECS.Version)
			stripped := dataStreamRe.ReplaceAllString(doc, "}")
			require.NotEqual(t, doc, stripped, "data_stream.* is the last member: %.300s", doc)
			plain := ingestedRe.ReplaceAllString(stripped, "")
			require.Equal(t, len(stripped)-len(plain), len(`,"ingested":"2026-01-01T00:00:00.000Z"`), "one event.ingested: %.300s", doc)
			docs = append(docs, plain)
		}
	}
	return docs
}

// telemetryOverlay is the test form of the benchmark's: the collector's own
// metrics on a free port.
func telemetryOverlay(t testing.TB, dir string) (path, url string) {
	port := freePort(t)
	path = filepath.Join(dir, "telemetry.yaml")
	cfg := fmt.Sprintf(`service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: basic
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
`, port)
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path, fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
}
