package correlateprocessor

import (
	"math"
	"slices"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/internal/event"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// logSeverity maps rule severities onto the OTLP severity number of the
// record, for backends that sort logs by it. The record has no severity
// text: the ECS encoder would write it to log.level, which ECS keeps for a
// log's own level; the alert's severity is event.severity (a number) and
// cairn.alert.severity (its name).
var logSeverity = map[string]plog.SeverityNumber{
	"low":      plog.SeverityNumberWarn,
	"medium":   plog.SeverityNumberWarn3,
	"high":     plog.SeverityNumberError,
	"critical": plog.SeverityNumberFatal,
}

// appendAlert writes the alert's current state as a new record of ld, under
// a copy of the resource of its latest deciding event (the entity's
// resource: host.name and the like).
func (p *correlate) appendAlert(ld plog.Logs, pa *pendingAlert) {
	rl := ld.ResourceLogs().AppendEmpty()
	pa.res.CopyTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	rec := sl.LogRecords().AppendEmpty()
	p.fillAlert(rec, pa.alert)
}

func (p *correlate) fillAlert(rec plog.LogRecord, a *engine.Alert) {
	info := p.c.rules[a.Rule.Index]
	signals := p.c.engine.Signals
	rec.SetTimestamp(pcommon.Timestamp(a.Fired))
	rec.SetObservedTimestamp(pcommon.NewTimestampFromTime(p.now()))
	rec.SetSeverityNumber(logSeverity[info.severity])

	attrs := rec.Attributes()
	evt := attrs.PutEmptyMap("event")
	evt.PutStr("kind", "alert")
	evt.PutStr("module", event.Module)
	evt.PutStr("dataset", event.AlertsDataset)
	evt.PutEmptySlice("category").AppendEmpty().SetStr("intrusion_detection")
	evt.PutEmptySlice("type").AppendEmpty().SetStr("info")
	evt.PutStr("id", a.ID)
	evt.PutInt("severity", severities[info.severity])
	evt.PutDouble("risk_score", info.riskScore)
	evt.PutStr("start", rfc3339(a.Start))
	evt.PutStr("end", rfc3339(a.End))

	rule := attrs.PutEmptyMap("rule")
	rule.PutStr("id", a.Rule.ID)
	rule.PutStr("name", a.Rule.Name)
	if info.description != "" {
		rule.PutStr("description", info.description)
	}
	event.PutNested(attrs, p.c.entity[0].Name).SetStr(a.Entity)

	// ATT&CK: the tactics and techniques of the raises counted.
	tacts := tactics(a)
	techs, subs := techniques(a, signals)
	var present []string
	for i, s := range signals {
		if a.Tally.Has(i) {
			present = append(present, s.Name)
		}
	}
	attrs.PutStr("message", message(a, signals, tacts.names))
	enrichments, cut := alertEnrichments(a)
	if len(tacts.ids) > 0 || len(techs.ids) > 0 || len(enrichments) > 0 {
		threat := attrs.PutEmptyMap("threat")
		if len(tacts.ids) > 0 || len(techs.ids) > 0 {
			threat.PutStr("framework", attack.Framework)
		}
		if len(tacts.ids) > 0 {
			tacts.put(threat.PutEmptyMap("tactic"))
		}
		if len(techs.ids) > 0 {
			// ECS: threat.technique.* holds techniques only; a signal's
			// sub-technique goes to threat.technique.subtechnique.*, with
			// its parent in threat.technique.*.
			tech := threat.PutEmptyMap("technique")
			techs.put(tech)
			if len(subs.ids) > 0 {
				subs.put(tech.PutEmptyMap("subtechnique"))
			}
		}
		if len(enrichments) > 0 {
			// The threat-intel matches of the contributing events: what the
			// alert flyout of Kibana shows as the alert's threat intel.
			list := threat.PutEmptySlice("enrichments")
			list.EnsureCapacity(len(enrichments))
			for i := range enrichments {
				enrichments[i].PutTo(list.AppendEmpty().SetEmptyMap())
			}
		}
	}

	// related.*: what an analyst pivots on.
	var hosts, ips, hashes, users []string
	if p.c.entity[0].Name == "host.name" {
		hosts = append(hosts, a.Entity)
	}
	for _, c := range a.Contributions {
		ev := c.Evidence
		hosts = appendUnique(hosts, ev.Host.String())
		ips = appendUnique(ips, ev.IP)
		hashes = appendUnique(hashes, ev.Hash.String())
		users = appendUnique(users, ev.User.String())
	}
	related := attrs.PutEmptyMap("related")
	for _, f := range []struct {
		key  string
		vals []string
	}{{"hosts", hosts}, {"ip", ips}, {"hash", hashes}, {"user", userNames(users)}} {
		if len(f.vals) > 0 {
			putStrings(related, f.key, f.vals)
		}
	}

	event.PutNested(attrs, event.AlertScoreKey).SetDouble(round2(a.Tally.Score))
	event.PutNested(attrs, event.AlertSeverityKey).SetStr(info.severity)
	putStrings(attrs, event.AlertSignalsKey, present)
	contribs := event.PutNested(attrs, event.AlertContributionsKey).SetEmptySlice()
	contribs.EnsureCapacity(len(a.Contributions))
	for _, c := range a.Contributions {
		m := contribs.AppendEmpty().SetEmptyMap()
		m.PutStr(event.ContributionSignal, signals[c.Signal].Name)
		m.PutDouble(event.ContributionWeight, round2(c.Weight))
		event.PutNested(m, event.ContributionEventID).SetStr(c.Evidence.EventID)
		m.PutStr(event.ContributionTime, rfc3339(c.Evidence.Time))
		sum := summary(c.Evidence)
		if d := c.Detail(); d != nil && !d.Label.IsZero() {
			// The detector's own words for this raise: for a Sigma rule its
			// title and author, which the rules' licence requires in
			// match output.
			sum += ": " + d.Label.String()
		}
		m.PutStr(event.ContributionSummary, sum)
	}
	if a.Omitted > 0 {
		event.PutNested(attrs, event.AlertOmittedContributionsKey).SetInt(int64(a.Omitted))
	}
	if cut > 0 {
		event.PutNested(attrs, event.AlertOmittedEnrichmentsKey).SetInt(int64(cut))
	}
}

// alertEnrichments collects the threat.enrichments of an alert's
// contributing events, in the order of the contributions, each match once
// (two events matching the same feed entry with the same value give one),
// and the number their evidence did not keep.
func alertEnrichments(a *engine.Alert) (list []event.Enrichment, cut int) {
	var seen []*engine.Evidence
	for _, c := range a.Contributions {
		ev := c.Evidence
		if slices.Contains(seen, ev) {
			continue
		}
		seen = append(seen, ev)
		cut += ev.EnrichmentsCut
		for i := range ev.Enrichments {
			e := &ev.Enrichments[i]
			if !slices.ContainsFunc(list, func(k event.Enrichment) bool { return k.SameMatch(e) }) {
				list = append(list, *e)
			}
		}
	}
	return list, cut
}

// attackList is parallel ids, names and references of ATT&CK tactics,
// techniques or sub-techniques, each once, for ECS's array fields (entry i
// of each array describes the same one).
type attackList struct{ ids, names, refs []string }

func (l *attackList) add(id, name, ref string) {
	if slices.Contains(l.ids, id) {
		return
	}
	l.ids = append(l.ids, id)
	l.names = append(l.names, name)
	l.refs = append(l.refs, ref)
}

func (l *attackList) put(m pcommon.Map) {
	putStrings(m, "id", l.ids)
	putStrings(m, "name", l.names)
	putStrings(m, "reference", l.refs)
}

// techniques lists the ATT&CK techniques and sub-techniques of an alert's
// raises, in the order of its contributions: a raise's detail replaces the
// catalog's technique of its signal. Signals whose contributions are all
// beyond max_contributions bring their catalog technique.
func techniques(a *engine.Alert, signals []engine.Signal) (techs, subs attackList) {
	add := func(t attack.Technique) {
		if t.ID == "" {
			return
		}
		techs.add(t.ID, t.Name, t.Reference())
		if t.SubID != "" {
			subs.add(t.SubID, t.SubName, t.SubReference())
		}
	}
	listed := make([]bool, len(signals))
	for i := range a.Contributions {
		c := &a.Contributions[i]
		listed[c.Signal] = true
		if d := c.Detail(); d != nil && !d.Techniques.IsZero() {
			for _, id := range d.TechniqueIDs() {
				add(attack.LookupTechniqueID(id))
			}
			continue
		}
		add(signals[c.Signal].Technique)
	}
	for i, s := range signals {
		if a.Tally.Has(i) && !listed[i] {
			add(s.Technique)
		}
	}
	return techs, subs
}

// tactics lists the ATT&CK tactics of an alert's signals.
func tactics(a *engine.Alert) attackList {
	var l attackList
	for i := 0; i < 32; i++ {
		if a.Tally.Tactics&(1<<i) != 0 {
			t := attack.TacticByIndex(i)
			l.add(t.ID, t.Name, t.Reference())
		}
	}
	return l
}

// putStrings writes vals as an array at key, a dotted path (nested maps are
// created as needed).
func putStrings(m pcommon.Map, key string, vals []string) {
	s := event.PutNested(m, key).SetEmptySlice()
	s.EnsureCapacity(len(vals))
	for _, v := range vals {
		s.AppendEmpty().SetStr(v)
	}
}

func appendUnique(list []string, s string) []string {
	if s == "" {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// userNames keeps names; "uid N" stand-ins become the bare id, which is
// what related.user holds when no name is known.
func userNames(users []string) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = appendUnique(out, strings.TrimPrefix(u, "uid "))
	}
	sort.Strings(out)
	return out
}

func rfc3339(ns int64) string { return ecs.FormatTime(ns) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }
