package mitre

import "testing"

func TestTacticIDs(t *testing.T) {
	ids := map[string]bool{}
	for name, id := range tacticIDs {
		if got := TacticID(name); got != id {
			t.Errorf("TacticID(%q) = %q, want %q", name, got, id)
		}
		ids[id] = true
	}
	// The 14 Enterprise tactics of ATT&CK before v19, and TA0112.
	if len(ids) != 15 {
		t.Errorf("%d tactic ids, want 15", len(ids))
	}
	for name, want := range map[string]string{"Command_And_Control": "TA0011", "defense_evasion": "TA0005", "nope": ""} {
		if got := TacticID(name); got != want {
			t.Errorf("TacticID(%q) = %q, want %q", name, got, want)
		}
	}
}
