package hostreceiver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/hashcache"
	"github.com/cairnsec/cairn/internal/procfs"
)

type auditStream struct{ r *hostReceiver }

func (s auditStream) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	ar, ok := auditEvent(msgs, s.r.users, s.r.cfg.Processes.MaxArgs, s.r.cfg.Processes.MaxArgBytes)
	if !ok {
		return
	}
	s.r.handleAudit(ar)
}

// auditStartSlack is how much later than an exec record its process may
// seem to have started: start times are derived from the boot time, which
// /proc/stat gives in whole seconds.
const auditStartSlack = 2 * time.Second

// auditFreshness bounds how old (or how far ahead of the clock) an audit
// record may be for its process to be looked for in /proc: for older
// records (start_at: beginning, a backlog) the process found under the pid
// is unlikely to be the one meant, and is not looked at.
const auditFreshness = time.Minute

// auditProc is the process an audit record was made by, found running
// what the record says it ran.
type auditProc struct {
	dir  *procfs.Dir
	stat procfs.Stat
	// exe is the process's executable, open (nil once handed on).
	exe *os.File
}

func (p *auditProc) close() {
	if p == nil {
		return
	}
	if p.exe != nil {
		p.exe.Close()
	}
	p.dir.Close()
}

// handleAudit completes and emits one audit event. Nothing is ever opened
// by a path the record names: a record only says what a path was when the
// kernel wrote it, and a user can put a FIFO (whose open blocks), a
// symlink to a file only root may read, or another file at that path by
// the time it is read. What is read of the process (the executable to hash,
// the entity ids and leaders, the mount namespace for exclusions) is read
// through /proc/<pid>, and only when the process that runs under the pid
// is shown to be the record's: started no later than the record, running
// the very file the record names (same device and inode).
func (r *hostReceiver) handleAudit(ar auditRecord) {
	live := r.auditLive(ar)
	defer live.close()
	if ar.exe != "" && r.excluded(ar.exe) {
		// Excluded only when the process is found in the receiver's mount
		// namespace: the path means what the receiver's namespace makes of
		// it only there (see excludedProc).
		if live != nil {
			if ns, err := live.dir.Readlink("ns/mnt"); err == nil && ns == r.mntNS {
				return
			}
		}
	}
	var fut *hashcache.Future
	if ar.kind == "process" {
		if live != nil {
			r.auditLineage(ar.rec, live)
		}
		if r.hashes != nil {
			if live != nil && live.exe != nil {
				fut = r.hashes.Submit(live.exe) // the cache closes it
				live.exe = nil
			} else {
				fut = hashcache.Completed(statusUnverified)
			}
		}
	}
	r.cnt.audit.Add(1)
	r.enqueue(ar.rec, fut)
}

// auditLive finds the process that made ar, or nil. It must still run
// under the record's pid, have started no later than the record (a process
// that took the pid over later started later), and run the file the
// record names: for an exec, one of the files of its PATH items (device
// and inode); for a record without any, the executable's path.
func (r *hostReceiver) auditLive(ar auditRecord) *auditProc {
	if r.fs == nil || ar.pid <= 0 || ar.exe == "" {
		return nil
	}
	ts := ar.rec.Timestamp().AsTime()
	if age := time.Since(ts); age > auditFreshness || age < -auditFreshness {
		return nil
	}
	d, err := r.fs.OpenDir(ar.pid)
	if err != nil {
		return nil
	}
	p := &auditProc{dir: d}
	fail := func() *auditProc {
		p.close()
		return nil
	}
	st, err := d.ReadStat()
	if err != nil || r.fs.StartTime(st.StartTicks).After(ts.Add(auditStartSlack)) {
		return fail()
	}
	p.stat = st
	exe, err := d.OpenExe()
	if err != nil {
		return fail()
	}
	p.exe = exe
	var fst unix.Stat_t
	if err := unix.Fstat(int(exe.Fd()), &fst); err != nil {
		return fail()
	}
	if len(ar.files) > 0 {
		id := fileID{major: unix.Major(uint64(fst.Dev)), minor: unix.Minor(uint64(fst.Dev)), ino: uint64(fst.Ino)}
		if !slices.Contains(ar.files, id) {
			return fail()
		}
		return p
	}
	link, err := r.fs.FileLink(exe)
	if err != nil {
		return fail()
	}
	if path, _, _ := procfs.CleanExe(link); path != ar.exe {
		return fail()
	}
	return p
}

// auditLineage adds the entity id, the parent's, the leaders and the
// terminal to an audit exec whose process was found (auditLive). The
// parent's only if it is still the record's ppid.
func (r *hostReceiver) auditLineage(rec plog.LogRecord, live *auditProc) {
	a := rec.Attributes()
	st := live.stat
	exe, _ := a.Get("process.executable")
	p := &procfs.Proc{PID: live.dir.PID(), PPID: st.PPID, PGID: st.PGID, SID: st.SID, TTY: st.TTY, Comm: st.Comm,
		Exe: exe.Str(), HasStat: true, StartTicks: st.StartTicks, Start: r.fs.StartTime(st.StartTicks)}
	lin := r.lineageOf(p)
	if ppid, ok := a.Get("process.parent.pid"); !ok || ppid.Int() != int64(st.PPID) {
		// Reparented since the record: its parent is gone.
		lin.parent = procRef{}
	}
	putLineage(a, p.PID, &lin)
	a.PutStr("process.start", p.Start.UTC().Format(time.RFC3339Nano))
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
	// skipping: the line being read is over maxAuditLine; the rest of it,
	// up to its newline, is dropped.
	skipping := false
	t := time.NewTicker(r.cfg.Audit.PollInterval)
	defer t.Stop()
	for {
		for {
			line, err := rd.ReadSlice('\n')
			if len(line) > 0 {
				switch {
				case err == nil && skipping:
					skipping = false
				case err == nil:
					if len(partial) > 0 {
						line = append(partial, line...)
						partial = partial[:0]
					}
					r.pushAuditLine(reasm, line)
				case skipping:
				case len(partial)+len(line) > maxAuditLine:
					// No audit record is this long (the kernel caps one
					// at under 9 KB): not a line worth holding.
					partial = partial[:0]
					skipping = true
					r.cnt.auditLost.Add(1)
				default:
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
					skipping = false
				}
			}
		}
	}
}

// maxAuditLine bounds an audit log line.
const maxAuditLine = 1 << 20

func (r *hostReceiver) pushAuditLine(reasm *libaudit.Reassembler, line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	// Lines written by auditd with a name_format, or received from other
	// hosts' auditd (an aggregating log server), start with node=NAME.
	// Another host's records are not this host's events, and their pids
	// mean nothing here: they are left out (and kept out of the
	// reassembler, where their serial numbers would mix with ours).
	if bytes.HasPrefix(line, []byte("node=")) {
		if i := bytes.IndexByte(line, ' '); i > 0 {
			if !r.localAuditNode(string(line[len("node="):i])) {
				r.cnt.auditOtherHost.Add(1)
				return
			}
			line = line[i+1:]
		}
	}
	msg, err := auparse.ParseLogLine(string(line))
	if err != nil {
		return
	}
	reasm.PushMessage(msg)
}

// localAuditNode says whether an audit node= name is this host's: one of
// audit.node_names, else the host name, its first label, or the host name
// followed by a domain (auditd's name_format hostname and fqd).
func (r *hostReceiver) localAuditNode(node string) bool {
	if len(r.cfg.Audit.NodeNames) > 0 {
		return slices.Contains(r.cfg.Audit.NodeNames, node)
	}
	host := r.auditHost
	if host == "" {
		return false
	}
	short, _, _ := strings.Cut(host, ".")
	return strings.EqualFold(node, host) || strings.EqualFold(node, short) ||
		(len(node) > len(short) && strings.EqualFold(node[:len(short)+1], short+"."))
}

func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
