package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/criteria"
)

// TestFloodOfMadeUpEntities: a flood of one-event entity names evicts only
// its own kind; entities with an alert or with evidence from several
// events stay, and their attack completes.
func TestFloodOfMadeUpEntities(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(3))
	e, err := New(Config{Signals: testSignals(), Rules: []*Rule{r}, Lateness: int64(time.Minute),
		MaxEntities: 64, MaxObservations: 8, MaxContributions: 8, TrackChanges: true})
	require.NoError(t, err)
	f := &feeder{t: t, e: e}
	// web-03 is half way through an attack (two events); web-04 has an
	// open alert.
	f.hit("web-03", 0, sigExec)
	f.hit("web-03", time.Second, sigIntel)
	f.hit("web-04", 0, sigExec, sigNet, sigIntel)
	for i := 0; i < 100_000; i++ {
		f.hit(fmt.Sprintf("fake-%06d", i), 2*time.Second, sigExec)
	}
	assert.Equal(t, 64, e.Len())
	assert.Equal(t, uint64(100_000+2-64), e.Stats().EntityEvictions)
	for _, h := range []string{"web-03", "web-04"} {
		_, ok := e.entities.peek(h)
		assert.True(t, ok, h)
	}
	as := fired(f.hit("web-03", 3*time.Second, sigNet))
	require.Len(t, as, 1, "the attack's earlier evidence survived the flood")
	assert.Equal(t, at(0), as[0].Start)

	// Names repeated (two events each) fill the protected part, which
	// stays within 7/8 of the table: a new entity still gets a place.
	for i := 0; i < 200; i++ {
		for k := 0; k < 2; k++ {
			f.hit(fmt.Sprintf("twice-%03d", i), 4*time.Second, sigExec)
		}
	}
	assert.LessOrEqual(t, e.entities.seg[segProtected].n, 56)
	f.hit("new-host", 5*time.Second, sigExec)
	_, ok := e.entities.peek("new-host")
	assert.True(t, ok)
	n := 0
	e.Entities(func(*Entity) { n++ })
	assert.Equal(t, e.Len(), n)
	assert.Equal(t, e.Len(), e.entities.seg[segProbation].n+e.entities.seg[segProtected].n)
}

// TestRestoreProtects: restored entities with an alert or several events
// are protected, and a restore replaces the entity in place.
func TestRestoreProtects(t *testing.T) {
	r := rule(0, "r", time.Hour, []float64{10, 10, 10, 10}, criteria.MinDistinct(2))
	f := &feeder{t: t, e: newEngine(t, r)}
	f.hit("a", 0, sigExec)
	f.hit("a", time.Second, sigNet)
	data, ok, err := f.e.EncodeKey("a")
	require.NoError(t, err)
	require.True(t, ok)
	g := &feeder{t: t, e: newEngine(t, r)}
	require.NoError(t, g.e.Restore(data))
	require.NoError(t, g.e.Restore(data))
	assert.Equal(t, 1, g.e.Len())
	ent, _ := g.e.entities.peek("a")
	assert.Equal(t, segProtected, ent.seg)
	assert.Equal(t, uint8(2), ent.events)
}
