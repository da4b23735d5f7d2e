package hostreceiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

type packetSocket struct {
	fd    int
	iface string
}

type dnsEntry struct {
	name    string
	expires time.Time
}

// dnsKey identifies one answer, to report a packet seen on two interfaces
// (a bridge and its port) once.
type dnsKey struct {
	id     uint16
	client netip.AddrPort
	qname  string
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// dnsFilterProgram accepts the UDP datagrams (IPv4 first fragments only,
// and IPv6) this host sends to port 53 (queries) and those it receives,
// addressed to it, from port 53 (answers), so the kernel drops everything
// else before it reaches the receiver: the answers and queries of a DNS
// server on the host, and packets for other hosts seen in promiscuous mode.
// Offsets are from the network header (the sockets are SOCK_DGRAM); the
// UDP header's offset is put in X. Skips count from the next instruction.
func dnsFilterProgram() ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		/* 0 */ bpf.LoadExtension{Num: bpf.ExtType},
		/* 1 */ bpf.StoreScratch{Src: bpf.RegA, N: 0},
		/* 2 */ bpf.LoadExtension{Num: bpf.ExtProto},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IP, SkipFalse: 6}, // → 10
		/* 4 */ bpf.LoadAbsolute{Off: 9, Size: 1},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipFalse: 16}, // → 22
		/* 6 */ bpf.LoadAbsolute{Off: 6, Size: 2},
		/* 7 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 14}, // fragment → 22
		/* 8 */ bpf.LoadMemShift{Off: 0},
		/* 9 */ bpf.Jump{Skip: 4}, // → 14
		/* 10 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipFalse: 11}, // → 22
		/* 11 */ bpf.LoadAbsolute{Off: 6, Size: 1},
		/* 12 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipFalse: 9}, // → 22
		/* 13 */ bpf.LoadConstant{Dst: bpf.RegX, Val: 40},
		/* 14 */ bpf.LoadScratch{Dst: bpf.RegA, N: 0},
		/* 15 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipFalse: 2}, // → 18
		/* 16 */ bpf.LoadIndirect{Off: 2, Size: 2}, // sent: the destination port
		/* 17 */ bpf.Jump{Skip: 2}, // → 20
		/* 18 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_HOST, SkipFalse: 3}, // → 22
		/* 19 */ bpf.LoadIndirect{Off: 0, Size: 2}, // received: the source port
		/* 20 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 53, SkipFalse: 1}, // → 22
		/* 21 */ bpf.RetConstant{Val: 0xffff},
		/* 22 */ bpf.RetConstant{Val: 0},
	})
}

// openPacketSockets opens one AF_PACKET socket per interface (one for all
// when none is named). Needs CAP_NET_RAW.
func openPacketSockets(ifaces []string) ([]packetSocket, error) {
	prog, err := dnsFilterProgram()
	if err != nil {
		return nil, err
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	names := ifaces
	if len(names) == 0 {
		names = []string{""}
	}
	var out []packetSocket
	closeAll := func() {
		for _, s := range out {
			unix.Close(s.fd)
		}
	}
	for _, name := range names {
		idx := 0
		if name != "" {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("cairn_host: dns: interface %q: %w", name, err)
			}
			idx = ifi.Index
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			closeAll()
			if errors.Is(err, unix.EPERM) {
				return nil, fmt.Errorf("cairn_host: dns: AF_PACKET socket: %w (needs CAP_NET_RAW)", err)
			}
			return nil, fmt.Errorf("cairn_host: dns: AF_PACKET socket: %w", err)
		}
		out = append(out, packetSocket{fd: fd, iface: name})
		// The filter goes on before bind, so no unfiltered packet is queued.
		fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			closeAll()
			return nil, fmt.Errorf("cairn_host: dns: attaching the packet filter: %w", err)
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		tv := unix.NsecToTimeval(int64(200 * time.Millisecond))
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: idx}); err != nil {
			closeAll()
			return nil, fmt.Errorf("cairn_host: dns: binding to %q: %w", name, err)
		}
	}
	return out, nil
}

// sniffDNS reads the DNS queries this host sends and the answers it
// receives on s.
func (r *hostReceiver) sniffDNS(ctx context.Context, s packetSocket, dns *dnsState) {
	buf := make([]byte, 65536)
	for ctx.Err() == nil {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				time.Sleep(50 * time.Millisecond)
			}
			continue
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok {
			continue
		}
		// On loopback every packet is seen twice, sent and received: the
		// query is taken when sent, the answer when received.
		switch ll.Pkttype {
		case unix.PACKET_OUTGOING:
			r.handleDNSQuery(buf[:n], time.Now(), dns)
		case unix.PACKET_HOST:
			r.handleDNSPacket(buf[:n], time.Now(), dns)
		}
	}
}

// dnsState is shared by the sniffers of every interface: the queries this
// host sent that await an answer, and the answers reported lately.
type dnsState struct {
	// pending: query → when it was sent. Bounded; the oldest go first, so
	// a flood of queries that are never answered can push out a real
	// query only by outpacing its round trip.
	pending *lru.Cache[dnsQueryKey, time.Time]
	dedup   *lru.Cache[dnsKey, time.Time]
}

// dnsQueryKey is what an answer must repeat of its query: the client's
// address and port, the server's address, the transaction id, and the
// question.
type dnsQueryKey struct {
	client netip.AddrPort
	server netip.Addr
	id     uint16
	qtype  uint16
	qclass uint16
	qname  string
}

func (r *hostReceiver) newDNSState() *dnsState {
	pending, _ := lru.NewWithEvict[dnsQueryKey, time.Time](r.cfg.DNS.MaxPendingQueries, func(dnsQueryKey, time.Time) {
		r.cnt.dnsForgotten.Add(1)
	})
	dedup, _ := lru.New[dnsKey, time.Time](4096)
	return &dnsState{pending: pending, dedup: dedup}
}

// handleDNSQuery remembers a query this host sent.
func (r *hostReceiver) handleDNSQuery(pkt []byte, now time.Time, dns *dnsState) {
	p, err := parseIPUDP(pkt)
	if err != nil || p.dst.Port() != 53 {
		return
	}
	q, err := parseDNSQuery(p.payload)
	if err != nil {
		return
	}
	k := dnsQueryKey{client: unmapPort(p.src), server: p.dst.Addr().Unmap(), id: q.id, qtype: q.qtype, qclass: q.qclass, qname: q.qname}
	// Forgotten first so that a query sent again (a retry) is the newest.
	dns.pending.Remove(k)
	dns.pending.Add(k, now)
}

func unmapPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// handleDNSPacket reports an answer received by this host if it answers a
// query this host sent (to that server, from that port, with that id and
// question) within dns.query_timeout. Any other answer (spoofed, late, or
// unsolicited) is counted and otherwise ignored: it is not an event and
// never names an address for destination.domain.
func (r *hostReceiver) handleDNSPacket(pkt []byte, now time.Time, dns *dnsState) {
	p, err := parseIPUDP(pkt)
	if err != nil || p.src.Port() != 53 {
		return
	}
	resp, err := parseDNSResponse(p.payload)
	if err != nil || resp.opcode != 0 {
		return
	}
	key := dnsKey{id: resp.id, client: p.dst, qname: resp.qname}
	if t, ok := dns.dedup.Get(key); ok && now.Sub(t) < 2*time.Second {
		return // the same answer seen on another interface
	}
	qk := dnsQueryKey{client: unmapPort(p.dst), server: p.src.Addr().Unmap(), id: resp.id,
		qtype: resp.qtype, qclass: resp.qclass, qname: resp.qname}
	sent, ok := dns.pending.Peek(qk)
	if !ok || now.Sub(sent) > r.cfg.DNS.QueryTimeout || sent.After(now) {
		r.cnt.dnsUnmatched.Add(1)
		return
	}
	// One answer per query: a second one (a spoofer racing the server)
	// finds nothing to answer.
	dns.pending.Remove(qk)
	dns.dedup.Add(key, now)
	r.rememberAnswers(resp, now)
	rec := newRecord(now, datasetDNS, "dns-answer", []string{"network"}, "protocol", "info")
	a := rec.Attributes()
	a.PutStr("network.protocol", "dns")
	a.PutStr("network.transport", "udp")
	if p.src.Addr().Unmap().Is4() {
		a.PutStr("network.type", "ipv4")
	} else {
		a.PutStr("network.type", "ipv6")
	}
	// ECS: source is the client that asked, destination the server.
	a.PutStr("source.ip", p.dst.Addr().Unmap().String())
	a.PutInt("source.port", int64(p.dst.Port()))
	a.PutStr("destination.ip", p.src.Addr().Unmap().String())
	a.PutInt("destination.port", int64(p.src.Port()))
	putDNS(a, resp)
	r.cnt.dns.Add(1)
	r.enqueue(rec, nil)
}

// rememberAnswers fills the IP → name cache used for destination.domain.
// The name is the question asked (what a user or program looked up), even
// when the address came at the end of a CNAME chain.
func (r *hostReceiver) rememberAnswers(resp *dnsResponse, now time.Time) {
	if r.dnsCache == nil || resp.qname == "" {
		return
	}
	for _, an := range resp.answers {
		if !an.ip.IsValid() {
			continue
		}
		ttl := time.Duration(an.ttl) * time.Second
		ttl = max(ttl, r.cfg.DNS.MinTTL)
		ttl = min(ttl, r.cfg.DNS.MaxTTL)
		r.dnsCache.Add(an.ip.Unmap().As16(), dnsEntry{name: resp.qname, expires: now.Add(ttl)})
	}
}

func (r *hostReceiver) domainOf(ip netip.Addr) string {
	if r.dnsCache == nil {
		return ""
	}
	e, ok := r.dnsCache.Get(ip.Unmap().As16())
	if !ok || time.Now().After(e.expires) {
		return ""
	}
	return e.name
}
