// Package redistest gives tests a real Redis: the shared server that
// .ci/run starts (address in $CAIRN_REDIS_ADDR), a redis-server process of
// the test's own (to kill and restart; or speaking TLS only, with a test CA
// from NewTLSFiles), and a TCP proxy that can stall.
//
// Without $CAIRN_REDIS_ADDR the tests skip, except under CI ($CI set),
// where they fail; a set but unreachable address always fails.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvAddr names the variable holding the test Redis address (host:port).
const EnvAddr = "CAIRN_REDIS_ADDR"

// Addr returns the test Redis address, skipping or failing the test as the
// package documentation says.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set under CI: .ci/run must start redis-server and export it", EnvAddr)
		}
		t.Skipf("%s is not set: start a redis-server (e.g. redis-server --port 16379 --save '') and export %s=127.0.0.1:16379 to run this test", EnvAddr, EnvAddr)
	}
	if err := Ping(addr, 2*time.Second); err != nil {
		t.Fatalf("Redis at %s=%s does not answer: %v", EnvAddr, addr, err)
	}
	return addr
}

// Ping sends PING over a fresh connection and expects +PONG.
func Ping(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	return ping(c, timeout)
}

func ping(c net.Conn, timeout time.Duration) error {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
	}
	return nil
}

// Server is a redis-server process owned by one test.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
	// exited is closed when cmd ends.
	exited chan struct{}
	// tls, for a TLS-only server: how the readiness probe connects.
	tls *tls.Config
}

// StartServer runs redis-server on a free loopback port with its data in a
// temporary directory; extra arguments are appended (e.g. "--appendonly",
// "yes"). The binary comes from $CAIRN_REDIS_SERVER, else PATH. It has the
// same skip/fail rule as Addr, keyed on $CAIRN_REDIS_ADDR, so CI (which
// installs redis-server) never skips it. The server is killed at cleanup.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	Addr(t) // same gate as the shared server
	s := &Server{t: t, bin: serverBinary(t), dir: t.TempDir(), port: FreePort(t), args: extra}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

func serverBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("CAIRN_REDIS_SERVER"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found in PATH (and CAIRN_REDIS_SERVER unset): %v", err)
	}
	return bin
}

// Addr is the server's address.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Start (re)starts the process on the same port and directory and waits
// until it answers.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// start is Start returning the failure, with the server's log.
func (s *Server) start() error {
	ports := []string{"--port", strconv.Itoa(s.port)}
	if s.tls != nil {
		ports = []string{"--port", "0", "--tls-port", strconv.Itoa(s.port)}
	}
	args := append(append(ports, "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--logfile", filepath.Join(s.dir, "redis.log")), s.args...)
	cmd := exec.Command(s.bin, args...)
	// Before the log file is open (a bad option) Redis writes to stderr;
	// read only once the process has exited.
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if s.tls != nil {
			err = PingTLS(s.Addr(), s.tls, 500*time.Millisecond)
		} else {
			err = Ping(s.Addr(), 500*time.Millisecond)
		}
		if err != nil && strings.Contains(err.Error(), "NOAUTH") {
			err = nil // a server that wants a password answers PING so
		}
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("redis-server exited at start (%s %s)\n%s%s", s.bin, strings.Join(args, " "), out.String(), s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server on %s did not answer: %v\n%s", s.Addr(), err, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log returns the server's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// Kill ends the process abruptly (SIGKILL) and waits for it.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Proxy forwards TCP connections to a target and can stop forwarding
// (connections stay open, bytes wait) to simulate a network stall.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	paused  bool
	resume  chan struct{}
	conns   []net.Conn
	closed  bool
	running sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target until the
// test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, resume: make(chan struct{})}
	p.running.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Pause stops forwarding in both directions.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resume = make(chan struct{})
	}
}

// Resume forwards again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resume)
	}
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.paused {
		p.paused = false
		close(p.resume)
	}
	conns := p.conns
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	p.running.Wait()
}

func (p *Proxy) accept() {
	defer p.running.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.running.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// gate blocks while paused.
func (p *Proxy) gate() {
	p.mu.Lock()
	paused, ch := p.paused, p.resume
	p.mu.Unlock()
	if paused {
		<-ch
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.running.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		p.gate()
		n, err := src.Read(buf)
		if n > 0 {
			p.gate() // a stall that began during the read holds these bytes
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Eventually polls cond every 20ms until it holds or timeout passes.
func Eventually(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Context returns a context bounded by d, cancelled at cleanup.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
