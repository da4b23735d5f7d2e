package sigma

// Bounds on what one rule file may cost. Rule files come from a directory
// an operator fills, possibly from a shared repository: whatever a file
// holds, loading it must neither crash the collector (a stack overflow
// cannot be recovered) nor cost memory or time out of proportion. Real
// rules stay far below every bound: SigmaHQ's largest Linux rules have a
// few dozen values per field and conditions of a hundred bytes.
const (
	// MaxFileBytes bounds one rule file.
	MaxFileBytes = 1 << 20
	// MaxDocuments bounds the YAML documents of one file.
	MaxDocuments = 256
	// MaxYAMLDepth bounds the nesting of a rule document (a rule needs
	// four levels: detection, search identifier, list of maps, values).
	MaxYAMLDepth = 16
	// MaxYAMLNodes bounds the nodes of one document, counted as they are
	// walked (aliases count each time they are used).
	MaxYAMLNodes = 200_000
	// MaxConditionBytes bounds a condition.
	MaxConditionBytes = 4096
	// MaxConditionDepth bounds the nesting of a condition (parentheses
	// and not): the parser recurses on them.
	MaxConditionDepth = 64
	// MaxSearchIdentifiers bounds the search identifiers of a detection.
	MaxSearchIdentifiers = 256
	// MaxValues bounds the values of one field (a list), and MaxItems the
	// fields of one map and the maps of one list.
	MaxValues = 4096
	MaxItems  = 1024
	// MaxValueBytes bounds one value; MaxRegexBytes one regular
	// expression (RE2 needs memory in proportion to it).
	MaxValueBytes = 8192
	MaxRegexBytes = 4096
	// MaxWildcards bounds the * and ? of one value: matching costs up to
	// the value's length for each.
	MaxWildcards = 32
)
