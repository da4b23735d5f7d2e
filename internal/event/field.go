package event

import (
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/netclass"
)

// aliasKind restricts an alternative name to values of one shape, because
// semantic conventions reuse one attribute (server.address) for both IPs and
// host names while ECS splits them (destination.ip / destination.domain).
type aliasKind uint8

const (
	anyValue aliasKind = iota
	ipOnly
	nameOnly
)

type alias struct {
	path string
	kind aliasKind
	// seg is the bit of the path's first segment in a segment mask.
	seg uint64
}

// segBit hashes the first dotted segment of a key to one of 64 bits, so a
// record can say cheaply which top-level names it certainly lacks.
func segBit(key string) uint64 {
	bit, _ := segBitLen(key)
	return bit
}

// segBitLen is segBit and the length of the first segment, which is
// len(key) unless the key has a dot.
func segBitLen(key string) (uint64, int) {
	h := uint32(2166136261)
	i := 0
	for ; i < len(key) && key[i] != '.'; i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return 1 << (h & 63), i
}

// Field is an event field: its ECS name and the names it may arrive under.
type Field struct {
	// Name is the ECS name, used for writes and in configuration.
	Name    string
	aliases []alias
}

// Common fields. Aliases follow the OTel semantic conventions.
var (
	Timestamp         = define("@timestamp")
	EventID           = define("event.id")
	EventKind         = define("event.kind")
	EventCategory     = define("event.category")
	EventType         = define("event.type")
	HostName          = define("host.name", alias{path: "host.hostname"})
	HostID            = define("host.id")
	ProcessExecutable = define("process.executable", alias{path: "process.executable.path"})
	ProcessName       = define("process.name", alias{path: "process.executable.name"})
	ProcessPID        = define("process.pid")
	ProcessHashSHA256 = define("process.hash.sha256")
	ProcessHashSHA1   = define("process.hash.sha1")
	ProcessHashMD5    = define("process.hash.md5")
	ProcessArgs       = define("process.args", alias{path: "process.command_args"})
	ProcessParentExe  = define("process.parent.executable")
	UserName          = define("user.name", alias{path: "process.user.name"}, alias{path: "process.owner"})
	UserID            = define("user.id", alias{path: "process.user.id"})
	ProcessUserName   = define("process.user.name", alias{path: "user.name"}, alias{path: "process.owner"})
	DestinationIP     = define("destination.ip",
		alias{path: "destination.address", kind: ipOnly},
		alias{path: "server.address", kind: ipOnly},
		alias{path: "network.peer.address", kind: ipOnly})
	DestinationPort   = define("destination.port", alias{path: "server.port"}, alias{path: "network.peer.port"})
	DestinationDomain = define("destination.domain",
		alias{path: "destination.address", kind: nameOnly},
		alias{path: "server.address", kind: nameOnly})
	SourceIP = define("source.ip",
		alias{path: "source.address", kind: ipOnly},
		alias{path: "client.address", kind: ipOnly})
	SourcePort       = define("source.port", alias{path: "client.port"})
	DNSQuestionName  = define("dns.question.name")
	DNSResolvedIP    = define("dns.resolved_ip")
	NetworkTransport = define("network.transport")
	Message          = define("message")
	Signals          = define(SignalsKey)
)

// SignalsKey is the attribute that carries the names of the signals an event raised.
const SignalsKey = "cairn.signals"

var (
	registryMu sync.RWMutex
	registry   = map[string]*Field{}
)

func define(name string, aliases ...alias) *Field {
	f := &Field{Name: name, aliases: append([]alias{{path: name}}, aliases...)}
	for i := range f.aliases {
		f.aliases[i].seg = segBit(f.aliases[i].path)
	}
	registryMu.Lock()
	registry[name] = f
	registryMu.Unlock()
	return f
}

// Lookup returns the Field for a configured name: a known ECS field with its
// aliases, or else a field read under exactly that name (so users can track
// any attribute, e.g. "container.image.name").
func Lookup(name string) *Field {
	registryMu.RLock()
	f, ok := registry[name]
	registryMu.RUnlock()
	if ok {
		return f
	}
	return &Field{Name: name, aliases: []alias{{path: name, seg: segBit(name)}}}
}

// Names returns the names the field is read under, ECS name first.
func (f *Field) Names() []string {
	out := make([]string, len(f.aliases))
	for i, a := range f.aliases {
		out[i] = a.path
	}
	return out
}

func (a alias) accepts(v pcommon.Value) bool {
	if v.Type() == pcommon.ValueTypeMap {
		return false
	}
	switch a.kind {
	case ipOnly:
		if v.Type() != pcommon.ValueTypeStr {
			return false
		}
		_, ok := netclass.ParseAddr(v.Str())
		return ok
	case nameOnly:
		if v.Type() != pcommon.ValueTypeStr || v.Str() == "" {
			return false
		}
		_, ok := netclass.ParseAddr(v.Str())
		return !ok
	}
	return true
}

// SplitAlternatives splits a configured field list such as
// "process.hash.sha256|process.executable" into its names, in order of
// preference. It returns nil when any name is empty.
func SplitAlternatives(f string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(f); i++ {
		if i == len(f) || f[i] == '|' {
			part := strings.TrimSpace(f[start:i])
			if part == "" {
				return nil
			}
			out = append(out, part)
			start = i + 1
		}
	}
	return out
}
