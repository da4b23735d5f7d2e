package periodic

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLoop(t *testing.T) {
	var calls atomic.Int32
	l := Start(time.Millisecond, func() { calls.Add(1) })
	assert.Eventually(t, func() bool { return calls.Load() >= 3 }, 5*time.Second, time.Millisecond)
	l.Stop()
	n := calls.Load()
	time.Sleep(10 * time.Millisecond)
	assert.Equal(t, n, calls.Load(), "no call after Stop returned")
}

func TestStopWaitsForCallInProgress(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	l := Start(time.Millisecond, func() {
		select {
		case started <- struct{}{}:
			<-release
			finished.Store(true)
		default:
		}
	})
	<-started
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	l.Stop()
	assert.True(t, finished.Load())
}
