package normalize

import (
	"bytes"
	"math"
	"net/netip"
	"strconv"
	"unsafe"

	"github.com/cairnsec/cairn/internal/timestamp"
)

// Zeek logs: conn.log and dns.log are mapped, in either of Zeek's writers'
// forms:
//
//   - JSON lines (LogAscii::use_json), one flat object per record with
//     dotted names ("id.orig_h"); ts is epoch seconds, or an ISO 8601
//     string with JSON::TS_ISO8601. The log is named by a _path member when
//     there is one, else recognised by its fields (conn_state: conn;
//     query, trans_id, qtype_name or rcode_name: dns).
//   - TSV (the default writer): the header lines (#separator, #fields,
//     #types, #path, ...) set how the rows that follow are read; values
//     escape bytes as \xHH, "-" is unset and "(empty)" empty.
//
// A Zeek record describes traffic seen on the wire, not a host: host.ip is
// the originator's address (id.orig_h), and host.name, which nothing in the
// log gives, is that address too, so that per-host baselines group a
// host's connections and lookups by the machine that made them.
type zeek struct {
	// explicit: the format was chosen (format: zeek), so every line is
	// taken as Zeek's; in auto mode only lines that look like it are.
	explicit bool
}

func (zeek) name() string { return FormatZeek }

// Zeek fields mapped, by id.
const (
	zTS = iota
	zUID
	zOrigH
	zOrigP
	zRespH
	zRespP
	zProto
	zService
	zDuration
	zOrigBytes
	zRespBytes
	zConnState
	zLocalOrig
	zLocalResp
	zHistory
	zOrigPkts
	zRespPkts
	zCommunityID
	zTransID
	zRTT
	zQuery
	zQclassName
	zQtypeName
	zRcodeName
	zAA
	zTC
	zRD
	zRA
	zAnswers
	zTTLs
	zPath
	numZ
)

func zeekField(name []byte) int8 {
	switch string(name) {
	case "ts":
		return zTS
	case "uid":
		return zUID
	case "id.orig_h":
		return zOrigH
	case "id.orig_p":
		return zOrigP
	case "id.resp_h":
		return zRespH
	case "id.resp_p":
		return zRespP
	case "proto":
		return zProto
	case "service":
		return zService
	case "duration":
		return zDuration
	case "orig_bytes":
		return zOrigBytes
	case "resp_bytes":
		return zRespBytes
	case "conn_state":
		return zConnState
	case "local_orig":
		return zLocalOrig
	case "local_resp":
		return zLocalResp
	case "history":
		return zHistory
	case "orig_pkts":
		return zOrigPkts
	case "resp_pkts":
		return zRespPkts
	case "community_id":
		return zCommunityID
	case "trans_id":
		return zTransID
	case "rtt":
		return zRTT
	case "query":
		return zQuery
	case "qclass_name":
		return zQclassName
	case "qtype_name":
		return zQtypeName
	case "rcode_name":
		return zRcodeName
	case "AA":
		return zAA
	case "TC":
		return zTC
	case "RD":
		return zRD
	case "RA":
		return zRA
	case "answers":
		return zAnswers
	case "TTLs":
		return zTTLs
	case "_path":
		return zPath
	}
	return -1
}

var zeekFieldNames = [numZ]string{
	"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
	"orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "history", "orig_pkts",
	"resp_pkts", "community_id", "trans_id", "rtt", "query", "qclass_name", "qtype_name",
	"rcode_name", "AA", "TC", "RD", "RA", "answers", "TTLs", "_path",
}

// Bounds of a TSV header.
const (
	maxZeekFields  = 512
	maxZeekName    = 128
	maxZeekMarker  = 64
	maxZeekAnswers = 64
	// MaxHeaderKeep bounds the header lines a Stream keeps for a
	// checkpoint (see Stream.Header): Zeek's own headers are well under
	// 2 KiB; a header larger than this is not carried over a restart.
	MaxHeaderKeep = 16 << 10
)

// zeekHeader is the state of a TSV log: its header lines.
type zeekHeader struct {
	sep, setSep  byte
	empty, unset []byte
	path         []byte
	fields       [][]byte
	types        [][]byte
	ids          []int8
	fieldsBuf    []byte
	typesBuf     []byte
	// started: a #separator line began a header; active: #fields are
	// in force; bad: a line of this header was refused, and so are the
	// rows under it, until the next header (#separator).
	started, active, bad bool
	// lines: the header lines read since the last #separator, as read
	// ('\n' between them), so that a checkpoint can carry the header
	// (Stream.Header, Stream.Resume); over: they outgrew MaxHeaderKeep.
	lines []byte
	over  bool
}

// keep notes a header line in h.lines.
func (h *zeekHeader) keep(line []byte) {
	if bytes.HasPrefix(line, []byte("#separator ")) {
		h.lines, h.over = h.lines[:0], false
	}
	switch {
	case h.over:
	case len(h.lines)+1+len(line) > MaxHeaderKeep:
		h.lines, h.over = nil, true
	default:
		if len(h.lines) > 0 {
			h.lines = append(h.lines, '\n')
		}
		h.lines = append(h.lines, line...)
	}
}

func (h *zeekHeader) defaults(sep byte) {
	h.sep, h.setSep = sep, ','
	h.empty = append(h.empty[:0], "(empty)"...)
	h.unset = append(h.unset[:0], '-')
	h.path = h.path[:0]
	h.fields, h.types, h.ids = h.fields[:0], h.types[:0], h.ids[:0]
	h.started, h.active, h.bad = true, false, false
}

// zval is one field of a Zeek record: a JSON value, or a TSV column's text
// (escaped as Zeek escapes).
type zval struct {
	b     []byte
	tsv   bool
	empty bool // TSV "(empty)"
	set   bool
}

type zrec struct {
	f      [numZ]zval
	setSep byte
	arena  *[]byte // the record's (val.str)
}

var zeekDirectives = [...]string{"#separator", "#set_separator", "#empty_field", "#unset_field", "#path", "#open", "#close", "#fields", "#types"}

func isZeekDirective(line []byte) bool {
	for _, d := range zeekDirectives {
		if bytes.HasPrefix(line, []byte(d)) && len(line) > len(d) {
			return true
		}
	}
	return false
}

func (z zeek) sniff(r *record) bool {
	if r.json {
		if r.get("@timestamp") != nil || r.get("ts") == nil {
			return false
		}
		return r.get("uid") != nil || r.get("id.orig_h") != nil || r.get("id") != nil
	}
	if len(r.line) > 0 && r.line[0] == '#' {
		return z.explicit || isZeekDirective(r.line)
	}
	if len(r.line) > 0 && r.line[0] == '{' {
		return false // broken JSON: the ECS decoder says why
	}
	if z.explicit {
		return true
	}
	h := &r.stream.zeek
	return h.active && bytes.IndexByte(r.line, h.sep) >= 0
}

func (z zeek) normalize(r *record, w *writer) (string, Outcome, error) {
	var zr zrec
	zr.setSep = ','
	zr.arena = &r.arena
	var kind string
	if r.json {
		for _, m := range r.top {
			if string(m.key) == "id" && m.v.isObj() {
				// Some shippers nest the connection id: {"id":{"orig_h":…}}.
				o := members(m.v)
				for o.next() {
					var id int8 = -1
					switch string(o.key()) {
					case "orig_h":
						id = zOrigH
					case "orig_p":
						id = zOrigP
					case "resp_h":
						id = zRespH
					case "resp_p":
						id = zRespP
					}
					if v := o.value(); id >= 0 && v.present() {
						zr.f[id] = zval{b: v, set: true}
					}
				}
				continue
			}
			if id := zeekField(m.key); id >= 0 && m.v.present() {
				zr.f[id] = zval{b: m.v, set: true}
			}
		}
		switch {
		case zr.f[zPath].set:
			p, err := zr.text(zPath)
			if err != nil {
				return "unknown", Malformed, err
			}
			kind = r.n.typeName("", p)
		case zr.f[zConnState].set:
			kind = "conn"
		case zr.f[zQuery].set || zr.f[zTransID].set || zr.f[zQtypeName].set || zr.f[zRcodeName].set:
			kind = "dns"
		default:
			kind = "unknown"
		}
	} else {
		if r.line[0] == '#' {
			return z.header(r)
		}
		h := &r.stream.zeek
		switch {
		case h.bad:
			return "header", Malformed, refuse("Zeek TSV row after a refused header line")
		case !h.active:
			return "unknown", Malformed, refuse("Zeek TSV row without a #fields header")
		}
		kind = "unknown"
		if len(h.path) > 0 {
			kind = r.n.typeName("", h.path)
		}
		zr.setSep = h.setSep
		line := r.line
		for i := 0; ; i++ {
			k := bytes.IndexByte(line, h.sep)
			col := line
			if k >= 0 {
				col = line[:k]
			}
			if i >= len(h.fields) {
				return kind, Malformed, refuse("Zeek TSV row has more columns than the %d #fields", len(h.fields))
			}
			if id := h.ids[i]; id >= 0 && !bytes.Equal(col, h.unset) {
				zr.f[id] = zval{b: col, tsv: true, set: true, empty: bytes.Equal(col, h.empty)}
			}
			if k < 0 {
				if i+1 != len(h.fields) {
					return kind, Malformed, refuse("Zeek TSV row has %d columns, #fields names %d", i+1, len(h.fields))
				}
				break
			}
			line = line[k+1:]
		}
	}
	switch kind {
	case "conn":
		o, err := zr.conn(w)
		return "conn", o, err
	case "dns":
		o, err := zr.dns(w, r)
		return "dns", o, err
	}
	if !r.json {
		zeekJSON(w, r)
	}
	return kind, Passthrough, nil
}

// header reads a TSV header line. It uses nothing of r but the line and
// the stream, so that Stream.Resume can read a kept header again.
func (z zeek) header(r *record) (string, Outcome, error) {
	h := &r.stream.zeek
	line := r.line
	h.keep(line)
	if bytes.HasPrefix(line, []byte("#separator ")) {
		v := unescapeZeek(nil, line[len("#separator "):])
		if len(v) != 1 || v[0] == '\n' {
			h.defaults('\t')
			h.bad = true
			return "header", Malformed, refuse("Zeek #separator must be one byte")
		}
		h.defaults(v[0])
		return "header", Skip, nil
	}
	if !h.started {
		h.defaults('\t')
	}
	k := bytes.IndexByte(line, h.sep)
	if k < 0 {
		if string(line) == "#close" || string(line) == "#open" {
			return "header", Skip, nil
		}
		return "header", Malformed, refuse("Zeek header line without a value")
	}
	name, value := line[:k], line[k+1:]
	fail := func(format string, args ...any) (string, Outcome, error) {
		h.bad, h.active = true, false
		return "header", Malformed, refuse(format, args...)
	}
	switch string(name) {
	case "#set_separator":
		v := unescapeZeek(nil, value)
		if len(v) != 1 || v[0] == h.sep {
			return fail("Zeek #set_separator must be one byte other than the separator")
		}
		h.setSep = v[0]
	case "#empty_field", "#unset_field":
		v := unescapeZeek(nil, value)
		if len(v) == 0 || len(v) > maxZeekMarker {
			return fail("Zeek %s must be 1 to %d bytes", name, maxZeekMarker)
		}
		if name[1] == 'e' {
			h.empty = append(h.empty[:0], v...)
		} else {
			h.unset = append(h.unset[:0], v...)
		}
	case "#path":
		if len(value) == 0 || len(value) > maxZeekMarker {
			return fail("Zeek #path must be 1 to %d bytes", maxZeekMarker)
		}
		h.path = append(h.path[:0], value...)
	case "#open":
	case "#close":
		h.active = false
		h.fields, h.types, h.ids = h.fields[:0], h.types[:0], h.ids[:0]
	case "#fields", "#types":
		buf, list, err := splitHeader(value, h.sep, name)
		if name[1] == 'f' {
			h.fieldsBuf, h.fields = buf, list
		} else {
			h.typesBuf, h.types = buf, list
		}
		if err != nil {
			return fail("%v", err)
		}
		if name[1] == 'f' {
			h.ids = h.ids[:0]
			for _, f := range h.fields {
				h.ids = append(h.ids, zeekField(f))
			}
			h.active = true
		}
		if len(h.types) > 0 && len(h.fields) > 0 && len(h.types) != len(h.fields) {
			return fail("Zeek #types names %d types for %d #fields", len(h.types), len(h.fields))
		}
	default:
		return fail("unknown Zeek header line %.40q", name)
	}
	return "header", Skip, nil
}

// splitHeader copies a #fields or #types list and splits it.
func splitHeader(value []byte, sep byte, name []byte) ([]byte, [][]byte, error) {
	buf := append([]byte(nil), value...)
	var list [][]byte
	for len(buf) > 0 || list == nil {
		if len(list) >= maxZeekFields {
			return nil, nil, refuse("Zeek %s lists more than %d names", name, maxZeekFields)
		}
		k := bytes.IndexByte(buf, sep)
		f := buf
		if k >= 0 {
			f = buf[:k]
		}
		if len(f) == 0 || len(f) > maxZeekName {
			return nil, nil, refuse("Zeek %s has an empty or over-long name", name)
		}
		list = append(list, f)
		if k < 0 {
			break
		}
		buf = buf[k+1:]
		if len(buf) == 0 {
			return nil, nil, refuse("Zeek %s has an empty name", name)
		}
	}
	return value, list, nil
}

// unescapeZeek appends s with Zeek's \xHH escapes decoded to dst.
func unescapeZeek(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if hi, ok := unhex(s[i+2]); ok {
				if lo, ok := unhex(s[i+3]); ok {
					dst = append(dst, hi<<4|lo)
					i += 3
					continue
				}
			}
		}
		dst = append(dst, s[i])
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// text returns a field as a string: a JSON string or number, or TSV text.
func (z *zrec) text(id int) ([]byte, error) {
	v := &z.f[id]
	if !v.set {
		return nil, nil
	}
	if v.tsv {
		if v.empty {
			return []byte{}, nil
		}
		if bytes.IndexByte(v.b, '\\') >= 0 {
			return unescapeZeek(nil, v.b), nil
		}
		return v.b, nil
	}
	j := val(v.b)
	switch {
	case j.isStr():
		return j.str(z.arena), nil
	case j.isNum():
		return v.b, nil
	}
	return nil, refuse("%s is not a string", zeekFieldNames[id])
}

// uint returns a field as an unsigned integer of at most max.
func (z *zrec) uint(id int, max uint64) (uint64, bool, error) {
	v := &z.f[id]
	if !v.set || v.empty {
		return 0, false, nil
	}
	n, ok := val(v.b).uint()
	if !ok || n > max {
		return 0, false, refuse("%s is not an integer between 0 and %d", zeekFieldNames[id], max)
	}
	return n, true, nil
}

// bool returns a field as a boolean (JSON true/false, TSV T/F).
func (z *zrec) bool(id int) (bool, bool, error) {
	v := &z.f[id]
	if !v.set || v.empty {
		return false, false, nil
	}
	switch string(v.b) {
	case "true", "T":
		return true, true, nil
	case "false", "F":
		return false, true, nil
	}
	return false, false, refuse("%s is not a boolean", zeekFieldNames[id])
}

// seconds returns a time or interval field in nanoseconds: decimal seconds
// (exactly, to the nanosecond), or for a JSON string an RFC 3339 time.
func (z *zrec) seconds(id int) (int64, bool, error) {
	v := &z.f[id]
	if !v.set || v.empty {
		return 0, false, nil
	}
	b := v.b
	if !v.tsv && val(b).isStr() {
		ns, ok := timestamp.ParseRFC3339(val(b).raw())
		if !ok {
			return 0, false, refuse("%s is not a time", zeekFieldNames[id])
		}
		return ns, true, nil
	}
	ns, ok := decimalNanos(b)
	if !ok {
		return 0, false, refuse("%s is not a number of seconds", zeekFieldNames[id])
	}
	return ns, true, nil
}

// decimalNanos reads non-negative decimal seconds ("1300475168.853899")
// as nanoseconds without going through a float, so no digit is lost;
// other number forms go through ParseFloat.
func decimalNanos(b []byte) (int64, bool) {
	var sec, frac int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if sec > (math.MaxInt64/1_000_000_000-9)/10 {
			return 0, false
		}
		sec = sec*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return floatNanos(b)
	}
	if i < len(b) && b[i] == '.' {
		i++
		scale := int64(1e8)
		d := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			frac += int64(b[i]-'0') * scale
			scale /= 10
		}
		if i == d {
			return 0, false
		}
	}
	if i != len(b) {
		return floatNanos(b)
	}
	return sec*1e9 + frac, true
}

func floatNanos(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil || !(f >= 0) || f > math.MaxInt64/1e9 {
		return 0, false
	}
	return int64(f * 1e9), true
}

// list calls fn with each element of a set or vector field (a JSON array
// of strings or numbers, or TSV elements split at the set separator).
func (z *zrec) list(id int, fn func(elem []byte) bool) error {
	v := &z.f[id]
	if !v.set || v.empty {
		return nil
	}
	if v.tsv {
		s := v.b
		for {
			k := bytes.IndexByte(s, z.setSep)
			e := s
			if k >= 0 {
				e = s[:k]
			}
			if bytes.IndexByte(e, '\\') >= 0 {
				e = unescapeZeek(nil, e)
			}
			if !fn(e) || k < 0 {
				return nil
			}
			s = s[k+1:]
		}
	}
	j := val(v.b)
	if !j.isArr() {
		return refuse("%s is not an array", zeekFieldNames[id])
	}
	it := elements(j)
	for it.next() {
		var e []byte
		switch {
		case it.val.isStr():
			e = it.val.str(z.arena)
		case it.val.isNum():
			e = it.val
		default:
			return refuse("%s holds something other than strings and numbers", zeekFieldNames[id])
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// endpoints reads and checks the connection's addresses and ports.
func (z *zrec) endpoints() (orig, resp netip.Addr, oh, rh []byte, op, rp uint64, hasPorts bool, err error) {
	if oh, err = z.text(zOrigH); err != nil {
		return
	}
	if rh, err = z.text(zRespH); err != nil {
		return
	}
	var ok bool
	if orig, ok = parseIP(oh); !ok {
		err = refuse("id.orig_h is missing or not an IP address")
		return
	}
	if resp, ok = parseIP(rh); !ok {
		err = refuse("id.resp_h is missing or not an IP address")
		return
	}
	var ok1, ok2 bool
	if op, ok1, err = z.uint(zOrigP, 65535); err != nil {
		return
	}
	if rp, ok2, err = z.uint(zRespP, 65535); err != nil {
		return
	}
	hasPorts = ok1 && ok2
	return
}

// head writes @timestamp, event, host, source, destination and network of
// a Zeek record.
func (z *zrec) head(w *writer, dataset, action, protocol string, types ...string) error {
	ts, hasTS, err := z.seconds(zTS)
	if err != nil {
		return err
	}
	orig, _, oh, rh, op, rp, hasPorts, err := z.endpoints()
	if err != nil {
		return err
	}
	proto, err := z.text(zProto)
	if err != nil {
		return err
	}
	dur, hasDur, err := z.seconds(zDuration)
	if err != nil {
		return err
	}
	if !hasDur {
		if dur, hasDur, err = z.seconds(zRTT); err != nil {
			return err
		}
	}
	if hasTS && ts > 0 {
		w.time("@timestamp", ts)
	}
	w.eventHead("network", action, "zeek", dataset, types...)
	if hasDur {
		w.int("duration", dur)
	}
	w.close()
	w.open("host")
	w.str("name", oh)
	w.beginArr("ip")
	w.b = appendString(w.b, oh)
	w.endArr()
	w.close()
	icmp := bytes.HasPrefix(proto, []byte("icmp"))
	w.open("source")
	w.str("ip", oh)
	if hasPorts && !icmp {
		w.uint("port", op)
	}
	z.counters(w, zOrigBytes, zOrigPkts)
	w.close()
	w.open("destination")
	w.str("ip", rh)
	if hasPorts && !icmp {
		w.uint("port", rp)
	}
	z.counters(w, zRespBytes, zRespPkts)
	w.close()
	w.open("network")
	if len(proto) > 0 && string(proto) != "unknown_transport" {
		w.str("transport", proto)
	}
	if orig.Is4() || orig.Is4In6() {
		w.conststr("type", "ipv4")
	} else {
		w.conststr("type", "ipv6")
	}
	if protocol != "" {
		w.conststr("protocol", protocol)
	} else if svc, _ := z.text(zService); len(svc) > 0 {
		// Zeek lists every protocol it recognised ("ssl,http"); ECS has
		// one: the first.
		if k := bytes.IndexByte(svc, ','); k >= 0 {
			svc = svc[:k]
		}
		w.str("protocol", svc)
	}
	lo, okLo, _ := z.bool(zLocalOrig)
	lr, okLr, _ := z.bool(zLocalResp)
	if okLo && okLr {
		// Zeek's locality is the site's (Site::local_nets): ECS's
		// perimeter directions.
		switch {
		case lo && !lr:
			w.conststr("direction", "outbound")
		case !lo && lr:
			w.conststr("direction", "inbound")
		case lo && lr:
			w.conststr("direction", "internal")
		default:
			w.conststr("direction", "external")
		}
	}
	if cid, _ := z.text(zCommunityID); len(cid) > 0 {
		w.str("community_id", cid)
	}
	w.close()
	return nil
}

func (z *zrec) counters(w *writer, bytesID, pktsID int) {
	if n, ok, err := z.uint(bytesID, math.MaxInt64); ok && err == nil {
		w.uint("bytes", n)
	}
	if n, ok, err := z.uint(pktsID, math.MaxInt64); ok && err == nil {
		w.uint("packets", n)
	}
}

// conn maps a conn.log record: a connection, as cairn_host reports one.
// Zeek logs a connection when it ends, with its start as ts.
func (z *zrec) conn(w *writer) (Outcome, error) {
	for _, id := range [...]int{zOrigBytes, zRespBytes, zOrigPkts, zRespPkts} {
		if _, _, err := z.uint(id, math.MaxInt64); err != nil {
			return Malformed, err
		}
	}
	for _, id := range [...]int{zLocalOrig, zLocalResp} {
		if _, _, err := z.bool(id); err != nil {
			return Malformed, err
		}
	}
	if err := z.head(w, "zeek.conn", "connection-opened", "", "connection", "start"); err != nil {
		return Malformed, err
	}
	return z.zeekSection(w, true)
}

// zeekSection writes the zeek section: the session id (uid) and, for conn,
// the state and history.
func (z *zrec) zeekSection(w *writer, conn bool) (Outcome, error) {
	uid, err := z.text(zUID)
	if err != nil {
		return Malformed, err
	}
	w.open("zeek")
	if len(uid) > 0 {
		w.str("session_id", uid)
	}
	if conn {
		state, err := z.text(zConnState)
		if err != nil {
			return Malformed, err
		}
		hist, err := z.text(zHistory)
		if err != nil {
			return Malformed, err
		}
		w.open("connection")
		if len(state) > 0 {
			w.str("state", state)
		}
		if len(hist) > 0 {
			w.str("history", hist)
		}
		w.close()
	}
	w.close()
	return Event, nil
}

// dns maps a dns.log record: a DNS answer as cairn_host reports one (or a
// query without an answer).
func (z *zrec) dns(w *writer, r *record) (Outcome, error) {
	rcode, err := z.text(zRcodeName)
	if err != nil {
		return Malformed, err
	}
	query, err := z.text(zQuery)
	if err != nil {
		return Malformed, err
	}
	qtype, err := z.text(zQtypeName)
	if err != nil {
		return Malformed, err
	}
	qclass, err := z.text(zQclassName)
	if err != nil {
		return Malformed, err
	}
	transID, hasID, err := z.uint(zTransID, 65535)
	if err != nil {
		return Malformed, err
	}
	answered := len(rcode) > 0
	action, dnsType := "dns-query", "query"
	if answered {
		action, dnsType = "dns-answer", "answer"
	}
	var flags [4]bool
	for i, id := range [...]int{zAA, zTC, zRD, zRA} {
		f, _, err := z.bool(id)
		if err != nil {
			return Malformed, err
		}
		flags[i] = f
	}
	if err := z.head(w, "zeek.dns", action, "dns", "protocol", "info"); err != nil {
		return Malformed, err
	}
	w.open("dns")
	w.conststr("type", dnsType)
	if hasID {
		w.uint("id", transID)
	}
	if answered {
		w.str("response_code", rcode)
	}
	if flags != [4]bool{} {
		first := true
		w.beginArr("header_flags")
		for i, name := range [...]string{"AA", "TC", "RD", "RA"} {
			if flags[i] {
				w.sep(first)
				first = false
				w.b = append(w.b, '"')
				w.b = append(w.b, name...)
				w.b = append(w.b, '"')
			}
		}
		w.endArr()
	}
	w.open("question")
	if len(query) > 0 {
		// As cairn_host writes it: lower case, no trailing dot.
		q := append(r.zbuf[:0], query...)
		for i, c := range q {
			if c >= 'A' && c <= 'Z' {
				q[i] = c + 'a' - 'A'
			}
		}
		for len(q) > 1 && q[len(q)-1] == '.' {
			q = q[:len(q)-1]
		}
		r.zbuf = q
		w.str("name", q)
	}
	if len(qtype) > 0 {
		w.str("type", qtype)
	}
	switch string(qclass) {
	case "":
	case "C_INTERNET":
		w.conststr("class", "IN")
	case "C_CHAOS":
		w.conststr("class", "CH")
	case "C_HESIOD":
		w.conststr("class", "HS")
	default:
		w.str("class", qclass)
	}
	w.close()
	if err := z.answers(w); err != nil {
		return Malformed, err
	}
	w.close()
	return z.zeekSection(w, false)
}

// answers writes dns.answers and dns.resolved_ip. Zeek's answers are the
// answers' data only, with their TTLs in a parallel list: no owner name,
// no type; an address is typed A or AAAA, anything else (a CNAME target,
// Zeek's RRSIG summary) is left untyped.
func (z *zrec) answers(w *writer) error {
	var ttls [maxZeekAnswers]int64
	nttl := 0
	err := z.list(zTTLs, func(e []byte) bool {
		if nttl >= maxZeekAnswers {
			return false
		}
		ns, ok := decimalNanos(e)
		if !ok {
			ns = -1
		}
		ttls[nttl] = ns
		nttl++
		return true
	})
	if err != nil {
		return err
	}
	n := 0
	err = z.list(zAnswers, func(e []byte) bool {
		if n >= maxZeekAnswers {
			return false
		}
		if n == 0 {
			w.beginArr("answers")
		}
		w.beginElem(n == 0)
		w.str("data", e)
		if ip, ok := parseIP(e); ok {
			if ip.Is4() {
				w.conststr("type", "A")
			} else {
				w.conststr("type", "AAAA")
			}
		}
		if n < nttl && ttls[n] >= 0 {
			w.int("ttl", ttls[n]/1e9)
		}
		w.endElem()
		n++
		return true
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	w.endArr()
	first := true
	n = 0
	_ = z.list(zAnswers, func(e []byte) bool {
		if n >= maxZeekAnswers {
			return false
		}
		n++
		if _, ok := parseIP(e); !ok {
			return true
		}
		if first {
			w.beginArr("resolved_ip")
		}
		w.sep(first)
		first = false
		w.b = appendString(w.b, e)
		return true
	})
	if !first {
		w.endArr()
	}
	return nil
}

// zeekJSON writes a TSV row of a log with no mapping as Zeek's JSON writer
// would write it (plus _path, which names the log), to pass it through:
// numbers for count, int, port, double, interval and time, true/false for
// bool, arrays for sets and vectors, strings otherwise; unset fields are
// left out.
func zeekJSON(w *writer, r *record) {
	h := &r.stream.zeek
	if len(h.path) > 0 {
		w.str("_path", h.path)
	}
	line := r.line
	for i := 0; i < len(h.fields); i++ {
		k := bytes.IndexByte(line, h.sep)
		col := line
		if k >= 0 {
			col = line[:k]
			line = line[k+1:]
		}
		if !bytes.Equal(col, h.unset) {
			var typ []byte
			if i < len(h.types) {
				typ = h.types[i]
			}
			w.memberName(h.fields[i])
			writeZeekValue(w, col, typ, h)
		}
		if k < 0 {
			break
		}
	}
}

func writeZeekValue(w *writer, col, typ []byte, h *zeekHeader) {
	empty := bytes.Equal(col, h.empty)
	if inner, ok := containerType(typ); ok {
		w.b = append(w.b, '[')
		if !empty {
			first := true
			for {
				k := bytes.IndexByte(col, h.setSep)
				e := col
				if k >= 0 {
					e = col[:k]
				}
				w.sep(first)
				first = false
				writeZeekScalar(w, e, inner)
				if k < 0 {
					break
				}
				col = col[k+1:]
			}
		}
		w.b = append(w.b, ']')
		return
	}
	if empty {
		w.b = append(w.b, '"', '"')
		return
	}
	writeZeekScalar(w, col, typ)
}

func containerType(typ []byte) ([]byte, bool) {
	for _, p := range [...]string{"set[", "vector["} {
		if bytes.HasPrefix(typ, []byte(p)) && len(typ) > len(p) && typ[len(typ)-1] == ']' {
			return typ[len(p) : len(typ)-1], true
		}
	}
	return nil, false
}

func writeZeekScalar(w *writer, s, typ []byte) {
	switch string(typ) {
	case "count", "int", "port", "double", "interval", "time":
		if skipNumber(s, 0) == len(s) {
			w.b = append(w.b, s...)
			return
		}
	case "bool":
		switch string(s) {
		case "T":
			w.b = append(w.b, "true"...)
			return
		case "F":
			w.b = append(w.b, "false"...)
			return
		}
	}
	if bytes.IndexByte(s, '\\') >= 0 {
		s = unescapeZeek(nil, s)
	}
	w.b = appendString(w.b, s)
}
