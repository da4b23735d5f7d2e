package hostreceiver

import (
	"net"
	"net/netip"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/cairnsec/cairn/receiver/hostreceiver/internal/metadata"
)

// dnsReceiver is a receiver with only the DNS state, fed packets by hand.
func dnsReceiver(t *testing.T, maxPending int) (*hostReceiver, *dnsState) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.DNS.MaxPendingQueries = maxPending
	r := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	r.dnsCache, _ = lru.New[[16]byte, dnsEntry](16)
	r.out = make(chan *pending, 64)
	return r, r.newDNSState()
}

// TestDNSAnswerMatching: an answer is taken only if it repeats a query this
// host sent: same client address and port, same server, same id, same
// question, within query_timeout; once.
func TestDNSAnswerMatching(t *testing.T) {
	r, st := dnsReceiver(t, 16)
	client := netip.MustParseAddrPort("10.0.0.2:40000")
	server := netip.MustParseAddrPort("10.0.0.53:53")
	ip := netip.MustParseAddr("192.0.2.7")
	now := time.Now()
	q := buildDNSQuery(0x1234, "a.example", 1)
	ans := func(q []byte) []byte { return buildDNSAnswer(q, 300, ip) }
	send := func(at time.Time, from, to netip.AddrPort, payload []byte) {
		r.handleDNSQuery(ipv4UDP(from, to, payload), at, st)
	}
	recv := func(at time.Time, from, to netip.AddrPort, payload []byte) {
		r.handleDNSPacket(ipv4UDP(from, to, payload), at, st)
	}

	// Unsolicited: nothing asked.
	recv(now, server, client, ans(q))
	assert.Equal(t, uint64(0), r.cnt.dns.Load())
	assert.Equal(t, uint64(1), r.cnt.dnsUnmatched.Load())
	assert.Empty(t, r.domainOf(ip))

	send(now, client, server, q)
	// Each field of the query matters.
	for name, c := range map[string]struct {
		from, to netip.AddrPort
		payload  []byte
	}{
		"other port":     {server, netip.MustParseAddrPort("10.0.0.2:40001"), ans(q)},
		"other server":   {netip.MustParseAddrPort("10.0.0.54:53"), client, ans(q)},
		"other id":       {server, client, ans(buildDNSQuery(0x1235, "a.example", 1))},
		"other question": {server, client, ans(buildDNSQuery(0x1234, "b.example", 1))},
		"other type":     {server, client, ans(buildDNSQuery(0x1234, "a.example", 28))},
	} {
		before := r.cnt.dnsUnmatched.Load()
		recv(now, c.from, c.to, c.payload)
		assert.Equal(t, before+1, r.cnt.dnsUnmatched.Load(), name)
		assert.Empty(t, r.domainOf(ip), name)
	}
	recv(now.Add(time.Second), server, client, ans(q))
	assert.Equal(t, uint64(1), r.cnt.dns.Load())
	assert.Equal(t, "a.example", r.domainOf(ip))
	// The same answer again (another interface) is not a second event; a
	// later one finds no query left to answer.
	recv(now.Add(time.Second), server, client, ans(q))
	assert.Equal(t, uint64(1), r.cnt.dns.Load())
	before := r.cnt.dnsUnmatched.Load()
	recv(now.Add(5*time.Second), server, client, ans(q))
	assert.Equal(t, before+1, r.cnt.dnsUnmatched.Load())

	// Too late.
	q2 := buildDNSQuery(0x4321, "late.example", 1)
	send(now, client, server, q2)
	recv(now.Add(r.cfg.DNS.QueryTimeout+time.Second), server, client, buildDNSAnswer(q2, 300, netip.MustParseAddr("192.0.2.8")))
	assert.Empty(t, r.domainOf(netip.MustParseAddr("192.0.2.8")))
	assert.Equal(t, uint64(1), r.cnt.dns.Load())
}

// TestDNSPendingBounded: the table of queries awaiting an answer is
// bounded; the oldest is forgotten first (counted), and its late answer is
// unmatched.
func TestDNSPendingBounded(t *testing.T) {
	r, st := dnsReceiver(t, 2)
	client := netip.MustParseAddrPort("10.0.0.2:40000")
	server := netip.MustParseAddrPort("10.0.0.53:53")
	now := time.Now()
	var qs [][]byte
	for i := range 3 {
		q := buildDNSQuery(uint16(i+1), "q.example", 1)
		qs = append(qs, q)
		r.handleDNSQuery(ipv4UDP(client, server, q), now, st)
	}
	assert.Equal(t, 2, st.pending.Len())
	assert.Equal(t, uint64(1), r.cnt.dnsForgotten.Load())
	r.handleDNSPacket(ipv4UDP(server, client, buildDNSAnswer(qs[0], 60, netip.MustParseAddr("192.0.2.1"))), now, st)
	assert.Equal(t, uint64(1), r.cnt.dnsUnmatched.Load())
	r.handleDNSPacket(ipv4UDP(server, client, buildDNSAnswer(qs[2], 60, netip.MustParseAddr("192.0.2.3"))), now, st)
	assert.Equal(t, uint64(1), r.cnt.dns.Load())
}

// TestDNSOverIPv6: queries and answers over IPv6 go through the packet
// filter's IPv6 branch and are matched.
func TestDNSOverIPv6(t *testing.T) {
	requireRoot(t)
	ns := newNetns(t)
	_, nsIP := ns.AddIPv6(t)
	var pc net.PacketConn
	ns.Inside(t, func() {
		var err error
		pc, err = net.ListenPacket("udp", net.JoinHostPort(nsIP.String(), "53"))
		require.NoError(t, err)
	})
	t.Cleanup(func() { pc.Close() })
	answer := netip.MustParseAddr("fd00::77")
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buildDNSAnswer(buf[:n], 60, answer), from)
		}
	}()
	cfg := testConfig()
	cfg.DNS.Enabled = true
	cfg.DNS.Interfaces = []string{ns.HostIf}
	r, sink := startReceiver(t, cfg)
	const name = "six.cairn-test.example"
	require.Eventually(t, func() bool {
		c, err := net.Dial("udp", net.JoinHostPort(nsIP.String(), "53"))
		require.NoError(t, err)
		defer c.Close()
		_, _ = c.Write(buildDNSQuery(0x6666, name, 28))
		time.Sleep(50 * time.Millisecond)
		for _, e := range events(sink) {
			if e.str("dns.question.name") == name {
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond, "no IPv6 DNS answer (IPv6 needs duplicate address detection to settle)")
	assert.Equal(t, name, r.domainOf(answer))
}
