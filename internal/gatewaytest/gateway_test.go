// Package gatewaytest runs Cairn's gateway topology end to end with the real
// collector binary: an agent (deploy/gateway/agent-kafka.yaml) forwards
// events through Kafka, partitioned by host.name, to two gateways
// (deploy/gateway/gateway.yaml) in one consumer group, with first-seen
// state in Redis. The Kafka broker is franz-go's kfake, in the test process;
// Redis is the test server of $CAIRN_REDIS_ADDR.
//
// Skips without the collector binary or Redis, except under CI, where it
// fails (see internal/redistest).
package gatewaytest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/cairnsec/cairn/internal/redistest"

	"github.com/cairnsec/cairn/internal/testkit"
)

const (
	topic      = "cairn-events"
	group      = "cairn-gateways"
	partitions = 8
	hosts      = 24
	waitFor    = 90 * time.Second
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// TestGatewayTakeover: all of a host's events are processed by one gateway
// at a time, a gateway leaving mid-stream hands its hosts to the other, and
// per-host first-seen and correlation stay right across the handover.
func TestGatewayTakeover(t *testing.T) {
	bin := testkit.CollectorBinary(t)
	redisAddr := redistest.Addr(t)
	root := testkit.RepoRoot()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	broker := cluster.ListenAddrs()[0]
	adm, err := kgo.NewClient(kgo.SeedBrokers(broker))
	require.NoError(t, err)
	t.Cleanup(adm.Close)
	admin := kadm.NewClient(adm)

	prefix := fmt.Sprintf("cairntest:gateway:%d:", time.Now().UnixNano())
	common := []string{
		"CAIRN_KAFKA_BROKERS=" + broker,
		"CAIRN_KAFKA_TOPIC=" + topic,
		"CAIRN_KAFKA_GROUP=" + group,
		"CAIRN_REDIS_ADDR=" + redisAddr,
		"CAIRN_REDIS_PREFIX=" + prefix,
		"CAIRN_REDIS_CORRELATE_PREFIX=" + prefix + "correlate:",
		"CAIRN_INTEL_DIR=" + filepath.Join(root, "testdata", "intel"),
		"CAIRN_HEALTH=127.0.0.1:0",
	}

	sink := newSink()
	g1 := startGateway(t, bin, root, "g1", sink, common)
	g2 := startGateway(t, bin, root, "g2", sink, common)
	waitMembers(t, admin, 2)

	agentPort := redistest.FreePort(t)
	agent := launch(t, "agent", bin, []string{filepath.Join(root, "deploy", "gateway", "agent-kafka.yaml"), telemetryOverlay(t)},
		append(common, fmt.Sprintf("CAIRN_OTLP_HTTP=127.0.0.1:%d", agentPort)))
	agentURL := fmt.Sprintf("http://127.0.0.1:%d/v1/logs", agentPort)
	waitHTTP(t, agent, agentURL)

	// Day 1: every host's ordinary activity (learning period).
	var seq int
	var phase1 []event
	for h := 0; h < hosts; h++ {
		for i := 0; i < 8; i++ {
			seq++
			phase1 = append(phase1, ordinary(seq, hostName(h), day0.Add(time.Duration(i)*3*time.Hour+time.Duration(h)*time.Second), i))
		}
	}
	send(t, agentURL, phase1)
	sink.wait(t, seqs(phase1), agent, g1, g2)

	owner := map[string]string{}
	for _, r := range sink.all() {
		if prev, ok := owner[r.host]; ok && prev != r.gateway {
			t.Fatalf("day 1: host %s processed by %s and %s", r.host, prev, r.gateway)
		}
		owner[r.host] = r.gateway
	}
	var onG1, onG2 []string
	for h := 0; h < hosts; h++ {
		switch owner[hostName(h)] {
		case "g1":
			onG1 = append(onG1, hostName(h))
		case "g2":
			onG2 = append(onG2, hostName(h))
		}
	}
	require.NotEmpty(t, onG1, "both gateways get hosts")
	require.NotEmpty(t, onG2, "both gateways get hosts")
	for _, r := range sink.all() {
		assert.Empty(t, r.flags, "day 1 is learning: %s seq %d", r.host, r.seq)
	}

	// Day 2: ordinary activity in chunks; g1 leaves a third of the way in;
	// at the end an attack on one host of each gateway.
	victims := []string{onG1[0], onG2[0]}
	attackAt := day0.Add(32 * time.Hour)
	// The attack on g1's victim straddles the takeover: its start is sent
	// with the second chunk and processed by g1 (waited for), the rest by
	// g2 after g1 left. With the correlation state in Redis, g2 continues
	// g1's window: the start's weight is needed to reach the alert.
	// Sequence numbers follow the sending order.
	var phase2, straddle []event
	chunks := make([][]event, 6)
	for i := 0; i < 6; i++ {
		for h := 0; h < hosts; h++ {
			seq++
			e := ordinary(seq, hostName(h), day0.Add(26*time.Hour+time.Duration(i)*time.Minute+time.Duration(h)*time.Second), i)
			chunks[i] = append(chunks[i], e)
			phase2 = append(phase2, e)
		}
		if i == 1 {
			straddle = attackOn(victims[0], 0, attackAt)[:1]
			seq++
			straddle[0].seq = seq
		}
	}
	var attack []event
	for k, v := range victims {
		evs := attackOn(v, k, attackAt)
		if k == 0 {
			evs = evs[1:]
		}
		for _, e := range evs {
			seq++
			e.seq = seq
			attack = append(attack, e)
		}
	}
	for i := 0; i < 6; i++ {
		send(t, agentURL, chunks[i])
		if i == 1 {
			send(t, agentURL, straddle)
			sink.wait(t, seqs(straddle), agent, g1)
			g1.terminate(t) // leaves the group mid-stream
		}
		time.Sleep(50 * time.Millisecond)
	}
	send(t, agentURL, attack)
	attack = append(straddle, attack...)
	all := append(append(append([]event{}, phase1...), phase2...), attack...)
	sink.wait(t, seqs(all), agent, g2)

	// One gateway at a time: per host, what g1 processed precedes what
	// only g2 processed; a host of g2 never went to g1.
	recs := sink.all()
	byHost := map[string]map[string][]int{}
	for _, r := range recs {
		if r.seq <= 0 {
			continue // alert records
		}
		if byHost[r.host] == nil {
			byHost[r.host] = map[string][]int{}
		}
		byHost[r.host][r.gateway] = append(byHost[r.host][r.gateway], r.seq)
	}
	moved := 0
	for host, gw := range byHost {
		s1 := map[int]bool{}
		for _, s := range gw["g1"] {
			s1[s] = true
		}
		maxG1, minG2 := 0, 1<<30
		for _, s := range gw["g1"] {
			maxG1 = max(maxG1, s)
		}
		for _, s := range gw["g2"] {
			if !s1[s] { // redelivered duplicates aside
				minG2 = min(minG2, s)
			}
		}
		if owner[host] == "g2" {
			assert.Empty(t, gw["g1"], "host %s of g2 went to g1", host)
		} else if len(gw["g2"]) > 0 {
			moved++
			assert.Less(t, maxG1, minG2, "host %s: g1 and g2 interleaved", host)
		}
	}
	assert.Positive(t, moved, "g1's hosts moved to g2")

	// First-seen across the handover: over distinct events, each attack
	// term flagged exactly once, nothing else flagged on day 2.
	first := map[int]record{}
	for _, r := range recs {
		if _, ok := first[r.seq]; !ok && r.seq > 0 {
			first[r.seq] = r
		}
	}
	gotFlags := map[string]int{}
	for _, r := range first {
		for _, f := range r.flags {
			gotFlags[fmt.Sprintf("%s %s %s", r.host, f, r.term(f))]++
		}
	}
	want := map[string]int{}
	for k, v := range victims {
		bin, hash, ip, dom := ioc(k)
		want[fmt.Sprintf("%s new_binary_on_host %s", v, hash)] = 1
		want[fmt.Sprintf("%s new_binary_in_environment %s", v, hash)] = 1
		want[fmt.Sprintf("%s new_external_ip %s", v, ip)] = 1
		want[fmt.Sprintf("%s new_ip_for_binary %s|%s", v, bin, ip)] = 1
		want[fmt.Sprintf("%s new_domain %s", v, dom)] = 1
	}
	assert.Equal(t, want, gotFlags, "flags over distinct events")

	// Correlation: one alert per victim, on the gateway that owns it now,
	// and none elsewhere.
	alerts := map[string]bool{}
	for _, r := range recs {
		if r.alert {
			alerts[r.host] = true
			assert.Equal(t, "g2", r.gateway, "alert on %s (victims %v)", r.host, victims)
		}
	}
	var straddled bool
	for _, r := range recs {
		if r.seq == straddle[0].seq && r.gateway == "g1" {
			straddled = true
		}
	}
	assert.True(t, straddled, "the attack's start was processed by g1 before it left")
	assert.Equal(t, map[string]bool{victims[0]: true, victims[1]: true}, alerts)

	agent.terminate(t)
	g2.terminate(t)
	assert.Empty(t, sink.errs())
}

func hostName(h int) string { return fmt.Sprintf("gw-host-%02d", h) }

type event struct {
	seq   int
	host  string
	at    time.Time
	attrs map[string]any
}

func seqs(evs []event) map[int]bool {
	m := map[int]bool{}
	for _, e := range evs {
		m[e.seq] = true
	}
	return m
}

var ordinaryBins = []string{"/usr/sbin/sshd", "/usr/sbin/nginx", "/usr/bin/bash", "/usr/bin/curl"}

// ordinary: a process start of a common binary, or a connection or lookup
// to a common destination.
func ordinary(seq int, host string, at time.Time, i int) event {
	bin := ordinaryBins[i%len(ordinaryBins)]
	a := map[string]any{}
	switch i % 3 {
	case 0:
		a["event.category"] = "process"
		a["event.type"] = "start"
		a["process.executable"] = bin
		a["process.hash.sha256"] = fmt.Sprintf("%064x", i%len(ordinaryBins)+1)
	case 1:
		a["event.category"] = "network"
		a["event.type"] = "connection"
		a["process.executable"] = "/usr/bin/curl"
		a["destination.ip"] = "151.101.2.132"
		a["destination.port"] = int64(443)
	default:
		a["event.category"] = "network"
		a["event.type"] = "protocol"
		a["dns.question.name"] = "deb.debian.org"
	}
	return event{seq: seq, host: host, at: at, attrs: a}
}

func ioc(k int) (bin, hash, ip, domain string) {
	return fmt.Sprintf("/tmp/.x/implant%d", k), fmt.Sprintf("%064x", 0xbad000+k),
		fmt.Sprintf("45.134.26.%d", 100+k), fmt.Sprintf("c2-%d.evil.example", k)
}

// attackOn: a new binary runs as root, looks up a new domain and connects
// to a new external address.
func attackOn(host string, k int, at time.Time) []event {
	bin, hash, ip, dom := ioc(k)
	return []event{
		{host: host, at: at, attrs: map[string]any{
			"event.category": "process", "event.type": "start", "process.executable": bin,
			"process.hash.sha256": hash, "user.name": "root", "user.id": "0"}},
		{host: host, at: at.Add(time.Second), attrs: map[string]any{
			"event.category": "network", "event.type": "protocol", "process.executable": bin,
			"dns.question.name": dom}},
		{host: host, at: at.Add(2 * time.Second), attrs: map[string]any{
			"event.category": "network", "event.type": "connection", "process.executable": bin,
			"destination.ip": ip, "destination.port": int64(443), "user.name": "root"}},
	}
}

// send posts the events over OTLP/HTTP, one resource per host.
func send(t *testing.T, url string, evs []event) {
	t.Helper()
	ld := plog.NewLogs()
	byHost := map[string]plog.LogRecordSlice{}
	for _, e := range evs {
		recs, ok := byHost[e.host]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("host.name", e.host)
			recs = rl.ScopeLogs().AppendEmpty().LogRecords()
			byHost[e.host] = recs
		}
		r := recs.AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(e.at))
		require.NoError(t, r.Attributes().FromRaw(e.attrs))
		r.Attributes().PutStr("@timestamp", e.at.Format(time.RFC3339Nano))
		r.Attributes().PutInt("labels.seq", int64(e.seq))
	}
	body, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// record is one exported record as the sink saw it.
type record struct {
	gateway string
	host    string
	seq     int
	flags   []string
	alert   bool
	attrs   map[string]any
}

func (r record) term(flag string) string {
	s := func(k string) string { v, _ := r.attrs[k].(string); return v }
	switch flag {
	case "new_binary_on_host", "new_binary_in_environment":
		return s("process.hash.sha256")
	case "new_external_ip":
		return s("destination.ip")
	case "new_ip_for_binary":
		return s("process.executable") + "|" + s("destination.ip")
	case "new_domain":
		return s("dns.question.name")
	}
	return ""
}

type sink struct {
	mu      sync.Mutex
	recs    []record
	errList []string
}

func newSink() *sink { return &sink{} }

func (s *sink) handler(gateway string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil && r.Header.Get("Content-Encoding") == "gzip" {
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
				body, err = io.ReadAll(zr)
			}
		}
		req := plogotlp.NewExportRequest()
		if err == nil {
			err = req.UnmarshalProto(body)
		}
		if err != nil {
			s.mu.Lock()
			s.errList = append(s.errList, err.Error())
			s.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var got []record
		rls := req.Logs().ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			res := rls.At(i).Resource().Attributes()
			host := ""
			if v, ok := res.Get("host.name"); ok {
				host = v.Str()
			}
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					a := lrs.At(k).Attributes().AsRaw()
					rec := record{gateway: gateway, host: host, attrs: a}
					if v, ok := a["labels.seq"].(int64); ok {
						rec.seq = int(v)
					}
					if kind, ok := lookup(a, "event.kind"); ok && kind == "alert" {
						rec.alert = true
						rec.seq = -1
						if h, ok := lookup(a, "host.name"); ok {
							rec.host, _ = h.(string)
						}
					}
					for key, v := range a {
						if name, ok := strings.CutPrefix(key, "cairn.first_seen."); ok && v == true && name != "degraded" {
							rec.flags = append(rec.flags, name)
						}
					}
					sort.Strings(rec.flags)
					got = append(got, rec)
				}
			}
		}
		s.mu.Lock()
		s.recs = append(s.recs, got...)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := plogotlp.NewExportResponse().MarshalProto()
		_, _ = w.Write(out)
	})
}

// lookup reads a dotted path from flat or nested attributes.
func lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			if sub, ok := m[path[:i]].(map[string]any); ok {
				if v, ok := lookup(sub, path[i+1:]); ok {
					return v, true
				}
			}
		}
	}
	return nil, false
}

func (s *sink) all() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record(nil), s.recs...)
}

func (s *sink) errs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errList...)
}

// wait blocks until every seq in want arrived at least once.
func (s *sink) wait(t *testing.T, want map[int]bool, running ...*proc) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := map[int]bool{}
		for _, r := range s.all() {
			if want[r.seq] {
				got[r.seq] = true
			}
		}
		if len(got) == len(want) {
			return
		}
		for _, p := range running {
			select {
			case <-p.Done():
				t.Fatalf("%s exited (%v) with %d of %d events delivered", p.Name, p.Err(), len(got), len(want))
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered within %s", len(got), len(want), waitFor)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startGateway(t *testing.T, bin, root, name string, s *sink, env []string) *proc {
	t.Helper()
	srv := httptest.NewServer(s.handler(name))
	t.Cleanup(srv.Close)
	overlay := filepath.Join(t.TempDir(), name+".yaml")
	cfg := fmt.Sprintf(`exporters:
  otlp_http/test:
    endpoint: %s
    compression: none
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      exporters: [otlp_http/test]
`, srv.URL)
	require.NoError(t, os.WriteFile(overlay, []byte(cfg), 0o600))
	dir := t.TempDir()
	return launch(t, name, bin, []string{filepath.Join(root, "deploy", "gateway", "gateway.yaml"), overlay},
		append(env, "CAIRN_STATE_DIR="+filepath.Join(dir, "state"), "CAIRN_OUT_DIR="+filepath.Join(dir, "out")))
}

func telemetryOverlay(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "telemetry.yaml")
	require.NoError(t, os.WriteFile(p, []byte("service:\n  telemetry:\n    metrics:\n      level: none\n"), 0o600))
	return p
}

// waitMembers waits until the gateways' consumer group is stable with n
// members, each holding partitions.
func waitMembers(t *testing.T, admin *kadm.Client, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		groups, err := admin.DescribeGroups(ctx, group)
		cancel()
		if err == nil {
			if g, ok := groups[group]; ok && g.State == "Stable" && len(g.Members) == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer group %s did not reach %d stable members (last error %v)", group, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitHTTP(t *testing.T, p *proc, url string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(nil))
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited: %v", p.Name, p.Err())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %v", p.Name, url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type proc struct{ *testkit.Process }

func launch(t *testing.T, name, bin string, configs []string, env []string) *proc {
	t.Helper()
	var args []string
	for _, c := range configs {
		// Read, so that go test's cache notices changes.
		_, err := os.ReadFile(c)
		require.NoError(t, err)
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	p := &proc{testkit.StartProcess(t, name, cmd)}
	return p
}

func (p *proc) terminate(t *testing.T) {
	t.Helper()
	p.Terminate(t, 30*time.Second)
}
