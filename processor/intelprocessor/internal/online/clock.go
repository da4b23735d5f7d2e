package online

import "time"

// clock lets tests drive the limiter, backoffs, cache TTLs and Wait budgets
// without sleeping through minutes of real time.
type clock interface {
	Now() time.Time
	// NewTimer returns a channel that fires after d and a stop function.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
