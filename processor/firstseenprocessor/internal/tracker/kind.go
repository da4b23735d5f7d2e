package tracker

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Outcome says what became of one field value on its way into a term.
type Outcome uint8

const (
	// ValueUsable: the value is part of the term.
	ValueUsable Outcome = iota
	// ValueIgnored: a valid value the tracker does not follow (an internal IP for
	// an external-only tracker). Not an error.
	ValueIgnored
	// ValueMalformed: the value cannot be a term of this kind (not an IP, a
	// string too long, a map); the event passes on and a counter goes up.
	ValueMalformed
)

// Kind normalises one field's value into term bytes. There is one kind per
// file, chosen from the ECS field name, so that "Example.COM." and
// "example.com" are one domain and an IPv4-mapped IPv6 address is its IPv4.
type Kind interface {
	// Name is used in metrics ("reason" of malformed values) and docs.
	Name() string
	// Append appends the normalised form of val to dst. It must not allocate.
	Append(dst []byte, val pcommon.Value, env *Env) ([]byte, Outcome, string)
}

// kindFor picks the kind from an ECS field name.
func kindFor(field string) Kind {
	last := field
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		last = field[i+1:]
	}
	switch {
	case last == "ip" || last == "resolved_ip" || last == "address" && strings.HasPrefix(field, "network.peer"):
		return ipKind{}
	case last == "domain" || last == "registered_domain" || field == "dns.question.name":
		return domainKind{}
	case strings.Contains(field, ".hash."):
		return hashKind{}
	}
	return textKind{}
}
