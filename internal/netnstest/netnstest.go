//go:build linux

// Package netnstest makes network namespaces joined to the host by a veth
// pair, for tests that need a real peer on the other side of a real link
// (connections seen by sock_diag, DNS answers seen on an interface)
// without ever sending traffic to a public address. It needs root and the
// ip command (iproute2).
package netnstest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// NS is a network namespace joined to the host by a veth pair on a private
// /30: the host side is HostIP on interface HostIf, the namespace side NSIP.
type NS struct {
	Name, HostIf string
	HostIP, NSIP netip.Addr
}

var seq struct {
	sync.Mutex
	n int
}

// New creates a namespace on a /30 inside 10.<second>.0.0/16 (callers pick
// different second octets so that their packages' tests, run in parallel
// processes, never share addresses) and removes it when the test ends. It
// skips the test when the ip command is missing.
func New(t testing.TB, second byte) *NS {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: needs the ip command (iproute2)")
	}
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, n)
	third := (os.Getpid()*7 + n*13) % 250
	ns := &NS{
		Name:   "cairnt" + id,
		HostIf: "cairnh" + id,
		HostIP: netip.AddrFrom4([4]byte{10, second, byte(third), 1}),
		NSIP:   netip.AddrFrom4([4]byte{10, second, byte(third), 2}),
	}
	nsIf := "cairnn" + id
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	run("netns", "add", ns.Name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", ns.Name).Run()
		_ = exec.Command("ip", "link", "del", ns.HostIf).Run()
	})
	run("link", "add", ns.HostIf, "type", "veth", "peer", "name", nsIf)
	run("link", "set", nsIf, "netns", ns.Name)
	run("addr", "add", ns.HostIP.String()+"/30", "dev", ns.HostIf)
	run("link", "set", ns.HostIf, "up")
	run("-n", ns.Name, "addr", "add", ns.NSIP.String()+"/30", "dev", nsIf)
	run("-n", ns.Name, "link", "set", nsIf, "up")
	run("-n", ns.Name, "link", "set", "lo", "up")
	return ns
}

// Inside runs f on an OS thread switched into the namespace; sockets made
// there stay in the namespace.
func (ns *NS) Inside(t testing.TB, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			done <- err
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	require.NoError(t, <-done)
}

// ListenTCP starts, in the namespace, a TCP listener on NSIP that accepts
// connections and holds them open until the peer closes; it returns the
// port.
func (ns *NS) ListenTCP(t testing.TB) int {
	t.Helper()
	var ln net.Listener
	ns.Inside(t, func() {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(ns.NSIP.String(), "0"))
		require.NoError(t, err)
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
