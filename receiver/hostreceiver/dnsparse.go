package hostreceiver

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// udpPacket is an IPv4 or IPv6 UDP datagram.
type udpPacket struct {
	src, dst netip.AddrPort
	payload  []byte
}

var errNotUDP = errors.New("not a UDP datagram")

// parseIPUDP parses an IP packet (no link-layer header) carrying UDP. IPv6
// extension headers are not followed.
func parseIPUDP(b []byte) (udpPacket, error) {
	var p udpPacket
	if len(b) < 1 {
		return p, errNotUDP
	}
	var udp []byte
	var src, dst netip.Addr
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return p, errNotUDP
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if b[9] != 17 || ihl < 20 || total < ihl || len(b) < total {
			return p, errNotUDP
		}
		if binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 { // fragment
			return p, errNotUDP
		}
		src = netip.AddrFrom4([4]byte(b[12:16]))
		dst = netip.AddrFrom4([4]byte(b[16:20]))
		udp = b[ihl:total]
	case 6:
		if len(b) < 40 || b[6] != 17 {
			return p, errNotUDP
		}
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		if len(b) < 40+plen {
			return p, errNotUDP
		}
		src = netip.AddrFrom16([16]byte(b[8:24]))
		dst = netip.AddrFrom16([16]byte(b[24:40]))
		udp = b[40 : 40+plen]
	default:
		return p, errNotUDP
	}
	if len(udp) < 8 {
		return p, errNotUDP
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return p, errNotUDP
	}
	p.src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:2]))
	p.dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(udp[2:4]))
	p.payload = udp[8:ulen]
	return p, nil
}

// dnsAnswer is one resource record of the answer section.
type dnsAnswer struct {
	name  string
	typ   uint16
	class uint16
	ttl   uint32
	data  string
	ip    netip.Addr
}

// dnsResponse is the part of a DNS response Cairn reports.
type dnsResponse struct {
	id      uint16
	rcode   uint8
	opcode  uint8
	qname   string
	qtype   uint16
	qclass  uint16
	answers []dnsAnswer
}

var errNotDNSResponse = errors.New("not a DNS response")

// dnsQuery is the part of a query an answer must repeat.
type dnsQuery struct {
	id            uint16
	qname         string
	qtype, qclass uint16
}

// parseDNSQuery parses a standard query (opcode 0) with one question.
func parseDNSQuery(b []byte) (dnsQuery, error) {
	var q dnsQuery
	if len(b) < 12 {
		return q, errNotDNSResponse
	}
	flags := binary.BigEndian.Uint16(b[2:4])
	if flags&0x8000 != 0 || (flags>>11)&0xf != 0 || binary.BigEndian.Uint16(b[4:6]) != 1 {
		return q, errNotDNSResponse
	}
	q.id = binary.BigEndian.Uint16(b[0:2])
	name, off, err := readName(b, 12)
	if err != nil || off+4 > len(b) {
		return q, errNotDNSResponse
	}
	q.qname = name
	q.qtype = binary.BigEndian.Uint16(b[off:])
	q.qclass = binary.BigEndian.Uint16(b[off+2:])
	return q, nil
}

// parseDNSResponse parses a DNS response with one question. Names are
// lower-cased, without the trailing dot.
func parseDNSResponse(b []byte) (*dnsResponse, error) {
	if len(b) < 12 {
		return nil, errNotDNSResponse
	}
	flags := binary.BigEndian.Uint16(b[2:4])
	if flags&0x8000 == 0 {
		return nil, errNotDNSResponse
	}
	r := &dnsResponse{
		id:     binary.BigEndian.Uint16(b[0:2]),
		opcode: uint8(flags>>11) & 0xf,
		rcode:  uint8(flags & 0xf),
	}
	qd := binary.BigEndian.Uint16(b[4:6])
	an := binary.BigEndian.Uint16(b[6:8])
	if qd != 1 {
		return nil, errNotDNSResponse
	}
	off := 12
	name, off, err := readName(b, off)
	if err != nil || off+4 > len(b) {
		return nil, errNotDNSResponse
	}
	r.qname = name
	r.qtype = binary.BigEndian.Uint16(b[off:])
	r.qclass = binary.BigEndian.Uint16(b[off+2:])
	off += 4
	if an > 64 {
		an = 64
	}
	for i := 0; i < int(an); i++ {
		var a dnsAnswer
		a.name, off, err = readName(b, off)
		if err != nil || off+10 > len(b) {
			break
		}
		a.typ = binary.BigEndian.Uint16(b[off:])
		a.class = binary.BigEndian.Uint16(b[off+2:])
		a.ttl = binary.BigEndian.Uint32(b[off+4:])
		rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			break
		}
		rd := b[off : off+rdlen]
		switch {
		case a.typ == 1 && rdlen == 4:
			a.ip = netip.AddrFrom4([4]byte(rd))
			a.data = a.ip.String()
		case a.typ == 28 && rdlen == 16:
			a.ip = netip.AddrFrom16([16]byte(rd))
			a.data = a.ip.String()
		case a.typ == 5 || a.typ == 2 || a.typ == 12:
			if n, _, err := readName(b, off); err == nil {
				a.data = n
			}
		}
		off += rdlen
		r.answers = append(r.answers, a)
	}
	return r, nil
}

// maxNameJumps bounds the compression pointers followed in one name. Each
// pointer must also point before the one before it, so a name can neither
// loop nor be made to walk the packet more than once.
const maxNameJumps = 16

// readName reads a possibly compressed domain name at off and returns the
// offset after it (after the first pointer, when compressed). Labels are
// lower-cased (ASCII) and written in the presentation format of RFC 1035
// (section 5.1): a dot, a backslash or a byte outside printable ASCII
// within a label is escaped ("\.", "\\", "\DDD"), so that a single label
// holding "example.com" cannot pass for the two labels of example.com.
func readName(b []byte, off int) (string, int, error) {
	var sb strings.Builder
	end := -1
	wire := 0    // bytes of the name on the wire (at most 255)
	limit := off // a pointer must point before this
	for jumps := 0; ; {
		if off >= len(b) {
			return "", 0, errNotDNSResponse
		}
		l := int(b[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return sb.String(), end, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return "", 0, errNotDNSResponse
			}
			if end < 0 {
				end = off + 2
			}
			jumps++
			target := int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
			if jumps > maxNameJumps || target >= limit {
				return "", 0, errNotDNSResponse
			}
			off, limit = target, target
		case l&0xc0 != 0:
			return "", 0, errNotDNSResponse
		default:
			wire += 1 + l
			if off+1+l > len(b) || wire+1 > 255 {
				return "", 0, errNotDNSResponse
			}
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			writeLabel(&sb, b[off+1:off+1+l])
			off += 1 + l
		}
	}
}

// writeLabel writes a label lower-cased, escaping what is not a printable
// ASCII character other than '.' and '\\'.
func writeLabel(sb *strings.Builder, l []byte) {
	for _, c := range l {
		switch {
		case c == '.' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c <= ' ' || c >= 0x7f:
			sb.WriteByte('\\')
			sb.WriteByte('0' + c/100)
			sb.WriteByte('0' + c/10%10)
			sb.WriteByte('0' + c%10)
		case c >= 'A' && c <= 'Z':
			sb.WriteByte(c + 'a' - 'A')
		default:
			sb.WriteByte(c)
		}
	}
}

var dnsTypeNames = map[uint16]string{
	1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
	28: "AAAA", 33: "SRV", 35: "NAPTR", 39: "DNAME", 64: "SVCB", 65: "HTTPS", 255: "ANY",
}

func dnsTypeName(t uint16) string {
	if n, ok := dnsTypeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

var dnsRcodeNames = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}

func dnsRcodeName(c uint8) string {
	if int(c) < len(dnsRcodeNames) {
		return dnsRcodeNames[c]
	}
	return "RCODE" + strconv.Itoa(int(c))
}

func dnsClassName(c uint16) string {
	if c == 1 {
		return "IN"
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// buildDNSQuery and buildDNSAnswer make wire-format messages; used by tests
// and the load generator.
func buildDNSQuery(id uint16, name string, qtype uint16) []byte {
	b := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	b = appendName(b, name)
	return append(b, byte(qtype>>8), byte(qtype), 0, 1)
}

// buildDNSAnswer answers query q with the given addresses (A or AAAA by
// their form) and ttl.
func buildDNSAnswer(q []byte, ttl uint32, ips ...netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	b := append([]byte(nil), q...)
	b[2] |= 0x80 // QR
	b[3] = 0x80  // RA, NOERROR
	binary.BigEndian.PutUint16(b[6:8], uint16(len(ips)))
	for _, ip := range ips {
		b = append(b, 0xc0, 12) // pointer to the question name
		if ip.Is4() {
			b = append(b, 0, 1, 0, 1)
		} else {
			b = append(b, 0, 28, 0, 1)
		}
		b = binary.BigEndian.AppendUint32(b, ttl)
		raw := ip.AsSlice()
		b = binary.BigEndian.AppendUint16(b, uint16(len(raw)))
		b = append(b, raw...)
	}
	return b
}

func appendName(b []byte, name string) []byte {
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}
