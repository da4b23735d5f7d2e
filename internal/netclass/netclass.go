// Package netclass decides whether an address is external (publicly routable
// and outside the user's own networks).
//
// First-seen tracking of "new external IPs" is only useful when internal
// chatter (RFC 1918, loopback, link-local metadata services, CGNAT, multicast,
// documentation and benchmarking ranges) is kept out; otherwise every new pod
// or DHCP lease raises a signal. Users extend both sides: their own public
// ranges are internal, and a lab or partner network may be declared external.
package netclass

import (
	"fmt"
	"net/netip"
	"strings"
)

// special lists the ranges that are never external by default.
var special = mustPrefixes(
	"0.0.0.0/8",       // "this" network
	"10.0.0.0/8",      // RFC 1918
	"100.64.0.0/10",   // CGNAT, RFC 6598
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, cloud metadata
	"172.16.0.0/12",   // RFC 1918
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1
	"192.168.0.0/16",  // RFC 1918
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2
	"203.0.113.0/24",  // TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, includes broadcast
	"::/128",          // unspecified
	"::1/128",         // loopback
	"100::/64",        // discard-only
	"2001:db8::/32",   // documentation
	"3fff::/20",       // documentation, RFC 9637
	"fc00::/7",        // unique local
	"fe80::/10",       // link-local
	"ff00::/8",        // multicast
)

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// Classifier tells external addresses from internal ones.
type Classifier struct {
	internal []netip.Prefix
	external []netip.Prefix
}

// New builds a classifier. internal lists extra CIDRs to treat as internal
// (e.g. the organisation's own public ranges); external lists CIDRs that are
// external even though they fall in a special range (labs, partner networks).
// A declared external range wins over everything else.
func New(internal, external []string) (*Classifier, error) {
	in, err := ParsePrefixes(internal)
	if err != nil {
		return nil, fmt.Errorf("internal_networks: %w", err)
	}
	ex, err := ParsePrefixes(external)
	if err != nil {
		return nil, fmt.Errorf("external_networks: %w", err)
	}
	return &Classifier{internal: in, external: ex}, nil
}

// ParsePrefixes parses CIDRs; a bare address is taken as a single-host prefix.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix parses one CIDR or address into a masked prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address or CIDR %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// IsExternal reports whether addr is external under this classification.
func (c *Classifier) IsExternal(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return false
	}
	if c != nil {
		if contains(c.external, addr) {
			return true
		}
		if contains(c.internal, addr) {
			return false
		}
	}
	if addr.Is4() && !specialFirstOctet[addr.As4()[0]] {
		// Most public IPv4 addresses are decided by their first octet alone.
		return true
	}
	return !contains(special, addr)
}

// specialFirstOctet marks the first octets that some special IPv4 range
// starts with.
var specialFirstOctet = func() (t [256]bool) {
	for _, p := range special {
		if !p.Addr().Is4() {
			continue
		}
		a := p.Addr().As4()
		span := 1
		if p.Bits() < 8 {
			span = 1 << (8 - p.Bits())
		}
		for i := 0; i < span && int(a[0])+i < 256; i++ {
			t[int(a[0])+i] = true
		}
	}
	return t
}()

func contains(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseAddr parses an address as it appears in events: plain, with a zone,
// IPv4-mapped IPv6, or bracketed IPv6. It never allocates for plain input.
func ParseAddr(s string) (netip.Addr, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
