package procfs

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the processes the tests look at.
const helperEnv = "CAIRN_PROCFS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "holdfds":
		// Holds N descriptors open.
		n, _ := strconv.Atoi(os.Args[1])
		var keep []*os.File
		for range n {
			f, err := os.Open("/dev/null")
			if err != nil {
				fmt.Println(err)
				os.Exit(2)
			}
			keep = append(keep, f)
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
		_ = keep
	case "socket":
		// Holds a UDP socket and prints its inode.
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		f, _ := c.(*net.UDPConn).File()
		var st unix.Stat_t
		_ = unix.Fstat(int(f.Fd()), &st)
		fmt.Println(st.Ino)
		time.Sleep(time.Minute)
	}
	os.Exit(0)
}

// helper starts the test binary in mode as uid and returns its first line.
// The binary is copied where that user can run it.
func helper(t *testing.T, uid uint32, mode string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	b, err := os.ReadFile(self)
	require.NoError(t, err)
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
		if d == os.TempDir() {
			break
		}
		require.NoError(t, os.Chmod(d, 0o755))
	}
	bin := filepath.Join(dir, "helper")
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	return cmd, strings.TrimSpace(line)
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root")
	}
}

// TestDirPinsInstance: what is read through an open /proc/<pid> is that
// process's, or nothing once it has exited: never another process's that
// took the pid.
func TestDirPinsInstance(t *testing.T) {
	fs, err := New("")
	require.NoError(t, err)
	cmd := exec.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	// Start returns once the child has released the parent's memory in
	// execve, which is before the kernel has set the new argument area:
	// wait until the exec has finished.
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(fs.PIDPath(pid) + "/cmdline")
		return err == nil && len(b) > 0
	}, 5*time.Second, time.Millisecond)
	d, err := fs.OpenDir(pid)
	require.NoError(t, err)
	defer d.Close()
	st, err := d.ReadStat()
	require.NoError(t, err)
	p := d.Read(Options{})
	assert.False(t, p.Partial, "missing %v", p.Missing)
	assert.Equal(t, []string{"sleep", "30"}, p.Args)
	exe, err := d.OpenExe()
	require.NoError(t, err)
	exe.Close()
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	_, err = d.ReadStat()
	assert.Error(t, err, "stat read through the directory of a reaped process")
	p = d.Read(Options{Stat: &st})
	assert.True(t, p.Partial)
	assert.Empty(t, p.Args)
	assert.Equal(t, st.StartTicks, p.StartTicks, "the stat given is kept")
	_, err = d.OpenExe()
	assert.Error(t, err)
}

// TestReadRegularFile: a FIFO (or device) at a configuration path is
// refused at once instead of blocking the reader; what is read is bounded.
func TestReadRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "passwd")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	done := make(chan error, 1)
	go func() { _, err := ReadRegularFile(fifo, 1<<20); done <- err }()
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-time.After(3 * time.Second):
		t.Fatal("blocked on a FIFO")
	}
	_, err := ReadRegularFile("/dev/zero", 1<<20)
	assert.Error(t, err, "a device is not a configuration file")

	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, make([]byte, 10000), 0o644))
	b, err := ReadRegularFile(big, 4096)
	require.NoError(t, err)
	assert.Len(t, b, 4096)

	// Names reads passwd files this way.
	n := NewNames(fifo)
	assert.Equal(t, "", n.Name(0))
}

// TestSocketOwnersOwnersFirst: sockets are looked for among their owners'
// processes first, so a process of another user holding many descriptors
// cannot use up the scan's budget before the owner is reached.
func TestSocketOwnersOwnersFirst(t *testing.T) {
	needRoot(t)
	fs, err := New("")
	require.NoError(t, err)
	const attacker, owner = 4242, 4343
	// The attacker starts first: a lower pid, scanned first in pid order.
	attackerCmd, ready := helper(t, attacker, "holdfds", "1000")
	require.Equal(t, "ready", ready)
	ownerCmd, inoS := helper(t, owner, "socket")
	ino, err := strconv.ParseUint(inoS, 10, 64)
	require.NoError(t, err, inoS)

	saved := fdReadBudget
	t.Cleanup(func() { fdReadBudget = saved })
	fdReadBudget = 600
	want := map[uint64]int{ino: 0}
	fs.SocketOwners(want, nil, map[uint32]bool{owner: true})
	assert.Equal(t, ownerCmd.Process.Pid, want[ino], "found among its owner's processes")

	// Without the owners' uids the scan runs in pid order, into the
	// attacker's thousand descriptors, and stops at the budget.
	if ownerCmd.Process.Pid < attackerCmd.Process.Pid {
		t.Skip("skipped: pids wrapped around between the two helpers")
	}
	want = map[uint64]int{ino: 0}
	fs.SocketOwners(want, nil, nil)
	assert.Equal(t, 0, want[ino], "the budget bounds the scan")
	fdReadBudget = saved
	fs.SocketOwners(want, nil, nil)
	assert.Equal(t, ownerCmd.Process.Pid, want[ino])
}
