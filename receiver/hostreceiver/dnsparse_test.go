package hostreceiver

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ipv4UDP(src, dst netip.AddrPort, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8] = 64
	b[9] = 17
	copy(b[12:16], src.Addr().AsSlice())
	copy(b[16:20], dst.Addr().AsSlice())
	binary.BigEndian.PutUint16(b[20:], src.Port())
	binary.BigEndian.PutUint16(b[22:], dst.Port())
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

func TestParseDNSResponse(t *testing.T) {
	q := buildDNSQuery(0x1234, "L.GS.thc.org.", 1)
	a := buildDNSAnswer(q, 300, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::5"))
	pkt := ipv4UDP(netip.MustParseAddrPort("10.0.0.53:53"), netip.MustParseAddrPort("10.0.0.2:40000"), a)
	p, err := parseIPUDP(pkt)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.53:53", p.src.String())
	assert.Equal(t, "10.0.0.2:40000", p.dst.String())
	r, err := parseDNSResponse(p.payload)
	require.NoError(t, err)
	assert.Equal(t, uint16(0x1234), r.id)
	assert.Equal(t, "l.gs.thc.org", r.qname)
	assert.Equal(t, "A", dnsTypeName(r.qtype))
	require.Len(t, r.answers, 2)
	assert.Equal(t, "10.1.2.3", r.answers[0].data)
	assert.Equal(t, "l.gs.thc.org", r.answers[0].name)
	assert.Equal(t, uint32(300), r.answers[0].ttl)
	assert.Equal(t, "AAAA", dnsTypeName(r.answers[1].typ))
	assert.Equal(t, "fd00::5", r.answers[1].ip.String())
	assert.Equal(t, "NOERROR", dnsRcodeName(r.rcode))

	// A query is not a response.
	_, err = parseDNSResponse(q)
	assert.Error(t, err)
}

func TestParseDNSMalformed(t *testing.T) {
	q := buildDNSQuery(1, "a.example", 1)
	a := buildDNSAnswer(q, 1, netip.MustParseAddr("10.0.0.1"))
	// Every truncation fails or parses without panicking.
	for i := 0; i < len(a); i++ {
		_, _ = parseDNSResponse(a[:i])
	}
	// A compression loop is refused.
	loop := append([]byte(nil), a[:12]...)
	loop[5] = 1
	loop = append(loop, 0xc0, 12)
	_, err := parseDNSResponse(loop)
	assert.Error(t, err)
	_, err = parseIPUDP([]byte{0x45, 0})
	assert.Error(t, err)
}

// TestReadNameHostile: names are written so that one label cannot pass for
// several (a dot inside a label is escaped), bytes that are not printable
// are escaped, and compression pointers must point backwards: forward
// pointers, self pointers and chains beyond maxNameJumps are refused.
func TestReadNameHostile(t *testing.T) {
	hdr := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}
	name := func(wire ...byte) []byte { return append(append([]byte(nil), hdr...), wire...) }

	n, _, err := readName(name(8, 'B', 'a', 'n', 'k', '.', 'c', 'o', 'm', 0), 12)
	require.NoError(t, err)
	assert.Equal(t, `bank\.com`, n, "one label holding a dot")
	n, _, err = readName(name(3, 'a', 0, 0xff, 1, '\\', 0), 12)
	require.NoError(t, err)
	assert.Equal(t, `a\000\255.\\`, n)

	// A pointer forward (to a name placed after it) is refused.
	fwd := name(0xc0, 14, 1, 'x', 0)
	_, _, err = readName(fwd, 12)
	assert.Error(t, err)
	// A pointer back to the name's own start loops.
	_, _, err = readName(name(1, 'a', 0xc0, 12), 12)
	assert.Error(t, err)
	// A chain of backward pointers, each to the one before: refused
	// beyond maxNameJumps.
	b := name(1, 'z', 0)
	prev := 12
	for range maxNameJumps + 1 {
		at := len(b)
		b = append(b, 0xc0, byte(prev))
		prev = at
	}
	_, _, err = readName(b, prev)
	assert.Error(t, err)
	// ... and accepted within it.
	b = name(1, 'z', 0)
	prev = 12
	for range maxNameJumps {
		at := len(b)
		b = append(b, 0xc0, byte(prev))
		prev = at
	}
	n, _, err = readName(b, prev)
	require.NoError(t, err)
	assert.Equal(t, "z", n)
}

func TestParseDNSQuery(t *testing.T) {
	q, err := parseDNSQuery(buildDNSQuery(0xbeef, "WWW.Example.ORG", 28))
	require.NoError(t, err)
	assert.Equal(t, dnsQuery{id: 0xbeef, qname: "www.example.org", qtype: 28, qclass: 1}, q)
	// An answer is not a query.
	_, err = parseDNSQuery(buildDNSAnswer(buildDNSQuery(1, "a", 1), 1))
	assert.Error(t, err)
}

func FuzzParseDNS(f *testing.F) {
	q := buildDNSQuery(7, "x.example", 28)
	f.Add(buildDNSAnswer(q, 60, netip.MustParseAddr("fd00::1")))
	f.Add(q)
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseDNSResponse(b); err == nil {
			// A name is at most 255 wire bytes, each escaped to at most 4.
			if len(r.qname) > 4*255 {
				t.Fatalf("name of %d bytes", len(r.qname))
			}
			if len(r.answers) > 64 {
				t.Fatalf("%d answers", len(r.answers))
			}
		}
		_, _ = parseDNSQuery(b)
		_, _ = parseIPUDP(b)
	})
}
