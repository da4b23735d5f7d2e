package sigma

import (
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/event"
)

// Logsources Cairn has events for, and how an event is told to be one of
// them (Class). The event side is ECS categorization, as Cairn's receivers
// and Elastic's integrations write it:
//
//   - process_creation: event.category process and event.type start (a
//     process start; Sysmon event 1 is category process, type start in
//     Elastic's sysmon_linux integration, and cairn_host writes the same);
//   - network_connection: event.category network and event.type connection
//     or start (cairn_host's connections are [connection, start], Sysmon
//     event 3 [start, connection, protocol], Elastic Defend's [start]); DNS
//     answers ([protocol, info]) are not connections;
//   - file_event: event.category file and event.type creation or change
//     (Sysmon events 11 and 2).
type Class uint8

const (
	ClassProcessCreation Class = iota
	ClassNetworkConnection
	ClassFileEvent
	numClasses
)

var classNames = [numClasses]string{"process_creation", "network_connection", "file_event"}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// classesOf returns the classes of an event, from its event.category
// and event.type, as a bit mask.
func classesOf(cat, typ pcommon.Value, hasType bool) uint8 {
	if !hasType {
		return 0
	}
	c := words(cat, categoryBit)
	if c == 0 {
		return 0
	}
	t := words(typ, typeBit)
	var mask uint8
	if c&catProcess != 0 && t&typStart != 0 {
		mask |= 1 << ClassProcessCreation
	}
	if c&catNetwork != 0 && t&(typConnection|typStart) != 0 {
		mask |= 1 << ClassNetworkConnection
	}
	if c&catFile != 0 && t&(typCreation|typChange) != 0 {
		mask |= 1 << ClassFileEvent
	}
	return mask
}

const (
	catProcess = 1 << iota
	catNetwork
	catFile
)

const (
	typStart = 1 << iota
	typConnection
	typCreation
	typChange
)

func categoryBit(s string) uint8 {
	switch s {
	case "process":
		return catProcess
	case "network":
		return catNetwork
	case "file":
		return catFile
	}
	return 0
}

func typeBit(s string) uint8 {
	switch s {
	case "start":
		return typStart
	case "connection":
		return typConnection
	case "creation":
		return typCreation
	case "change":
		return typChange
	}
	return 0
}

// words ORs bit(s) over a string or the strings of an array (ECS
// categorization fields are arrays; a sender may write one string).
func words(v pcommon.Value, bit func(string) uint8) uint8 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return bit(v.Str())
	case pcommon.ValueTypeSlice:
		var m uint8
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			if e := sl.At(i); e.Type() == pcommon.ValueTypeStr {
				m |= bit(e.Str())
			}
		}
		return m
	}
	return 0
}

// source is where a Sigma field is read in an event.
type source struct {
	// field is the ECS field (with its OTel aliases, see event.Lookup).
	field *event.Field
	// join, when field is absent, is an array field whose elements joined
	// by spaces stand for it: process.args for process.command_line, as
	// ECS defines the command line ("the full command line ... including
	// the absolute path to the executable, and all arguments") and as
	// cairn_host and Elastic Defend build it.
	join *event.Field
	// arg >= 0 reads element arg of process.args instead (auditd EXECVE
	// a0, a1, ...).
	arg int
	// values translates rule values (Sysmon's Initiated true/false into
	// ECS network.direction); nil for none.
	values map[string][]string
}

func (s source) key() string {
	k := ""
	if s.field != nil {
		k = s.field.Name
	}
	if s.join != nil {
		k += "|" + s.join.Name
	}
	if s.arg >= 0 {
		k += "#" + strconv.Itoa(s.arg)
	}
	return k
}

func ecs(name string) source { return source{field: event.Lookup(name), arg: -1} }

// Field names of the Sigma taxonomy (Sysmon for Linux) mapped to ECS as
// pySigma-backend-elasticsearch's ecs_windows pipeline and Elastic's
// sysmon_linux integration map them (sigma/pipelines/elasticsearch/ecs.py;
// packages/sysmon_linux/.../ingest_pipeline/default.yml): Image is
// process.executable, CommandLine process.command_line, ParentImage
// process.parent.executable, CurrentDirectory process.working_directory,
// TargetFilename file.path, DestinationIp destination.ip, User user.name,
// Initiated network.direction, and so on.
var commonFields = map[string]source{
	"Image":       ecs("process.executable"),
	"ProcessId":   ecs("process.pid"),
	"ProcessGuid": ecs("process.entity_id"),
	"User":        ecs("user.name"),
}

var classFields = [numClasses]map[string]source{
	ClassProcessCreation: {
		"CommandLine":       {field: event.Lookup("process.command_line"), join: event.Lookup("process.args"), arg: -1},
		"CurrentDirectory":  ecs("process.working_directory"),
		"ParentImage":       ecs("process.parent.executable"),
		"ParentCommandLine": {field: event.Lookup("process.parent.command_line"), join: event.Lookup("process.parent.args"), arg: -1},
		"ParentProcessId":   ecs("process.parent.pid"),
		"ParentProcessGuid": ecs("process.parent.entity_id"),
	},
	ClassNetworkConnection: {
		"Protocol":            ecs("network.transport"),
		"SourceIp":            ecs("source.ip"),
		"SourcePort":          ecs("source.port"),
		"SourceHostname":      ecs("source.domain"),
		"DestinationIp":       ecs("destination.ip"),
		"DestinationPort":     ecs("destination.port"),
		"DestinationHostname": ecs("destination.domain"),
		"DestinationPortName": ecs("network.protocol"),
		// Sysmon's "was the connection initiated here": ECS says it with
		// network.direction (egress/ingress; outbound/inbound before ECS
		// 1.8), as Elastic's sysmon_linux pipeline sets it.
		"Initiated": {field: event.Lookup("network.direction"), arg: -1, values: map[string][]string{
			"true": {"egress", "outbound"}, "false": {"ingress", "inbound"},
		}},
	},
	ClassFileEvent: {
		"TargetFilename": ecs("file.path"),
	},
}

// unmappedFields are Sysmon fields with no ECS counterpart in Cairn's
// events, with the reason given when a rule uses one.
var unmappedFields = map[string]string{
	"LogonId":           "Sysmon's logon id has no ECS field, and Cairn's events do not carry it",
	"LogonGuid":         "Sysmon's logon GUID has no ECS field, and Cairn's events do not carry it",
	"TerminalSessionId": "Sysmon's terminal session id has no ECS field in Cairn's events",
	"IntegrityLevel":    "integrity levels are a Windows notion",
	"Hashes":            "Sysmon's Hashes string (SHA256=...,MD5=...) has no single ECS field; match process.hash.sha256 by its dotted name instead",
	"ParentUser":        "the parent's user is not in Cairn's events",
	"OriginalFileName":  "PE file metadata is a Windows notion",
	"Description":       "PE file metadata is a Windows notion",
	"Product":           "PE file metadata is a Windows notion",
	"Company":           "PE file metadata is a Windows notion",
	"FileVersion":       "PE file metadata is a Windows notion",
}

// auditdExecveArgs is the most EXECVE arguments (a0 ... aN) read from
// process.args: cairn_host keeps 64 arguments by default (processes.
// max_args).
const auditdExecveArgs = 64

// unsupportedError is a rule the engine understands but cannot run on
// Cairn's events.
type unsupportedError struct {
	reason Reason
	detail string
}

func (e *unsupportedError) Error() string { return e.detail }

func unsupported(reason Reason, format string, args ...any) error {
	return &unsupportedError{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// limitError is a rule over one of the bounds of limits.go.
type limitError struct{ detail string }

func (e *limitError) Error() string { return e.detail }

// Logsource is a rule's logsource section.
type Logsource struct {
	Category, Product, Service string
}

// auditdMode is how an auditd rule is read: only one made of EXECVE
// records (type: EXECVE and the arguments a0, a1, ...) says what a
// process start of Cairn's says, from process.args.
const (
	notAuditd = iota
	auditdExecve
)

// resolveLogsource tells the class of a rule's events.
func resolveLogsource(ls Logsource) (Class, int, error) {
	product := strings.ToLower(ls.Product)
	if product != "" && product != "linux" {
		return 0, 0, unsupported(ReasonLogsource, "logsource product %q: Cairn's events are from Linux hosts", ls.Product)
	}
	cat, svc := strings.ToLower(ls.Category), strings.ToLower(ls.Service)
	switch {
	case svc == "auditd" && cat == "":
		return ClassProcessCreation, auditdExecve, nil
	case svc != "":
		return 0, 0, unsupported(ReasonLogsource, "logsource service %q: Cairn has no events of that service (it writes process starts, connections, DNS answers and file events in ECS)", ls.Service)
	}
	for c := Class(0); c < numClasses; c++ {
		if cat == classNames[c] {
			return c, notAuditd, nil
		}
	}
	if cat == "" {
		return 0, 0, unsupported(ReasonLogsource, "logsource without a category (product %q alone): Cairn maps only process_creation, network_connection and file_event", ls.Product)
	}
	return 0, 0, unsupported(ReasonLogsource, "logsource category %q: Cairn maps only process_creation, network_connection and file_event", ls.Category)
}

// resolveField tells where a rule's field is read. name is the field as
// the rule writes it, without modifiers.
func resolveField(c Class, mode int, name string) (source, error) {
	if mode == auditdExecve {
		if n, ok := auditArg(name); ok {
			return source{field: event.ProcessArgs, arg: n}, nil
		}
		return source{}, unsupported(ReasonAuditd, "field %q needs raw auditd records (SYSCALL, PATH, ... fields); Cairn's events carry an EXECVE's arguments (a0, a1, ...) as process.args only", name)
	}
	if s, ok := classFields[c][name]; ok {
		return s, nil
	}
	if s, ok := commonFields[name]; ok {
		return s, nil
	}
	if why, ok := unmappedFields[name]; ok {
		return source{}, unsupported(ReasonField, "field %q is not mapped: %s", name, why)
	}
	if strings.Contains(name, ".") && !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".") && !strings.Contains(name, "..") {
		// A dotted name is an event field, read as is (ECS or OTel
		// names): rules can be written against Cairn's own fields.
		return ecs(name), nil
	}
	return source{}, unsupported(ReasonField, "field %q is not mapped for %s (no ECS equivalent in Cairn's mapping)", name, c)
}

// auditArg reads an EXECVE argument field a0, a1, ...
func auditArg(name string) (int, bool) {
	if len(name) < 2 || len(name) > 4 || name[0] != 'a' {
		return 0, false
	}
	n, err := strconv.Atoi(name[1:])
	if err != nil || n < 0 || n >= auditdExecveArgs || strconv.Itoa(n) != name[1:] {
		return 0, false
	}
	return n, true
}
