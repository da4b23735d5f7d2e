// Package periodic runs a function at a fixed interval in its own goroutine
// until stopped: the flush loop of the components that persist state.
package periodic

import "time"

// Loop is a running periodic function.
type Loop struct {
	stop chan struct{}
	done chan struct{}
}

// Start calls fn every interval, first after one interval.
func Start(every time.Duration, fn func()) *Loop {
	l := &Loop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
				fn()
			}
		}
	}()
	return l
}

// Stop ends the loop and waits for a call in progress to return, so that the
// caller can then do a last flush of its own without racing one.
func (l *Loop) Stop() {
	close(l.stop)
	<-l.done
}
