package hostreceiver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/hashcache"
	"github.com/cairnsec/cairn/internal/procfs"
)

type auditStream struct{ r *hostReceiver }

func (s auditStream) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	rec, kind, ok := auditEvent(msgs, s.r.users)
	if !ok {
		return
	}
	if exe, found := rec.Attributes().Get("process.executable"); found && s.r.excluded(exe.Str()) {
		return
	}
	s.r.auditLineage(rec, kind)
	s.r.cnt.audit.Add(1)
	s.r.enqueue(rec, s.r.auditHash(rec, kind))
}

// auditStartSlack is how much later than an exec record its process may
// seem to have started: start times are derived from the boot time, which
// /proc/stat gives in whole seconds.
const auditStartSlack = 2 * time.Second

// auditLineage adds the entity id, the parent's, the leaders and the
// terminal to a fresh audit exec (a live tail). Audit records carry pid and
// ppid but no start time, so these come from /proc, and only while the
// process that exec'd still runs: it must run the executable the record
// names and have started no later than the record (a process that took the
// pid over later started later). A record too old, or whose process is gone
// or changed, has none of these fields.
func (r *hostReceiver) auditLineage(rec plog.LogRecord, kind string) {
	if kind != "process" || r.fs == nil {
		return
	}
	ts := rec.Timestamp().AsTime()
	if age := time.Since(ts); age > auditFreshness || age < -auditFreshness {
		return
	}
	a := rec.Attributes()
	pidV, ok1 := a.Get("process.pid")
	exeV, ok2 := a.Get("process.executable")
	if !ok1 || !ok2 || exeV.Str() == "" {
		return
	}
	pid := int(pidV.Int())
	st, err := r.fs.ReadStat(pid)
	if err != nil || r.fs.StartTime(st.StartTicks).After(ts.Add(auditStartSlack)) || r.fs.ReadExe(pid) != exeV.Str() {
		return
	}
	p := &procfs.Proc{PID: pid, PPID: st.PPID, PGID: st.PGID, SID: st.SID, TTY: st.TTY, Comm: st.Comm,
		Exe: exeV.Str(), HasStat: true, StartTicks: st.StartTicks, Start: r.fs.StartTime(st.StartTicks)}
	lin := r.lineageOf(p)
	if ppid, ok := a.Get("process.parent.pid"); !ok || ppid.Int() != int64(st.PPID) {
		// Reparented since the record: its parent is gone.
		lin.parent = procRef{}
	}
	putLineage(a, pid, &lin)
	a.PutStr("process.start", p.Start.UTC().Format(time.RFC3339Nano))
}

// auditFreshness bounds how old an audit exec may be for its executable to
// be hashed from disk: while tailing, the file on disk is what just ran;
// for older records (start_at: beginning, a backlog) it may have been
// replaced since, and a hash of another file would be worse than none.
const auditFreshness = time.Minute

// auditHash hashes the executable of a fresh audit process start, through
// the same cache and budget as the proc connector's events.
func (r *hostReceiver) auditHash(rec plog.LogRecord, kind string) *hashcache.Future {
	if r.hashes == nil || kind != "process" {
		return nil
	}
	if age := time.Since(rec.Timestamp().AsTime()); age > auditFreshness || age < -auditFreshness {
		return nil
	}
	exe, ok := rec.Attributes().Get("process.executable")
	if !ok || exe.Str() == "" {
		return nil
	}
	if d, ok := rec.Attributes().Get(attrExeDeleted); ok && d.Bool() {
		return nil
	}
	f, err := os.Open(exe.Str())
	if err != nil {
		return nil
	}
	return r.hashes.Submit(f)
}

func (s auditStream) EventsLost(n int) { s.r.cnt.auditLost.Add(uint64(n)) }

// tailAudit follows the audit log: new lines are parsed and reassembled into
// events; a rotated or truncated file is reopened from its beginning.
func (r *hostReceiver) tailAudit(ctx context.Context, f *os.File) {
	reasm, err := libaudit.NewReassembler(64, r.cfg.Audit.ReassemblyTimeout, auditStream{r})
	if err != nil {
		f.Close()
		return
	}
	defer func() {
		reasm.Close()
		f.Close()
	}()
	if r.cfg.Audit.StartAt == "end" {
		_, _ = f.Seek(0, io.SeekEnd)
	}
	rd := bufio.NewReaderSize(f, 64<<10)
	var partial []byte
	t := time.NewTicker(r.cfg.Audit.PollInterval)
	defer t.Stop()
	for {
		for {
			line, err := rd.ReadSlice('\n')
			if len(line) > 0 {
				if err == nil {
					if len(partial) > 0 {
						line = append(partial, line...)
						partial = partial[:0]
					}
					r.pushAuditLine(reasm, line)
				} else {
					partial = append(partial, line...)
				}
			}
			if err != nil {
				if errors.Is(err, bufio.ErrBufferFull) {
					continue
				}
				break
			}
		}
		_ = reasm.Maintain()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Rotated (new inode at the path) or truncated: start over.
		if fi, err := os.Stat(r.cfg.Audit.LogFile); err == nil {
			cur, _ := f.Stat()
			pos, _ := f.Seek(0, io.SeekCurrent)
			if !sameFile(fi, cur) || fi.Size() < pos-int64(rd.Buffered()) {
				if nf, err := os.Open(r.cfg.Audit.LogFile); err == nil {
					f.Close()
					f = nf
					rd.Reset(f)
					partial = partial[:0]
				}
			}
		}
	}
}

func (r *hostReceiver) pushAuditLine(reasm *libaudit.Reassembler, line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	// Lines forwarded by audisp/auditd can start with node=HOST.
	if bytes.HasPrefix(line, []byte("node=")) {
		if i := bytes.IndexByte(line, ' '); i > 0 {
			line = line[i+1:]
		}
	}
	msg, err := auparse.ParseLogLine(string(line))
	if err != nil {
		return
	}
	reasm.PushMessage(msg)
}

func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
