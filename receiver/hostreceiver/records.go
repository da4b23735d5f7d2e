package hostreceiver

import (
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	evt "github.com/cairnsec/cairn/internal/event" // the test helpers have a type named event
	"github.com/cairnsec/cairn/internal/procfs"
)

// Datasets, in event.dataset, say which source produced an event.
const (
	datasetProcess = "cairn_host.process"
	datasetNetwork = "cairn_host.network"
	datasetDNS     = "cairn_host.dns"
	datasetAudit   = "cairn_host.audit"
)

// Process event actions: the values Elastic Defend gives (exec, end) and,
// for a process already running when the receiver starts, Auditbeat's
// system module's (existing_process). Kibana's Session View loads only
// events whose action is fork, exec, executed or end.
const (
	actionExec     = "exec"
	actionEnd      = "end"
	actionExisting = "existing_process"
)

// Cairn's own fields on host events (documented in the README).
const (
	attrPartial      = evt.ProcessPartialKey
	attrMissing      = evt.ProcessMissingKey
	attrExeDeleted   = evt.ProcessExeDeletedKey
	attrExeMemfd     = evt.ProcessExeMemfdKey
	attrHashStatus   = evt.ProcessHashStatusKey
	attrArgsTrunc    = evt.ProcessArgsTruncatedKey
	attrUnattributed = evt.NetworkUnattributedKey
	attrExitSignal   = evt.ProcessExitSignalKey
	attrCoreDumped   = evt.ProcessCoreDumpedKey
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
// container.id, with its lineage (parent, leaders, entity ids, terminal).
func putProcess(a pcommon.Map, p *procfs.Proc, lin *lineage, users, groups idNames) {
	a.PutInt("process.pid", int64(p.PID))
	if p.Exe != "" {
		a.PutStr("process.executable", p.Exe)
		a.PutStr("process.name", path.Base(p.Exe))
	} else if p.Comm != "" {
		a.PutStr("process.name", p.Comm)
	}
	putArgs(a, p.Args)
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
	if lin != nil {
		putLineage(a, p.PID, lin)
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

// putArgs writes process.args, process.args_count and process.command_line:
// the arguments joined by spaces, as in ECS's example (args
// ["/usr/bin/ssh", "-l", "user", "10.0.0.16"], command line
// "/usr/bin/ssh -l user 10.0.0.16"). Arguments are not quoted: process.args
// keeps their exact boundaries.
func putArgs(a pcommon.Map, args []string) {
	if len(args) == 0 {
		return
	}
	putStrs(a, "process.args", args...)
	a.PutInt("process.args_count", int64(len(args)))
	a.PutStr("process.command_line", strings.Join(args, " "))
}

// putLineage writes the entity id, the parent and the session, group and
// entry leaders of process pid, and its controlling terminal.
func putLineage(a pcommon.Map, pid int, lin *lineage) {
	putNonEmpty(a, "process.entity_id", lin.entityID)
	putRef(a, "process.parent", lin.parent)
	putLeader(a, "process.session_leader", lin.session, pid)
	putLeader(a, "process.group_leader", lin.group, pid)
	if lin.entry != nil {
		putLeader(a, "process.entry_leader", lin.entry.procRef, pid)
		a.PutStr("process.entry_leader.entry_meta.type", lin.entry.typ)
	}
	if lin.tty != 0 {
		major, minor := procfs.TTYDevice(lin.tty)
		a.PutInt("process.tty.char_device.major", int64(major))
		a.PutInt("process.tty.char_device.minor", int64(minor))
	}
}

// putRef writes a related process: its pid, and when it could be read, its
// entity id, start, name and executable.
func putRef(a pcommon.Map, prefix string, ref procRef) {
	if ref.pid <= 0 {
		return
	}
	a.PutInt(prefix+".pid", int64(ref.pid))
	if !ref.known {
		return
	}
	putNonEmpty(a, prefix+".entity_id", ref.entityID)
	a.PutStr(prefix+".start", ref.start.UTC().Format(time.RFC3339Nano))
	putNonEmpty(a, prefix+".name", ref.name)
	putNonEmpty(a, prefix+".executable", ref.exe)
}

// putLeader is putRef with same_as_process, which ECS sets on leaders so
// that rules can ask whether the process is its own leader.
func putLeader(a pcommon.Map, prefix string, ref procRef, pid int) {
	if ref.pid <= 0 {
		return
	}
	putRef(a, prefix, ref)
	a.PutBool(prefix+".same_as_process", ref.pid == pid)
}

// putExit writes process.end and process.exit_code from the kernel's exit
// code, a wait(2) status: a process that exited has its exit status; one
// killed by signal N has 128+N, as a POSIX shell reports it (ECS's example
// is 137, SIGKILL), and cairn.process.exit_signal: N, which tells it from a
// process that exited with that status (and cairn.process.core_dumped).
func putExit(a pcommon.Map, ts time.Time, code uint32) {
	a.PutStr("process.end", ts.UTC().Format(time.RFC3339Nano))
	status, signal, core := decodeExit(code)
	a.PutInt("process.exit_code", int64(status))
	if signal != 0 {
		a.PutInt(attrExitSignal, int64(signal))
	}
	if core {
		a.PutBool(attrCoreDumped, true)
	}
}

// decodeExit splits a wait(2) status as the kernel stores it in
// task->exit_code: signal in bits 0-6, core dump in bit 7, exit status in
// bits 8-15.
func decodeExit(code uint32) (status, signal int, core bool) {
	if sig := int(code & 0x7f); sig != 0 {
		return 128 + sig, sig, code&0x80 != 0
	}
	return int(code>>8) & 0xff, 0, false
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
