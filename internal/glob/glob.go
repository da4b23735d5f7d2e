// Package glob matches shell-style patterns against event values.
//
// path.Match treats '/' specially and rejects some patterns at match time; for
// executables, domains and user names we want '*' to span anything, so that
// "/opt/*" covers a whole tree and "*.corp.example" every subdomain.
package glob

import "strings"

// IsPattern reports whether s holds glob metacharacters.
func IsPattern(s string) bool { return strings.ContainsAny(s, "*?") }

// Match reports whether s matches pattern, where '*' matches any run of
// characters (including none and '/') and '?' exactly one byte.
func Match(pattern, s string) bool {
	// Iterative matcher with single backtrack point: linear for the patterns
	// people write, never exponential.
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			starP = p
			starI = i
			p++
		case starP >= 0:
			p = starP + 1
			starI++
			i = starI
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
