// Package procfs reads what Cairn's host receiver needs about a process from
// /proc/<pid>: executable, argv, working directory, ids, parent, process
// group, session, controlling terminal, start time and container id. It parses the text files itself (no cgo). Every read is
// best effort: a process can exit at any moment, so a Proc carries what could
// be read and says whether it is complete.
package procfs

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of the start time in /proc/<pid>/stat.
// Linux fixes it at 100 on every architecture Go supports (sysconf would need
// cgo).
const ClockTicks = 100

// FS reads one proc file system.
type FS struct {
	// Root is the mount point, "/proc" unless testing.
	Root     string
	bootTime time.Time
}

// New returns an FS for root ("" means /proc) and reads the boot time.
func New(root string) (*FS, error) {
	if root == "" {
		root = "/proc"
	}
	fs := &FS{Root: root}
	bt, err := readBootTime(root + "/stat")
	if err != nil {
		return nil, err
	}
	fs.bootTime = bt
	return fs, nil
}

// BootTime is the system boot time from /proc/stat (btime).
func (fs *FS) BootTime() time.Time { return fs.bootTime }

func readBootTime(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, err
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("procfs: no btime in " + path)
}

// Options bound what is read.
type Options struct {
	// MaxArgs is the most argv entries kept (0: 64).
	MaxArgs int
	// MaxArgBytes bounds the bytes of argv read (0: 4096).
	MaxArgBytes int
	// Stat, when set, is the process's stat as read earlier (at exec time,
	// by the caller): it is used instead of reading stat again.
	Stat *Stat
	// SkipExe: the caller fills Exe itself (from an open file of the
	// executable), so the exe link is not read.
	SkipExe bool
	// Only reads stat (and exe unless SkipExe) and nothing else: cmdline,
	// cwd and status would describe another program by now (the process
	// has exec'd again); they are listed as missing.
	Only bool
}

// Proc is what could be read about a process.
type Proc struct {
	PID  int
	PPID int
	// Comm is the kernel's 15-byte command name.
	Comm string
	// Exe is the executable path as the kernel shows it, without the
	// " (deleted)" suffix; ExeDeleted says it was there.
	Exe        string
	ExeDeleted bool
	// ExeMemfd: the executable is an anonymous memory file (memfd_create),
	// i.e. the program never existed on disk.
	ExeMemfd      bool
	Args          []string
	ArgsTruncated bool
	Cwd           string
	// Real, effective ids.
	UID, EUID, GID, EGID uint32
	HasIDs               bool
	// HasStat says /proc/<pid>/stat was read: PPID, PGID, SID, TTY,
	// StartTicks and Start are known.
	HasStat bool
	// PGID and SID are the process group and session ids: the pids of the
	// group and session leaders.
	PGID, SID int
	// TTY is the controlling terminal's device number as the kernel encodes
	// it (0: none); TTYDevice splits it.
	TTY uint32
	// StartTicks is when the process started, in clock ticks since boot
	// (stat field 22): with the boot it identifies the process instance.
	StartTicks  uint64
	Start       time.Time
	ContainerID string
	// Partial is set when the process was gone (or unreadable) before every
	// file could be read; Missing lists what could not be read.
	Partial bool
	Missing []string
}

// PIDPath is the /proc directory of pid.
func (fs *FS) PIDPath(pid int) string { return fs.Root + "/" + strconv.Itoa(pid) }

// Read reads pid's details. It never fails: what could not be read is listed
// in Missing and makes the result Partial. Every file is read through one
// open /proc/<pid> directory, so all of them describe the same process
// instance (see Dir).
func (fs *FS) Read(pid int, opt Options) *Proc {
	d, err := fs.OpenDir(pid)
	if err != nil {
		return fs.Unread(pid, opt)
	}
	defer d.Close()
	return d.Read(opt)
}

// Unread is what Read gives for a process that is gone: nothing but the
// stat in opt, if any; everything else missing.
func (fs *FS) Unread(pid int, opt Options) *Proc {
	p := &Proc{PID: pid, Partial: true}
	if !opt.SkipExe {
		p.Missing = append(p.Missing, "exe")
	}
	if opt.Stat != nil {
		p.setStat(fs, *opt.Stat)
	} else {
		p.Missing = append(p.Missing, "stat")
	}
	p.Missing = append(p.Missing, "cmdline", "cwd", "status")
	return p
}

// Read reads the details of the directory's process (see FS.Read).
func (d *Dir) Read(opt Options) *Proc {
	p := &Proc{PID: d.pid}
	miss := func(what string) {
		p.Partial = true
		p.Missing = append(p.Missing, what)
	}
	if !opt.SkipExe {
		if exe, err := d.Readlink("exe"); err == nil {
			p.Exe, p.ExeDeleted, p.ExeMemfd = CleanExe(exe)
		} else {
			miss("exe")
		}
	}
	if opt.Stat != nil {
		p.setStat(d.fs, *opt.Stat)
	} else if st, err := d.ReadStat(); err == nil {
		p.setStat(d.fs, st)
	} else {
		miss("stat")
	}
	if opt.Only {
		miss("cmdline")
		miss("cwd")
		miss("status")
		return p
	}
	maxBytes := opt.MaxArgBytes
	if maxBytes <= 0 {
		maxBytes = 4096
	}
	// cmdline can be as long as the process's argument area (up to a
	// quarter of the stack limit): only what is kept is read.
	if b, err := d.readLimited("cmdline", maxBytes+1); err == nil {
		p.Args, p.ArgsTruncated = SplitCmdline(b, opt.MaxArgs, maxBytes)
		if len(b) == 0 && p.Exe == "" && !opt.SkipExe {
			miss("cmdline")
		}
	} else {
		miss("cmdline")
	}
	if cwd, err := d.Readlink("cwd"); err == nil {
		p.Cwd = cwd
	} else {
		miss("cwd")
	}
	// The ids come before the variable-length lines (Groups can hold
	// 65,536 entries): a bounded prefix holds them.
	if b, err := d.readLimited("status", statusSize); err == nil {
		if ids, ok := ParseStatusIDs(b); ok {
			p.UID, p.EUID, p.GID, p.EGID = ids[0], ids[1], ids[2], ids[3]
			p.HasIDs = true
		} else {
			miss("status")
		}
	} else {
		miss("status")
	}
	if b, err := d.readLimited("cgroup", cgroupSize); err == nil {
		p.ContainerID = ContainerID(b)
	}
	return p
}

// statusSize and cgroupSize bound what is read of status (the ids are in
// its first lines) and cgroup (a container id is in the first lines; a
// user can make its own cgroup paths long, but not beyond this).
const (
	statusSize = 16384
	cgroupSize = 8192
)

func (p *Proc) setStat(fs *FS, st Stat) {
	p.HasStat = true
	p.PPID, p.PGID, p.SID, p.TTY = st.PPID, st.PGID, st.SID, st.TTY
	p.Comm = st.Comm
	p.StartTicks = st.StartTicks
	p.Start = fs.StartTime(st.StartTicks)
}

// StartTime converts a start time in clock ticks since boot to wall time.
func (fs *FS) StartTime(ticks uint64) time.Time {
	return fs.bootTime.Add(time.Duration(ticks) * (time.Second / ClockTicks))
}

// ReadStat reads and parses /proc/<pid>/stat alone: the cheapest way to learn
// a process's parent, group, session and start time.
func (fs *FS) ReadStat(pid int) (Stat, error) {
	var buf [statSize]byte
	n, err := readInto(fs.PIDPath(pid)+"/stat", buf[:])
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(buf[:n])
}

// ReadExe returns the executable path of pid (cleaned) or "".
func (fs *FS) ReadExe(pid int) string {
	exe, err := os.Readlink(fs.PIDPath(pid) + "/exe")
	if err != nil {
		return ""
	}
	e, _, _ := CleanExe(exe)
	return e
}

// CleanExe splits the kernel's rendering of an executable link into the path
// and whether the file was deleted or is a memfd.
func CleanExe(link string) (path string, deleted, memfd bool) {
	path = link
	if s, ok := strings.CutSuffix(path, " (deleted)"); ok {
		path, deleted = s, true
	}
	if strings.HasPrefix(path, "/memfd:") {
		memfd = true
	}
	return path, deleted, memfd
}

// statSize bounds /proc/<pid>/stat: a command name of at most 64 bytes and
// 50 numbers of at most 20 digits fit.
const statSize = 2048

// Stat is the part of /proc/<pid>/stat Cairn uses (see proc(5)).
type Stat struct {
	Comm  string
	State byte
	PPID  int
	// PGID (field 5) and SID (field 6): process group and session.
	PGID, SID int
	// TTY (field 7): the controlling terminal's device number, 0 for none.
	TTY uint32
	// StartTicks (field 22): start time in clock ticks since boot.
	StartTicks uint64
}

// ParseStat parses /proc/<pid>/stat. The command name is between the first
// '(' and the last ')' and may itself hold spaces and parentheses. The
// numbers are read in place, without splitting the line.
func ParseStat(b []byte) (Stat, error) {
	var st Stat
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 0 || closing < open || closing+2 > len(b) {
		return st, errors.New("procfs: malformed stat")
	}
	st.Comm = string(b[open+1 : closing])
	rest := b[closing+2:]
	// field returns the next space-separated field of rest.
	field := func() []byte {
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		i := bytes.IndexAny(rest, " \n")
		if i < 0 {
			i = len(rest)
		}
		f := rest[:i]
		rest = rest[i:]
		return f
	}
	num := func(f []byte) (int64, bool) {
		v, err := strconv.ParseInt(string(f), 10, 64)
		return v, err == nil
	}
	// Fields are numbered from 1 (pid), 2 (comm): state is field 3.
	state := field()
	if len(state) == 0 {
		return st, errors.New("procfs: short stat")
	}
	st.State = state[0]
	var vals [4]int64 // ppid, pgrp, session, tty_nr: fields 4-7
	for i := range vals {
		v, ok := num(field())
		if !ok {
			return st, errors.New("procfs: malformed stat")
		}
		vals[i] = v
	}
	st.PPID, st.PGID, st.SID = int(vals[0]), int(vals[1]), int(vals[2])
	// tty_nr is printed as a signed int.
	st.TTY = uint32(int32(vals[3]))
	for i := 8; i < 22; i++ {
		if len(field()) == 0 {
			return st, errors.New("procfs: short stat")
		}
	}
	start, err := strconv.ParseUint(string(field()), 10, 64)
	if err != nil {
		return st, errors.New("procfs: short stat")
	}
	st.StartTicks = start
	return st, nil
}

// TTYDevice splits a controlling terminal number (stat field 7) into the
// character device's major and minor numbers: the minor is in bits 31-20 and
// 7-0, the major in bits 15-8 (proc(5)).
func TTYDevice(tty uint32) (major, minor uint32) {
	return (tty >> 8) & 0xff, (tty & 0xff) | ((tty >> 12) & 0xfff00)
}

// ParseStatusIDs returns real uid, effective uid, real gid, effective gid
// from /proc/<pid>/status.
func ParseStatusIDs(b []byte) ([4]uint32, bool) {
	var ids [4]uint32
	found := 0
	for len(b) > 0 && found < 2 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		var off int
		switch {
		case bytes.HasPrefix(line, []byte("Uid:")):
			off = 0
		case bytes.HasPrefix(line, []byte("Gid:")):
			off = 2
		default:
			continue
		}
		f := strings.Fields(string(line[4:]))
		if len(f) < 2 {
			return ids, false
		}
		for j := 0; j < 2; j++ {
			v, err := strconv.ParseUint(f[j], 10, 32)
			if err != nil {
				return ids, false
			}
			ids[off+j] = uint32(v)
		}
		found++
	}
	return ids, found == 2
}

// SplitCmdline splits a NUL-separated argv, keeping at most maxArgs entries
// (0: 64) and maxBytes bytes (0: 4096); truncated says something was left out.
func SplitCmdline(b []byte, maxArgs, maxBytes int) (args []string, truncated bool) {
	if maxArgs <= 0 {
		maxArgs = 64
	}
	if maxBytes <= 0 {
		maxBytes = 4096
	}
	if len(b) > maxBytes {
		b = b[:maxBytes]
		truncated = true
	}
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, truncated
	}
	for len(b) > 0 {
		if len(args) == maxArgs {
			return args, true
		}
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			args = append(args, string(b))
			break
		}
		args = append(args, string(b[:i]))
		b = b[i+1:]
	}
	return args, truncated
}

// ContainerID extracts a container id from /proc/<pid>/cgroup: the last
// 64-hex-digit token of any cgroup path, as Docker, containerd (cri-containerd-),
// CRI-O (crio-), Podman (libpod-) and Kubernetes name them.
func ContainerID(b []byte) string {
	id := ""
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controllers:path
		i := strings.LastIndexByte(line, ':')
		if i < 0 {
			continue
		}
		for _, seg := range strings.Split(line[i+1:], "/") {
			seg = strings.TrimSuffix(seg, ".scope")
			if j := strings.LastIndexAny(seg, "-:"); j >= 0 {
				seg = seg[j+1:]
			}
			if len(seg) == 64 && isHex(seg) {
				id = seg
			}
		}
	}
	return id
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// PIDs lists the process ids (thread group leaders) under the proc root.
func (fs *FS) PIDs() ([]int, error) {
	d, err := os.Open(fs.Root)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(n); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
