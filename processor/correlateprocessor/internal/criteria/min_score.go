package criteria

import "fmt"

// MinScore is met when the score reaches a threshold.
type MinScore float64

// Met implements Criterion.
func (m MinScore) Met(t *Tally) bool { return t.Score >= float64(m) }

func (m MinScore) String() string { return fmt.Sprintf("score >= %g", float64(m)) }
