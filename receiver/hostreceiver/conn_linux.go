package hostreceiver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sock_diag wire format (include/uapi/linux/inet_diag.h).
const (
	sizeofInetDiagSockID = 48 // sport, dport be16; src, dst [16]byte; if u32; cookie [2]u32
	sizeofInetDiagReqV2  = 8 + sizeofInetDiagSockID
	sizeofInetDiagMsg    = 4 + sizeofInetDiagSockID + 20 // + expires, rqueue, wqueue, uid, inode u32

	tcpEstablished = 1
	tcpSynSent     = 2
	tcpListen      = 10
)

func openSockDiag() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("cairn_host: sock_diag socket: %w", err)
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("cairn_host: sock_diag bind: %w", err)
	}
	return fd, nil
}

// diagSocket is one row of an inet_diag dump.
type diagSocket struct {
	proto      uint8
	state      uint8
	src, dst   netip.AddrPort
	uid, inode uint32
	cookie     uint64
}

type connKey struct {
	proto    uint8
	src, dst netip.AddrPort
	cookie   uint64
}

// dumpInet lists the sockets of one family and protocol in the given states.
func dumpInet(fd int, seq uint32, family, proto uint8, states uint32, buf []byte, out []diagSocket) ([]diagSocket, error) {
	ne := binary.NativeEndian
	req := make([]byte, unix.NLMSG_HDRLEN+sizeofInetDiagReqV2)
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], seq)
	body := req[unix.NLMSG_HDRLEN:]
	body[0] = family
	body[1] = proto
	ne.PutUint32(body[4:], states)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return out, err
	}
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return out, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return out, err
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(ne.Uint32(m.Data)); e != 0 {
						return out, unix.Errno(-e)
					}
				}
				return out, nil
			case unix.SOCK_DIAG_BY_FAMILY:
				if s, ok := parseInetDiagMsg(m.Data, proto); ok {
					out = append(out, s)
				}
			}
		}
	}
}

func parseInetDiagMsg(d []byte, proto uint8) (diagSocket, bool) {
	if len(d) < sizeofInetDiagMsg {
		return diagSocket{}, false
	}
	ne := binary.NativeEndian
	s := diagSocket{proto: proto, state: d[1]}
	id := d[4:]
	sport := binary.BigEndian.Uint16(id[0:])
	dport := binary.BigEndian.Uint16(id[2:])
	var src, dst netip.Addr
	switch d[0] {
	case unix.AF_INET:
		src = netip.AddrFrom4([4]byte(id[4:8]))
		dst = netip.AddrFrom4([4]byte(id[20:24]))
	case unix.AF_INET6:
		src = netip.AddrFrom16([16]byte(id[4:20])).Unmap()
		dst = netip.AddrFrom16([16]byte(id[20:36])).Unmap()
	default:
		return s, false
	}
	s.src = netip.AddrPortFrom(src, sport)
	s.dst = netip.AddrPortFrom(dst, dport)
	s.cookie = uint64(ne.Uint32(id[40:])) | uint64(ne.Uint32(id[44:]))<<32
	tail := d[4+sizeofInetDiagSockID:]
	s.uid = ne.Uint32(tail[12:])
	s.inode = ne.Uint32(tail[16:])
	return s, true
}

func protoNumber(p string) uint8 {
	if p == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

func protoName(p uint8) string {
	if p == unix.IPPROTO_UDP {
		return "udp"
	}
	return "tcp"
}

// pollConnections dumps sockets every interval and reports those not seen
// in the previous dump. The first dump is the inventory.
func (r *hostReceiver) pollConnections(ctx context.Context, fd int) {
	t := time.NewTicker(r.cfg.Connections.Interval)
	defer t.Stop()
	buf := make([]byte, 256<<10)
	var prev map[connKey]struct{}
	var hints recentPIDs
	var seq uint32
	first := true
	var rows []diagSocket
	for {
		rows = rows[:0]
		listen := map[listenKey]bool{}
		var err error
		for _, pn := range r.cfg.Connections.Protocols {
			proto := protoNumber(pn)
			states := uint32(1<<tcpEstablished | 1<<tcpSynSent | 1<<tcpListen)
			if proto == unix.IPPROTO_UDP {
				states = 1 << tcpEstablished // connected UDP sockets
			}
			for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
				seq++
				rows, err = dumpInet(fd, seq, fam, proto, states, buf, rows)
				if err != nil && !errors.Is(err, unix.ENOENT) {
					r.logger.Warn("cairn_host: sock_diag dump failed: " + err.Error())
				}
			}
		}
		for _, s := range rows {
			if s.state == tcpListen {
				listen[listenKey{s.proto, s.src.Port()}] = true
			}
		}
		cur := make(map[connKey]struct{}, len(rows))
		var fresh []*connection
		want := map[uint64]int{}
		uids := map[uint32]bool{}
		for _, s := range rows {
			if s.state == tcpListen {
				continue
			}
			k := connKey{s.proto, s.src, s.dst, s.cookie}
			cur[k] = struct{}{}
			if _, ok := prev[k]; ok {
				continue
			}
			if first && !r.cfg.Inventory {
				continue
			}
			c := &connection{
				transport: protoName(s.proto), src: s.src, dst: s.dst,
				uid: s.uid, hasUID: true, inode: uint64(s.inode),
				inbound: s.state == tcpEstablished && s.proto == unix.IPPROTO_TCP && listen[listenKey{s.proto, s.src.Port()}],
			}
			if c.inbound && !r.cfg.Connections.IncludeInbound {
				continue
			}
			if (c.dst.Addr().IsLoopback() || c.dst.Addr().IsUnspecified()) && !r.cfg.Connections.IncludeLoopback {
				continue
			}
			fresh = append(fresh, c)
			if c.inode != 0 {
				want[c.inode] = 0
				uids[c.uid] = true
			}
		}
		if len(want) > 0 {
			r.fs.SocketOwners(want, hints.list(), uids)
		}
		typ := "start"
		if first {
			typ = "info"
		}
		now := time.Now()
		for _, c := range fresh {
			c.pid = want[c.inode]
			if c.pid == r.self {
				continue
			}
			if c.pid > 0 {
				hints.add(c.pid)
				c.exe = r.fs.ReadExe(c.pid)
				if c.exe != "" && r.excludedPID(c.exe, c.pid) {
					continue
				}
			}
			c.domain = r.domainOf(c.dst.Addr())
			action := "connection-opened"
			if typ == "info" {
				action = "connection-open"
			}
			rec := newRecord(now, datasetNetwork, action, []string{"network"}, "connection", typ)
			putConnection(rec.Attributes(), c, r.users)
			r.cnt.conn.Add(1)
			r.enqueue(rec, nil)
		}
		prev = cur
		first = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type listenKey struct {
	proto uint8
	port  uint16
}

// recentPIDs remembers the last processes that owned new connections: the
// next owners are most likely among them, so their fds are read first.
type recentPIDs struct {
	pids [32]int
	next int
}

func (h *recentPIDs) add(pid int) {
	for _, p := range h.pids {
		if p == pid {
			return
		}
	}
	h.pids[h.next%len(h.pids)] = pid
	h.next++
}

func (h *recentPIDs) list() []int {
	out := make([]int, 0, len(h.pids))
	for _, p := range h.pids {
		if p > 0 {
			out = append(out, p)
		}
	}
	return out
}
