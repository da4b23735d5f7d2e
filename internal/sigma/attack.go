package sigma

import "strings"

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

// TacticID returns the ATT&CK id of a tactic name as Sigma tags write it
// (execution, defense-evasion, command_and_control), "" if unknown.
func TacticID(name string) string {
	return tacticIDs[strings.ReplaceAll(strings.ToLower(name), "_", "-")]
}

// attackOf reads the ATT&CK tactics and techniques of a rule's tags:
// attack.<tactic> and attack.tNNNN[.NNN], in the order of the tags,
// without repeats. Other tags (attack.g0020, cve.*, detection.*) say
// nothing of either.
func attackOf(tags []string) (tactics, techniques []string) {
	seen := map[string]bool{}
	for _, tag := range tags {
		t := strings.ToLower(strings.TrimSpace(tag))
		rest, ok := strings.CutPrefix(t, "attack.")
		if !ok {
			continue
		}
		var id string
		if isTechnique(rest) {
			id = strings.ToUpper(rest)
			if !seen[id] {
				techniques = append(techniques, id)
			}
		} else if id = TacticID(rest); id != "" && !seen[id] {
			tactics = append(tactics, id)
		}
		seen[id] = true
	}
	return tactics, techniques
}

// isTechnique reports whether s is tNNNN or tNNNN.NNN.
func isTechnique(s string) bool {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if len(s) != 5 && len(s) != 9 || s[0] != 't' || !digits(s[1:5]) {
		return false
	}
	return len(s) == 5 || s[5] == '.' && digits(s[6:])
}
