package criteria

import "fmt"

// MinDistinct is met when at least n different signals are present, so that
// one signal repeated many times never fires a rule on its own.
type MinDistinct int

// Met implements Criterion.
func (m MinDistinct) Met(t *Tally) bool { return t.Distinct() >= int(m) }

func (m MinDistinct) String() string { return fmt.Sprintf("at least %d distinct signals", int(m)) }
