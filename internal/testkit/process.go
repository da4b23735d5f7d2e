package testkit

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a child process a test started (the collector binary, most
// often): its output is collected, logged when the test fails, and the
// process is killed when the test ends if it still runs.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Out  *LockedBuffer
	done chan struct{}
	err  error // of Wait, once done is closed
}

// StartProcess starts cmd, whose Stdout and Stderr it sets.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, Out: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Out.String())
		}
	})
	return p
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is what Wait returned; only meaningful once Done is closed.
func (p *Process) Err() error { return p.err }

// Terminate sends SIGTERM and expects a clean exit within timeout.
func (p *Process) Terminate(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.Name, err)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %s of SIGTERM", p.Name, timeout)
	}
	if p.err != nil {
		t.Fatalf("%s exited uncleanly after SIGTERM: %v", p.Name, p.err)
	}
}
