// Package mitre holds the ATT&CK Enterprise tactic ids by name, for every
// source of tags that names tactics: Sigma rules (attack.<tactic>) and
// Falco rules (mitre_<tactic>).
package mitre

// tacticIDs maps the ATT&CK tactic names of Sigma's attack.* tags to the
// Enterprise tactic ids (https://attack.mitre.org/tactics/enterprise/).
// Sigma writes them lower case with hyphens (tags appendix v2,
// SigmaHQ/sigma-specification specification/sigma-appendix-tags.md);
// older rules use underscores, which are read the same.
//
// ATT&CK v19 (2026) split Defense Evasion: TA0005 is now Stealth, and
// Defense Impairment is the new TA0112. SigmaHQ's rules follow (the Linux
// rules of 2026-08 are tagged attack.stealth and attack.defense-impairment);
// attack.defense-evasion, in older rules, still names TA0005.
var tacticIDs = map[string]string{
	"reconnaissance":       "TA0043",
	"resource-development": "TA0042",
	"initial-access":       "TA0001",
	"execution":            "TA0002",
	"persistence":          "TA0003",
	"privilege-escalation": "TA0004",
	"stealth":              "TA0005",
	"defense-evasion":      "TA0005",
	"defense-impairment":   "TA0112",
	"credential-access":    "TA0006",
	"discovery":            "TA0007",
	"lateral-movement":     "TA0008",
	"collection":           "TA0009",
	"exfiltration":         "TA0010",
	"command-and-control":  "TA0011",
	"impact":               "TA0040",
}

// TacticID returns the ATT&CK id of a tactic name as Sigma and Falco tags
// write it (execution, defense-evasion, command_and_control), "" if unknown.
func TacticID(name string) string {
	// Lower-cased with '-' for '_' in a buffer of its own: a tag is looked
	// up per alert and per rule, without allocating.
	var buf [40]byte
	if len(name) > len(buf) {
		return "" // longer than any tactic name
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return tacticIDs[string(b)]
}
