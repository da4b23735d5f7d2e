package correlateprocessor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
)

// evidenceOf keeps what an alert needs to explain a contributing event.
// Strings are cloned: a record's strings may share memory with the batch
// (the ECS decoder packs them in slabs) that would otherwise stay alive as
// long as the entity's window.
//
// scratch is reused for reading the event's enrichments; the grown slice is
// returned for the next call.
func evidenceOf(v *event.View, id, entity string, ts int64, scratch []event.Enrichment) (*engine.Evidence, []event.Enrichment) {
	ev := &engine.Evidence{EventID: strings.Clone(id), Time: ts}
	str := func(fs ...*event.Field) string {
		for _, f := range fs {
			if s, ok := v.Str(f); ok {
				return s
			}
		}
		return ""
	}
	text := func(fs ...*event.Field) engine.Text { return engine.Intern(str(fs...)) }
	if host := str(event.HostName); host != entity {
		ev.Host = engine.Intern(host)
	}
	ev.Exe = text(event.ProcessExecutable, event.ProcessName)
	ev.User = text(event.UserName)
	if ev.User.IsZero() {
		if val, ok := v.Get(event.UserID); ok {
			if b, ok := event.AppendValue([]byte("uid "), val); ok {
				ev.User = engine.Intern(string(b))
			}
		}
	}
	ev.Hash = text(event.ProcessHashSHA256)
	switch {
	case str(event.DNSQuestionName) != "":
		ev.Kind = engine.KindDNS
		ev.Domain = strings.Clone(str(event.DNSQuestionName))
	case str(event.DestinationIP) != "":
		ev.Kind = engine.KindConnection
		ev.IP = strings.Clone(str(event.DestinationIP))
		ev.Domain = strings.Clone(str(event.DestinationDomain))
		if val, ok := v.Get(event.DestinationPort); ok {
			switch val.Type() {
			case pcommon.ValueTypeInt:
				ev.Port = val.Int()
			case pcommon.ValueTypeDouble:
				// JSON parsers upstream (filelog's json_parser) give numbers
				// as doubles.
				ev.Port = int64(val.Double())
			case pcommon.ValueTypeStr:
				ev.Port, _ = strconv.ParseInt(val.Str(), 10, 64)
			}
		}
	case !ev.Exe.IsZero():
		ev.Kind = engine.KindProcess
	}
	scratch = v.Enrichments(scratch[:0])
	ev.Provider, ev.Verdict = intelOf(scratch)
	ev.Enrichments, ev.EnrichmentsCut = keepEnrichments(scratch)
	// The scratch's strings point into the batch: hold none of them.
	clear(scratch)
	return ev, scratch
}

// intelOf returns the provider and verdict of the event's first
// enrichment that has a provider: the feed the alert's message names.
func intelOf(enr []event.Enrichment) (provider, verdict engine.Text) {
	for i := range enr {
		if e := &enr[i]; e.Indicator.Provider != "" {
			return engine.Intern(e.Indicator.Provider), engine.Intern(e.Verdict)
		}
	}
	return provider, verdict
}

// keepEnrichments copies what an Evidence keeps of an event's enrichments:
// each distinct one once, at most engine.MaxEnrichments, with the number
// left out. The copies share no memory with the batch (see evidenceOf).
func keepEnrichments(enr []event.Enrichment) (kept []event.Enrichment, cut int) {
	for i := range enr {
		e := &enr[i]
		if slices.ContainsFunc(kept, func(k event.Enrichment) bool { return k.SameMatch(e) }) {
			continue
		}
		if len(kept) == engine.MaxEnrichments {
			cut++
			continue
		}
		if kept == nil {
			kept = make([]event.Enrichment, 0, min(len(enr), engine.MaxEnrichments))
		}
		kept = append(kept, internEnrichment(*e))
	}
	return kept, cut
}

// internEnrichment replaces e's strings by interned copies: providers,
// fields, types and confidences repeat across events and hosts, and the
// matched value is usually the indicator value (the hash) itself, so each
// distinct string is held once while anything still refers to it.
func internEnrichment(e event.Enrichment) event.Enrichment {
	for _, s := range []*string{
		&e.Indicator.Type, &e.Indicator.FileHash.MD5, &e.Indicator.FileHash.SHA1, &e.Indicator.FileHash.SHA256,
		&e.Indicator.IP, &e.Indicator.Domain, &e.Indicator.URL, &e.Indicator.Provider, &e.Indicator.Confidence,
		&e.Indicator.Name, &e.Indicator.Description, &e.Indicator.Reference,
		&e.Matched.Atomic, &e.Matched.Field, &e.Matched.Type, &e.Matched.ID, &e.Matched.Index,
		&e.FeedName, &e.Verdict,
	} {
		*s = engine.Intern(*s).String()
	}
	return e
}

// summary is one short phrase for an event: what ran or what it reached, as
// whom, and which feed flagged it.
func summary(ev *engine.Evidence) string {
	var b strings.Builder
	who := ev.Exe.String()
	if who == "" {
		who = "a process"
	}
	switch ev.Kind {
	case engine.KindDNS:
		fmt.Fprintf(&b, "%s looked up %s", who, ev.Domain)
	case engine.KindConnection:
		fmt.Fprintf(&b, "%s connected to %s", who, hostPort(ev.IP, ev.Port))
		if ev.Domain != "" {
			fmt.Fprintf(&b, " (%s)", ev.Domain)
		}
	case engine.KindProcess:
		fmt.Fprintf(&b, "%s ran", who)
	default:
		fmt.Fprintf(&b, "event %s", ev.EventID)
	}
	if !ev.User.IsZero() {
		fmt.Fprintf(&b, " as %s", ev.User)
	}
	if ev.Kind == engine.KindProcess && !ev.Hash.IsZero() {
		fmt.Fprintf(&b, ", sha256 %s", shortHash(ev.Hash.String()))
	}
	if !ev.Provider.IsZero() {
		verdict := ev.Verdict.String()
		if verdict == "" {
			verdict = "listed"
		}
		fmt.Fprintf(&b, ", flagged %s by %s", verdict, ev.Provider)
	}
	return b.String()
}

func hostPort(ip string, port int64) string {
	if port <= 0 {
		return ip
	}
	if strings.IndexByte(ip, ':') >= 0 {
		return "[" + ip + "]:" + strconv.FormatInt(port, 10)
	}
	return ip + ":" + strconv.FormatInt(port, 10)
}

func shortHash(h string) string {
	if len(h) <= 16 {
		return h
	}
	return h[:12] + "…"
}

// message is the alert's one readable sentence: the rule, the entity, the
// score, then each contributing event once, in time order, with the
// meaning of its signals.
func message(a *engine.Alert, signals []engine.Signal, tactics []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s (score %s from %d signals", a.Rule.Name, a.Entity, formatScore(a.Tally.Score), a.Tally.Distinct())
	if len(tactics) > 0 {
		fmt.Fprintf(&b, "; %s", joinAnd(tactics))
	}
	b.WriteString("): ")
	type group struct {
		ev     *engine.Evidence
		labels []string
	}
	var groups []*group
	byEv := map[*engine.Evidence]*group{}
	for i := range a.Contributions {
		c := &a.Contributions[i]
		g := byEv[c.Evidence]
		if g == nil {
			g = &group{ev: c.Evidence}
			byEv[c.Evidence] = g
			groups = append(groups, g)
		}
		if l := label(c, signals); !slices.Contains(g.labels, l) {
			g.labels = append(g.labels, l)
		}
	}
	for i, g := range groups {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s [%s]", summary(g.ev), strings.Join(g.labels, ", "))
	}
	if a.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", a.Omitted)
	}
	b.WriteByte('.')
	return b.String()
}

// label is the phrase for a contribution: its detail's (a Sigma rule's
// title and author), else its signal's.
func label(c *engine.Contribution, signals []engine.Signal) string {
	if d := c.Detail(); d != nil && !d.Label.IsZero() {
		return d.Label.String()
	}
	return signals[c.Signal].Label
}

func formatScore(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
