package hostreceiver

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/procfs"
)

func TestEntityIDs(t *testing.T) {
	ids := newEntityIDs("3d1219c7c4c5404aaa1f6d2a48adfda4", "450a7702-076a-4911-97e2-40a994be3b90", 4026531836)
	id := ids.of(4242, 98765)
	assert.Regexp(t, `^[0-9a-f]{32}$`, id)
	assert.Equal(t, id, ids.of(4242, 98765), "deterministic: a child computes its parent's")
	seen := map[string]string{id: "base"}
	for what, other := range map[string]string{
		"other pid":        ids.of(4243, 98765),
		"other start":      ids.of(4242, 98766),
		"other boot":       newEntityIDs("3d1219c7c4c5404aaa1f6d2a48adfda4", "00000000-076a-4911-97e2-40a994be3b90", 4026531836).of(4242, 98765),
		"other host":       newEntityIDs("00000000c4c5404aaa1f6d2a48adfda4", "450a7702-076a-4911-97e2-40a994be3b90", 4026531836).of(4242, 98765),
		"other namespace":  newEntityIDs("3d1219c7c4c5404aaa1f6d2a48adfda4", "450a7702-076a-4911-97e2-40a994be3b90", 4026532000).of(4242, 98765),
		"fields not mixed": newEntityIDs("3d1219c7c4c5404aaa1f6d2a48adfda4", "450a7702-076a-4911-97e2-40a994be3b90", 4026531836).of(42, 4298765),
	} {
		prev, dup := seen[other]
		assert.False(t, dup, "%s gives the id of %s", what, prev)
		seen[other] = what
	}
	assert.Empty(t, newEntityIDs("host", "", 1).of(4242, 98765), "no boot id: ids could repeat after a reboot")
	assert.Empty(t, ids.of(0, 1))
	// The start tick may be 0 (processes started at boot).
	assert.NotEmpty(t, ids.of(1, 0))
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{12}$`)

func TestAgentIDs(t *testing.T) {
	id := agentID("3d1219c7c4c5404aaa1f6d2a48adfda4", "cairn_host")
	m := uuidRe.FindStringSubmatch(id)
	require.NotNil(t, m, id)
	assert.Equal(t, "8", m[1], "version 8")
	assert.Contains(t, "89ab", m[2], "RFC 9562 variant")
	assert.Equal(t, id, agentID("3d1219c7c4c5404aaa1f6d2a48adfda4", "cairn_host"), "stable across restarts")
	assert.NotEqual(t, id, agentID("3d1219c7c4c5404aaa1f6d2a48adfda4", "cairn_host/edge"))
	assert.NotEqual(t, id, agentID("4d1219c7c4c5404aaa1f6d2a48adfda4", "cairn_host"))
	assert.NotContains(t, id, "3d1219c7", "the machine id is not shown")
	assert.Empty(t, agentID("", "cairn_host"))

	e1, e2 := ephemeralID(), ephemeralID()
	m = uuidRe.FindStringSubmatch(e1)
	require.NotNil(t, m, e1)
	assert.Equal(t, "4", m[1])
	assert.NotEqual(t, e1, e2)
}

func TestEntryType(t *testing.T) {
	const pts0, tty1, ttyS0, console = 136 << 8, 4<<8 | 1, 4<<8 | 64, 5<<8 | 1
	for _, c := range []struct {
		ppid      int
		parentExe string
		tty       uint32
		want      string
	}{
		{812, "/usr/sbin/sshd", pts0, "sshd"},
		{812, "/usr/sbin/sshd", 0, "sshd"}, // ssh host command: no pty
		{812, "/usr/lib/openssh/sshd-session", pts0, "sshd"},
		{900, "/usr/bin/ssm-session-worker", pts0, "ssm"},
		{700, "/usr/bin/containerd-shim-runc-v2", 0, "container"},
		{700, "/usr/bin/conmon", 0, "container"},
		{1, "/usr/lib/systemd/systemd", 0, "init"},
		{640, "/usr/bin/login", tty1, "terminal"},
		{640, "/usr/bin/login", ttyS0, "terminal"},
		{640, "/usr/bin/login", console, "console"},
		// A shell in tmux, in a terminal emulator, under su: not an entry,
		// the entry leader is further up.
		{3000, "/usr/bin/tmux", pts0, ""},
		{3000, "/usr/libexec/gnome-terminal-server", pts0, ""},
		{3000, "/usr/bin/su", pts0, ""},
		{3000, "", 0, ""},
	} {
		assert.Equal(t, c.want, entryType(c.ppid, c.parentExe, c.tty), "%+v", c)
	}
}

func TestDecodeExit(t *testing.T) {
	for _, c := range []struct {
		code           uint32
		status, signal int
		core           bool
	}{
		{0, 0, 0, false},
		{3 << 8, 3, 0, false},      // exit(3)
		{255 << 8, 255, 0, false},  // exit(-1)
		{9, 137, 9, false},         // SIGKILL
		{0x80 | 11, 139, 11, true}, // SIGSEGV, core dumped
		{15, 143, 15, false},       // SIGTERM
		{137 << 8, 137, 0, false},  // exit(137): same exit_code as SIGKILL, no signal
	} {
		status, signal, core := decodeExit(c.code)
		assert.Equal(t, c.status, status, "%#x", c.code)
		assert.Equal(t, c.signal, signal, "%#x", c.code)
		assert.Equal(t, c.core, core, "%#x", c.code)
	}
	a := pcommon.NewMap()
	end := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	putExit(a, end, 0x80|6)
	assert.Equal(t, map[string]any{
		"process.end": "2024-05-06T07:08:09.00000001Z", "process.exit_code": int64(134),
		attrExitSignal: int64(6), attrCoreDumped: true,
	}, a.AsRaw())
}

func TestPutArgs(t *testing.T) {
	a := pcommon.NewMap()
	putArgs(a, []string{"/usr/bin/ssh", "-l", "user", "10.0.0.16"})
	// ECS's own example.
	assert.Equal(t, "/usr/bin/ssh -l user 10.0.0.16", a.AsRaw()["process.command_line"])
	assert.Equal(t, int64(4), a.AsRaw()["process.args_count"])
	a = pcommon.NewMap()
	putArgs(a, nil)
	assert.Zero(t, a.Len(), "no argv, no command line")
}

func TestPutLineage(t *testing.T) {
	start := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	sh := procRef{pid: 100, known: true, ticks: 5, entityID: "e100", start: start, name: "bash", exe: "/usr/bin/bash"}
	lin := &lineage{
		entityID: "e200",
		parent:   sh,
		session:  sh,
		group:    procRef{pid: 200, known: true, entityID: "e200", start: start, name: "ls", exe: "/usr/bin/ls"},
		entry:    &entryRef{procRef: sh, typ: "sshd"},
		tty:      136<<8 | 3,
	}
	a := pcommon.NewMap()
	putLineage(a, 200, lin)
	raw := a.AsRaw()
	for k, v := range map[string]any{
		"process.entity_id":                      "e200",
		"process.parent.pid":                     int64(100),
		"process.parent.entity_id":               "e100",
		"process.parent.start":                   "2024-05-06T07:08:09Z",
		"process.parent.executable":              "/usr/bin/bash",
		"process.parent.name":                    "bash",
		"process.session_leader.entity_id":       "e100",
		"process.session_leader.same_as_process": false,
		"process.group_leader.entity_id":         "e200",
		"process.group_leader.same_as_process":   true,
		"process.entry_leader.pid":               int64(100),
		"process.entry_leader.start":             "2024-05-06T07:08:09Z",
		"process.entry_leader.entry_meta.type":   "sshd",
		"process.tty.char_device.major":          int64(136),
		"process.tty.char_device.minor":          int64(3),
	} {
		assert.Equal(t, v, raw[k], k)
	}
	assert.NotContains(t, raw, "process.parent.same_as_process")

	// A leader that is gone: its pid only.
	a = pcommon.NewMap()
	putLineage(a, 200, &lineage{session: procRef{pid: 90}})
	assert.Equal(t, map[string]any{"process.session_leader.pid": int64(90), "process.session_leader.same_as_process": false}, a.AsRaw())
}

func TestLiveTable(t *testing.T) {
	lt := newLiveTable(2)
	p := func(pid int) *liveProc { return &liveProc{p: &procfs.Proc{PID: pid}} }
	a, b := p(1), p(2)
	lt.put(a)
	lt.put(b)
	lt.put(p(3))
	assert.Equal(t, 2, lt.len())
	assert.Equal(t, uint64(1), lt.untracked(), "full: the third is not awaited")
	a2 := p(1)
	lt.put(a2)
	assert.Equal(t, uint64(1), lt.untracked(), "replacing an entry needs no room")
	assert.True(t, lt.has(1))
	assert.Same(t, a2, lt.take(1))
	assert.Nil(t, lt.take(1))
	assert.False(t, lt.has(1))

	// Sweeps: an entry goes when two sweeps in a row find it gone.
	lt.put(a)
	gone := map[*liveProc]bool{a: true}
	check := func(lp *liveProc) bool { return gone[lp] }
	assert.Equal(t, 0, lt.sweep(check))
	assert.True(t, lt.has(1), "one sweep: maybe its exit is still queued")
	gone[a] = false
	assert.Equal(t, 0, lt.sweep(check))
	gone[a] = true
	assert.Equal(t, 0, lt.sweep(check), "found alive in between: starts over")
	assert.Equal(t, 1, lt.sweep(check))
	assert.False(t, lt.has(1))
	assert.True(t, lt.has(2))
}
