package sigma

import (
	"fmt"
	"strings"

	"github.com/cairnsec/cairn/internal/event"
)

// Options select the rules of a set.
type Options struct {
	// MinLevel drops rules below it.
	MinLevel Level
	// Statuses, when not empty, keeps only rules whose status is listed.
	// A rule without a status (the specification makes it optional) is
	// kept: it was written for this deployment, not taken from a shared
	// repository's test bench.
	Statuses []string
	// Exclude drops rules by id.
	Exclude []string
	// MaxRules bounds the rules kept (0: no bound), in their given order.
	MaxRules int
}

// Reasons a rule is left out of a set by Options.
const (
	SkipStatus   = "status"
	SkipLevel    = "level"
	SkipExcluded = "excluded"
	SkipMaxRules = "max_rules"
)

// Skipped is a rule Options left out.
type Skipped struct {
	Rule   *Rule
	Reason string
}

// RuleSet is a compiled set of rules. It is immutable: share it between
// goroutines, each with its own Evaluator.
type RuleSet struct {
	rules   []*Rule
	fields  []source
	buckets [numClasses]*bucket
	// read is what a bulk read of an event reads: event.category and
	// event.type first, then the prefilters' fields.
	read *event.FieldSet
}

// NewRuleSet selects rules by o and indexes them for evaluation. Two rules
// with the same id are an error (the id keys a match).
func NewRuleSet(rules []*Rule, o Options) (*RuleSet, []Skipped, error) {
	statuses := map[string]bool{}
	for _, s := range o.Statuses {
		statuses[strings.ToLower(s)] = true
	}
	excluded := map[string]bool{}
	for _, id := range o.Exclude {
		excluded[id] = true
	}
	byID := map[string]*Rule{}
	set := &RuleSet{}
	var skipped []Skipped
	for _, r := range rules {
		if prev, ok := byID[r.ID]; ok {
			return nil, nil, fmt.Errorf("rule id %s appears twice: %s (%q) and %s (%q)", r.ID, prev.File, prev.Title, r.File, r.Title)
		}
		byID[r.ID] = r
		switch {
		case excluded[r.ID]:
			skipped = append(skipped, Skipped{r, SkipExcluded})
		case r.Level < o.MinLevel:
			skipped = append(skipped, Skipped{r, SkipLevel})
		case len(statuses) > 0 && r.Status != "" && !statuses[strings.ToLower(r.Status)]:
			skipped = append(skipped, Skipped{r, SkipStatus})
		case o.MaxRules > 0 && len(set.rules) >= o.MaxRules:
			skipped = append(skipped, Skipped{r, SkipMaxRules})
		default:
			set.rules = append(set.rules, r)
		}
	}
	set.index()
	return set, skipped, nil
}

// Rules returns the rules of the set, in order.
func (s *RuleSet) Rules() []*Rule { return s.rules }

// Len is the number of rules.
func (s *RuleSet) Len() int { return len(s.rules) }

// index gives every item its field id and builds each class's bucket.
func (s *RuleSet) index() {
	ids := map[string]int{}
	var walk func(n *node)
	walk = func(n *node) {
		if n.item != nil {
			k := n.item.src.key()
			id, ok := ids[k]
			if !ok {
				id = len(s.fields)
				ids[k] = id
				s.fields = append(s.fields, n.item.src)
			}
			n.item.field = id
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	var byClass [numClasses][]*Rule
	for i, r := range s.rules {
		r.index = i
		walk(r.root)
		byClass[r.Class] = append(byClass[r.Class], r)
	}
	r := &bulkRead{pos: map[*event.Field]int{}}
	r.at(event.EventCategory)
	r.at(event.EventType)
	for c, rules := range byClass {
		if len(rules) > 0 {
			s.buckets[c] = newBucket(rules, s.fields)
			r.add(s.buckets[c], s.fields)
		}
	}
	s.read = event.NewFieldSet(r.fields...)
}
