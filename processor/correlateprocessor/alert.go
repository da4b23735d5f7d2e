package correlateprocessor

import (
	"math"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cairnsec/cairn/internal/ecs"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/attack"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/engine"
	"github.com/cairnsec/cairn/processor/correlateprocessor/internal/metadata"
)

// logSeverity maps rule severities onto the OTLP severity of the record,
// for backends that sort logs by it.
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
	rec.SetSeverityText(info.severity)

	attrs := rec.Attributes()
	evt := attrs.PutEmptyMap("event")
	evt.PutStr("kind", "alert")
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
	putPath(attrs, p.c.entity[0].Name).SetStr(a.Entity)

	// ATT&CK: the tactics and techniques of the signals present.
	tacticIDs, tacticNames := tactics(a)
	var techIDs, techNames []string
	seenTech := map[string]bool{}
	var present []string
	for i, s := range signals {
		if !a.Tally.Has(i) {
			continue
		}
		present = append(present, s.Name)
		if s.Technique.ID != "" && !seenTech[s.Technique.ID] {
			seenTech[s.Technique.ID] = true
			techIDs = append(techIDs, s.Technique.ID)
			techNames = append(techNames, s.Technique.Name)
		}
	}
	attrs.PutStr("message", message(a, signals, tacticNames))
	if len(tacticIDs) > 0 {
		threat := attrs.PutEmptyMap("threat")
		threat.PutStr("framework", attack.Framework)
		tactic := threat.PutEmptyMap("tactic")
		putStrings(tactic, "id", tacticIDs)
		putStrings(tactic, "name", tacticNames)
		if len(techIDs) > 0 {
			tech := threat.PutEmptyMap("technique")
			putStrings(tech, "id", techIDs)
			putStrings(tech, "name", techNames)
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

	al := attrs.PutEmptyMap("cairn").PutEmptyMap("alert")
	al.PutDouble("score", round2(a.Tally.Score))
	al.PutStr("severity", info.severity)
	putStrings(al, "signals", present)
	contribs := al.PutEmptySlice("contributions")
	contribs.EnsureCapacity(len(a.Contributions))
	for _, c := range a.Contributions {
		m := contribs.AppendEmpty().SetEmptyMap()
		m.PutStr("signal", signals[c.Signal].Name)
		m.PutDouble("weight", round2(c.Weight))
		m.PutEmptyMap("event").PutStr("id", c.Evidence.EventID)
		m.PutStr("time", rfc3339(c.Evidence.Time))
		m.PutStr("summary", summary(c.Evidence))
	}
	if a.Omitted > 0 {
		al.PutInt("omitted_contributions", int64(a.Omitted))
	}
}

// tactics lists the ATT&CK tactics of an alert's signals, ids and names.
func tactics(a *engine.Alert) (ids, names []string) {
	for i := 0; i < 32; i++ {
		if a.Tally.Tactics&(1<<i) != 0 {
			t := attack.TacticByIndex(i)
			ids = append(ids, t.ID)
			names = append(names, t.Name)
		}
	}
	return ids, names
}

// putPath returns the value at a dotted path, creating nested maps.
func putPath(m pcommon.Map, path string) pcommon.Value {
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			return m.PutEmpty(path)
		}
		head := path[:i]
		if cur, ok := m.Get(head); ok && cur.Type() == pcommon.ValueTypeMap {
			m = cur.Map()
		} else {
			m = m.PutEmptyMap(head)
		}
		path = path[i+1:]
	}
}

func putStrings(m pcommon.Map, key string, vals []string) {
	s := m.PutEmptySlice(key)
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
