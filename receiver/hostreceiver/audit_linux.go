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
	s.r.cnt.audit.Add(1)
	s.r.enqueue(rec, s.r.auditHash(rec, kind))
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
