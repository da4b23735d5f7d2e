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

// dnsFilterProgram accepts IPv4 (first fragments only) and IPv6 UDP
// datagrams from port 53, so the kernel drops everything else before it
// reaches the receiver. Offsets are from the network header: the sockets
// are SOCK_DGRAM. Skips count from the next instruction.
func dnsFilterProgram() ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		/* 0 */ bpf.LoadExtension{Num: bpf.ExtProto},
		/* 1 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IP, SkipFalse: 7}, // → 9
		/* 2 */ bpf.LoadAbsolute{Off: 9, Size: 1},
		/* 3 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipFalse: 11}, // → 15
		/* 4 */ bpf.LoadAbsolute{Off: 6, Size: 2},
		/* 5 */ bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 9}, // fragment → 15
		/* 6 */ bpf.LoadMemShift{Off: 0},
		/* 7 */ bpf.LoadIndirect{Off: 0, Size: 2},
		/* 8 */ bpf.Jump{Skip: 4}, // → 13
		/* 9 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.ETH_P_IPV6, SkipFalse: 5}, // → 15
		/* 10 */ bpf.LoadAbsolute{Off: 6, Size: 1},
		/* 11 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_UDP, SkipFalse: 3}, // → 15
		/* 12 */ bpf.LoadAbsolute{Off: 40, Size: 2},
		/* 13 */ bpf.JumpIf{Cond: bpf.JumpEqual, Val: 53, SkipFalse: 1}, // → 15
		/* 14 */ bpf.RetConstant{Val: 0xffff},
		/* 15 */ bpf.RetConstant{Val: 0},
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

// sniffDNS reads DNS responses arriving on s and reports them.
func (r *hostReceiver) sniffDNS(ctx context.Context, s packetSocket, dedup *lru.Cache[dnsKey, time.Time]) {
	buf := make([]byte, 65536)
	for ctx.Err() == nil {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				time.Sleep(50 * time.Millisecond)
			}
			continue
		}
		// Answers received by this host: not the copies of packets it sends
		// (which also avoids seeing loopback traffic twice).
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		r.handleDNSPacket(buf[:n], time.Now(), dedup)
	}
}

func (r *hostReceiver) handleDNSPacket(pkt []byte, now time.Time, dedup *lru.Cache[dnsKey, time.Time]) {
	p, err := parseIPUDP(pkt)
	if err != nil || p.src.Port() != 53 {
		return
	}
	resp, err := parseDNSResponse(p.payload)
	if err != nil || resp.opcode != 0 {
		return
	}
	key := dnsKey{id: resp.id, client: p.dst, qname: resp.qname}
	if t, ok := dedup.Get(key); ok && now.Sub(t) < 2*time.Second {
		return
	}
	dedup.Add(key, now)
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
