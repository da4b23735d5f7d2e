// Package normalize turns the native records of other sensors into the ECS
// events the cairn_host receiver produces, so that every processor works on
// them unchanged. It sits inside internal/ingest, the one decoding path of
// the cairn_file receiver and `cairn replay`: a line is normalised into an
// ECS document, which the ECS decoder then reads as it reads any other, so
// the record, its time and its content event.id come out exactly as for a
// native ECS line with that document.
//
// Each sensor format is one file behind the format interface: tetragon.go
// (Tetragon's JSON export) and zeek.go (Zeek's conn and dns logs, JSON or
// TSV). See README.md for what each maps and what each sensor lacks.
package normalize

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Format names, the values of the decoding option.
const (
	// FormatECS: the line is an ECS document already; nothing is done.
	FormatECS = "ecs"
	// FormatTetragon: Tetragon's JSON export (`tetra getevents -o json`,
	// the export file).
	FormatTetragon = "tetragon"
	// FormatZeek: Zeek logs, JSON lines or TSV with #fields headers.
	FormatZeek = "zeek"
	// FormatFalco: Falco's JSON alerts (json_output: true), one a line.
	FormatFalco = "falco"
	// FormatSysmon: Sysmon for Linux's XML events, one per line, alone
	// or after a syslog "sysmon:" tag.
	FormatSysmon = "sysmon"
	// FormatAuto detects the format of every record (see Detect rules in
	// README.md); records no format claims are ECS documents.
	FormatAuto = "auto"
)

// Names lists the format option's values.
func Names() []string {
	return []string{FormatECS, FormatTetragon, FormatZeek, FormatFalco, FormatSysmon, FormatAuto}
}

// Valid reports whether name is a format option value ("" means ecs).
func Valid(name string) bool {
	switch name {
	case "", FormatECS, FormatTetragon, FormatZeek, FormatFalco, FormatSysmon, FormatAuto:
		return true
	}
	return false
}

// Outcome says what became of a record.
type Outcome uint8

const (
	// Event: the document returned is the record's ECS event.
	Event Outcome = iota
	// Passthrough: the record is not one this package maps (an ECS
	// document, or a sensor record of a type with no mapping); the
	// document returned is the line itself, or for a Zeek TSV row its JSON
	// form, to be decoded as it is.
	Passthrough
	// Skip: a header line (Zeek TSV): no record.
	Skip
	// Malformed: the record was refused; the error says why.
	Malformed
)

// ErrRecord wraps every error of a refused record.
var ErrRecord = errors.New("normalize")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRecord, fmt.Sprintf(format, args...))
}

// format is one sensor's record format. A format is stateless; what a
// stream of its records carries from line to line (Zeek's TSV header) is in
// the Stream the record comes with.
type format interface {
	// name is the format's option value.
	name() string
	// sniff reports whether r is a record of this format. The sniffers
	// agree: at most one claims any record.
	sniff(r *record) bool
	// normalize writes r's ECS event with w and returns the record's type
	// (for the counts, see Count) and Event; or Passthrough for a record
	// of a type it does not map (w may then hold the record's JSON form,
	// for a record that is not JSON); or Skip; or Malformed with an error.
	normalize(r *record, w *writer) (typ string, o Outcome, err error)
}

// maxArenaKeep bounds the unescaping arena kept between records.
const maxArenaKeep = 1 << 20

// maxTop bounds the top-level members a record's look-up table keeps; a
// record with more is still checked whole, and a member past the bound is
// not seen by the formats.
const maxTop = 128

// member is one top-level member of a JSON record.
type member struct {
	key []byte // raw name
	v   val
}

// record is one line on its way through the formats.
type record struct {
	line []byte
	// json: the line is a valid JSON object, whose top-level members (up
	// to maxTop) are in top.
	json   bool
	top    []member
	stream *Stream
	n      *Normalizer
	// The Tetragon event read while the line was scanned (see scan): the
	// index in top of its member (-1 for none), what was read and the
	// field refused.
	evIdx int
	ev    tevent
	evErr error
	// idx marks where the line's strings end (see strIndex).
	idx strIndex
	// Scratch buffers: a command line, a path, a Zeek value.
	cmd, path, zbuf []byte
	// arena holds the strings unescaped for this record (val.str).
	arena []byte
}

// get returns the value of the top-level member key (the last one, as the
// ECS decoder keeps the last of duplicate keys), or nil.
func (r *record) get(key string) val {
	for i := len(r.top) - 1; i >= 0; i-- {
		if string(r.top[i].key) == key {
			return r.top[i].v
		}
	}
	return nil
}

// scan checks the line as a JSON object and lists its top-level members.
func (r *record) scan() {
	b := r.line
	r.json = false
	r.top = r.top[:0]
	r.evIdx = -1
	if len(b) == 0 || b[0] != '{' {
		return
	}
	r.idx.build(b)
	i := skipWS(b, 1)
	if i < len(b) && b[i] == '}' {
		r.json = skipWS(b, i+1) == len(b)
		return
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return
		}
		ke := r.idx.end(b, i, true)
		if ke == bad {
			return
		}
		key := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return
		}
		vs := skipWS(b, i+1)
		var ve int
		if r.n.tetragon && r.evIdx < 0 && vs < len(b) && b[vs] == '{' && len(r.top) < maxTop && tetragonEventKey(key) {
			// The event member of what may be a Tetragon record: read
			// it in the same pass that checks it, rather than walk it
			// twice. It is the bulk of the line.
			r.evIdx = len(r.top)
			r.ev = tevent{}
			o := checkedMembers(&r.idx, b, vs, 1)
			r.evErr = parseEvent(&o, &r.ev, where{a: tetragonType(key)})
			if o.failed {
				return
			}
			ve = o.i
		} else if ve = skipValue(&r.idx, b, vs, 1, true); ve == bad {
			return
		}
		if len(r.top) < maxTop {
			r.top = append(r.top, member{key: key, v: val(b[vs:ve])})
		}
		i = skipWS(b, ve)
		if i >= len(b) {
			return
		}
		if b[i] == '}' {
			r.json = skipWS(b, i+1) == len(b)
			return
		}
		if b[i] != ',' {
			return
		}
		i = skipWS(b, i+1)
	}
}

// Stream is what a stateful format keeps between the records of one input:
// the header of a Zeek TSV log. A Normalizer reading several inputs in turn
// keeps one Stream per input and switches with Use.
type Stream struct {
	zeek zeekHeader
}

// Header returns the header lines that make s's state (a Zeek TSV header:
// the lines since its #separator, '\n' between them), for a checkpoint to
// keep beside the input's offset; nil when there are none, or more than
// MaxHeaderKeep bytes of them. The result is s's own: copy it to keep it.
func (s *Stream) Header() []byte {
	if s.zeek.over {
		return nil
	}
	return s.zeek.lines
}

// Resume sets s to the state header (from Header) gives, as if its lines
// had just been read: an input resumed from a checkpoint past its header
// reads its rows under that header. Nothing is counted.
func (s *Stream) Resume(header []byte) {
	*s = Stream{}
	if len(header) == 0 {
		return
	}
	r := record{stream: s}
	for _, line := range bytes.Split(header, []byte{'\n'}) {
		if len(line) > 0 && line[0] == '#' {
			r.line = line
			zeek{}.header(&r)
		}
	}
}

// Normalizer normalises records. Not safe for concurrent use.
type Normalizer struct {
	mode    string
	formats []format
	own     Stream
	stream  *Stream
	// tetragon: the Tetragon format is on (its events are read during
	// the scan).
	tetragon bool
	rec      record
	w        writer
	counts   map[countKey]*int64
	// The counter of the last key counted: a stream of records of one
	// type spares the map look-up.
	lastKey   countKey
	lastCount *int64
	// interned names of unknown record types, per format, bounded.
	unknown map[string]string
	scratch []byte
}

// New returns a normaliser for a format option value other than ecs.
func New(name string) (*Normalizer, error) {
	n := &Normalizer{mode: name, counts: map[countKey]*int64{}, unknown: map[string]string{}}
	switch name {
	case FormatTetragon:
		n.formats = []format{tetragon{}}
		n.tetragon = true
	case FormatZeek:
		n.formats = []format{zeek{explicit: true}}
	case FormatFalco:
		n.formats = []format{falco{}}
	case FormatSysmon:
		n.formats = []format{&sysmon{explicit: true}}
	case FormatAuto:
		// sysmon before zeek: a Zeek TSV header in force claims any line
		// holding its separator.
		n.formats = []format{tetragon{}, &sysmon{}, zeek{}, falco{}}
		n.tetragon = true
	default:
		return nil, fmt.Errorf("format must be one of %s (not %q for a normaliser)", strings.Join(Names(), ", "), name)
	}
	n.stream = &n.own
	n.rec.n = n
	return n, nil
}

// Format returns the normaliser's format option value.
func (n *Normalizer) Format() string { return n.mode }

// Use makes s the stream the next records belong to; nil returns to the
// normaliser's own stream.
func (n *Normalizer) Use(s *Stream) {
	if s == nil {
		s = &n.own
	}
	n.stream = s
}

var ecsPrefix = []byte(`{"@timestamp"`)

// Record normalises one line (trimmed, not blank). The document it returns
// is valid until the next call.
func (n *Normalizer) Record(line []byte) ([]byte, Outcome, error) {
	if len(line) == 0 {
		return nil, Skip, nil
	}
	r := &n.rec
	r.line = line
	r.stream = n.stream
	if cap(r.arena) > maxArenaKeep {
		r.arena = nil // a huge record's: not kept for the next
	}
	r.arena = r.arena[:0]
	// An ECS document written by Cairn starts with @timestamp, which no
	// sensor record has: spare it the scan.
	if !bytes.HasPrefix(line, ecsPrefix) {
		r.scan()
	} else {
		r.json, r.top, r.evIdx = false, r.top[:0], -1
		n.count(countKey{format: FormatECS, kind: Native}, 1)
		return line, Passthrough, nil
	}
	var f format
	for _, c := range n.formats {
		if c.sniff(r) {
			f = c
			break
		}
	}
	if f == nil {
		n.count(countKey{format: FormatECS, kind: Native}, 1)
		return line, Passthrough, nil
	}
	n.w.reset(n.w.b)
	typ, o, err := f.normalize(r, &n.w)
	switch o {
	case Event:
		n.count(countKey{format: f.name(), typ: typ, kind: Normalized}, 1)
		return n.w.finish(), Event, nil
	case Passthrough:
		n.count(countKey{format: f.name(), typ: typ, kind: Unknown}, 1)
		if r.json {
			return line, Passthrough, nil
		}
		return n.w.finish(), Passthrough, nil
	case Skip:
		return nil, Skip, nil
	default:
		n.count(countKey{format: f.name(), typ: typ, kind: Refused}, 1)
		if err == nil {
			err = refuse("%s record refused", f.name())
		}
		return nil, Malformed, err
	}
}

// Kind sorts the counts.
type Kind uint8

const (
	// Normalized: records mapped into ECS events.
	Normalized Kind = iota
	// Unknown: records of the format, of a type with no mapping, passed
	// through as they are.
	Unknown
	// Refused: records of the format refused as malformed.
	Refused
	// Native: records no format claimed, decoded as the ECS documents
	// they are (Format "ecs").
	Native
)

func (k Kind) String() string {
	switch k {
	case Normalized:
		return "normalized"
	case Unknown:
		return "unknown"
	case Refused:
		return "refused"
	case Native:
		return "native"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Count is the number of records of one format, type and kind.
type Count struct {
	// Format is tetragon, zeek, falco, sysmon or ecs.
	Format string
	// Type is the record type: Tetragon's event name (process_exec,
	// process_kprobe; an unmapped kprobe or LSM hook as
	// process_kprobe/<function>), Zeek's log path (conn, dns); "" for ECS
	// records. Unknown types from the input are kept up to a bound
	// (maxUnknownTypes per normaliser); beyond it they count as "other".
	Type string
	Kind Kind
	N    int64
}

type countKey struct {
	format string
	typ    string
	kind   Kind
}

func (n *Normalizer) count(k countKey, d int64) {
	if n.lastCount == nil || k != n.lastKey {
		c := n.counts[k]
		if c == nil {
			c = new(int64)
			n.counts[k] = c
		}
		n.lastKey, n.lastCount = k, c
	}
	*n.lastCount += d
}

// Counts returns the records seen so far, by format, type and kind, sorted.
func (n *Normalizer) Counts() []Count {
	out := make([]Count, 0, len(n.counts))
	for k, c := range n.counts {
		v := *c
		out = append(out, Count{Format: k.format, Type: k.typ, Kind: k.kind, N: v})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Format != b.Format {
			return a.Format < b.Format
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Type < b.Type
	})
	return out
}

// maxUnknownTypes bounds the distinct unknown type names kept for the
// counts: the names come from the input.
const maxUnknownTypes = 64

// typeName interns an unknown record type read from the input (prefix and
// name joined): printable ASCII names of at most 96 bytes, at most
// maxUnknownTypes of them; anything else is "other".
func (n *Normalizer) typeName(prefix string, name []byte) string {
	b := append(append(n.scratch[:0], prefix...), name...)
	n.scratch = b
	if s, ok := n.unknown[string(b)]; ok {
		return s
	}
	if len(b) > 96 || len(n.unknown) >= maxUnknownTypes {
		return "other"
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return "other"
		}
	}
	s := string(b)
	n.unknown[s] = s
	return s
}
