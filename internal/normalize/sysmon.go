package normalize

import (
	"bytes"
	"net/netip"
	"unicode/utf8"

	"github.com/cairnsec/cairn/internal/timestamp"
)

// Sysmon for Linux: events as the XML Sysmon writes to syslog, one
// <Event>…</Event> per line, alone (journald's MESSAGE) or after a syslog
// header ending in the "sysmon:" tag. Event ID 1 (process create), 3
// (network connect), 5 (process terminated) and 11 (file create) are
// mapped; other ids pass through in Winlogbeat's JSON form (winlog.*).
//
// The XML is read by a small flat scanner, not a general parser: an
// element tree of at most sysmonMaxDepth levels, at most sysmonMaxElems
// elements, attributes of at most sysmonMaxAttr bytes, no DTD, comment,
// CDATA or processing instruction (refused: there is no entity to define,
// hence no expansion and no external entity), and only XML's five
// predefined entities and character references in values.
type sysmon struct {
	// explicit: the format was chosen (format: sysmon), so every line
	// that is not JSON is taken as Sysmon's.
	explicit bool
	ev       sysmonEvent
}

func (*sysmon) name() string { return FormatSysmon }

// Bounds of a record.
const (
	sysmonMaxRecord = 512 << 10
	sysmonMaxDepth  = 4
	sysmonMaxElems  = 256
	sysmonMaxAttrs  = 16
	sysmonMaxAttr   = 4096
	sysmonMaxName   = 64
	sysmonMaxData   = 128
	// sysmonMaxPrefix bounds the syslog header searched for the tag.
	sysmonMaxPrefix = 512
)

// EventData fields mapped, by id.
const (
	sUtcTime = iota
	sProcessGuid
	sProcessID
	sImage
	sCommandLine
	sCurrentDirectory
	sUser
	sLogonID
	sHashes
	sParentProcessGuid
	sParentProcessID
	sParentImage
	sParentCommandLine
	sParentUser
	sProtocol
	sInitiated
	sSourceIP
	sSourceHostname
	sSourcePort
	sDestinationIP
	sDestinationHostname
	sDestinationPort
	sTargetFilename
	sCreationUtcTime
	numS
)

func sysmonField(name []byte) int {
	switch string(name) {
	case "UtcTime":
		return sUtcTime
	case "ProcessGuid":
		return sProcessGuid
	case "ProcessId":
		return sProcessID
	case "Image":
		return sImage
	case "CommandLine":
		return sCommandLine
	case "CurrentDirectory":
		return sCurrentDirectory
	case "User":
		return sUser
	case "LogonId":
		return sLogonID
	case "Hashes":
		return sHashes
	case "ParentProcessGuid":
		return sParentProcessGuid
	case "ParentProcessId":
		return sParentProcessID
	case "ParentImage":
		return sParentImage
	case "ParentCommandLine":
		return sParentCommandLine
	case "ParentUser":
		return sParentUser
	case "Protocol":
		return sProtocol
	case "Initiated":
		return sInitiated
	case "SourceIp":
		return sSourceIP
	case "SourceHostname":
		return sSourceHostname
	case "SourcePort":
		return sSourcePort
	case "DestinationIp":
		return sDestinationIP
	case "DestinationHostname":
		return sDestinationHostname
	case "DestinationPort":
		return sDestinationPort
	case "TargetFilename":
		return sTargetFilename
	case "CreationUtcTime":
		return sCreationUtcTime
	}
	return -1
}

var sysmonFieldNames = [numS]string{
	"UtcTime", "ProcessGuid", "ProcessId", "Image", "CommandLine", "CurrentDirectory", "User",
	"LogonId", "Hashes", "ParentProcessGuid", "ParentProcessId", "ParentImage", "ParentCommandLine",
	"ParentUser", "Protocol", "Initiated", "SourceIp", "SourceHostname", "SourcePort", "DestinationIp",
	"DestinationHostname", "DestinationPort", "TargetFilename", "CreationUtcTime",
}

// xval is a value as it stands in the line (text or attribute), with
// entities still escaped when amp is set.
type xval struct {
	b   []byte
	set bool
	amp bool
}

type xdata struct {
	name xval
	v    xval
}

// sysmonEvent is what the scanner read of one <Event>.
type sysmonEvent struct {
	eventID    xval
	computer   xval
	provider   xval
	systemTime xval
	f          [numS]xval
	data       []xdata // every Data element, up to sysmonMaxData
	// arena: the record's (val.str), where entities are decoded to
	// check them (xvalue).
	arena *[]byte
}

// sysmonStart returns the offset of <Event in a line that is Sysmon's by
// its shape: the line starts with it, or a syslog header ending in the
// "sysmon:" (or "sysmon[pid]:") tag and a space precedes it; else -1.
func sysmonStart(line []byte) int {
	if isEventTag(line) {
		return 0
	}
	head := line
	if len(head) > sysmonMaxPrefix {
		head = head[:sysmonMaxPrefix]
	}
	k := bytes.Index(head, []byte(" <Event"))
	if k < 0 || !isEventTag(line[k+1:]) {
		return -1
	}
	tag := head[:k]
	if n := len(tag); n > 0 && tag[n-1] == ':' {
		tag = tag[:n-1]
	} else {
		return -1
	}
	if n := len(tag); n > 0 && tag[n-1] == ']' {
		j := bytes.LastIndexByte(tag, '[')
		if j < 0 || j == n-2 || !allDigits(tag[j+1:n-1]) {
			return -1
		}
		tag = tag[:j]
	}
	if !bytes.HasSuffix(tag, []byte("sysmon")) {
		return -1
	}
	if n := len(tag) - len("sysmon"); n > 0 && tag[n-1] != ' ' {
		return -1
	}
	return k + 1
}

func isEventTag(b []byte) bool {
	return len(b) > len("<Event") && string(b[:len("<Event")]) == "<Event" &&
		(b[6] == '>' || b[6] == ' ')
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func (s *sysmon) sniff(r *record) bool {
	if r.json || len(r.line) == 0 || r.line[0] == '{' {
		return false
	}
	return s.explicit || sysmonStart(r.line) >= 0
}

func (s *sysmon) normalize(r *record, w *writer) (string, Outcome, error) {
	k := sysmonStart(r.line)
	if k < 0 {
		return "", Malformed, refuse("not a Sysmon event: no <Event> at the start of the line or after a sysmon: syslog tag")
	}
	if len(r.line)-k > sysmonMaxRecord {
		return "", Malformed, refuse("Sysmon event longer than %d bytes", sysmonMaxRecord)
	}
	ev := &s.ev
	ev.arena = &r.arena
	if err := ev.parse(r.line[k:]); err != nil {
		return "", Malformed, err
	}
	id, ok := parseUint(ev.eventID.b, 255)
	if !ev.eventID.set || ev.eventID.amp || !ok {
		return "", Malformed, refuse("Sysmon event has no numeric System/EventID")
	}
	t := sysmonCtx{s: s, w: w, r: r}
	var typ string
	var o Outcome
	var err error
	switch id {
	case 1:
		typ = "process_create"
		o, err = t.processCreate()
	case 3:
		typ = "network_connect"
		o, err = t.networkConnect()
	case 5:
		typ = "process_terminate"
		o, err = t.processTerminate()
	case 11:
		typ = "file_create"
		o, err = t.fileCreate()
	default:
		typ = r.n.typeName("event_", ev.eventID.b)
		t.winlog()
		return typ, Passthrough, nil
	}
	if err != nil {
		return typ, Malformed, err
	}
	return typ, o, nil
}

// parse scans one <Event> element, which must be all of b (but trailing
// white space).
func (ev *sysmonEvent) parse(b []byte) error {
	ev.eventID, ev.computer, ev.provider, ev.systemTime = xval{}, xval{}, xval{}, xval{}
	ev.f = [numS]xval{}
	ev.data = ev.data[:0]
	var stack [sysmonMaxDepth][]byte
	depth, elems := 0, 0
	// section: 1 under System, 2 under EventData; child: the element
	// at the top has children; textStart: where its content began.
	section := 0
	child := false
	textStart := 0
	var dataName xval
	i := 0
	done := false
	for {
		k := bytes.IndexByte(b[i:], '<')
		if k < 0 {
			if done && isSpace(b[i:]) {
				return nil
			}
			return refuse("Sysmon event is truncated")
		}
		text := b[textStart : i+k]
		i += k
		if done {
			return refuse("Sysmon event has data after </Event>")
		}
		if i+1 >= len(b) {
			return refuse("Sysmon event is truncated")
		}
		switch b[i+1] {
		case '!', '?':
			return refuse("Sysmon event holds a DTD, comment, CDATA section or processing instruction")
		case '/':
			// The end tag must name the open element: compared, not
			// scanned.
			if depth == 0 || !bytes.HasPrefix(b[i+2:], stack[depth-1]) {
				if i+2+len(stack[max(depth-1, 0)]) >= len(b) {
					return refuse("Sysmon event is truncated")
				}
				return refuse("Sysmon event has mismatched tags")
			}
			name := stack[depth-1]
			ne := skipXMLSpace(b, i+2+len(name))
			if ne >= len(b) {
				return refuse("Sysmon event is truncated")
			}
			if b[ne] != '>' {
				return refuse("Sysmon event has mismatched tags")
			}
			if child {
				if !isSpace(text) {
					return refuse("Sysmon event has text between elements")
				}
			} else if err := ev.leaf(depth, section, name, text, &dataName); err != nil {
				return err
			}
			depth--
			if depth == 1 {
				section = 0
			}
			child = true
			if depth == 0 {
				done = true
			}
			i = ne + 1
			textStart = i
		default:
			if depth > 0 && !isSpace(text) {
				return refuse("Sysmon event has text between elements")
			}
			if depth == 0 && elems > 0 {
				return refuse("Sysmon event has data after </Event>")
			}
			ne, name := xname(b, i+1)
			if name == nil {
				return refuse("Sysmon event has a bad start tag")
			}
			if depth >= sysmonMaxDepth {
				return refuse("Sysmon event is nested deeper than %d levels", sysmonMaxDepth)
			}
			if elems++; elems > sysmonMaxElems {
				return refuse("Sysmon event has more than %d elements", sysmonMaxElems)
			}
			if depth == 0 && string(name) != "Event" {
				return refuse("Sysmon event's root is not Event")
			}
			if depth == 1 {
				switch string(name) {
				case "System":
					section = 1
				case "EventData":
					section = 2
				}
			}
			dataName = xval{}
			// Attributes.
			j := ne
			nattr := 0
			self := false
			for {
				j0 := j
				j = skipXMLSpace(b, j)
				if j >= len(b) {
					return refuse("Sysmon event is truncated")
				}
				if b[j] == '>' {
					j++
					break
				}
				if b[j] == '/' {
					if j+1 >= len(b) || b[j+1] != '>' {
						return refuse("Sysmon event has a bad start tag")
					}
					self = true
					j += 2
					break
				}
				if j == j0 {
					return refuse("Sysmon event has a bad attribute")
				}
				if nattr++; nattr > sysmonMaxAttrs {
					return refuse("Sysmon event has an element with more than %d attributes", sysmonMaxAttrs)
				}
				ae, an := xname(b, j)
				if an == nil {
					return refuse("Sysmon event has a bad attribute")
				}
				ae = skipXMLSpace(b, ae)
				if ae >= len(b) || b[ae] != '=' {
					return refuse("Sysmon event has a bad attribute")
				}
				ae = skipXMLSpace(b, ae+1)
				if ae >= len(b) || (b[ae] != '"' && b[ae] != '\'') {
					return refuse("Sysmon event has a bad attribute")
				}
				q := b[ae]
				lim := b[ae+1:]
				if len(lim) > sysmonMaxAttr+1 {
					lim = lim[:sysmonMaxAttr+1]
				}
				ve := bytes.IndexByte(lim, q)
				if ve < 0 {
					if len(lim) > sysmonMaxAttr {
						return refuse("Sysmon event has an attribute longer than %d bytes", sysmonMaxAttr)
					}
					return refuse("Sysmon event is truncated")
				}
				raw := b[ae+1 : ae+1+ve]
				if bytes.IndexByte(raw, '<') >= 0 {
					return refuse("Sysmon event has '<' in an attribute")
				}
				v, err := ev.xvalue(raw)
				if err != nil {
					return err
				}
				j = ae + 1 + ve + 1
				switch {
				case section == 1 && depth == 2 && string(name) == "Provider" && string(an) == "Name":
					ev.provider = v
				case section == 1 && depth == 2 && string(name) == "TimeCreated" && string(an) == "SystemTime":
					ev.systemTime = v
				case section == 2 && depth == 2 && string(name) == "Data" && string(an) == "Name":
					dataName = v
				}
			}
			if self {
				if err := ev.leaf(depth+1, section, name, nil, &dataName); err != nil {
					return err
				}
				child = true
				if depth == 0 {
					done = true
				}
				if depth == 1 {
					section = 0
				}
			} else {
				stack[depth] = name
				depth++
				child = false
			}
			i = j
			textStart = i
		}
	}
}

// leaf takes the value of an element without children at depth (1 is
// Event).
func (ev *sysmonEvent) leaf(depth, section int, name, text []byte, dataName *xval) error {
	if depth != 3 || section == 0 {
		return nil
	}
	v, err := ev.xvalue(text)
	if err != nil {
		return err
	}
	if section == 1 {
		switch string(name) {
		case "EventID":
			ev.eventID = v
		case "Computer":
			ev.computer = v
		}
		return nil
	}
	if string(name) != "Data" || !dataName.set {
		return nil
	}
	if len(ev.data) >= sysmonMaxData {
		return refuse("Sysmon event has more than %d Data elements", sysmonMaxData)
	}
	ev.data = append(ev.data, xdata{name: *dataName, v: v})
	if !dataName.amp {
		if id := sysmonField(dataName.b); id >= 0 {
			ev.f[id] = v
		}
	}
	return nil
}

// xname reads an XML name at b[i:].
func xname(b []byte, i int) (int, []byte) {
	if i >= len(b) || xnameChar[b[i]] != 1 {
		return i, nil
	}
	j := i + 1
	for j < len(b) && j-i <= sysmonMaxName && xnameChar[b[j]] != 0 {
		j++
	}
	if j-i > sysmonMaxName {
		return i, nil
	}
	return j, b[i:j]
}

// xnameChar: 1 for a byte that may start a name (ASCII letters, _ and :),
// 2 for one that may only follow (digits, - and .).
var xnameChar = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
			t[c] = 1
		case c >= '0' && c <= '9', c == '-', c == '.':
			t[c] = 2
		}
	}
	return
}()

func skipXMLSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isSpace(b []byte) bool { return skipXMLSpace(b, 0) == len(b) }

// xvalue checks a text or attribute value: no '<', every '&' a
// predefined entity or a character reference.
func (ev *sysmonEvent) xvalue(b []byte) (xval, error) {
	v := xval{b: b, set: true}
	k := bytes.IndexByte(b, '&')
	if k < 0 {
		return v, nil
	}
	v.amp = true
	start := len(*ev.arena)
	var ok bool
	*ev.arena, ok = xunescape(*ev.arena, b)
	*ev.arena = (*ev.arena)[:start] // only checked here; text decodes it for use
	if !ok {
		return xval{}, refuse("Sysmon event holds an unknown entity or a bad character reference")
	}
	return v, nil
}

// xunescape appends s with its entities decoded to dst; false for an
// entity other than the five predefined ones or a character reference to
// no XML character. The result is never longer than s.
func xunescape(dst, s []byte) ([]byte, bool) {
	for {
		k := bytes.IndexByte(s, '&')
		if k < 0 {
			return append(dst, s...), true
		}
		dst = append(dst, s[:k]...)
		s = s[k:]
		e := bytes.IndexByte(s, ';')
		if e < 0 || e > 12 {
			return dst, false
		}
		ent := s[1:e]
		s = s[e+1:]
		switch string(ent) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "quot":
			dst = append(dst, '"')
		case "apos":
			dst = append(dst, '\'')
		default:
			if len(ent) < 2 || ent[0] != '#' {
				return dst, false
			}
			var r rune
			digits := ent[1:]
			base := rune(10)
			if digits[0] == 'x' {
				base, digits = 16, digits[1:]
			}
			if len(digits) == 0 || len(digits) > 8 {
				return dst, false
			}
			for _, c := range digits {
				d, ok := unhex(c)
				if !ok || rune(d) >= base {
					return dst, false
				}
				r = r*base + rune(d)
			}
			if r == 0 || r > utf8.MaxRune || r >= 0xd800 && r < 0xe000 || r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
}

// sysmonCtx maps one event.
type sysmonCtx struct {
	s *sysmon
	w *writer
	r *record
}

// text returns a field's value, unescaped; nil when absent, empty or "-"
// (Sysmon's "no value").
func (t *sysmonCtx) text(v xval) []byte {
	if !v.set || len(v.b) == 0 || len(v.b) == 1 && v.b[0] == '-' {
		return nil
	}
	if !v.amp {
		return v.b
	}
	// Each value gets its own room in the record's arena (val.str), so
	// earlier ones stay valid.
	a := &t.r.arena
	start := len(*a)
	*a, _ = xunescape(*a, v.b)
	return (*a)[start:len(*a):len(*a)]
}

func (t *sysmonCtx) f(id int) []byte { return t.text(t.s.ev.f[id]) }

// uint reads an unsigned field of at most max; ok false when absent.
func (t *sysmonCtx) uint(id int, max uint64) (uint64, bool, error) {
	b := t.f(id)
	if b == nil {
		return 0, false, nil
	}
	n, ok := parseUint(b, max)
	if !ok {
		return 0, false, refuse("Sysmon %s is not an integer between 0 and %d", sysmonFieldNames[id], max)
	}
	return n, true, nil
}

// when reads a Sysmon time: "2022-11-24 08:30:01.467" (UTC), or an RFC
// 3339 time (System/TimeCreated's SystemTime).
func (t *sysmonCtx) when(b []byte, name string) (int64, error) {
	if len(b) >= 19 && b[10] == ' ' {
		a := &t.r.arena
		start := len(*a)
		*a = append(*a, b...)
		(*a)[start+10] = 'T'
		*a = append(*a, 'Z')
		b = (*a)[start:]
	}
	ns, ok := timestamp.ParseRFC3339(b)
	if !ok {
		return 0, refuse("Sysmon %s is not a time", name)
	}
	return ns, nil
}

// times reads the event's time: UtcTime, else SystemTime.
func (t *sysmonCtx) eventTime() (int64, error) {
	if b := t.f(sUtcTime); b != nil {
		return t.when(b, "UtcTime")
	}
	if b := t.text(t.s.ev.systemTime); b != nil {
		return t.when(b, "SystemTime")
	}
	return 0, nil
}

// head writes @timestamp, event and host.
func (t *sysmonCtx) head(at int64, dataset, category, action string, types ...string) {
	w := t.w
	if at > 0 {
		w.time("@timestamp", at)
	}
	w.eventHead(category, action, "sysmon", dataset, types...)
	w.str("code", t.s.ev.eventID.b)
	w.close()
	if c := t.text(t.s.ev.computer); c != nil {
		w.open("host")
		w.str("name", c)
		w.close()
	}
}

// guid returns a process GUID without its braces.
func guid(b []byte) []byte {
	if len(b) > 2 && b[0] == '{' && b[len(b)-1] == '}' {
		return b[1 : len(b)-1]
	}
	return b
}

// prologue checks the fields every mapped event may have and reads the
// time; it is done before anything is written, so a refused record
// leaves no half document.
func (t *sysmonCtx) prologue(ids ...int) (int64, error) {
	at, err := t.eventTime()
	if err != nil {
		return 0, err
	}
	if _, _, err := t.uint(sProcessID, 1<<32-1); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, _, err := t.uint(id, 1<<32-1); err != nil {
			return 0, err
		}
	}
	return at, nil
}

// process writes the process section's identity: pid, entity id,
// executable, name.
func (t *sysmonCtx) proc(pidID, guidID, imageID int) {
	w := t.w
	if n, ok, _ := t.uint(pidID, 1<<32-1); ok {
		w.uint("pid", n)
	}
	if g := t.f(guidID); g != nil {
		w.str("entity_id", guid(g))
	}
	if img := t.f(imageID); img != nil {
		w.str("executable", img)
		w.str("name", baseName(img))
	}
}

// cmdArgs writes args, args_count and command_line from a Sysmon
// CommandLine (argv joined by single spaces); it reports whether args
// were cut at maxArgs.
func (t *sysmonCtx) cmdArgs(cmd []byte) bool {
	if cmd == nil {
		return false
	}
	w := t.w
	w.str("command_line", cmd)
	w.beginArr("args")
	n := 0
	truncated := false
	s := cmd
	for {
		k := bytes.IndexByte(s, ' ')
		a := s
		if k >= 0 {
			a = s[:k]
		}
		if n >= maxArgs {
			truncated = true
			break
		}
		w.sep(n == 0)
		w.b = appendString(w.b, a)
		n++
		if k < 0 {
			break
		}
		s = s[k+1:]
	}
	w.endArr()
	w.int("args_count", int64(n))
	return truncated
}

func (t *sysmonCtx) user(id int) {
	if u := t.f(id); u != nil {
		t.w.open("user")
		t.w.str("name", u)
		t.w.close()
	}
}

func (t *sysmonCtx) truncated(cut bool) {
	if cut {
		w := t.w
		w.open("cairn")
		w.open("process")
		w.bool("args_truncated", true)
		w.close()
		w.close()
	}
}

func (t *sysmonCtx) processCreate() (Outcome, error) {
	if t.s.ev.f[sImage].b == nil || t.f(sImage) == nil {
		return Malformed, refuse("Sysmon process create has no Image")
	}
	at, err := t.prologue(sParentProcessID)
	if err != nil {
		return Malformed, err
	}
	t.head(at, "sysmon.process", "process", "exec", "start")
	w := t.w
	w.open("process")
	t.proc(sProcessID, sProcessGuid, sImage)
	cut := t.cmdArgs(t.f(sCommandLine))
	if cwd := t.f(sCurrentDirectory); cwd != nil {
		w.str("working_directory", trimSlash(cwd))
	}
	if at > 0 {
		w.time("start", at)
	}
	t.hashes(t.f(sHashes))
	w.open("parent")
	t.proc(sParentProcessID, sParentProcessGuid, sParentImage)
	t.cmdArgs(t.f(sParentCommandLine))
	if u := t.f(sParentUser); u != nil {
		w.open("user")
		w.str("name", u)
		w.close()
	}
	w.close()
	w.close()
	t.user(sUser)
	t.logon()
	t.truncated(cut)
	return Event, nil
}

// logon keeps LogonId as Winlogbeat does (winlog.logon.id): Sysmon for
// Linux's value has no ECS field.
func (t *sysmonCtx) logon() {
	if id := t.f(sLogonID); id != nil {
		w := t.w
		w.open("winlog")
		w.open("logon")
		w.str("id", id)
		w.close()
		w.close()
	}
}

// hashes writes process.hash.* from Sysmon's Hashes ("SHA256=…,MD5=…");
// IMPHASH and malformed entries are left out.
func (t *sysmonCtx) hashes(h []byte) {
	if h == nil {
		return
	}
	w := t.w
	w.open("hash")
	for len(h) > 0 {
		k := bytes.IndexByte(h, ',')
		e := h
		if k >= 0 {
			e, h = h[:k], h[k+1:]
		} else {
			h = nil
		}
		eq := bytes.IndexByte(e, '=')
		if eq < 0 || !isHex(e[eq+1:]) {
			continue
		}
		alg, hex := e[:eq], e[eq+1:]
		var key string
		switch {
		case bytes.EqualFold(alg, []byte("SHA256")) && len(hex) == 64:
			key = "sha256"
		case bytes.EqualFold(alg, []byte("SHA1")) && len(hex) == 40:
			key = "sha1"
		case bytes.EqualFold(alg, []byte("MD5")) && len(hex) == 32:
			key = "md5"
		default:
			continue
		}
		w.member(key)
		w.b = append(w.b, '"')
		for _, c := range hex {
			if c >= 'A' && c <= 'F' {
				c += 'a' - 'A'
			}
			w.b = append(w.b, c)
		}
		w.b = append(w.b, '"')
	}
	w.close()
}

func (t *sysmonCtx) processTerminate() (Outcome, error) {
	if t.f(sProcessGuid) == nil && t.f(sProcessID) == nil {
		return Malformed, refuse("Sysmon process terminate has neither ProcessGuid nor ProcessId")
	}
	at, err := t.prologue()
	if err != nil {
		return Malformed, err
	}
	t.head(at, "sysmon.process", "process", "end", "end")
	w := t.w
	w.open("process")
	t.proc(sProcessID, sProcessGuid, sImage)
	if at > 0 {
		w.time("end", at)
	}
	w.close()
	t.user(sUser)
	return Event, nil
}

func (t *sysmonCtx) fileCreate() (Outcome, error) {
	path := t.f(sTargetFilename)
	if path == nil {
		return Malformed, refuse("Sysmon file create has no TargetFilename")
	}
	at, err := t.prologue()
	if err != nil {
		return Malformed, err
	}
	var created int64
	if c := t.f(sCreationUtcTime); c != nil {
		if created, err = t.when(c, "CreationUtcTime"); err != nil {
			return Malformed, err
		}
	}
	t.head(at, "sysmon.file", "file", "creation", "creation")
	w := t.w
	w.open("file")
	w.str("path", path)
	w.str("name", baseName(path))
	if created > 0 {
		w.time("created", created)
	}
	w.close()
	w.open("process")
	t.proc(sProcessID, sProcessGuid, sImage)
	w.close()
	t.user(sUser)
	return Event, nil
}

func (t *sysmonCtx) networkConnect() (Outcome, error) {
	at, err := t.prologue()
	if err != nil {
		return Malformed, err
	}
	dh := t.f(sDestinationIP)
	dst, ok := parseIP(dh)
	if !ok {
		return Malformed, refuse("Sysmon DestinationIp is missing or not an IP address")
	}
	sh := t.f(sSourceIP)
	src, ok := parseIP(sh)
	if sh != nil && !ok {
		return Malformed, refuse("Sysmon SourceIp is not an IP address")
	}
	sp, _, err := t.uint(sSourcePort, 65535)
	if err != nil {
		return Malformed, err
	}
	dp, _, err := t.uint(sDestinationPort, 65535)
	if err != nil {
		return Malformed, err
	}
	direction := ""
	switch string(t.f(sInitiated)) {
	case "true":
		direction = "egress"
	case "false":
		direction = "ingress"
	case "":
	default:
		return Malformed, refuse("Sysmon Initiated is not a boolean")
	}
	t.head(at, "sysmon.network", "network", "connection-opened", "connection", "start")
	w := t.w
	t.endpoint("source", sh, src, sp, t.f(sSourceHostname))
	t.endpoint("destination", dh, dst, dp, t.f(sDestinationHostname))
	transport := ""
	switch p := t.f(sProtocol); {
	case bytes.EqualFold(p, []byte("tcp")):
		transport = "tcp"
	case bytes.EqualFold(p, []byte("udp")):
		transport = "udp"
	}
	w.network(transport, dst, direction)
	w.open("process")
	t.proc(sProcessID, sProcessGuid, sImage)
	w.close()
	t.user(sUser)
	return Event, nil
}

func (t *sysmonCtx) endpoint(section string, raw []byte, ip netip.Addr, port uint64, host []byte) {
	w := t.w
	w.open(section)
	if ip.IsValid() && !ip.IsUnspecified() {
		w.str("ip", raw)
	}
	if port > 0 {
		w.uint("port", port)
	}
	if host != nil {
		w.str("domain", host)
	}
	w.close()
}

// winlog writes an event with no mapping in Winlogbeat's form, so that
// it decodes as the JSON document it would be had Winlogbeat shipped it:
// @timestamp (SystemTime), winlog.provider_name, .event_id,
// .computer_name and .event_data (every Data element by name).
func (t *sysmonCtx) winlog() {
	s := t.s
	w := t.w
	if b := t.text(s.ev.systemTime); b != nil {
		if ns, err := t.when(b, "SystemTime"); err == nil && ns > 0 {
			w.time("@timestamp", ns)
		}
	}
	w.open("winlog")
	if p := t.text(s.ev.provider); p != nil {
		w.str("provider_name", p)
	}
	w.str("event_id", s.ev.eventID.b)
	if c := t.text(s.ev.computer); c != nil {
		w.str("computer_name", c)
	}
	w.open("event_data")
	for _, d := range s.ev.data {
		n := t.text(d.name)
		if n == nil {
			continue
		}
		w.memberName(n)
		v := d.v.b
		if d.v.amp {
			v = t.text(d.v)
		}
		w.b = appendString(w.b, v)
	}
	w.close()
	w.close()
}
