package taint

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTaintAndDrain(t *testing.T) {
	r := Get(t.Name())
	until := time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC)
	r.Taint([]string{"a"}, until)
	marks, _ := r.Drain()
	assert.Empty(t, marks, "without a reader nothing is kept")

	unsub := r.Subscribe()
	r.Taint([]string{"a", "", "b"}, until)
	marks, dropped := r.Drain()
	assert.Equal(t, []Mark{{"a", until}, {"b", until}}, marks)
	assert.Zero(t, dropped)
	marks, _ = r.Drain()
	assert.Empty(t, marks, "drained once")

	assert.Same(t, r, Get(t.Name()), "one registry per group")
	assert.NotSame(t, r, Get(t.Name()+"/other"))

	unsub()
	unsub() // idempotent
	r.Taint([]string{"c"}, until)
	marks, _ = r.Drain()
	assert.Empty(t, marks)
}

func TestBounded(t *testing.T) {
	r := Get(t.Name())
	defer r.Subscribe()()
	ids := make([]string, maxPending+10)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	r.Taint(ids, time.Time{})
	marks, dropped := r.Drain()
	require.Len(t, marks, maxPending+10-maxPending/4)
	assert.Equal(t, uint64(maxPending/4), dropped)
	assert.Equal(t, fmt.Sprint(maxPending/4), marks[0].EventID, "the oldest are dropped")
}
