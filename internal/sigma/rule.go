package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Level is a rule's level: what a match means (specification, Level).
type Level uint8

const (
	LevelInformational Level = iota
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

var levelNames = [...]string{"informational", "low", "medium", "high", "critical"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "unknown"
}

// ParseLevel reads a level name.
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), true
		}
	}
	return 0, false
}

// Reason says why a rule is unsupported; the values are stable metric
// attributes.
type Reason string

const (
	// ReasonLogsource: Cairn has no events of the rule's logsource.
	ReasonLogsource Reason = "logsource"
	// ReasonAuditd: an auditd rule that needs raw audit records.
	ReasonAuditd Reason = "auditd_record"
	// ReasonAggregation: the condition aggregates (| count, near).
	ReasonAggregation Reason = "aggregation"
	// ReasonCorrelation: a correlation rule, a filter, or a legacy rule
	// collection document (action: global/reset/repeat).
	ReasonCorrelation Reason = "correlation"
	// ReasonKeywords: a keyword search (values without a field), which
	// needs the raw log line.
	ReasonKeywords Reason = "keywords"
	// ReasonModifier: a value modifier the engine does not run.
	ReasonModifier Reason = "modifier"
	// ReasonField: a field Cairn's events do not have.
	ReasonField Reason = "field"
	// ReasonRegex: a regular expression RE2 cannot run.
	ReasonRegex Reason = "regex"
	// ReasonLimit: over a bound of limits.go.
	ReasonLimit Reason = "limit"
)

// Unsupported is a rule (or document) that does not load, and why.
type Unsupported struct {
	File   string
	ID     string
	Title  string
	Reason Reason
	Detail string
}

// Rule is a compiled rule: its metadata and its detection.
type Rule struct {
	ID          string
	Title       string
	Author      string
	Status      string
	Description string
	Level       Level
	Tags        []string
	// Tactics and Techniques are the ATT&CK ids of the tags (TA0002,
	// T1059.004).
	Tactics, Techniques []string
	Logsource           Logsource
	// File is the file the rule came from.
	File string
	// Class is the kind of event the rule applies to.
	Class Class

	root *node
	// index is the rule's place in its rule set.
	index int
}

// Label is how a match of the rule is named in explanations: its title
// and, when the rule has one, its author, which the Detection Rule License
// requires in any message based on a match.
func (r *Rule) Label() string {
	if r.Author == "" {
		return fmt.Sprintf("Sigma rule %q", r.Title)
	}
	return fmt.Sprintf("Sigma rule %q by %s", r.Title, r.Author)
}

// ParseFile parses and compiles the rules of one file (YAML, one rule per
// document). It returns the rules that load, the documents that are valid
// Sigma but cannot run on Cairn's events (with the reason), and an error
// for a file that is not valid Sigma: not YAML, over a file-level bound,
// or with a document that breaks the specification (no title, an
// undefined search identifier, a modifier on a value it does not apply
// to, ...). It never panics.
func ParseFile(path string, data []byte) (rules []*Rule, unsup []Unsupported, err error) {
	defer func() {
		if r := recover(); r != nil {
			rules, unsup, err = nil, nil, fmt.Errorf("%s: rule parser panicked: %v", path, r)
		}
	}()
	if len(data) > MaxFileBytes {
		return nil, nil, fmt.Errorf("%s: %d bytes, more than the %d a rule file may have", path, len(data), MaxFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		if doc > MaxDocuments {
			return nil, nil, fmt.Errorf("%s: more than %d documents", path, MaxDocuments)
		}
		r, u, err := parseDocument(path, &n)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: document %d: %w", path, doc, err)
		}
		switch {
		case r != nil:
			rules = append(rules, r)
		case u != nil:
			unsup = append(unsup, *u)
		}
	}
	return rules, unsup, nil
}

// walker bounds the walk of a document's nodes.
type walker struct{ nodes int }

// resolve follows an alias and counts the node.
func (w *walker) resolve(n *yaml.Node, depth int) (*yaml.Node, error) {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 8 {
			return nil, fmt.Errorf("alias chain too long")
		}
		n = n.Alias
	}
	if n == nil {
		return nil, fmt.Errorf("empty alias")
	}
	w.nodes++
	if w.nodes > MaxYAMLNodes {
		return nil, fmt.Errorf("more than %d YAML nodes", MaxYAMLNodes)
	}
	if depth > MaxYAMLDepth {
		return nil, fmt.Errorf("nested more than %d levels", MaxYAMLDepth)
	}
	return n, nil
}

// mapEntries lists the key/value pairs of a mapping, refusing duplicate
// and non-string keys.
func (w *walker) mapEntries(n *yaml.Node, depth int, what string) ([]string, []*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s must be a map", what)
	}
	if len(n.Content)/2 > MaxItems && what != "rule" {
		return nil, nil, &limitError{fmt.Sprintf("%s has more than %d entries", what, MaxItems)}
	}
	var keys []string
	var vals []*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := w.resolve(n.Content[i], depth+1)
		if err != nil {
			return nil, nil, err
		}
		if k.Kind != yaml.ScalarNode {
			return nil, nil, fmt.Errorf("%s: keys must be strings", what)
		}
		if k.ShortTag() == "!!merge" {
			return nil, nil, fmt.Errorf("%s: YAML merge keys (<<) are not allowed", what)
		}
		if seen[k.Value] {
			return nil, nil, fmt.Errorf("%s: key %q appears twice", what, k.Value)
		}
		seen[k.Value] = true
		v, err := w.resolve(n.Content[i+1], depth+1)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, k.Value)
		vals = append(vals, v)
	}
	return keys, vals, nil
}

func scalarString(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("%s must be a string", what)
	}
	if n.ShortTag() == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

// rawRule is a rule document as read, before compiling.
type rawRule struct {
	id, title, author, status, description, level string
	tags                                          []string
	logsource                                     Logsource
	detection                                     *rawDetection
}

func parseDocument(path string, doc *yaml.Node) (*Rule, *Unsupported, error) {
	w := &walker{}
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil, nil // an empty document (a trailing ---)
		}
		root = root.Content[0]
	}
	root, err := w.resolve(root, 0)
	if err != nil {
		return nil, nil, err
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil, nil
	}
	keys, vals, err := w.mapEntries(root, 0, "rule")
	if err != nil {
		return nil, nil, err
	}
	var raw rawRule
	var detNode, lsNode *yaml.Node
	other := map[string]bool{}
	for i, k := range keys {
		v := vals[i]
		switch k {
		case "title":
			raw.title, err = scalarString(v, "title")
		case "id":
			raw.id, err = scalarString(v, "id")
		case "status":
			raw.status, err = scalarString(v, "status")
		case "description":
			raw.description, err = scalarString(v, "description")
		case "level":
			raw.level, err = scalarString(v, "level")
		case "author":
			raw.author, err = authorOf(w, v)
		case "tags":
			raw.tags, err = stringList(w, v, "tags")
		case "logsource":
			lsNode = v
		case "detection":
			detNode = v
		default:
			other[k] = true
		}
		if err != nil {
			return nil, nil, err
		}
	}
	unsup := func(reason Reason, format string, args ...any) (*Rule, *Unsupported, error) {
		return nil, &Unsupported{File: path, ID: raw.id, Title: raw.title, Reason: reason, Detail: fmt.Sprintf(format, args...)}, nil
	}
	switch {
	case other["correlation"]:
		return unsup(ReasonCorrelation, "a correlation rule: Cairn runs single-event rules only")
	case other["filter"] && detNode == nil:
		return unsup(ReasonCorrelation, "a Sigma filter document: Cairn runs rules only")
	case other["action"]:
		return unsup(ReasonCorrelation, "a legacy rule collection document (action:), which the specification has dropped")
	}
	if raw.title == "" {
		return nil, nil, errors.New("title is required")
	}
	if raw.id == "" {
		return nil, nil, fmt.Errorf("rule %q: id is required (Cairn keys each match by the rule's id)", raw.title)
	}
	if raw.level == "" {
		return nil, nil, fmt.Errorf("rule %s: level is required (the signal a match raises follows it)", raw.id)
	}
	level, ok := ParseLevel(raw.level)
	if !ok {
		return nil, nil, fmt.Errorf("rule %s: level %q is not one of informational, low, medium, high, critical", raw.id, raw.level)
	}
	if lsNode == nil {
		return nil, nil, fmt.Errorf("rule %s: logsource is required", raw.id)
	}
	if raw.logsource, err = logsourceOf(w, lsNode); err != nil {
		return nil, nil, fmt.Errorf("rule %s: %w", raw.id, err)
	}
	if detNode == nil {
		return nil, nil, fmt.Errorf("rule %s: detection is required", raw.id)
	}
	det, err := parseDetection(w, detNode)
	if err != nil {
		var le *limitError
		if errors.As(err, &le) {
			return unsup(ReasonLimit, "%s", le.detail)
		}
		return nil, nil, fmt.Errorf("rule %s: %w", raw.id, err)
	}
	raw.detection = det
	r := &Rule{ID: raw.id, Title: raw.title, Author: raw.author, Status: raw.status, Description: raw.description,
		Level: level, Tags: raw.tags, Logsource: raw.logsource, File: path}
	r.Tactics, r.Techniques = attackOf(raw.tags)
	if err := compileRule(r, det); err != nil {
		var ue *unsupportedError
		var le *limitError
		switch {
		case errors.As(err, &ue):
			return unsup(ue.reason, "%s", ue.detail)
		case errors.As(err, &le):
			return unsup(ReasonLimit, "%s", le.detail)
		}
		return nil, nil, fmt.Errorf("rule %s: %w", raw.id, err)
	}
	return r, nil, nil
}

func authorOf(w *walker, n *yaml.Node) (string, error) {
	if n.Kind == yaml.SequenceNode {
		l, err := stringList(w, n, "author")
		return strings.Join(l, ", "), err
	}
	return scalarString(n, "author")
}

func stringList(w *walker, n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s must be a list of strings", what)
	}
	if len(n.Content) > MaxValues {
		return nil, fmt.Errorf("%s: more than %d entries", what, MaxValues)
	}
	var out []string
	for _, c := range n.Content {
		c, err := w.resolve(c, 2)
		if err != nil {
			return nil, err
		}
		s, err := scalarString(c, what)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func logsourceOf(w *walker, n *yaml.Node) (Logsource, error) {
	var ls Logsource
	keys, vals, err := w.mapEntries(n, 1, "logsource")
	if err != nil {
		return ls, err
	}
	for i, k := range keys {
		var dst *string
		switch k {
		case "category":
			dst = &ls.Category
		case "product":
			dst = &ls.Product
		case "service":
			dst = &ls.Service
		default:
			continue // definition and custom fields
		}
		if *dst, err = scalarString(vals[i], "logsource."+k); err != nil {
			return ls, err
		}
	}
	return ls, nil
}

// rawDetection is a detection section as read.
type rawDetection struct {
	names      []string // search identifiers, in order
	selections map[string]*rawSelection
	conditions []string
	timeframe  bool
}

// rawSelection is one search identifier: the OR of maps (one map for a
// plain map), each the AND of its items; or a keyword search.
type rawSelection struct {
	maps     [][]rawItem
	keywords bool
}

// rawItem is one field of a map: "Field|mod|mod": value(s).
type rawItem struct {
	key    string
	field  string
	mods   []string
	values []*yaml.Node // scalars
	list   bool         // the values were a list
}

func parseDetection(w *walker, n *yaml.Node) (*rawDetection, error) {
	keys, vals, err := w.mapEntries(n, 1, "detection")
	if err != nil {
		return nil, err
	}
	d := &rawDetection{selections: map[string]*rawSelection{}}
	for i, k := range keys {
		v := vals[i]
		switch k {
		case "condition":
			switch v.Kind {
			case yaml.ScalarNode:
				d.conditions = []string{v.Value}
			case yaml.SequenceNode:
				if d.conditions, err = stringList(w, v, "condition"); err != nil {
					return nil, err
				}
			default:
				return nil, errors.New("condition must be a string or a list of strings")
			}
			continue
		case "timeframe":
			d.timeframe = true
			continue
		}
		if len(d.names) == MaxSearchIdentifiers {
			return nil, &limitError{fmt.Sprintf("more than %d search identifiers", MaxSearchIdentifiers)}
		}
		sel, err := parseSelection(w, v, k)
		if err != nil {
			return nil, err
		}
		d.names = append(d.names, k)
		d.selections[k] = sel
	}
	if len(d.conditions) == 0 {
		return nil, errors.New("detection has no condition")
	}
	for _, c := range d.conditions {
		if strings.TrimSpace(c) == "" {
			return nil, errors.New("condition is empty")
		}
	}
	return d, nil
}

func parseSelection(w *walker, n *yaml.Node, name string) (*rawSelection, error) {
	what := "search identifier " + name
	switch n.Kind {
	case yaml.MappingNode:
		m, kw, err := parseMap(w, n, 2, what)
		if err != nil {
			return nil, err
		}
		return &rawSelection{maps: [][]rawItem{m}, keywords: kw}, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, fmt.Errorf("%s is an empty list", what)
		}
		if len(n.Content) > MaxValues {
			return nil, &limitError{fmt.Sprintf("%s has more than %d entries", what, MaxValues)}
		}
		sel := &rawSelection{}
		maps, scalars := 0, 0
		for _, c := range n.Content {
			c, err := w.resolve(c, 3)
			if err != nil {
				return nil, err
			}
			switch c.Kind {
			case yaml.MappingNode:
				if maps == MaxItems {
					return nil, &limitError{fmt.Sprintf("%s has more than %d maps", what, MaxItems)}
				}
				maps++
				m, kw, err := parseMap(w, c, 3, what)
				if err != nil {
					return nil, err
				}
				sel.keywords = sel.keywords || kw
				sel.maps = append(sel.maps, m)
			case yaml.ScalarNode:
				scalars++
			default:
				return nil, fmt.Errorf("%s: a list holds maps or values, not lists", what)
			}
		}
		if maps > 0 && scalars > 0 {
			return nil, fmt.Errorf("%s mixes maps and plain values", what)
		}
		if scalars > 0 {
			sel.keywords = true
		}
		return sel, nil
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return nil, fmt.Errorf("%s is empty", what)
		}
		return &rawSelection{keywords: true}, nil
	}
	return nil, fmt.Errorf("%s must be a map or a list", what)
}

// parseMap reads one map of a selection; keywords reports keys without a
// field ("|all": [...]), a keyword search.
func parseMap(w *walker, n *yaml.Node, depth int, what string) ([]rawItem, bool, error) {
	keys, vals, err := w.mapEntries(n, depth, what)
	if err != nil {
		return nil, false, err
	}
	if len(keys) == 0 {
		return nil, false, fmt.Errorf("%s has an empty map", what)
	}
	var items []rawItem
	keywords := false
	for i, k := range keys {
		parts := strings.Split(k, "|")
		it := rawItem{key: k, field: parts[0], mods: parts[1:]}
		if it.field == "" {
			keywords = true
		}
		v := vals[i]
		switch v.Kind {
		case yaml.ScalarNode:
			it.values = []*yaml.Node{v}
		case yaml.SequenceNode:
			if len(v.Content) > MaxValues {
				return nil, false, &limitError{fmt.Sprintf("%s: %s has more than %d values", what, k, MaxValues)}
			}
			if len(v.Content) == 0 {
				return nil, false, fmt.Errorf("%s: %s has an empty list of values", what, k)
			}
			it.list = true
			for _, c := range v.Content {
				c, err := w.resolve(c, depth+2)
				if err != nil {
					return nil, false, err
				}
				if c.Kind != yaml.ScalarNode {
					return nil, false, fmt.Errorf("%s: %s: values must be strings, numbers, booleans or null", what, k)
				}
				it.values = append(it.values, c)
			}
		default:
			return nil, false, fmt.Errorf("%s: %s: values must be strings, numbers, booleans or null", what, k)
		}
		for _, c := range it.values {
			if len(c.Value) > MaxValueBytes {
				return nil, false, &limitError{fmt.Sprintf("%s: %s has a value of %d bytes, more than %d", what, k, len(c.Value), MaxValueBytes)}
			}
		}
		items = append(items, it)
	}
	return items, keywords, nil
}
