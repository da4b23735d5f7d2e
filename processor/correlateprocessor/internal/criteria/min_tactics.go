package criteria

import "fmt"

// MinTactics is met when the signals cover at least n ATT&CK tactics: two
// facts about one step of an intrusion (a new binary that is also new to the
// fleet) weigh less than evidence of two different steps (it ran, then it
// called out).
type MinTactics int

// Met implements Criterion.
func (m MinTactics) Met(t *Tally) bool { return t.TacticCount() >= int(m) }

func (m MinTactics) String() string { return fmt.Sprintf("at least %d ATT&CK tactics", int(m)) }
