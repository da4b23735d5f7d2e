package normalize

import (
	"bytes"
	"net/netip"

	cevent "github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/internal/mitre"
	"github.com/cairnsec/cairn/internal/timestamp"
)

// Falco's JSON alerts (json_output: true): one object a line with time,
// rule, priority, output, output_fields (the values of the fields the
// rule's output names, by field name: "proc.cmdline", "fd.sip"), tags,
// hostname and source (https://falco.org/docs/outputs/channels/#json-output,
// field names: https://falco.org/docs/reference/rules/supported-fields/).
//
// Every alert becomes an ECS event of the process, network or file it is
// about, with the rule in rule.* and a falco_<priority> signal with a
// detail (the rule and the ATT&CK tags of its tags), so that correlate
// weighs it with the rest. The event is event.kind: event, not alert:
// Cairn takes event.kind: alert for its own alerts (internal/document
// IsAlert routes them to the alerts index; eval and replay count them as
// alerts), and a Falco alert is one piece of evidence among others.
type falco struct{}

func (falco) name() string { return FormatFalco }

// The output_fields mapped, by id.
const (
	fProcExepath = iota
	fProcExe
	fProcName
	fProcCmdline
	fProcPid
	fProcPpid
	fProcPexepath
	fProcPname
	fProcPcmdline
	fProcCwd
	fUserName
	fUserUID
	fGroupName
	fGroupGID
	fFdName
	fFdType
	fFdTypechar
	fFdSip
	fFdSport
	fFdCip
	fFdCport
	fFdRip
	fFdRport
	fFdLip
	fFdLport
	fFdL4proto
	fContainerID
	fContainerName
	fImageRepo
	fImageTag
	fK8sNs
	fK8sPod
	fK8sPodUID
	fEvtType
	numF
)

func falcoField(k []byte) int {
	switch string(k) {
	case "proc.exepath":
		return fProcExepath
	case "proc.exe":
		return fProcExe
	case "proc.name":
		return fProcName
	case "proc.cmdline":
		return fProcCmdline
	case "proc.pid":
		return fProcPid
	case "proc.ppid":
		return fProcPpid
	case "proc.pexepath":
		return fProcPexepath
	case "proc.pname":
		return fProcPname
	case "proc.pcmdline":
		return fProcPcmdline
	case "proc.cwd":
		return fProcCwd
	case "user.name":
		return fUserName
	case "user.uid":
		return fUserUID
	case "group.name":
		return fGroupName
	case "group.gid":
		return fGroupGID
	case "fd.name":
		return fFdName
	case "fd.type":
		return fFdType
	case "fd.typechar":
		return fFdTypechar
	case "fd.sip":
		return fFdSip
	case "fd.sport":
		return fFdSport
	case "fd.cip":
		return fFdCip
	case "fd.cport":
		return fFdCport
	case "fd.rip":
		return fFdRip
	case "fd.rport":
		return fFdRport
	case "fd.lip":
		return fFdLip
	case "fd.lport":
		return fFdLport
	case "fd.l4proto":
		return fFdL4proto
	case "container.id":
		return fContainerID
	case "container.name":
		return fContainerName
	case "container.image.repository":
		return fImageRepo
	case "container.image.tag":
		return fImageTag
	case "k8s.ns.name":
		return fK8sNs
	case "k8s.pod.name":
		return fK8sPod
	case "k8s.pod.uid":
		return fK8sPodUID
	case "evt.type":
		return fEvtType
	}
	return -1
}

// Which output_fields are numbers (else strings), and which are IPs.
var falcoNumeric = [numF]bool{fProcPid: true, fProcPpid: true, fUserUID: true, fGroupGID: true,
	fFdSport: true, fFdCport: true, fFdRport: true, fFdLport: true}

var falcoIP = [numF]bool{fFdSip: true, fFdCip: true, fFdRip: true, fFdLip: true}

var falcoFieldNames = [numF]string{"proc.exepath", "proc.exe", "proc.name", "proc.cmdline", "proc.pid",
	"proc.ppid", "proc.pexepath", "proc.pname", "proc.pcmdline", "proc.cwd", "user.name", "user.uid",
	"group.name", "group.gid", "fd.name", "fd.type", "fd.typechar", "fd.sip", "fd.sport", "fd.cip",
	"fd.cport", "fd.rip", "fd.rport", "fd.lip", "fd.lport", "fd.l4proto", "container.id",
	"container.name", "container.image.repository", "container.image.tag", "k8s.ns.name",
	"k8s.pod.name", "k8s.pod.uid", "evt.type"}

// maxFalcoTags bounds the tags kept (Falco's default rules have at most
// eight).
const maxFalcoTags = 64

// Falco's priorities (syslog's levels), lower case, and the signal each
// raises: emergency and alert, which no default rule uses, count as
// critical; informational and debug raise none (Falco's own "stay
// informed" levels: the event is kept, it weighs nothing).
var falcoPriorities = [...]struct{ name, signal string }{
	{"emergency", cevent.SignalFalcoCritical},
	{"alert", cevent.SignalFalcoCritical},
	{"critical", cevent.SignalFalcoCritical},
	{"error", cevent.SignalFalcoError},
	{"warning", cevent.SignalFalcoWarning},
	{"notice", cevent.SignalFalcoNotice},
	{"informational", ""},
	{"info", ""}, // a rule file's spelling
	{"debug", ""},
}

// falcoPriority returns the index in falcoPriorities of a priority, any
// case, or -1.
func falcoPriority(v val) int {
	if !v.isStr() {
		return -1
	}
	p := v.raw()
	for i, c := range falcoPriorities {
		if len(p) == len(c.name) && bytes.EqualFold(p, []byte(c.name)) {
			return i
		}
	}
	return -1
}

// sniff: a JSON object without @timestamp whose rule is a string, with
// priority and time, and output_fields or output. No Tetragon record (an
// event member) or Zeek record (ts) has these.
func (falco) sniff(r *record) bool {
	if !r.json || !r.get("rule").isStr() || r.get("priority") == nil || r.get("time") == nil {
		return false
	}
	if r.get("output_fields") == nil && r.get("output") == nil {
		return false
	}
	return r.get("@timestamp") == nil
}

type falcoRec struct {
	arena            *[]byte // the record's (val.str)
	f                [numF]val
	src, dst         netip.Addr
	srcPort, dstPort val
	fdPath           []byte
	// category, type (connection: [connection, start]) and direction.
	category, typ, direct string
	tactics               [8]string
	techniques            [16][]byte
	nTactics, nTechniques int
}

func (falco) normalize(r *record, w *writer) (string, Outcome, error) {
	rule := r.get("rule")
	pi := falcoPriority(r.get("priority"))
	if pi < 0 {
		return "", Malformed, refuse("falco priority is not one of Falco's priorities")
	}
	tv := r.get("time")
	if !tv.isStr() {
		return "", Malformed, refuse("falco time is not a time")
	}
	ns, ok := timestamp.ParseRFC3339(tv.raw())
	if !ok || ns <= 0 {
		return "", Malformed, refuse("falco time is not an RFC 3339 time")
	}
	host, err := strField(r.get("hostname"), &where{a: "falco hostname"}, "")
	if err != nil {
		return "", Malformed, err
	}
	source, err := strField(r.get("source"), &where{a: "falco source"}, "")
	if err != nil {
		return "", Malformed, err
	}
	output, err := strField(r.get("output"), &where{a: "falco output"}, "")
	if err != nil {
		return "", Malformed, err
	}
	tags := r.get("tags")
	if tags.present() && !tags.isArr() {
		return "", Malformed, refuse("falco tags is not an array")
	}
	for it := elements(tags); it.next(); {
		if !it.val.isStr() {
			return "", Malformed, refuse("falco tags holds something other than strings")
		}
	}
	of := r.get("output_fields")
	if of.present() && !of.isObj() {
		return "", Malformed, refuse("falco output_fields is not an object")
	}
	var fr falcoRec
	fr.arena = &r.arena
	if err := fr.read(of); err != nil {
		return "", Malformed, err
	}
	fr.classify()

	w.time("@timestamp", ns)
	w.open("event")
	w.conststr("kind", "event")
	w.conststr("module", "falco")
	w.conststr("dataset", "falco.alerts")
	if source != nil {
		w.strVal("provider", source)
	}
	w.constStrs("category", fr.category)
	switch fr.typ {
	case "connection":
		w.constStrs("type", "connection", "start")
	default:
		w.constStrs("type", fr.typ)
	}
	if v := fr.f[fEvtType]; v != nil {
		w.strVal("action", v)
	} else {
		w.conststr("action", "falco-alert")
	}
	w.close()
	w.open("rule")
	w.strVal("name", rule)
	w.conststr("ruleset", "falco")
	w.close()
	w.open("log")
	w.conststr("level", falcoLevel(pi))
	w.close()
	if output != nil {
		w.strVal("message", output)
	}
	if tags.present() {
		w.strElems("tags", tags, maxFalcoTags) // (every tag is a string: checked above)
	}
	if host != nil {
		w.open("host")
		w.strVal("name", host)
		w.close()
	}
	fr.process(w)
	fr.identity(w)
	switch fr.category {
	case "network":
		fr.network(w)
	case "file":
		w.open("file")
		w.str("path", fr.fdPath)
		w.str("name", baseName(fr.fdPath))
		w.close()
	}
	fr.signal(w, rule, tags, falcoPriorities[pi].signal)
	return fr.category, Event, nil
}

// falcoLevel is a priority's canonical name (log.level).
func falcoLevel(pi int) string {
	if falcoPriorities[pi].name == "info" {
		return "informational"
	}
	return falcoPriorities[pi].name
}

// absent reports a value Falco writes for a field it could not read: null
// or "<NA>".
func absent(v val) bool {
	return !v.present() || string(v) == `"<NA>"`
}

// read takes the mapped output_fields and checks their types: strings,
// unsigned integers (numbers or strings of digits; -1, Falco's "none", is
// absent), IP addresses.
func (fr *falcoRec) read(of val) error {
	for it := members(of); it.next(); {
		id := falcoField(it.key())
		if id < 0 {
			continue
		}
		v := it.value()
		if absent(v) {
			fr.f[id] = nil
			continue
		}
		name := where{a: "falco output_fields.", b: falcoFieldNames[id]}
		switch {
		case falcoNumeric[id]:
			if string(v) == "-1" {
				fr.f[id] = nil
				continue
			}
			max := uint64(maxUint32)
			if id == fFdSport || id == fFdCport || id == fFdRport || id == fFdLport {
				max = 65535
			}
			if _, err := uintField(v, &name, "", max); err != nil {
				return err
			}
		case falcoIP[id]:
			if !v.isStr() {
				return refuse("%s is not a string", name.String())
			}
			if len(v.raw()) == 0 {
				fr.f[id] = nil
				continue
			}
			if _, err := ipField(v, &name, ""); err != nil {
				return err
			}
		default:
			if !v.isStr() {
				return refuse("%s is not a string", name.String())
			}
		}
		fr.f[id] = v
	}
	return nil
}

func (fr *falcoRec) ip(id int) netip.Addr {
	if fr.f[id] == nil {
		return netip.Addr{}
	}
	a, _ := parseIP(fr.f[id].raw())
	return a
}

// classify picks the event's category: network for a socket (the client
// and server of fd.cip/fd.sip; else the local and remote ends, fd.lip and
// fd.rip, by the direction of evt.type; else fd.name's "client->server"),
// file for a file descriptor with a path, else process when a process is
// named, else intrusion_detection (a plugin source's alert: k8s_audit,
// cloudtrail).
func (fr *falcoRec) classify() {
	evt := fr.f[fEvtType].rawOr()
	inbound := bytes.HasPrefix(evt, []byte("accept"))
	switch {
	case fr.f[fFdSip] != nil || fr.f[fFdCip] != nil:
		fr.src, fr.dst = fr.ip(fFdCip), fr.ip(fFdSip)
		fr.srcPort, fr.dstPort = fr.f[fFdCport], fr.f[fFdSport]
	case fr.f[fFdRip] != nil || fr.f[fFdLip] != nil:
		fr.src, fr.dst = fr.ip(fFdLip), fr.ip(fFdRip)
		fr.srcPort, fr.dstPort = fr.f[fFdLport], fr.f[fFdRport]
		if inbound {
			fr.src, fr.dst = fr.dst, fr.src
			fr.srcPort, fr.dstPort = fr.dstPort, fr.srcPort
		}
	default:
		fr.socketName()
	}
	if fr.src.IsValid() || fr.dst.IsValid() {
		fr.category, fr.typ = "network", "info"
		switch {
		case string(evt) == "connect" || inbound:
			fr.typ = "connection"
		}
		if inbound {
			fr.direct = "ingress"
		} else if string(evt) == "connect" {
			fr.direct = "egress"
		}
		return
	}
	if p := fr.f[fFdName]; p != nil && len(p.raw()) > 0 && p.raw()[0] == '/' && fr.fileType() {
		fr.fdPath = p.str(fr.arena)
		fr.category, fr.typ = "file", "info"
		switch string(evt) {
		case "unlink", "unlinkat", "rmdir":
			fr.typ = "deletion"
		case "rename", "renameat", "renameat2", "chmod", "fchmod", "fchmodat", "write", "pwrite", "truncate":
			fr.typ = "change"
		case "creat", "mkdir", "mkdirat", "link", "linkat", "symlink", "symlinkat":
			fr.typ = "creation"
		case "open", "openat", "openat2":
			fr.typ = "access"
		}
		return
	}
	if fr.f[fProcExepath] != nil || fr.f[fProcName] != nil || fr.f[fProcCmdline] != nil || fr.f[fProcExe] != nil {
		fr.category, fr.typ = "process", "info"
		if string(evt) == "execve" || string(evt) == "execveat" {
			fr.typ = "start"
		}
		return
	}
	fr.category, fr.typ = "intrusion_detection", "info"
}

// fileType: fd.type or fd.typechar, when given, say a file or directory.
func (fr *falcoRec) fileType() bool {
	if t := fr.f[fFdType]; t != nil {
		return string(t) == `"file"` || string(t) == `"directory"`
	}
	if t := fr.f[fFdTypechar]; t != nil {
		return string(t) == `"f"` || string(t) == `"d"`
	}
	return true
}

// socketName reads fd.name of an IPv4/IPv6 socket: "cip:cport->sip:sport".
func (fr *falcoRec) socketName() {
	n := fr.f[fFdName]
	t, tc := fr.f[fFdType], fr.f[fFdTypechar]
	if n == nil || !(string(t) == `"ipv4"` || string(t) == `"ipv6"` || string(tc) == `"4"` || string(tc) == `"6"`) {
		return
	}
	s := n.raw()
	k := bytes.Index(s, []byte("->"))
	if k < 0 {
		return
	}
	hostPort := func(b []byte) (netip.Addr, []byte, bool) {
		c := bytes.LastIndexByte(b, ':')
		if c < 0 {
			return netip.Addr{}, nil, false
		}
		a, ok := parseIP(bytes.Trim(b[:c], "[]"))
		p := b[c+1:]
		if !ok || len(p) == 0 || len(p) > 5 {
			return netip.Addr{}, nil, false
		}
		for _, d := range p {
			if d < '0' || d > '9' {
				return netip.Addr{}, nil, false
			}
		}
		return a, p, true
	}
	src, sp, ok1 := hostPort(s[:k])
	dst, dp, ok2 := hostPort(s[k+2:])
	if !ok1 || !ok2 {
		return
	}
	fr.src, fr.dst, fr.srcPort, fr.dstPort = src, dst, val(sp), val(dp)
}

func (fr *falcoRec) network(w *writer) {
	end := func(section string, ip netip.Addr, port val) {
		w.open(section)
		if ip.IsValid() {
			w.member("ip")
			w.b = append(w.b, '"')
			w.b = ip.AppendTo(w.b)
			w.b = append(w.b, '"')
		}
		if port != nil {
			if n, ok := port.uint(); ok && n <= 65535 {
				w.uint("port", n)
			}
		}
		w.close()
	}
	end("source", fr.src, fr.srcPort)
	end("destination", fr.dst, fr.dstPort)
	w.open("network")
	if p := fr.f[fFdL4proto]; p != nil {
		if t := lowerProto(p.raw()); t != "" {
			w.conststr("transport", t)
		}
	}
	if a := firstValid(fr.dst, fr.src); a.IsValid() {
		if a.Is4() || a.Is4In6() {
			w.conststr("type", "ipv4")
		} else {
			w.conststr("type", "ipv6")
		}
	}
	if fr.direct != "" {
		w.conststr("direction", fr.direct)
	}
	w.close()
}

func (fr *falcoRec) process(w *writer) {
	f := &fr.f
	w.open("process")
	exe := f[fProcExepath]
	if exe == nil && f[fProcExe] != nil && bytes.HasPrefix(f[fProcExe].raw(), []byte("/")) {
		exe = f[fProcExe]
	}
	if exe != nil {
		w.strVal("executable", exe)
	}
	if f[fProcName] != nil {
		w.strVal("name", f[fProcName])
	} else if exe != nil {
		w.str("name", baseName(exe.str(fr.arena)))
	}
	if f[fProcCmdline] != nil {
		w.strVal("command_line", f[fProcCmdline])
	}
	if f[fProcPid] != nil {
		n, _ := f[fProcPid].uint()
		w.uint("pid", n)
	}
	if f[fProcCwd] != nil {
		w.str("working_directory", trimSlash(f[fProcCwd].str(fr.arena)))
	}
	w.open("parent")
	if f[fProcPpid] != nil {
		n, _ := f[fProcPpid].uint()
		w.uint("pid", n)
	}
	if f[fProcPexepath] != nil {
		w.strVal("executable", f[fProcPexepath])
	}
	if f[fProcPname] != nil {
		w.strVal("name", f[fProcPname])
	}
	if f[fProcPcmdline] != nil {
		w.strVal("command_line", f[fProcPcmdline])
	}
	w.close()
	w.close()
}

func (fr *falcoRec) identity(w *writer) {
	f := &fr.f
	w.open("user")
	if f[fUserName] != nil {
		w.strVal("name", f[fUserName])
	}
	if f[fUserUID] != nil {
		n, _ := f[fUserUID].uint()
		w.uintStr("id", n)
	}
	w.open("group")
	if f[fGroupGID] != nil {
		n, _ := f[fGroupGID].uint()
		w.uintStr("id", n)
	}
	if f[fGroupName] != nil {
		w.strVal("name", f[fGroupName])
	}
	w.close()
	w.close()
	w.open("container")
	if f[fContainerID] != nil && string(f[fContainerID]) != `"host"` {
		w.strVal("id", f[fContainerID])
		if f[fContainerName] != nil {
			w.strVal("name", f[fContainerName])
		}
		w.open("image")
		if f[fImageRepo] != nil {
			w.strVal("name", f[fImageRepo])
		}
		if f[fImageTag] != nil {
			w.beginArr("tag")
			w.b = append(w.b, f[fImageTag]...)
			w.endArr()
		}
		w.close()
	}
	w.close()
	if f[fK8sNs] != nil || f[fK8sPod] != nil {
		w.open("orchestrator")
		w.conststr("type", "kubernetes")
		if f[fK8sNs] != nil {
			w.strVal("namespace", f[fK8sNs])
		}
		if f[fK8sPod] != nil {
			w.open("resource")
			w.conststr("type", "pod")
			w.strVal("name", f[fK8sPod])
			if f[fK8sPodUID] != nil {
				w.strVal("id", f[fK8sPodUID])
			}
			w.close()
		}
		w.close()
	}
}

// signal writes cairn.signals and the raise's detail: key falco:<rule>,
// label `Falco rule "<rule>"`, the ATT&CK tactics of the mitre_* tags and
// the techniques of the T<nnnn>[.<nnn>] tags (in the order of the tags,
// without repeats).
func (fr *falcoRec) signal(w *writer, rule, tags val, signal string) {
	if signal == "" {
		return
	}
	n := 0
	for it := elements(tags); it.next() && n < maxFalcoTags; n++ {
		t := it.val.str(fr.arena) // the tag's own bytes unless escaped
		if rest, ok := bytes.CutPrefix(t, []byte("mitre_")); ok && fr.nTactics < len(fr.tactics) {
			if id := mitre.TacticID(string(rest)); id != "" && !fr.hasTactic(id) {
				fr.tactics[fr.nTactics] = id
				fr.nTactics++
			}
		} else if isTechniqueTag(t) && fr.nTechniques < len(fr.techniques) && !fr.hasTechnique(t) {
			if t[0] == 't' {
				// Only the T can be lower case (isTechniqueTag).
				start := len(*fr.arena)
				*fr.arena = append(append(*fr.arena, 'T'), t[1:]...)
				t = (*fr.arena)[start:len(*fr.arena):len(*fr.arena)]
			}
			fr.techniques[fr.nTechniques] = t
			fr.nTechniques++
		}
	}
	w.open("cairn")
	w.constStrs("signals", signal)
	w.beginArr("signal_details")
	w.beginElem(true)
	w.conststr("signal", signal)
	w.member("key")
	w.b = append(w.b, `"falco:`...)
	w.b = append(w.b, rule.raw()...)
	w.b = append(w.b, '"')
	w.member("label")
	w.b = append(w.b, `"Falco rule \"`...)
	w.b = append(w.b, rule.raw()...)
	w.b = append(w.b, `\""`...)
	if fr.nTactics > 0 {
		w.constStrs("tactics", fr.tactics[:fr.nTactics]...)
	}
	if fr.nTechniques > 0 {
		w.beginArr("techniques")
		for i, t := range fr.techniques[:fr.nTechniques] {
			w.sep(i == 0)
			w.b = append(append(append(w.b, '"'), t...), '"')
		}
		w.endArr()
	}
	w.endElem()
	w.endArr()
	w.close()
}

func (fr *falcoRec) hasTactic(id string) bool {
	for _, t := range fr.tactics[:fr.nTactics] {
		if t == id {
			return true
		}
	}
	return false
}

func (fr *falcoRec) hasTechnique(t []byte) bool {
	for _, x := range fr.techniques[:fr.nTechniques] {
		if bytes.EqualFold(x, t) {
			return true
		}
	}
	return false
}

// isTechniqueTag: T<4 digits>, optionally .<3 digits>, any case.
func isTechniqueTag(t []byte) bool {
	digits := func(b []byte) bool {
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if len(t) != 5 && len(t) != 9 || t[0] != 'T' && t[0] != 't' || !digits(t[1:5]) {
		return false
	}
	return len(t) == 5 || t[5] == '.' && digits(t[6:])
}
