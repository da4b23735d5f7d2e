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

// AddIPv6 gives the veth pair IPv6 unique-local addresses (fd00::/8, never
// routed publicly) and returns the host's and the namespace's.
func (ns *NS) AddIPv6(t testing.TB) (hostIP, nsIP netip.Addr) {
	t.Helper()
	b4 := ns.HostIP.As4()
	var h, n [16]byte
	h[0], h[1], h[2], h[3], h[4], h[5] = 0xfd, 0x00, 0xca, 0x17, b4[1], b4[2]
	n = h
	h[15], n[15] = 1, 2
	hostIP, nsIP = netip.AddrFrom16(h), netip.AddrFrom16(n)
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	}
	nsIf := "cairnn" + strings.TrimPrefix(ns.HostIf, "cairnh")
	run("-6", "addr", "add", hostIP.String()+"/64", "dev", ns.HostIf, "nodad")
	run("-n", ns.Name, "-6", "addr", "add", nsIP.String()+"/64", "dev", nsIf, "nodad")
	return hostIP, nsIP
}

// ListenTCP starts, in the namespace, a TCP listener on NSIP that accepts
// connections and holds them open until the peer closes; it returns the
// port.
func (ns *NS) ListenTCP(t testing.TB) int { return ns.ListenTCPOn(t, ns.NSIP) }

// ListenTCPOn is ListenTCP on another of the namespace's addresses.
func (ns *NS) ListenTCPOn(t testing.TB, addr netip.Addr) int {
	t.Helper()
	var ln net.Listener
	ns.Inside(t, func() {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
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
