package corpus

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

type evKind uint8

const (
	evStart evKind = iota
	evConn
	evDNS
)

// event is one generated event. real orders the file (the order in which a
// receiver would have emitted it); stamp is the @timestamp written, which
// differs only for an event from a host with a broken clock.
type event struct {
	real, stamp int64 // Unix milliseconds
	host        *host
	seq         int
	kind        evKind
	// tag is empty for ordinary fleet activity and names what the event is
	// part of otherwise ("attack", "poison", or a quiet scenario's one-off
	// job); the tests use it to check that only tagged events are new.
	tag string

	pid      int
	exe      string
	args     []string
	cwd      string
	hash     string
	ppid     int
	pexe     string
	usr, eff user
	hasUser  bool

	udp    bool
	sport  int
	dst    string
	dport  int
	domain string

	qname string
	ips   []string
	dnsID int
}

// The document shapes follow what the cairn_host receiver writes
// (receiver/hostreceiver/README.md): event.module cairn_host, its datasets
// and actions, process.command_line as the arguments joined by spaces, the
// effective user beside the real one, DNS answers without a process (they
// are captured from the wire). Struct order is the key order of the output.

type jsonDoc struct {
	Timestamp   string        `json:"@timestamp"`
	Event       jsonEvent     `json:"event"`
	Host        *jsonHost     `json:"host"`
	Network     *jsonNetwork  `json:"network,omitempty"`
	Source      *jsonEndpoint `json:"source,omitempty"`
	Destination *jsonEndpoint `json:"destination,omitempty"`
	DNS         *jsonDNS      `json:"dns,omitempty"`
	Process     *jsonProcess  `json:"process,omitempty"`
	User        *jsonUser     `json:"user,omitempty"`
}

type jsonEvent struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Action   string   `json:"action"`
	Module   string   `json:"module"`
	Dataset  string   `json:"dataset"`
}

type jsonHost struct {
	Name string   `json:"name"`
	ID   string   `json:"id"`
	IP   []string `json:"ip"`
	OS   struct {
		Type string `json:"type"`
	} `json:"os"`
}

type jsonNetwork struct {
	Protocol  string `json:"protocol,omitempty"`
	Transport string `json:"transport"`
	Type      string `json:"type"`
	Direction string `json:"direction,omitempty"`
}

type jsonEndpoint struct {
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	Domain string `json:"domain,omitempty"`
}

type jsonDNS struct {
	Type         string       `json:"type"`
	ID           int          `json:"id"`
	OpCode       string       `json:"op_code"`
	ResponseCode string       `json:"response_code"`
	Question     jsonQuestion `json:"question"`
	Answers      []jsonAnswer `json:"answers"`
	ResolvedIP   []string     `json:"resolved_ip"`
}

type jsonQuestion struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Class string `json:"class"`
}

type jsonAnswer struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Class string `json:"class"`
	TTL   int    `json:"ttl"`
	Data  string `json:"data"`
}

type jsonProcess struct {
	PID              int         `json:"pid"`
	Name             string      `json:"name"`
	Executable       string      `json:"executable"`
	Args             []string    `json:"args,omitempty"`
	ArgsCount        int         `json:"args_count,omitempty"`
	CommandLine      string      `json:"command_line,omitempty"`
	WorkingDirectory string      `json:"working_directory,omitempty"`
	Hash             *jsonHash   `json:"hash,omitempty"`
	Parent           *jsonParent `json:"parent,omitempty"`
}

type jsonHash struct {
	SHA256 string `json:"sha256"`
}

type jsonParent struct {
	PID        int    `json:"pid"`
	Executable string `json:"executable,omitempty"`
	Name       string `json:"name,omitempty"`
}

// A user's name is written only when known, as the receiver does for uids
// /etc/passwd does not list.
type jsonUser struct {
	ID        string       `json:"id"`
	Name      string       `json:"name,omitempty"`
	Effective *jsonUserRef `json:"effective,omitempty"`
}

type jsonUserRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func formatTS(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// encode appends the event as one JSON line. HTML escaping is off so that
// command lines such as `bash -i >& /dev/tcp/…` stay greppable.
func (e *event) encode(buf *bytes.Buffer) error {
	h := e.host
	d := jsonDoc{Timestamp: formatTS(e.stamp), Host: h.doc}
	d.Event.Kind, d.Event.Module = "event", "cairn_host"
	switch e.kind {
	case evStart:
		d.Event.Category, d.Event.Type = []string{"process"}, []string{"start"}
		d.Event.Action, d.Event.Dataset = "exec", "cairn_host.process"
		p := &jsonProcess{PID: e.pid, Name: baseName(e.exe), Executable: e.exe, Args: e.args, ArgsCount: len(e.args),
			CommandLine: strings.Join(e.args, " "), WorkingDirectory: e.cwd}
		if e.hash != "" {
			p.Hash = &jsonHash{e.hash}
		}
		if e.ppid > 0 {
			p.Parent = &jsonParent{PID: e.ppid, Executable: e.pexe}
			if e.pexe != "" {
				p.Parent.Name = baseName(e.pexe)
			}
		}
		d.Process = p
		d.User = &jsonUser{ID: e.usr.id, Name: e.usr.name, Effective: &jsonUserRef{e.eff.id, e.eff.name}}
	case evConn:
		d.Event.Category, d.Event.Type = []string{"network"}, []string{"connection", "start"}
		d.Event.Action, d.Event.Dataset = "connection-opened", "cairn_host.network"
		d.Network = &jsonNetwork{Transport: "tcp", Type: "ipv4", Direction: "egress"}
		if e.udp {
			d.Network.Transport = "udp"
		}
		d.Source = &jsonEndpoint{IP: h.ip, Port: e.sport}
		d.Destination = &jsonEndpoint{IP: e.dst, Port: e.dport, Domain: e.domain}
		d.Process = &jsonProcess{PID: e.pid, Name: baseName(e.exe), Executable: e.exe}
		if e.hasUser {
			d.User = &jsonUser{ID: e.usr.id, Name: e.usr.name}
		}
	case evDNS:
		d.Event.Category, d.Event.Type = []string{"network"}, []string{"protocol", "info"}
		d.Event.Action, d.Event.Dataset = "dns-answer", "cairn_host.dns"
		d.Network = &jsonNetwork{Protocol: "dns", Transport: "udp", Type: "ipv4"}
		d.Source = &jsonEndpoint{IP: h.ip, Port: e.sport}
		d.Destination = &jsonEndpoint{IP: resolverIP, Port: 53}
		dns := &jsonDNS{Type: "answer", ID: e.dnsID, OpCode: "QUERY", ResponseCode: "NOERROR",
			Question: jsonQuestion{Name: e.qname, Type: "A", Class: "IN"}, ResolvedIP: e.ips}
		for _, ip := range e.ips {
			dns.Answers = append(dns.Answers, jsonAnswer{Name: e.qname, Type: "A", Class: "IN", TTL: 300, Data: ip})
		}
		d.DNS = dns
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc.Encode(&d)
}
