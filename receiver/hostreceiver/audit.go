package hostreceiver

import (
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/elastic/go-libaudit/v2/aucoalesce"
	"github.com/elastic/go-libaudit/v2/auparse"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/procfs"
)

// auditRecord is one audit event mapped to a Cairn event, with what the
// receiver needs to check it against the process that made it.
type auditRecord struct {
	rec  plog.LogRecord
	kind string // process, connection
	// pid and exe (cleaned) as the record gives them.
	pid int
	exe string
	// files are the files the record's PATH items name, by device and
	// inode: for an execve, the program, its interpreter and the loader.
	files []fileID
}

// fileID names a file by device (major, minor) and inode, as audit PATH
// records give them.
type fileID struct {
	major, minor uint32
	ino          uint64
}

// parseFileID reads a PATH record's inode (decimal) and dev (hex
// major:minor).
func parseFileID(p map[string]string) (fileID, bool) {
	ino, err := strconv.ParseUint(p["inode"], 10, 64)
	if err != nil {
		return fileID{}, false
	}
	maj, min, ok := strings.Cut(p["dev"], ":")
	if !ok {
		return fileID{}, false
	}
	ma, err1 := strconv.ParseUint(maj, 16, 32)
	mi, err2 := strconv.ParseUint(min, 16, 32)
	if err1 != nil || err2 != nil {
		return fileID{}, false
	}
	return fileID{major: uint32(ma), minor: uint32(mi), ino: ino}, true
}

// auditEvent turns one reassembled audit event (SYSCALL with its EXECVE,
// CWD, PATH, SOCKADDR, PROCTITLE records) into a Cairn event: execve and
// execveat become process starts, connect to an IPv4/IPv6 address an
// outbound connection. Anything else gives ok == false. Arguments are kept
// within maxArgs entries and maxArgBytes bytes, as for the proc connector's
// starts (an execve may have hundreds of thousands).
func auditEvent(msgs []*auparse.AuditMessage, users idNames, maxArgs, maxArgBytes int) (ar auditRecord, ok bool) {
	ev, err := aucoalesce.CoalesceMessages(msgs)
	if err != nil || ev == nil || ev.Type != auparse.AUDIT_SYSCALL {
		return ar, false
	}
	switch ev.Data["syscall"] {
	case "execve", "execveat":
		if ev.Result != "success" {
			return ar, false
		}
		ar.rec = newRecord(ev.Timestamp, datasetAudit, actionExec, []string{"process"}, "start")
		ar.kind = "process"
		a := ar.rec.Attributes()
		putAuditProcess(&ar, ev, users)
		args, truncated := boundArgs(ev.Process.Args, maxArgs, maxArgBytes)
		putArgs(a, args)
		if truncated {
			a.PutBool(attrArgsTrunc, true)
		}
		putNonEmpty(a, "process.working_directory", ev.Process.CWD)
		for _, p := range ev.Paths {
			if id, ok := parseFileID(p); ok {
				ar.files = append(ar.files, id)
			}
		}
		return ar, true
	case "connect":
		if ev.Dest == nil || ev.Dest.IP == "" {
			return ar, false // AF_UNIX, netlink, ...
		}
		ip, err := netip.ParseAddr(ev.Dest.IP)
		if err != nil {
			return ar, false
		}
		port, _ := strconv.ParseUint(ev.Dest.Port, 10, 16)
		ar.rec = newRecord(ev.Timestamp, datasetAudit, "connection-attempted", []string{"network"}, "connection", "start")
		ar.kind = "connection"
		a := ar.rec.Attributes()
		putAuditProcess(&ar, ev, users)
		a.PutStr("network.direction", "egress")
		if ip.Unmap().Is4() {
			a.PutStr("network.type", "ipv4")
		} else {
			a.PutStr("network.type", "ipv6")
		}
		a.PutStr("destination.ip", ip.Unmap().String())
		a.PutInt("destination.port", int64(port))
		return ar, true
	}
	return ar, false
}

// boundArgs keeps at most maxArgs arguments and maxBytes bytes of them
// (counting a separator after each, as in /proc/<pid>/cmdline).
func boundArgs(args []string, maxArgs, maxBytes int) ([]string, bool) {
	if maxArgs <= 0 {
		maxArgs = 64
	}
	if maxBytes <= 0 {
		maxBytes = 4096
	}
	var out []string
	used := 0
	for i, arg := range args {
		if i == maxArgs {
			return out, true
		}
		if used+len(arg) > maxBytes {
			if rest := maxBytes - used; rest > 0 {
				out = append(out, arg[:rest])
			}
			return out, true
		}
		out = append(out, arg)
		used += len(arg) + 1
	}
	return out, false
}

func putAuditProcess(ar *auditRecord, ev *aucoalesce.Event, users idNames) {
	a := ar.rec.Attributes()
	if ev.Result == "success" {
		a.PutStr("event.outcome", "success")
	} else if ev.Result != "" {
		a.PutStr("event.outcome", "failure")
	}
	a.PutInt("cairn.audit.sequence", int64(ev.Sequence))
	if pid, err := strconv.ParseInt(ev.Process.PID, 10, 64); err == nil {
		a.PutInt("process.pid", pid)
		if pid > 0 && pid <= 1<<30 {
			ar.pid = int(pid)
		}
	}
	if ppid, err := strconv.ParseInt(ev.Process.PPID, 10, 64); err == nil {
		a.PutInt("process.parent.pid", ppid)
	}
	if ev.Process.Exe != "" {
		exe, deleted, memfd := procfs.CleanExe(ev.Process.Exe)
		ar.exe = exe
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
