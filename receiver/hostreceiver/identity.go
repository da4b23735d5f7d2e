package hostreceiver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// entityIDs derives process.entity_id: a process instance is named by the
// boot it runs in, the pid namespace its pid belongs to, its pid, and its
// start time in clock ticks since boot (/proc/<pid>/stat field 22). Within a
// boot and a namespace the kernel hands pids out cyclically, so a pid comes
// back only after the whole range (pid_max, at least 32768) has been used:
// two instances with the same pid and the same 10 ms start tick would need
// that many forks within one tick. So (pid, start ticks) names one instance;
// the boot id (random per boot) and the host id keep it unique across
// reboots and hosts. Any process
// can compute the id of its parent, session and group leaders from their
// /proc/<pid>/stat, so ids link without the receiver remembering anything.
type entityIDs struct {
	// prefix is everything but the pid and start ticks; empty when the boot
	// id is unknown, in which case no entity ids are produced (they could
	// repeat after a reboot).
	prefix string
}

// entityIDVersion starts the hashed text; a change of derivation changes
// it, so ids of two derivations never collide.
const entityIDVersion = "cairn.process.entity_id/v1"

func newEntityIDs(hostID, bootID string, pidNS uint64) entityIDs {
	if bootID == "" {
		return entityIDs{}
	}
	return entityIDs{prefix: entityIDVersion + "\x00" + hostID + "\x00" + bootID + "\x00" +
		strconv.FormatUint(pidNS, 10) + "\x00"}
}

// of returns the entity id of the process pid that started at ticks, as 32
// lowercase hex digits (the first 128 bits of a SHA-256), or "" when ids
// cannot be derived.
func (e entityIDs) of(pid int, ticks uint64) string {
	if e.prefix == "" || pid <= 0 {
		return ""
	}
	var buf [128]byte
	b := append(buf[:0], e.prefix...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, 0)
	b = strconv.AppendUint(b, ticks, 10)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// agentID derives agent.id from the host id and the receiver's component
// id: stable across restarts (nothing to store) and distinct per host and
// per receiver. The machine id is hashed, not shown, as systemd asks of
// application-specific ids (machine-id(5)). It is an RFC 9562 version 8
// (custom) UUID. Without a host id there is no agent.id.
func agentID(hostID, componentID string) string {
	if hostID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("cairn.agent.id/v1\x00" + hostID + "\x00" + componentID))
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return formatUUID(u)
}

// ephemeralID is a random version 4 UUID, drawn at each start
// (agent.ephemeral_id: tells restarts apart).
func ephemeralID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand panics instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
