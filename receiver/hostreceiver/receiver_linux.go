package hostreceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/cairnsec/cairn/internal/glob"
	"github.com/cairnsec/cairn/internal/hashcache"
	"github.com/cairnsec/cairn/internal/procfs"
	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// Stats are the receiver's cumulative counters (also used by the load test).
type Stats struct {
	ProcessEvents, PartialProcesses, ConnectionEvents, DNSEvents, AuditEvents uint64
	// ProcessEndEvents: process end events (exits of processes whose start
	// or inventory event was emitted).
	ProcessEndEvents uint64
	// EndsUntracked: processes whose end is not reported because the table
	// of processes awaiting their end was full.
	EndsUntracked uint64
	// AwaitingEnd: processes reported and not yet ended (a gauge).
	AwaitingEnd int
	// KernelOverruns counts proc connector receive-buffer overruns (ENOBUFS):
	// process starts the kernel could not deliver.
	KernelOverruns uint64
	// EnrichDropped: exec notifications dropped because enrichment fell behind.
	EnrichDropped uint64
	// QueueDropped: events dropped because the pipeline fell behind.
	QueueDropped uint64
	// ConsumeErrors: batches the next consumer refused.
	ConsumeErrors uint64
	// AuditLost: audit records missing (sequence gaps, lines too long).
	AuditLost uint64
	// AuditOtherHost: audit log lines of other hosts (node=), left out.
	AuditOtherHost uint64
	// DNSUnmatched: DNS answers that answered no query this host sent
	// (spoofed, too late, or for a query forgotten): not reported and not
	// remembered for destination.domain.
	DNSUnmatched uint64
	// DNSQueriesForgotten: queries forgotten unanswered to make room
	// (dns.max_pending_queries).
	DNSQueriesForgotten uint64
	Hash                hashcache.Stats
}

type counters struct {
	proc, procEnd, partial, conn, dns, audit, overruns, enrichDropped, dropped, consumeErr, auditLost atomic.Uint64
	auditOtherHost, dnsUnmatched, dnsForgotten                                                        atomic.Uint64
}

type pending struct {
	rec      plog.LogRecord
	hash     *hashcache.Future
	deadline time.Time
	// after: the record only waits for hash (a process end waits for its
	// start's hash, so that the start goes out first) and is not given it.
	after bool
}

type hostReceiver struct {
	cfg    *Config
	set    receiver.Settings
	next   consumer.Logs
	logger *zap.Logger

	self int
	// host describes the host and the agent on every batch's resource.
	host     hostInfo
	fs       *procfs.FS
	users    *procfs.Names
	groups   *procfs.Names
	hashes   *hashcache.Cache
	dnsCache *lru.Cache[[16]byte, dnsEntry]
	// ids derives process entity ids; procCache remembers executables and
	// entry leaders per process instance.
	ids       entityIDs
	procCache *lru.Cache[procKey, *procInfo]
	// monoToWall converts CLOCK_MONOTONIC nanoseconds (proc connector
	// timestamps) to wall time.
	monoToWall time.Duration

	out chan *pending
	// procq: the proc connector's events for the enrichment workers, one
	// queue per worker, by pid.
	procq []chan procEvent
	forks *pidMap
	// live: processes whose end is awaited (nil: exit events off).
	live *liveTable
	// capturesOpen counts exec captures holding open files.
	capturesOpen atomic.Int64
	// mntNS is the receiver's mount namespace (the ns/mnt link).
	mntNS string
	// auditHost is the kernel's host name, which auditd's node= names.
	auditHost string
	cnt       counters
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	emitWG    sync.WaitGroup
	closers   []func()
	started   bool

	telemetry *metadata.TelemetryBuilder
}

func newHostReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg, next), nil
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) *hostReceiver {
	return &hostReceiver{cfg: cfg, set: set, next: next, logger: set.Logger, self: os.Getpid()}
}

// Start opens every kernel interface before returning, so a missing
// capability or feature fails the collector's start with a clear error.
func (r *hostReceiver) Start(_ context.Context, _ component.Host) error {
	if err := checkCapabilities(r.cfg); err != nil {
		return err
	}
	var err error
	if r.fs, err = procfs.New(""); err != nil {
		return fmt.Errorf("cairn_host: reading /proc: %w", err)
	}
	r.mntNS, _ = os.Readlink(r.fs.Root + "/self/ns/mnt")
	r.users = procfs.NewNames("/etc/passwd")
	r.groups = procfs.NewNames("/etc/group")
	r.auditHost, _ = os.Hostname()
	hostName := r.cfg.HostName
	if hostName == "" {
		hostName = r.auditHost
	}
	hostID := ""
	if b, err := procfs.ReadRegularFile("/etc/machine-id", 4096); err == nil {
		hostID = strings.TrimSpace(string(b))
	}
	r.host = readHostInfo(r.fs.Root, hostName, hostID, r.set)
	bootID, err := r.fs.BootID()
	if err != nil {
		r.logger.Warn("cairn_host: no boot id, process events carry no entity ids", zap.Error(err))
	}
	pidNS, _ := r.fs.PIDNamespace()
	r.ids = newEntityIDs(hostID, bootID, pidNS)
	r.procCache, _ = lru.New[procKey, *procInfo](procCacheSize)
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		r.monoToWall = time.Duration(time.Now().UnixNano() - ts.Nano())
	}
	if r.cfg.Hashing.Enabled {
		h := r.cfg.Hashing
		r.hashes, err = hashcache.New(hashcache.Config{
			MaxEntries: h.CacheSize, MaxFileSize: h.MaxFileSize, MaxHoleBytes: h.MaxHoleBytes, BytesPerSecond: h.BytesPerSecond,
			Workers: h.Workers, QueueSize: h.QueueSize,
		})
		if err != nil {
			return err
		}
		r.closers = append(r.closers, r.hashes.Close)
	}
	if r.cfg.DNS.Enabled || r.cfg.Connections.Enabled {
		r.dnsCache, _ = lru.New[[16]byte, dnsEntry](max(r.cfg.DNS.CacheSize, 1))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.out = make(chan *pending, r.cfg.QueueSize)

	fail := func(err error) error {
		cancel()
		r.wg.Wait()
		for i := len(r.closers) - 1; i >= 0; i-- {
			r.closers[i]()
		}
		r.closers = nil
		return err
	}
	var starters []func()
	if r.cfg.Processes.Enabled {
		pc, err := openProcConnector()
		if err != nil {
			return fail(err)
		}
		r.closers = append(r.closers, func() { unix.Close(pc) })
		// Every exit comes through too (a process's end may follow its
		// exec before the exec is read), hence twice the room execs had.
		r.procq = make([]chan procEvent, enrichWorkers)
		for i := range r.procq {
			r.procq[i] = make(chan procEvent, enrichQueue/enrichWorkers)
		}
		r.forks = newPIDMap(1 << 16)
		if r.cfg.Processes.ExitEvents {
			r.live = newLiveTable(maxLive)
		}
		starters = append(starters, func() {
			r.goRun(func() { r.readProcConnector(ctx, pc) })
			for _, q := range r.procq {
				r.goRun(func() { r.enrichLoop(ctx, q) })
			}
			if r.live != nil {
				r.goRun(func() { r.sweepLive(ctx) })
			}
			if r.cfg.Inventory {
				r.goRun(func() { r.processInventory(ctx) })
			}
		})
	}
	if r.cfg.Connections.Enabled {
		sd, err := openSockDiag()
		if err != nil {
			return fail(err)
		}
		r.closers = append(r.closers, func() { unix.Close(sd) })
		starters = append(starters, func() { r.goRun(func() { r.pollConnections(ctx, sd) }) })
	}
	if r.cfg.DNS.Enabled {
		socks, err := openPacketSockets(r.cfg.DNS.Interfaces)
		if err != nil {
			return fail(err)
		}
		for _, s := range socks {
			r.closers = append(r.closers, func() { unix.Close(s.fd) })
		}
		starters = append(starters, func() {
			dns := r.newDNSState()
			for _, s := range socks {
				r.goRun(func() { r.sniffDNS(ctx, s, dns) })
			}
		})
	}
	if r.cfg.Audit.Enabled && r.cfg.Audit.Source == auditSourceNetlink {
		fd, err := openAuditMulticast()
		if err != nil {
			return fail(err)
		}
		r.closers = append(r.closers, func() { unix.Close(fd) })
		starters = append(starters, func() { r.goRun(func() { r.readAuditNetlink(ctx, fd) }) })
	} else if r.cfg.Audit.Enabled {
		f, err := os.Open(r.cfg.Audit.LogFile)
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				err = fmt.Errorf("%w (needs root or CAP_DAC_READ_SEARCH)", err)
			}
			return fail(fmt.Errorf("cairn_host: audit log: %w", err))
		}
		starters = append(starters, func() { r.goRun(func() { r.tailAudit(ctx, f) }) })
	}
	r.emitWG.Add(1)
	go r.emitLoop()
	for _, s := range starters {
		s()
	}
	if err := r.registerTelemetry(); err != nil {
		return fail(err)
	}
	r.started = true
	return nil
}

func (r *hostReceiver) goRun(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// Shutdown stops the readers, then flushes what is queued.
func (r *hostReceiver) Shutdown(context.Context) error {
	if !r.started {
		return nil
	}
	r.started = false
	r.cancel()
	r.wg.Wait()
	// The reader may have queued captures after a worker's last look:
	// every goroutine is gone now, so these are the last.
	for _, q := range r.procq {
		for len(q) > 0 {
			(<-q).exec.release()
		}
	}
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	close(r.out)
	r.emitWG.Wait()
	if r.telemetry != nil {
		r.telemetry.Shutdown()
	}
	return nil
}

// Stats returns the counters so far.
func (r *hostReceiver) Stats() Stats {
	s := Stats{
		ProcessEvents: r.cnt.proc.Load(), ProcessEndEvents: r.cnt.procEnd.Load(), PartialProcesses: r.cnt.partial.Load(),
		ConnectionEvents: r.cnt.conn.Load(), DNSEvents: r.cnt.dns.Load(), AuditEvents: r.cnt.audit.Load(),
		KernelOverruns: r.cnt.overruns.Load(), EnrichDropped: r.cnt.enrichDropped.Load(),
		QueueDropped: r.cnt.dropped.Load(), ConsumeErrors: r.cnt.consumeErr.Load(),
		AuditLost: r.cnt.auditLost.Load(), AuditOtherHost: r.cnt.auditOtherHost.Load(),
		DNSUnmatched: r.cnt.dnsUnmatched.Load(), DNSQueriesForgotten: r.cnt.dnsForgotten.Load(),
	}
	if r.hashes != nil {
		s.Hash = r.hashes.Stats()
	}
	if r.live != nil {
		s.EndsUntracked = r.live.untracked()
		s.AwaitingEnd = r.live.len()
	}
	return s
}

func (r *hostReceiver) excluded(exe string) bool {
	for _, p := range r.cfg.ExcludeExecutables {
		if glob.Match(p, exe) {
			return true
		}
	}
	return false
}

// enqueue hands a record to the emitter without ever blocking.
func (r *hostReceiver) enqueue(rec plog.LogRecord, fut *hashcache.Future) {
	r.enqueuePending(&pending{rec: rec, hash: fut})
}

// enqueueAfter hands on a record that must not overtake the record waiting
// for fut.
func (r *hostReceiver) enqueueAfter(rec plog.LogRecord, fut *hashcache.Future) {
	r.enqueuePending(&pending{rec: rec, hash: fut, after: fut != nil})
}

func (r *hostReceiver) enqueuePending(p *pending) {
	if p.hash != nil {
		p.deadline = time.Now().Add(r.cfg.Hashing.Wait)
	}
	select {
	case r.out <- p:
	default:
		r.cnt.dropped.Add(1)
	}
}

// emitLoop batches records. A record waiting for its executable's hash waits
// alone (up to hashing.wait); the others go on.
func (r *hostReceiver) emitLoop() {
	defer r.emitWG.Done()
	tick := time.NewTicker(r.cfg.FlushInterval)
	defer tick.Stop()
	var waiting []*pending
	batch := r.newBatch()
	n := 0
	add := func(p *pending, final bool) {
		if p.hash != nil && !p.after {
			a := p.rec.Attributes()
			if p.hash.Ready() {
				sum, st, _ := p.hash.Result()
				if st == hashcache.OK {
					a.PutStr("process.hash.sha256", sum)
				} else {
					a.PutStr(attrHashStatus, string(st))
				}
			} else if final {
				a.PutStr(attrHashStatus, "shutdown")
			} else {
				a.PutStr(attrHashStatus, "timeout")
			}
		}
		p.rec.MoveTo(batch.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty())
		n++
	}
	flush := func() {
		if n == 0 {
			return
		}
		if err := r.next.ConsumeLogs(context.Background(), batch); err != nil {
			r.cnt.consumeErr.Add(1)
			r.logger.Debug("cairn_host: next consumer refused a batch", zap.Error(err))
		}
		batch = r.newBatch()
		n = 0
	}
	sweep := func(final bool) {
		now := time.Now()
		kept := waiting[:0]
		for _, p := range waiting {
			if final || p.hash.Ready() || now.After(p.deadline) {
				add(p, final)
				if n >= r.cfg.MaxBatchSize {
					flush()
				}
			} else {
				kept = append(kept, p)
			}
		}
		clear(waiting[len(kept):])
		waiting = kept
	}
	for {
		select {
		case p, ok := <-r.out:
			if !ok {
				sweep(true)
				flush()
				return
			}
			if p.hash != nil && !p.hash.Ready() {
				waiting = append(waiting, p)
				continue
			}
			add(p, false)
			if n >= r.cfg.MaxBatchSize {
				flush()
			}
		case <-tick.C:
			sweep(false)
			flush()
		}
	}
}

func (r *hostReceiver) newBatch() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	r.host.putResource(rl.Resource().Attributes())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	return ld
}

// pidMap remembers each new process's parent from fork notifications, for
// processes gone before /proc could be read. Two generations bound it.
type pidMap struct {
	mu        sync.Mutex
	cur, prev map[int32]int32
	max       int
}

func newPIDMap(max int) *pidMap {
	return &pidMap{cur: map[int32]int32{}, max: max / 2}
}

func (m *pidMap) put(child, parent int32) {
	m.mu.Lock()
	if len(m.cur) >= m.max {
		m.prev, m.cur = m.cur, make(map[int32]int32, m.max)
	}
	m.cur[child] = parent
	m.mu.Unlock()
}

func (m *pidMap) get(child int32) int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.cur[child]; ok {
		return p
	}
	return m.prev[child]
}

// timeOf converts a proc connector timestamp.
func (r *hostReceiver) timeOf(monoNs uint64) time.Time {
	if monoNs == 0 {
		return time.Now()
	}
	return time.Unix(0, int64(monoNs)+int64(r.monoToWall))
}
