package hostreceiver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// loadReport is what the load generator did.
type loadReport struct {
	PID        int   `json:"pid"`
	Execs      []int `json:"execs"`
	ExecErrors int   `json:"exec_errors"`
	Ports      []int `json:"ports"`
	ConnErrors int   `json:"conn_errors"`
}

// runLoad (helper mode "load"): for DURATION, start EXECS /bin/true per
// second and open CONNS TCP connections per second to TARGET, each held
// HOLD; then write a loadReport to OUT.
func runLoad(args []string) int {
	dur, _ := time.ParseDuration(args[0])
	execRate, _ := strconv.Atoi(args[1])
	connRate, _ := strconv.Atoi(args[2])
	target := args[3]
	hold, _ := time.ParseDuration(args[4])
	out := args[5]
	rep := loadReport{PID: os.Getpid()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := time.Now().Add(dur)
	pace := func(rate int, f func()) {
		defer wg.Done()
		if rate <= 0 {
			return
		}
		start := time.Now()
		for n := 0; ; n++ {
			due := start.Add(time.Duration(n) * time.Second / time.Duration(rate))
			if due.After(stop) {
				return
			}
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			f()
		}
	}
	wg.Add(2)
	var inner sync.WaitGroup
	go pace(execRate, func() {
		p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			rep.ExecErrors++
			return
		}
		rep.Execs = append(rep.Execs, p.Pid)
		inner.Go(func() { _, _ = p.Wait() })
	})
	d := net.Dialer{Timeout: 5 * time.Second}
	go pace(connRate, func() {
		inner.Go(func() {
			c, err := d.Dial("tcp", target)
			mu.Lock()
			if err != nil {
				rep.ConnErrors++
				mu.Unlock()
				return
			}
			rep.Ports = append(rep.Ports, c.LocalAddr().(*net.TCPAddr).Port)
			mu.Unlock()
			time.Sleep(hold)
			// Reset instead of FIN: no TIME_WAIT, so 2,000 connections a
			// second for a minute do not exhaust the ephemeral ports.
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		})
	})
	wg.Wait()
	inner.Wait()
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(out, b, 0o600); err != nil {
		return 1
	}
	return 0
}

// runServer (helper mode "server"): accept on ADDR and hold connections
// until the peer closes; print the port; exit when stdin closes.
func runServer(args []string) int {
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func peakRSS() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoad runs the receiver (processes with hashing, connections
// polled every 500ms, DNS capture on every interface) while a separate
// load process starts CAIRN_LOAD_EXECS (200) /bin/true per second and opens
// CAIRN_LOAD_CONNS (2000) TCP connections per second, each held
// CAIRN_LOAD_HOLD_MS (1500) ms, to a server in a network namespace, for
// CAIRN_LOAD_SECONDS (15) seconds; CAIRN_LOAD_EXIT_EVENTS=0 turns process
// end events off. It reports the receiver's CPU (this
// process: the load runs elsewhere), peak RSS and heap, and the starts and
// connections the generator made that no event reported. One iteration,
// whatever b.N.
//
//	go test -run '^$' -bench BenchmarkLoad -benchtime 1x ./receiver/hostreceiver/
func BenchmarkLoad(b *testing.B) {
	requireRoot(b)
	secs := envInt("CAIRN_LOAD_SECONDS", 15)
	execRate := envInt("CAIRN_LOAD_EXECS", 200)
	connRate := envInt("CAIRN_LOAD_CONNS", 2000)
	hold := time.Duration(envInt("CAIRN_LOAD_HOLD_MS", 1500)) * time.Millisecond

	ns := newNetns(b)
	bin, err := os.Executable()
	require.NoError(b, err)
	srv := exec.Command("ip", "netns", "exec", ns.Name, bin)
	srv.Args = append(srv.Args, net.JoinHostPort(ns.NSIP.String(), "0"))
	srv.Env = append(os.Environ(), helperEnv+"=server")
	stdin, err := srv.StdinPipe()
	require.NoError(b, err)
	stdout, err := srv.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, srv.Start())
	b.Cleanup(func() { stdin.Close(); _ = srv.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(b, err)
	port := strings.TrimSpace(line)

	var loadPID atomic.Int64
	var mu sync.Mutex
	seenExec := map[int64]bool{}
	seenPort := map[int64]bool{}
	var total atomic.Int64
	sink, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		lp := loadPID.Load()
		mu.Lock()
		defer mu.Unlock()
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				total.Add(int64(lrs.Len()))
				for k := 0; k < lrs.Len(); k++ {
					a := lrs.At(k).Attributes()
					if v, ok := a.Get("process.parent.pid"); ok && v.Int() == lp {
						if p, ok := a.Get("process.pid"); ok {
							seenExec[p.Int()] = true
						}
					}
					if v, ok := a.Get("process.pid"); ok && v.Int() == lp {
						if p, ok := a.Get("source.port"); ok {
							seenPort[p.Int()] = true
						}
					}
				}
			}
		}
		return nil
	})
	require.NoError(b, err)

	cfg := createDefaultConfig().(*Config)
	cfg.Inventory = false
	cfg.Connections.Interval = 500 * time.Millisecond
	cfg.Processes.ExitEvents = os.Getenv("CAIRN_LOAD_EXIT_EVENTS") != "0"
	r := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(b, r.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { _ = r.Shutdown(context.Background()) }()
	time.Sleep(time.Second) // first poll done

	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM
	var peakHeap atomic.Uint64
	stopSample := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSample:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peakHeap.Load() {
					peakHeap.Store(ms.HeapInuse)
				}
			}
		}
	}()

	out := b.TempDir() + "/load.json"
	gen := exec.Command(bin, fmt.Sprintf("%ds", secs), strconv.Itoa(execRate), strconv.Itoa(connRate),
		net.JoinHostPort(ns.NSIP.String(), port), hold.String(), out)
	gen.Env = append(os.Environ(), helperEnv+"=load")
	gen.Stderr = os.Stderr
	cpu0, t0 := cpuTime(), time.Now()
	b.ResetTimer()
	require.NoError(b, gen.Start())
	loadPID.Store(int64(gen.Process.Pid))
	require.NoError(b, gen.Wait())
	time.Sleep(2 * time.Second) // last polls, hashes and batches
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	b.StopTimer()
	close(stopSample)

	var rep loadReport
	raw, err := os.ReadFile(out)
	require.NoError(b, err)
	require.NoError(b, json.Unmarshal(raw, &rep))
	mu.Lock()
	missedExec, missedConn := 0, 0
	for _, p := range rep.Execs {
		if !seenExec[int64(p)] {
			missedExec++
		}
	}
	for _, p := range rep.Ports {
		if !seenPort[int64(p)] {
			missedConn++
		}
	}
	mu.Unlock()
	st := r.Stats()
	b.ReportMetric(float64(len(rep.Execs))/float64(secs), "execs/s")
	b.ReportMetric(float64(len(rep.Ports))/float64(secs), "conns/s")
	b.ReportMetric(float64(missedExec), "execs_missed")
	b.ReportMetric(float64(missedConn), "conns_missed")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu_%")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak_rss_MB")
	b.ReportMetric(float64(peakHeap.Load())/(1<<20), "peak_heap_MB")
	b.Logf("load: %d s, %d execs (%d failed), %d connections (%d failed), hold %s; events %d",
		secs, len(rep.Execs), rep.ExecErrors, len(rep.Ports), rep.ConnErrors, hold, total.Load())
	b.Logf("missed: %d execs, %d connections; receiver CPU %.2fs over %.1fs (%.1f%% of one core); peak RSS %.1f MiB",
		missedExec, missedConn, cpu.Seconds(), wall.Seconds(), 100*cpu.Seconds()/wall.Seconds(), float64(peakRSS())/(1<<20))
	b.Logf("stats: %+v", st)
}
