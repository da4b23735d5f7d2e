package sigma

import (
	"strings"

	"github.com/cairnsec/cairn/internal/mitre"
)

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
		} else if id = mitre.TacticID(rest); id != "" && !seen[id] {
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
