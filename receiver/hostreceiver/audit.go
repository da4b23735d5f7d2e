package hostreceiver

import (
	"net/netip"
	"path"
	"strconv"

	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/procfs"
)

// auditEvent turns one reassembled audit event (SYSCALL with its EXECVE,
// CWD, PATH, SOCKADDR, PROCTITLE records) into a Cairn event: execve and
// execveat become process starts, connect to an IPv4/IPv6 address an
// outbound connection. Anything else gives ok == false.
func auditEvent(msgs []*auparse.AuditMessage, users idNames) (rec plog.LogRecord, kind string, ok bool) {
	ev, err := aucoalesce.CoalesceMessages(msgs)
	if err != nil || ev == nil || ev.Type != auparse.AUDIT_SYSCALL {
		return rec, "", false
	}
	switch ev.Data["syscall"] {
	case "execve", "execveat":
		if ev.Result != "success" {
			return rec, "", false
		}
		rec = newRecord(ev.Timestamp, datasetAudit, actionExec, []string{"process"}, "start")
		a := rec.Attributes()
		putAuditProcess(rec, ev, users)
		putArgs(a, ev.Process.Args)
		putNonEmpty(a, "process.working_directory", ev.Process.CWD)
		return rec, "process", true
	case "connect":
		if ev.Dest == nil || ev.Dest.IP == "" {
			return rec, "", false // AF_UNIX, netlink, ...
		}
		ip, err := netip.ParseAddr(ev.Dest.IP)
		if err != nil {
			return rec, "", false
		}
		port, _ := strconv.ParseUint(ev.Dest.Port, 10, 16)
		rec = newRecord(ev.Timestamp, datasetAudit, "connection-attempted", []string{"network"}, "connection", "start")
		a := rec.Attributes()
		putAuditProcess(rec, ev, users)
		a.PutStr("network.direction", "egress")
		if ip.Unmap().Is4() {
			a.PutStr("network.type", "ipv4")
		} else {
			a.PutStr("network.type", "ipv6")
		}
		a.PutStr("destination.ip", ip.Unmap().String())
		a.PutInt("destination.port", int64(port))
		return rec, "connection", true
	}
	return rec, "", false
}

func putAuditProcess(rec plog.LogRecord, ev *aucoalesce.Event, users idNames) {
	a := rec.Attributes()
	if ev.Result == "success" {
		a.PutStr("event.outcome", "success")
	} else if ev.Result != "" {
		a.PutStr("event.outcome", "failure")
	}
	a.PutInt("cairn.audit.sequence", int64(ev.Sequence))
	if pid, err := strconv.ParseInt(ev.Process.PID, 10, 64); err == nil {
		a.PutInt("process.pid", pid)
	}
	if ppid, err := strconv.ParseInt(ev.Process.PPID, 10, 64); err == nil {
		a.PutInt("process.parent.pid", ppid)
	}
	if ev.Process.Exe != "" {
		exe, deleted, memfd := procfs.CleanExe(ev.Process.Exe)
		a.PutStr("process.executable", exe)
		a.PutStr("process.name", path.Base(exe))
		if deleted {
			a.PutBool(attrExeDeleted, true)
		}
		if memfd {
			a.PutBool(attrExeMemfd, true)
		}
	} else {
		putNonEmpty(a, "process.name", ev.Process.Name)
	}
	putNonEmpty(a, "process.title", ev.Process.Title)
	ids := ev.User.IDs
	for _, u := range []struct{ key, prefix string }{
		{"uid", "user"}, {"euid", "user.effective"}, {"auid", "user.audit"},
		{"euid", "process.user"}, {"uid", "process.real_user"},
	} {
		v, ok := ids[u.key]
		if !ok || v == "" || v == "unset" || v == "4294967295" {
			continue
		}
		a.PutStr(u.prefix+".id", v)
		if n, err := strconv.ParseUint(v, 10, 32); err == nil && users != nil {
			putNonEmpty(a, u.prefix+".name", users.Name(uint32(n)))
		}
	}
	if gid, ok := ids["gid"]; ok && gid != "" {
		a.PutStr("user.group.id", gid)
	}
}
