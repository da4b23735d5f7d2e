package normalize

import (
	"bytes"
	"math"
	"net/netip"
	"unsafe"

	"github.com/cairnsec/cairn/internal/timestamp"
)

// Tetragon's JSON export: one object per line, holding one event member
// named after the event (process_exec, process_exit, process_kprobe, …)
// next to node_name, time and, in newer versions, cluster_name and
// node_labels. Field names follow api/v1/tetragon/tetragon.proto (protojson
// with the proto names: 64-bit integers are strings). Older versions (the
// captures of "Security Observability with eBPF") also have
// process_connect, process_close and process_listen events with flat
// source_ip/destination_ip fields; newer ones say the same with kprobes on
// tcp_connect and friends, whose sock_arg carries the addresses.
type tetragon struct{}

func (tetragon) name() string { return FormatTetragon }

// Tetragon event names with a mapping, and those known without one.
func tetragonMapped(k []byte) bool {
	switch string(k) {
	case "process_exec", "process_exit", "process_kprobe", "process_lsm",
		"process_connect", "process_close", "process_listen":
		return true
	}
	return false
}

func tetragonEventKey(k []byte) bool {
	if tetragonMapped(k) {
		return true
	}
	switch string(k) {
	case "process_tracepoint", "process_uprobe", "process_usdt", "process_loader",
		"process_throttle", "rate_limit_info", "test":
		return true
	}
	return bytes.HasPrefix(k, []byte("process_"))
}

// tetragonType returns the name of a mapped event type as a constant
// string (counting by it allocates nothing), else "event".
func tetragonType(k []byte) string {
	switch string(k) {
	case "process_exec":
		return "process_exec"
	case "process_exit":
		return "process_exit"
	case "process_kprobe":
		return "process_kprobe"
	case "process_lsm":
		return "process_lsm"
	case "process_connect":
		return "process_connect"
	case "process_close":
		return "process_close"
	case "process_listen":
		return "process_listen"
	}
	return "event"
}

// event returns the index in r.top of the record's event member, or -1.
func tetragonEvent(r *record) int {
	for i, m := range r.top {
		if m.v.isObj() && tetragonEventKey(m.key) {
			return i
		}
	}
	return -1
}

// sniff: a JSON object without @timestamp, with node_name or time, and an
// event member (a known event name, or any process_* name) whose value is
// an object.
func (tetragon) sniff(r *record) bool {
	if !r.json || r.get("@timestamp") != nil {
		return false
	}
	if r.get("node_name") == nil && r.get("time") == nil {
		return false
	}
	return tetragonEvent(r) >= 0
}

// tproc is what is read of one Tetragon Process message.
type tproc struct {
	execID, parentExecID, binary, arguments, cwd, flags, docker val
	pid, uid, auid                                              val
	start                                                       int64
	podNamespace, podName, podUID, workloadKind                 val
	ctrID, ctrName, imageID, imageName                          val
	labels                                                      val
	userName                                                    val
	credUID, credEUID, credGID                                  val
	seen                                                        bool
}

// strField checks that v, if present, is a string.
// where names a field for errors, built only when one is reported: up to
// three parts ("process_exec", ".process", ".pod").
type where struct{ a, b, c string }

func (w where) String() string { return w.a + w.b + w.c }

func (w where) sub(s string) where {
	switch {
	case w.b == "":
		w.b = s
	case w.c == "":
		w.c = s
	default:
		w.c += s
	}
	return w
}

func strField(v val, name *where, sub string) (val, error) {
	if !v.present() {
		return nil, nil
	}
	if !v.isStr() {
		return nil, refuse("%s%s is not a string", name.String(), sub)
	}
	return v, nil
}

// uintField checks that v, if present, is an unsigned integer (a number or
// a string of digits) of at most max.
func uintField(v val, name *where, sub string, max uint64) (val, error) {
	if !v.present() {
		return nil, nil
	}
	n, ok := v.uint()
	if !ok || n > max {
		return nil, refuse("%s%s is not an integer between 0 and %d", name.String(), sub, max)
	}
	return v, nil
}

// timeField reads an RFC 3339 string (protojson's Timestamp).
func timeField(v val, name *where, sub string) (int64, error) {
	if !v.present() {
		return 0, nil
	}
	if !v.isStr() {
		return 0, refuse("%s%s is not a time", name.String(), sub)
	}
	ns, ok := timestamp.ParseRFC3339(v.raw())
	if !ok || ns <= 0 {
		return 0, refuse("%s%s is not an RFC 3339 time", name.String(), sub)
	}
	return ns, nil
}

const maxUint32 = 1<<32 - 1

// readProc reads a Process object (o positioned on it). Of a parent, only
// what the parent section shows is read (see process): the rest is
// stepped over, checked as JSON but not taken, so a parent's pod or
// credentials, which no field shows, neither cost a read nor refuse the
// record.
func readProc(o *obj, p *tproc, what where, parent bool) error {
	if !o.isObject() {
		v := o.value()
		if !v.present() {
			return nil
		}
		return refuse("%s is not an object", what)
	}
	p.seen = true
	c := o.object()
	var err error
	for c.next() {
		if err != nil {
			continue // walk to the end all the same
		}
		if parent {
			switch string(c.key()) {
			case "exec_id", "pid", "binary", "arguments", "start_time":
			default:
				continue
			}
		}
		switch string(c.key()) {
		case "exec_id":
			p.execID, err = strField(c.value(), &what, ".exec_id")
		case "parent_exec_id":
			p.parentExecID, err = strField(c.value(), &what, ".parent_exec_id")
		case "binary":
			p.binary, err = strField(c.value(), &what, ".binary")
		case "arguments":
			p.arguments, err = strField(c.value(), &what, ".arguments")
		case "cwd":
			p.cwd, err = strField(c.value(), &what, ".cwd")
		case "flags":
			p.flags, err = strField(c.value(), &what, ".flags")
		case "docker":
			p.docker, err = strField(c.value(), &what, ".docker")
		case "pid":
			p.pid, err = uintField(c.value(), &what, ".pid", maxUint32)
		case "uid":
			p.uid, err = uintField(c.value(), &what, ".uid", maxUint32)
		case "auid":
			p.auid, err = uintField(c.value(), &what, ".auid", maxUint32)
		case "start_time":
			p.start, err = timeField(c.value(), &what, ".start_time")
		case "pod":
			err = readPod(&c, p, what.sub(".pod"))
		case "user":
			if c.isObject() {
				u := c.object()
				for u.next() {
					if err != nil {
						continue // walk to the end all the same
					}
					if string(u.key()) == "name" {
						p.userName, err = strField(u.value(), &what, ".user.name")
					}
				}
				c.resume(&u)
			}
		case "process_credentials":
			if c.isObject() {
				u := c.object()
				for u.next() {
					if err != nil {
						continue // walk to the end all the same
					}
					switch string(u.key()) {
					case "uid":
						p.credUID, err = uintField(u.value(), &what, ".process_credentials.uid", maxUint32)
					case "euid":
						p.credEUID, err = uintField(u.value(), &what, ".process_credentials.euid", maxUint32)
					case "gid":
						p.credGID, err = uintField(u.value(), &what, ".process_credentials.gid", maxUint32)
					}
				}
				c.resume(&u)
			}
		}
	}
	o.resume(&c)
	return err
}

func readPod(o *obj, p *tproc, what where) error {
	if !o.isObject() {
		if v := o.value(); v.present() {
			return refuse("%s is not an object", what)
		}
		return nil
	}
	c := o.object()
	var err error
	for c.next() {
		if err != nil {
			continue // walk to the end all the same
		}
		switch string(c.key()) {
		case "namespace":
			p.podNamespace, err = strField(c.value(), &what, ".namespace")
		case "name":
			p.podName, err = strField(c.value(), &what, ".name")
		case "uid":
			p.podUID, err = strField(c.value(), &what, ".uid")
		case "workload_kind":
			p.workloadKind, err = strField(c.value(), &what, ".workload_kind")
		case "pod_labels":
			if v := c.value(); v.isObj() {
				p.labels = v
			}
		case "container":
			if !c.isObject() {
				if v := c.value(); v.present() {
					err = refuse("%s.container is not an object", what)
				}
				continue
			}
			k := c.object()
			for k.next() {
				if err != nil {
					continue // walk to the end all the same
				}
				switch string(k.key()) {
				case "id":
					p.ctrID, err = strField(k.value(), &what, ".container.id")
				case "name":
					p.ctrName, err = strField(k.value(), &what, ".container.name")
				case "image":
					if k.isObject() {
						im := k.object()
						for im.next() {
							if err != nil {
								continue // walk to the end all the same
							}
							switch string(im.key()) {
							case "id":
								p.imageID, err = strField(im.value(), &what, ".container.image.id")
							case "name":
								p.imageName, err = strField(im.value(), &what, ".container.image.name")
							}
						}
						k.resume(&im)
					}
				}
			}
			c.resume(&k)
		}
	}
	o.resume(&c)
	return err
}

// targ is what is read of a kprobe, LSM or tracepoint argument list.
type targ struct {
	sock       bool // a sock_arg or sockaddr_arg
	family     val
	protocol   val
	saddr      val
	daddr      val
	sport      val
	dport      val
	path       val // file_arg, path_arg or linux_binprm_arg path
	binprm     bool
	permission val
	mask       val // the first int_arg (security_file_permission's mask)
}

func readArgs(v val, a *targ, what where) error {
	if !v.present() {
		return nil
	}
	if !v.isArr() {
		return refuse("%s is not an array", what)
	}
	it := elements(v)
	var err error
	for it.next() {
		if err != nil {
			continue // walk to the end all the same
		}
		e := members(it.val)
		for e.next() {
			if err != nil {
				continue // walk to the end all the same
			}
			switch string(e.key()) {
			case "sock_arg", "sockaddr_arg":
				if a.sock || !e.isObject() {
					continue
				}
				a.sock = true
				s := e.object()
				for s.next() {
					if err != nil {
						continue // walk to the end all the same
					}
					switch string(s.key()) {
					case "family":
						a.family, err = strField(s.value(), &what, ".sock_arg.family")
					case "protocol":
						a.protocol, err = strField(s.value(), &what, ".sock_arg.protocol")
					case "saddr":
						a.saddr, err = strField(s.value(), &what, ".sock_arg.saddr")
					case "daddr", "addr":
						a.daddr, err = strField(s.value(), &what, ".sock_arg.daddr")
					case "sport":
						a.sport, err = uintField(s.value(), &what, ".sock_arg.sport", 65535)
					case "dport", "port":
						a.dport, err = uintField(s.value(), &what, ".sock_arg.dport", 65535)
					}
				}
				e.resume(&s)
			case "file_arg", "path_arg", "linux_binprm_arg":
				if a.path != nil || !e.isObject() {
					continue
				}
				a.binprm = string(e.key()) == "linux_binprm_arg"
				s := e.object()
				for s.next() {
					if err != nil {
						continue // walk to the end all the same
					}
					switch string(s.key()) {
					case "path":
						a.path, err = strField(s.value(), &what, ".path")
					case "permission":
						a.permission, err = strField(s.value(), &what, ".permission")
					}
				}
				e.resume(&s)
			case "int_arg":
				if a.mask == nil {
					if m := e.value(); m.isNum() {
						a.mask = m
					}
				}
			}
		}
	}
	return err
}

// tevent is what is read of one Tetragon event.
type tevent struct {
	proc, parent    tproc
	function        val
	policy          val
	args            targ
	imaHash         val
	signal          val
	status          val
	exitTime        int64
	tags            val
	srcIP, dstIP    val // the old process_connect/close/listen
	srcPort, dstPrt val
	ip, port        val
	proto           val
	bytesSent       val
	bytesReceived   val
}

func (tetragon) normalize(r *record, w *writer) (string, Outcome, error) {
	i := tetragonEvent(r)
	if !tetragonMapped(r.top[i].key) {
		return r.n.typeName("", r.top[i].key), Passthrough, nil
	}
	typ := tetragonType(r.top[i].key)
	loc := where{a: typ}
	node, err := strField(r.get("node_name"), &where{a: "node_name"}, "")
	if err != nil {
		return typ, Malformed, err
	}
	cluster, err := strField(r.get("cluster_name"), &where{a: "cluster_name"}, "")
	if err != nil {
		return typ, Malformed, err
	}
	at, err := timeField(r.get("time"), &where{a: "time"}, "")
	if err != nil {
		return typ, Malformed, err
	}
	ev := &r.ev
	if r.evIdx != i {
		// Not read during the scan (a record of more members than the
		// scan keeps): read it now.
		*ev = tevent{}
		o := members(r.top[i].v)
		r.evErr = parseEvent(&o, ev, loc)
	}
	err = r.evErr
	if err != nil {
		return typ, Malformed, err
	}
	if !ev.proc.seen {
		return typ, Malformed, refuse("%s has no process", typ)
	}
	if ev.proc.binary == nil && ev.proc.execID == nil && ev.proc.pid == nil {
		return typ, Malformed, refuse("%s.process has neither binary, exec_id nor pid", typ)
	}
	if at == 0 && typ == "process_exec" {
		// An exec without its time (the first record of a `tetra
		// getevents` sample has none) happened when the process started:
		// its own time rather than the time the line is read, so that a
		// replay gives the same history as the live collector.
		at = ev.proc.start
	}
	t := tctx{w: w, r: r, ev: ev, node: node, cluster: cluster, at: at}
	var out Outcome
	switch typ {
	case "process_exec":
		out, err = t.exec()
	case "process_exit":
		out, err = t.exitEvent()
	case "process_connect", "process_close", "process_listen":
		out, err = t.oldSocket(typ)
	default: // process_kprobe, process_lsm
		out, err = t.hook(typ == "process_lsm")
		if out == Passthrough {
			return r.n.typeName(typ+"/", ev.function.rawOr()), Passthrough, nil
		}
	}
	return typ, out, err
}

// parseEvent reads the members of an event object (o iterates it) into ev;
// it walks the object to its end even after a field it refuses, so that a
// checking iterator checks all of it. loc names the event for errors.
func parseEvent(o *obj, ev *tevent, loc where) error {
	var err error
	for o.next() {
		if err != nil {
			continue // walk to the end all the same
		}
		switch string(o.key()) {
		case "process":
			err = readProc(o, &ev.proc, loc.sub(".process"), false)
		case "parent":
			err = readProc(o, &ev.parent, loc.sub(".parent"), true)
		case "function_name":
			ev.function, err = strField(o.value(), &loc, ".function_name")
		case "policy_name":
			ev.policy, err = strField(o.value(), &loc, ".policy_name")
		case "args":
			err = readArgs(o.value(), &ev.args, loc.sub(".args"))
		case "ima_hash":
			ev.imaHash, err = strField(o.value(), &loc, ".ima_hash")
		case "signal":
			ev.signal, err = strField(o.value(), &loc, ".signal")
		case "status":
			ev.status, err = uintField(o.value(), &loc, ".status", maxUint32)
		case "time":
			ev.exitTime, err = timeField(o.value(), &loc, ".time")
		case "tags":
			if v := o.value(); v.isArr() {
				ev.tags = v
			}
		case "source_ip":
			ev.srcIP, err = strField(o.value(), &loc, ".source_ip")
		case "destination_ip":
			ev.dstIP, err = strField(o.value(), &loc, ".destination_ip")
		case "source_port":
			ev.srcPort, err = uintField(o.value(), &loc, ".source_port", 65535)
		case "destination_port":
			ev.dstPrt, err = uintField(o.value(), &loc, ".destination_port", 65535)
		case "ip":
			ev.ip, err = strField(o.value(), &loc, ".ip")
		case "port":
			ev.port, err = uintField(o.value(), &loc, ".port", 65535)
		case "protocol":
			ev.proto, err = strField(o.value(), &loc, ".protocol")
		case "stats":
			if o.isObject() {
				s := o.object()
				for s.next() {
					if err != nil {
						continue // walk to the end all the same
					}
					switch string(s.key()) {
					case "bytes_sent":
						ev.bytesSent, err = uintField(s.value(), &loc, ".stats.bytes_sent", 1<<63-1)
					case "bytes_received":
						ev.bytesReceived, err = uintField(s.value(), &loc, ".stats.bytes_received", 1<<63-1)
					}
				}
				o.resume(&s)
			}
		}
	}
	return err
}

func (v val) rawOr() []byte {
	if v.isStr() {
		return v.raw()
	}
	return nil
}

type tctx struct {
	w       *writer
	r       *record
	ev      *tevent
	node    val
	cluster val
	at      int64
	// exit: the process section carries process.end and exit_code.
	exit     bool
	exitCode int64
	signal   int
}

// head writes @timestamp, the event section (event.action is action, or
// rawAction, a JSON string's raw content) and host.
func (t *tctx) head(dataset, category, action string, rawAction []byte, types ...string) {
	w := t.w
	if t.at > 0 {
		w.time("@timestamp", t.at)
	}
	w.eventHead(category, action, "tetragon", dataset, types...)
	if action == "" && len(rawAction) > 0 {
		w.rawStr("action", rawAction)
	}
	w.close()
	if t.node != nil {
		w.open("host")
		w.rawStr("name", t.node.raw())
		w.close()
	}
	if t.ev.tags != nil {
		w.strElems("tags", t.ev.tags, math.MaxInt)
	}
}

func (t *tctx) exec() (Outcome, error) {
	p := &t.ev.proc
	if p.binary == nil {
		return Malformed, refuse("process_exec.process has no binary")
	}
	types, action := "start", "exec"
	if p.flags != nil && hasWord(p.flags.raw(), "procFS") {
		// Processes found running when Tetragon started, read from
		// /proc: cairn_host's inventory says the same this way.
		types, action = "info", "existing_process"
	}
	t.head("tetragon.process", "process", action, nil, types)
	t.process(true)
	t.identity()
	return Event, nil
}

func (t *tctx) exitEvent() (Outcome, error) {
	t.head("tetragon.process", "process", "end", nil, "end")
	t.exit = true
	t.signal = signalNumber(t.ev.signal.rawOr())
	if t.signal > 0 {
		// As a shell reports it, and as cairn_host does.
		t.exitCode = int64(128 + t.signal)
	} else {
		// protojson leaves out a zero status: absent is 0.
		n, _ := t.ev.status.uint()
		t.exitCode = int64(n)
	}
	t.process(true)
	t.identity()
	return Event, nil
}

// oldSocket maps the process_connect, process_close and process_listen
// events of older Tetragon versions.
func (t *tctx) oldSocket(typ string) (Outcome, error) {
	ev := t.ev
	transport := lowerProto(ev.proto.rawOr())
	switch typ {
	case "process_listen":
		ip, err := ipField(ev.ip, &where{a: typ}, ".ip")
		if err != nil {
			return Malformed, err
		}
		t.head("tetragon.network", "network", "listen", nil, "info")
		t.network(transport, ip, "")
		t.endpoint("source", ev.ip, ip, ev.port, nil)
	default:
		src, err := ipField(ev.srcIP, &where{a: typ}, ".source_ip")
		if err != nil {
			return Malformed, err
		}
		dst, err := ipField(ev.dstIP, &where{a: typ}, ".destination_ip")
		if err != nil {
			return Malformed, err
		}
		if typ == "process_connect" {
			t.head("tetragon.network", "network", "connection-opened", nil, "connection", "start")
			t.network(transport, firstValid(dst, src), "egress")
		} else {
			t.head("tetragon.network", "network", "connection-closed", nil, "end")
			t.network(transport, firstValid(dst, src), "")
		}
		t.endpoint("source", ev.srcIP, src, ev.srcPort, ev.bytesSent)
		t.endpoint("destination", ev.dstIP, dst, ev.dstPrt, ev.bytesReceived)
	}
	t.process(false)
	t.identity()
	return Event, nil
}

// hook maps a kprobe or LSM event by its arguments: a socket makes a
// network event, a file or path a file event, an executable (linux_binprm)
// a process event; anything else passes through.
func (t *tctx) hook(lsm bool) (Outcome, error) {
	ev := t.ev
	a := &ev.args
	fn := ev.function.rawOr()
	switch {
	case a.sock:
		ds, err := ipField(a.daddr, &where{a: "sock_arg"}, ".daddr")
		if err != nil {
			return Malformed, err
		}
		ss, err := ipField(a.saddr, &where{a: "sock_arg"}, ".saddr")
		if err != nil {
			return Malformed, err
		}
		var types []string
		direction := ""
		switch {
		case bytes.Contains(fn, []byte("close")) || bytes.Contains(fn, []byte("free")):
			types = typesEnd
		case bytes.Contains(fn, []byte("listen")) || bytes.Contains(fn, []byte("bind")):
			types = typesInfo
		case bytes.Contains(fn, []byte("connect")) || bytes.Contains(fn, []byte("sendmsg")):
			types = typesConnStart
			direction = "egress"
		default:
			types = typesConnInfo
		}
		t.head("tetragon.network", "network", "", fn, types...)
		transport := ""
		switch string(a.protocol.rawOr()) {
		case "IPPROTO_TCP":
			transport = "tcp"
		case "IPPROTO_UDP":
			transport = "udp"
		}
		t.network(transport, firstValid(ds, ss), direction)
		// An unconnected socket has no peer yet, and an unbound one no
		// local address: unspecified addresses (0.0.0.0, ::) are left
		// out, ports kept.
		if ss.IsUnspecified() {
			ss = netip.Addr{}
		}
		if ds.IsUnspecified() {
			ds = netip.Addr{}
		}
		t.endpoint("source", a.saddr, ss, a.sport, nil)
		t.endpoint("destination", a.daddr, ds, a.dport, nil)
		t.process(false)
	case a.binprm:
		// An LSM hook on an exec (bprm_check_security and friends) sees
		// the program about to run; with imaHash, its hash. The process
		// then is still the one calling exec, so the event describes the
		// program by path and hash under the caller's pid, without entity
		// ids (the exec's own id is not known yet). Typed "access", not
		// "start": the process_exec that follows is the start.
		if a.path == nil {
			return Passthrough, nil
		}
		t.head("tetragon.process", "process", "", fn, "access")
		w := t.w
		path := t.absPath(a.path)
		w.open("process")
		if n, ok := ev.proc.pid.uint(); ok && ev.proc.pid != nil {
			w.uint("pid", n)
		}
		w.str("executable", path)
		w.str("name", baseName(path))
		t.hash()
		w.close()
		t.file(path, false)
	case a.path != nil:
		t.head("tetragon.file", "file", "", fn, fileType(fn, a))
		t.file(t.absPath(a.path), lsm)
		t.process(false)
	default:
		return Passthrough, nil
	}
	t.identity()
	return Event, nil
}

var (
	typesEnd       = []string{"end"}
	typesInfo      = []string{"info"}
	typesConnStart = []string{"connection", "start"}
	typesConnInfo  = []string{"connection", "info"}
)

// hash writes hash.<alg> in the current section from an IMA hash
// "<alg>:<hex>" for the algorithms ECS's hash fields have.
func (t *tctx) hash() {
	h := t.ev.imaHash.rawOr()
	w := t.w
	for _, alg := range [...]string{"sha256", "sha1", "md5", "sha512"} {
		if len(h) > len(alg)+1 && string(h[:len(alg)]) == alg && h[len(alg)] == ':' && isHex(h[len(alg)+1:]) {
			w.open("hash")
			w.rawStr(alg, h[len(alg)+1:])
			w.close()
			return
		}
	}
}

func (t *tctx) file(path []byte, withHash bool) {
	w := t.w
	w.open("file")
	w.str("path", path)
	w.str("name", baseName(path))
	if withHash {
		t.hash()
	}
	w.close()
}

// absPath returns a file argument's path: older Tetragon versions wrote
// paths without their leading slash ("etc/passwd"); the kernel resolved
// them from the root, so the slash is put back.
func (t *tctx) absPath(v val) []byte {
	p := v.str(&t.r.arena)
	if len(p) > 0 && p[0] != '/' {
		b := append(t.r.path[:0], '/')
		b = append(b, p...)
		t.r.path = b
		return b
	}
	return p
}

func fileType(fn []byte, a *targ) string {
	switch {
	case bytes.Contains(fn, []byte("unlink")) || bytes.Contains(fn, []byte("rmdir")):
		return "deletion"
	case bytes.Contains(fn, []byte("mkdir")) || bytes.Contains(fn, []byte("symlink")) ||
		bytes.Contains(fn, []byte("link")) || bytes.Contains(fn, []byte("creat")) || bytes.Contains(fn, []byte("mknod")):
		return "creation"
	case bytes.Contains(fn, []byte("write")) || bytes.Contains(fn, []byte("truncate")) ||
		bytes.Contains(fn, []byte("rename")) || bytes.Contains(fn, []byte("chmod")) || bytes.Contains(fn, []byte("chown")):
		return "change"
	case string(fn) == "security_file_permission":
		// The second argument is the access mask: MAY_WRITE (2) and
		// MAY_APPEND (8) change the file.
		if m, ok := a.mask.uint(); ok && m&(2|8) != 0 {
			return "change"
		}
	}
	return "access"
}

// network writes network.transport, type and direction.
func (t *tctx) network(transport string, ip netip.Addr, direction string) {
	t.w.network(transport, ip, direction)
}

// endpoint writes source or destination: ip, port and bytes (sent by that
// end).
func (t *tctx) endpoint(section string, raw val, ip netip.Addr, port, nbytes val) {
	w := t.w
	w.open(section)
	if ip.IsValid() {
		w.rawStr("ip", raw.raw())
	}
	if n, ok := port.uint(); ok && port != nil && n > 0 {
		w.uint("port", n)
	}
	if n, ok := nbytes.uint(); ok && nbytes != nil {
		w.uint("bytes", n)
	}
	w.close()
}

func ipField(v val, name *where, sub string) (netip.Addr, error) {
	if !v.isStr() || len(v.raw()) == 0 {
		return netip.Addr{}, nil
	}
	ip, ok := parseIP(v.raw())
	if !ok {
		return netip.Addr{}, refuse("%s%s is not an IP address", name.String(), sub)
	}
	return ip, nil
}

// parseIP parses an IP address without copying b.
func parseIP(b []byte) (netip.Addr, bool) {
	// netip allocates the error of a failed parse: text that cannot be an
	// address (a name, Zeek's RRSIG summary) is turned away first.
	if len(b) == 0 || len(b) > len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%eth0") {
		return netip.Addr{}, false
	}
	for _, c := range b {
		if c == '%' {
			break // an IPv6 zone: any name
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':') {
			return netip.Addr{}, false
		}
	}
	ip, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	return ip, err == nil
}

func firstValid(a, b netip.Addr) netip.Addr {
	if a.IsValid() {
		return a
	}
	return b
}

func lowerProto(p []byte) string {
	switch string(p) {
	case "TCP", "tcp":
		return "tcp"
	case "UDP", "udp":
		return "udp"
	}
	return ""
}

// maxArgs bounds process.args; beyond, cairn.process.args_truncated is set.
const maxArgs = 1024

// process writes the process section. full adds what an exec or exit
// describes (arguments, working directory, start; end and exit code for
// an exit); every event gets the process's identity, executable and
// parent.
func (t *tctx) process(full bool) {
	p, pp := &t.ev.proc, &t.ev.parent
	w := t.w
	w.open("process")
	if p.pid != nil {
		w.uintVal("pid", p.pid)
	}
	if p.execID != nil && len(p.execID.raw()) > 0 {
		w.rawStr("entity_id", p.execID.raw())
	}
	var bin []byte
	binClean := false
	if p.binary != nil {
		bin, binClean = p.binary.text(&t.r.arena)
		w.rawStr("executable", p.binary.raw())
		w.text("name", baseName(bin), binClean)
	}
	truncated := false
	if full {
		if bin != nil {
			truncated = t.args(bin, binClean, p.arguments, p.flags)
		}
		if p.cwd != nil && len(p.cwd.raw()) > 0 {
			cwd, clean := p.cwd.text(&t.r.arena)
			w.text("working_directory", trimSlash(cwd), clean)
		}
		if p.start > 0 {
			w.time("start", p.start)
		}
	}
	if t.exit {
		end := t.ev.exitTime
		if end == 0 {
			end = t.at
		}
		if end > 0 {
			w.time("end", end)
		}
		w.int("exit_code", t.exitCode)
	}
	// The parent: from the parent object, with the process's own
	// parent_exec_id first.
	w.open("parent")
	if pp.pid != nil {
		w.uintVal("pid", pp.pid)
	}
	switch {
	case p.parentExecID != nil && len(p.parentExecID.raw()) > 0:
		w.rawStr("entity_id", p.parentExecID.raw())
	case pp.execID != nil && len(pp.execID.raw()) > 0:
		w.rawStr("entity_id", pp.execID.raw())
	}
	if pp.binary != nil {
		pbin, clean := pp.binary.text(&t.r.arena)
		w.rawStr("executable", pp.binary.raw())
		w.text("name", baseName(pbin), clean)
		if full {
			t.args(pbin, clean, pp.arguments, nil)
		}
	}
	if full && pp.start > 0 {
		w.time("start", pp.start)
	}
	w.close()
	w.close()
	if truncated || t.signal > 0 {
		w.open("cairn")
		w.open("process")
		if truncated {
			w.bool("args_truncated", true)
		}
		if t.signal > 0 {
			w.int("exit_signal", int64(t.signal))
		}
		w.close()
		w.close()
	}
}

// args writes args, args_count and command_line of the current process
// section, from the binary and Tetragon's arguments string; it reports
// whether the arguments are known to be cut (more than maxArgs, or
// Tetragon's truncArgs flag). Tetragon does not give argv[0]: args[0] is
// the binary.
func (t *tctx) args(bin []byte, binClean bool, arguments val, flags val) bool {
	w := t.w
	var s []byte
	argsClean := true
	if arguments != nil {
		s, argsClean = arguments.text(&t.r.arena)
	}
	truncated := flags != nil && hasWord(flags.raw(), "truncArgs")
	clean := binClean && argsClean
	n := 0 // the arguments in s, when clean
	if clean && len(s) > 0 {
		n = 1 + bytes.Count(s, []byte{' '})
	}
	w.beginArr("args")
	w.b = appendText(w.b, bin, binClean)
	count := 1
	line := append(t.r.cmd[:0], bin...)
	if clean && 1+n <= maxArgs {
		// Nothing escaped in the input, so no argument is quoted (a
		// quote would have been escaped): the arguments are s split at
		// each space, and the command line is the binary, a space and s.
		if len(s) > 0 {
			b := w.b
			for rest := s; ; {
				b = append(b, ',', '"')
				k := bytes.IndexByte(rest, ' ')
				if k < 0 {
					b = append(b, rest...)
					break
				}
				b = append(b, rest[:k]...)
				b = append(b, '"')
				rest = rest[k+1:]
			}
			w.b = append(b, '"')
			line = append(line, ' ')
			line = append(line, s...)
		}
		count += n
	} else {
		splitArgs(s, func(a []byte) bool {
			if count >= maxArgs {
				truncated = true
				return false
			}
			w.b = append(w.b, ',')
			w.b = appendText(w.b, a, argsClean)
			line = append(line, ' ')
			line = append(line, a...)
			count++
			return true
		})
	}
	t.r.cmd = line
	w.endArr()
	w.int("args_count", int64(count))
	// ECS's command_line: the arguments joined by spaces, unquoted, as
	// cairn_host writes it.
	w.text("command_line", line, clean)
	return truncated
}

// splitArgs splits Tetragon's arguments string back into the arguments.
// Tetragon joins the arguments (argv without argv[0]) with single spaces
// and wraps an argument that contains a space in double quotes, escaping
// nothing (pkg/process/args.go, ArgsDecoder). So: a space separates two
// arguments (two spaces in a row enclose an empty one); a token that opens
// with a quote is a quoted argument if a later quote followed by a space
// or the end closes it and what they enclose holds a space, else it is an
// argument that starts with a quote. Limits, from the format itself: an
// argument that holds a space and the two characters quote-space is cut
// at that quote; leading empty arguments are lost by Tetragon (and a
// leading quoted argument gets a space in front, which is dropped here);
// tabs and newlines are kept inside arguments. emit returns false to stop.
func splitArgs(s []byte, emit func([]byte) bool) {
	if len(s) == 0 {
		return
	}
	if len(s) >= 2 && s[0] == ' ' && s[1] == '"' {
		s = s[1:]
	}
	i := 0
	for {
		var tok []byte
		next := -1
		if i < len(s) && s[i] == '"' {
			for j := i + 1; j < len(s); j++ {
				k := bytes.IndexByte(s[j:], '"')
				if k < 0 {
					break
				}
				j += k
				if (j+1 == len(s) || s[j+1] == ' ') && bytes.IndexByte(s[i+1:j], ' ') >= 0 {
					tok, next = s[i+1:j], j+1
					break
				}
			}
		}
		if next < 0 {
			e := bytes.IndexByte(s[i:], ' ')
			if e < 0 {
				e = len(s)
			} else {
				e += i
			}
			tok, next = s[i:e], e
		}
		if !emit(tok) {
			return
		}
		if next >= len(s) {
			return
		}
		i = next + 1 // past the space
	}
}

// identity writes user, container and orchestrator sections.
func (t *tctx) identity() {
	p := &t.ev.proc
	w := t.w
	w.open("user")
	uid := p.uid
	if p.credUID != nil {
		// With --enable-process-cred, the real uid; Tetragon's uid is the
		// effective one.
		uid = p.credUID
	}
	if uid != nil {
		w.uintStrVal("id", uid)
	}
	if p.userName != nil {
		w.rawStr("name", p.userName.raw())
	}
	if p.uid != nil || p.credEUID != nil {
		e := p.uid
		if p.credEUID != nil {
			e = p.credEUID
		}
		w.open("effective")
		w.uintStrVal("id", e)
		w.close()
	}
	if p.credGID != nil {
		w.open("group")
		w.uintStrVal("id", p.credGID)
		w.close()
	}
	if p.auid != nil {
		if n, _ := p.auid.uint(); n != maxUint32 {
			w.open("audit")
			w.uintStr("id", n)
			w.close()
		}
	}
	w.close()

	w.open("container")
	switch {
	case p.ctrID != nil && len(p.ctrID.raw()) > 0:
		id := p.ctrID.raw()
		if k := schemeEnd(id); k > 0 {
			w.rawStr("runtime", id[:k])
			id = id[k+3:]
		}
		w.rawStr("id", id)
	case p.docker != nil && len(p.docker.raw()) > 0:
		// Without pod information Tetragon gives only the first hex
		// digits of the container id.
		w.rawStr("id", p.docker.raw())
	}
	if p.ctrName != nil {
		w.rawStr("name", p.ctrName.raw())
	}
	if p.imageName != nil || p.imageID != nil {
		w.open("image")
		if p.imageName != nil {
			w.rawStr("name", p.imageName.raw())
		}
		if p.imageID != nil {
			if k := lastAt(p.imageID.raw()); k >= 0 {
				w.open("hash")
				w.beginArr("all")
				w.b = append(w.b, '"')
				w.b = append(w.b, p.imageID.raw()[k+1:]...)
				w.b = append(w.b, '"')
				w.endArr()
				w.close()
			}
		}
		w.close()
	}
	w.close()

	if p.podName != nil || p.podNamespace != nil {
		w.open("orchestrator")
		w.conststr("type", "kubernetes")
		if p.podNamespace != nil {
			w.rawStr("namespace", p.podNamespace.raw())
		}
		if t.cluster != nil {
			w.open("cluster")
			w.rawStr("name", t.cluster.raw())
			w.close()
		}
		w.open("resource")
		w.conststr("type", "pod")
		if p.podName != nil {
			w.rawStr("name", p.podName.raw())
		}
		if p.podUID != nil {
			w.rawStr("id", p.podUID.raw())
		}
		if p.workloadKind != nil {
			w.open("parent")
			w.rawStr("type", p.workloadKind.raw())
			w.close()
		}
		t.labels(p.labels)
		w.close()
		w.close()
	}
}

// maxLabels bounds the pod labels kept.
const maxLabels = 64

// labels writes pod labels as orchestrator.resource.label, "key=value".
func (t *tctx) labels(v val) {
	w := t.w
	n := 0
	o := members(v)
	for o.next() && n < maxLabels {
		lv := o.value()
		if !lv.isStr() {
			continue
		}
		if n == 0 {
			w.beginArr("label")
		}
		w.sep(n == 0)
		w.b = append(w.b, '"')
		w.b = append(w.b, o.key()...)
		w.b = append(w.b, '=')
		w.b = append(w.b, lv.raw()...)
		w.b = append(w.b, '"')
		n++
	}
	if n > 0 {
		w.endArr()
	}
}

// schemeEnd returns the index of the first "://" in s, or -1: where the
// runtime prefix of a container id ("docker://", "containerd://") ends.
// The first ':' is that one as a rule, and a byte search finds it faster
// than a search for the three bytes.
func schemeEnd(s []byte) int {
	k := bytes.IndexByte(s, ':')
	if k < 0 || bytes.HasPrefix(s[k+1:], []byte("//")) {
		return k
	}
	if j := bytes.Index(s[k+1:], []byte("://")); j >= 0 {
		return k + 1 + j
	}
	return -1
}

// lastAt returns the index of the last '@' in s, or -1. An image id is
// long (a repository, then the 71-byte digest after the '@') and has one
// '@' at most, as a rule: a forward vector search finds it, and any later
// one, faster than bytes.LastIndexByte steps back through the digest.
func lastAt(s []byte) int {
	k := -1
	for {
		j := bytes.IndexByte(s[k+1:], '@')
		if j < 0 {
			return k
		}
		k += 1 + j
	}
}

func baseName(p []byte) []byte {
	if k := bytes.LastIndexByte(p, '/'); k >= 0 && k+1 < len(p) {
		return p[k+1:]
	}
	return p
}

func trimSlash(p []byte) []byte {
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// hasWord reports whether the space-separated list s holds word.
func hasWord(s []byte, word string) bool {
	for len(s) > 0 {
		k := bytes.IndexByte(s, ' ')
		if k < 0 {
			return string(s) == word
		}
		if string(s[:k]) == word {
			return true
		}
		s = s[k+1:]
	}
	return false
}

func isHex(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// signalNumber returns the Linux number of a signal name (SIGKILL), 0 for
// none or an unknown name.
func signalNumber(name []byte) int {
	switch string(name) {
	case "SIGHUP":
		return 1
	case "SIGINT":
		return 2
	case "SIGQUIT":
		return 3
	case "SIGILL":
		return 4
	case "SIGTRAP":
		return 5
	case "SIGABRT", "SIGIOT":
		return 6
	case "SIGBUS":
		return 7
	case "SIGFPE":
		return 8
	case "SIGKILL":
		return 9
	case "SIGUSR1":
		return 10
	case "SIGSEGV":
		return 11
	case "SIGUSR2":
		return 12
	case "SIGPIPE":
		return 13
	case "SIGALRM":
		return 14
	case "SIGTERM":
		return 15
	case "SIGSTKFLT":
		return 16
	case "SIGCHLD":
		return 17
	case "SIGCONT":
		return 18
	case "SIGSTOP":
		return 19
	case "SIGTSTP":
		return 20
	case "SIGTTIN":
		return 21
	case "SIGTTOU":
		return 22
	case "SIGURG":
		return 23
	case "SIGXCPU":
		return 24
	case "SIGXFSZ":
		return 25
	case "SIGVTALRM":
		return 26
	case "SIGPROF":
		return 27
	case "SIGWINCH":
		return 28
	case "SIGIO", "SIGPOLL":
		return 29
	case "SIGPWR":
		return 30
	case "SIGSYS":
		return 31
	}
	return 0
}
