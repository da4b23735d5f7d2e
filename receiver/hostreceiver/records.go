package hostreceiver

import (
	"net/netip"
	"path"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/procfs"
)

// Datasets, in event.dataset, say which source produced an event.
const (
	datasetProcess = "cairn_host.process"
	datasetNetwork = "cairn_host.network"
	datasetDNS     = "cairn_host.dns"
	datasetAudit   = "cairn_host.audit"
)

// Cairn's own fields on host events (documented in the README).
const (
	attrPartial      = "cairn.process.partial"
	attrMissing      = "cairn.process.missing"
	attrExeDeleted   = "cairn.process.exe_deleted"
	attrExeMemfd     = "cairn.process.exe_memfd"
	attrHashStatus   = "cairn.process.hash_status"
	attrArgsTrunc    = "cairn.process.args_truncated"
	attrUnattributed = "cairn.network.unattributed"
)

// newRecord starts an ECS event: flat dotted attribute keys, as the event
// model writes records that did not arrive as nested documents.
func newRecord(ts time.Time, dataset, action string, category []string, typ ...string) plog.LogRecord {
	lr := plog.NewLogRecord()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	a := lr.Attributes()
	a.PutStr("event.kind", "event")
	putStrs(a, "event.category", category...)
	putStrs(a, "event.type", typ...)
	a.PutStr("event.action", action)
	a.PutStr("event.module", "cairn_host")
	a.PutStr("event.dataset", dataset)
	return lr
}

func putStrs(m pcommon.Map, key string, vals ...string) {
	s := m.PutEmptySlice(key)
	s.EnsureCapacity(len(vals))
	for _, v := range vals {
		s.AppendEmpty().SetStr(v)
	}
}

func putNonEmpty(m pcommon.Map, key, val string) {
	if val != "" {
		m.PutStr(key, val)
	}
}

// idNames resolves uids and gids to names.
type idNames interface {
	Name(id uint32) string
}

type nameFunc func(uint32) string

func (f nameFunc) Name(id uint32) string { return f(id) }

// putProcess writes what is known of p as ECS process.*/user.*/group.* and
// container.id.
func putProcess(a pcommon.Map, p *procfs.Proc, parentExe string, users, groups idNames) {
	a.PutInt("process.pid", int64(p.PID))
	if p.Exe != "" {
		a.PutStr("process.executable", p.Exe)
		a.PutStr("process.name", path.Base(p.Exe))
	} else if p.Comm != "" {
		a.PutStr("process.name", p.Comm)
	}
	if len(p.Args) > 0 {
		putStrs(a, "process.args", p.Args...)
		a.PutInt("process.args_count", int64(len(p.Args)))
	}
	if p.ArgsTruncated {
		a.PutBool(attrArgsTrunc, true)
	}
	putNonEmpty(a, "process.working_directory", p.Cwd)
	if !p.Start.IsZero() {
		a.PutStr("process.start", p.Start.UTC().Format(time.RFC3339Nano))
	}
	if p.PPID > 0 {
		a.PutInt("process.parent.pid", int64(p.PPID))
	}
	if parentExe != "" {
		a.PutStr("process.parent.executable", parentExe)
		a.PutStr("process.parent.name", path.Base(parentExe))
	}
	if p.HasIDs {
		putUser(a, "user", p.UID, users)
		putUser(a, "user.effective", p.EUID, users)
		putUser(a, "process.user", p.EUID, users)
		putUser(a, "process.real_user", p.UID, users)
		putUser(a, "user.group", p.GID, groups)
		putUser(a, "process.group", p.EGID, groups)
		putUser(a, "process.real_group", p.GID, groups)
	}
	putNonEmpty(a, "container.id", p.ContainerID)
	if p.ExeDeleted {
		a.PutBool(attrExeDeleted, true)
	}
	if p.ExeMemfd {
		a.PutBool(attrExeMemfd, true)
	}
	if p.Partial {
		a.PutBool(attrPartial, true)
		putStrs(a, attrMissing, p.Missing...)
	}
}

func putUser(a pcommon.Map, prefix string, id uint32, names idNames) {
	a.PutStr(prefix+".id", strconv.FormatUint(uint64(id), 10))
	if names != nil {
		putNonEmpty(a, prefix+".name", names.Name(id))
	}
}

// connection is one socket seen by sock_diag (or audit).
type connection struct {
	transport string // tcp, udp
	src, dst  netip.AddrPort
	inbound   bool
	uid       uint32
	hasUID    bool
	inode     uint64
	pid       int
	exe       string
	domain    string
}

func putConnection(a pcommon.Map, c *connection, users idNames) {
	putNonEmpty(a, "network.transport", c.transport)
	if c.dst.Addr().Is4() {
		a.PutStr("network.type", "ipv4")
	} else {
		a.PutStr("network.type", "ipv6")
	}
	if c.inbound {
		a.PutStr("network.direction", "ingress")
	} else {
		a.PutStr("network.direction", "egress")
	}
	if c.src.IsValid() {
		a.PutStr("source.ip", c.src.Addr().String())
		a.PutInt("source.port", int64(c.src.Port()))
	}
	a.PutStr("destination.ip", c.dst.Addr().String())
	a.PutInt("destination.port", int64(c.dst.Port()))
	putNonEmpty(a, "destination.domain", c.domain)
	if c.pid > 0 {
		a.PutInt("process.pid", int64(c.pid))
		if c.exe != "" {
			a.PutStr("process.executable", c.exe)
			a.PutStr("process.name", path.Base(c.exe))
		}
	} else {
		a.PutBool(attrUnattributed, true)
	}
	if c.hasUID {
		putUser(a, "user", c.uid, users)
	}
}
