package hostreceiver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// auditNlgrpReadlog is the kernel's read-only audit multicast group
// (AUDIT_NLGRP_READLOG, Linux 3.16+); bound as a group bit mask.
const auditNlgrpReadlog = 1

// auditFirstRecord: netlink message types below are audit commands
// (AUDIT_GET, AUDIT_ADD_RULE, ...), not records.
const auditFirstRecord = 1100

// auditNetlinkTick bounds how long the reader blocks: how soon it sees a
// shutdown, and how often timed-out events are flushed.
const auditNetlinkTick = 200 * time.Millisecond

// openAuditMulticast opens a NETLINK_AUDIT socket joined to the audit
// multicast group: a listener only. No request is ever sent on it (no
// AUDIT_SET pid, no rule change), so auditd keeps the kernel's unicast
// stream and its rules, and every record is also multicast to us.
// Joining needs CAP_AUDIT_READ.
func openAuditMulticast() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return -1, fmt.Errorf("cairn_host: audit netlink socket: %w (kernel built without CONFIG_AUDIT?)", err)
	}
	// A large receive buffer absorbs bursts; an overrun loses records,
	// which show as gaps in the serial numbers (audit_lost).
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	}
	tv := unix.NsecToTimeval(int64(auditNetlinkTick))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (auditNlgrpReadlog - 1)}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("cairn_host: audit multicast group: %w (needs CAP_AUDIT_READ)", err)
		}
		return -1, fmt.Errorf("cairn_host: audit multicast group: %w (kernel without audit multicast, Linux < 3.16?)", err)
	}
	// A kernel without the group accepts the bind and drops the group
	// bit: nothing would ever arrive.
	sa, err := unix.Getsockname(fd)
	if nl, ok := sa.(*unix.SockaddrNetlink); err != nil || !ok || nl.Groups&(1<<(auditNlgrpReadlog-1)) == 0 {
		unix.Close(fd)
		return -1, errors.New("cairn_host: audit multicast group: the kernel has no audit multicast group " +
			"(needs Linux 3.16+ with CONFIG_AUDIT); use audit.source: file")
	}
	return fd, nil
}

// readAuditNetlink reads records from the audit multicast group into the
// same reassembly and mapping as the log file (auditStream). It returns
// when ctx is done; the socket is closed by Shutdown after.
func (r *hostReceiver) readAuditNetlink(ctx context.Context, fd int) {
	reasm, err := libaudit.NewReassembler(64, r.cfg.Audit.ReassemblyTimeout, auditStream{r})
	if err != nil {
		return
	}
	defer reasm.Close()
	buf := make([]byte, 64<<10)
	lastMaintain := time.Now()
	for ctx.Err() == nil {
		if time.Since(lastMaintain) >= auditNetlinkTick {
			_ = reasm.Maintain()
			lastMaintain = time.Now()
		}
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			switch {
			case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			case errors.Is(err, unix.ENOBUFS):
				// Overrun: the records lost leave a gap in the serial
				// numbers, which the reassembler counts (EventsLost).
			default:
				if ctx.Err() != nil {
					return
				}
				r.logger.Warn("cairn_host: audit netlink read failed")
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel speaks here
		}
		r.pushAuditNetlink(reasm, buf[:n])
	}
}

// pushAuditNetlink hands one audit netlink message to the reassembler. An
// audit message is one record; its header's length is not to be trusted
// (older kernels set it to the payload's), so the datagram's is used.
func (r *hostReceiver) pushAuditNetlink(reasm *libaudit.Reassembler, msg []byte) {
	if len(msg) < unix.NLMSG_HDRLEN {
		return
	}
	typ := binary.NativeEndian.Uint16(msg[4:]) // nlmsg_type
	if typ < auditFirstRecord {
		return
	}
	data := bytes.TrimRight(msg[unix.NLMSG_HDRLEN:], "\x00\n")
	_ = reasm.Push(auparse.AuditMessageType(typ), data) // copies data
}
