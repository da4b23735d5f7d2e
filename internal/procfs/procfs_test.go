package procfs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	st, err := ParseStat([]byte("1234 (a (b) c) S 77 1230 1200 34817 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100 18446744073709551615\n"))
	require.NoError(t, err)
	assert.Equal(t, "a (b) c", st.Comm)
	assert.Equal(t, byte('S'), st.State)
	assert.Equal(t, 77, st.PPID)
	assert.Equal(t, 1230, st.PGID)
	assert.Equal(t, 1200, st.SID)
	assert.Equal(t, uint32(34817), st.TTY) // pts/1: major 136, minor 1
	assert.Equal(t, uint64(98765), st.StartTicks)

	_, err = ParseStat([]byte("1 (x) S 1"))
	assert.Error(t, err)
	_, err = ParseStat([]byte("garbage"))
	assert.Error(t, err)
}

func TestTTYDevice(t *testing.T) {
	for _, c := range []struct{ nr, major, minor uint32 }{
		{0, 0, 0},
		{34817, 136, 1},                      // /dev/pts/1
		{1025, 4, 1},                         // /dev/tty1
		{1024 + 64, 4, 64},                   // /dev/ttyS0
		{136<<8 | 0x12<<20 | 5, 136, 0x1205}, // pts/4613: minor above 255
	} {
		major, minor := TTYDevice(c.nr)
		assert.Equal(t, c.major, major, "major of %d", c.nr)
		assert.Equal(t, c.minor, minor, "minor of %d", c.nr)
	}
}

func TestParseNSLink(t *testing.T) {
	n, err := ParseNSLink("pid:[4026531836]")
	require.NoError(t, err)
	assert.Equal(t, uint64(4026531836), n)
	for _, bad := range []string{"pid:4026531836", "pid:[x]", ""} {
		_, err := ParseNSLink(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseStatusIDs(t *testing.T) {
	ids, ok := ParseStatusIDs([]byte("Name:\tx\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t100\t200\t200\t200\nGroups:\n"))
	require.True(t, ok)
	assert.Equal(t, [4]uint32{1000, 0, 100, 200}, ids)
	_, ok = ParseStatusIDs([]byte("Name:\tx\n"))
	assert.False(t, ok)
}

func TestSplitCmdline(t *testing.T) {
	args, tr := SplitCmdline([]byte("ls\x00-l\x00/tmp\x00"), 0, 0)
	assert.Equal(t, []string{"ls", "-l", "/tmp"}, args)
	assert.False(t, tr)
	args, tr = SplitCmdline([]byte("a\x00b\x00c\x00"), 2, 0)
	assert.Equal(t, []string{"a", "b"}, args)
	assert.True(t, tr)
	args, tr = SplitCmdline([]byte("abcdef\x00gh\x00"), 0, 4)
	assert.Equal(t, []string{"abcd"}, args)
	assert.True(t, tr)
	args, _ = SplitCmdline(nil, 0, 0)
	assert.Nil(t, args)
}

func TestContainerID(t *testing.T) {
	id := "3f1c9b0e6a4d4b2f8a5e0c7d9e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b"
	for _, in := range []string{
		"0::/system.slice/docker-" + id + ".scope\n",
		"12:pids:/docker/" + id + "\n",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-" + id + ".scope\n",
		"0::/machine.slice/libpod-" + id + ".scope/container\n",
		"0::/kubepods/besteffort/pod1/crio-" + id + "\n",
	} {
		assert.Equal(t, id, ContainerID([]byte(in)), in)
	}
	assert.Equal(t, "", ContainerID([]byte("0::/user.slice/user-1000.slice/session-2.scope\n")))
}

func TestCleanExe(t *testing.T) {
	p, del, memfd := CleanExe("/usr/bin/x (deleted)")
	assert.Equal(t, "/usr/bin/x", p)
	assert.True(t, del)
	assert.False(t, memfd)
	p, del, memfd = CleanExe("/memfd:payload (deleted)")
	assert.Equal(t, "/memfd:payload", p)
	assert.True(t, del)
	assert.True(t, memfd)
}

func TestNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(path, []byte("root:x:0:0:root:/root:/bin/sh\n# c\nbad\nalice:x:1000:1000::/home/a:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n"), 0o644))
	n := NewNames(path)
	assert.Equal(t, "root", n.Name(0))
	assert.Equal(t, "alice", n.Name(1000))
	assert.Equal(t, "", n.Name(5))
}

// TestReadSelf reads this test process for real.
func TestReadSelf(t *testing.T) {
	fs, err := New("")
	require.NoError(t, err)
	p := fs.Read(os.Getpid(), Options{})
	assert.False(t, p.Partial, "missing %v", p.Missing)
	exe, err := os.Executable()
	require.NoError(t, err)
	assert.Equal(t, exe, p.Exe)
	assert.Equal(t, os.Args, p.Args)
	assert.Equal(t, os.Getppid(), p.PPID)
	wd, _ := os.Getwd()
	assert.Equal(t, wd, p.Cwd)
	assert.Equal(t, uint32(os.Getuid()), p.UID)
	assert.WithinDuration(t, time.Now(), p.Start, 10*time.Minute)
	require.True(t, p.HasStat)
	assert.Equal(t, unix.Getpgrp(), p.PGID)
	sid, err := unix.Getsid(0)
	require.NoError(t, err)
	assert.Equal(t, sid, p.SID)
	assert.Equal(t, p.Start, fs.StartTime(p.StartTicks))
	st, err := fs.ReadStat(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, p.StartTicks, st.StartTicks)
	assert.Equal(t, p.TTY, st.TTY)

	boot, err := fs.BootID()
	require.NoError(t, err)
	assert.Len(t, boot, 36, "a UUID")
	ns, err := fs.PIDNamespace()
	require.NoError(t, err)
	var sb unix.Stat_t
	require.NoError(t, unix.Stat("/proc/self/ns/pid", &sb))
	assert.Equal(t, sb.Ino, ns)

	gone := fs.Read(1<<22+12345, Options{})
	assert.True(t, gone.Partial)
	assert.Contains(t, gone.Missing, "exe")
}
