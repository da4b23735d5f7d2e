package event

import (
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cairnsec/cairn/internal/timestamp"
)

// ThreatEnrichments is the ECS field threat.enrichments: an array (mapped
// as nested) with one object per threat indicator that matched the event.
var ThreatEnrichments = define("threat.enrichments")

// Enrichment is one ECS threat enrichment: an indicator from a threat feed
// and what it matched in the event. The intel processor writes them (with
// AddEnrichment), correlate reads them from the events an alert is built
// from (Enrichments) and copies them onto the alert (PutTo), so that the
// alert shows the match as Kibana's alert flyout expects it.
//
// The JSON form (the tags) is how correlate keeps enrichments in its
// persisted state; the tags are short and must stay stable, as state
// written by one release is read by the next.
type Enrichment struct {
	Indicator Indicator `json:"i"`
	Matched   Matched   `json:"m"`
	// FeedName is feed.name inside the enrichment: not an ECS field, but
	// where Kibana's indicator match rules put the indicator document's
	// threat.feed.name and where its alert flyout looks for the feed. Cairn's
	// intel processor does not write it (indicator.provider names the feed).
	FeedName string `json:"feed,omitempty"`
	// Verdict is cairn.intel.verdict (EnrichmentVerdictKey): malicious or
	// suspicious.
	Verdict string `json:"verdict,omitempty"`
}

// Indicator is threat.enrichments.indicator: the indicator that matched.
// Only the value fields of its Type are set.
type Indicator struct {
	// Type is ECS's indicator type: file, ipv4-addr, ipv6-addr,
	// domain-name, url, ...
	Type string `json:"type,omitempty"`
	// FileHash holds file.hash.md5/sha1/sha256 of a file indicator.
	FileHash FileHash `json:"hash,omitzero"`
	// IP and Port: ip and port.
	IP   string `json:"ip,omitempty"`
	Port int64  `json:"port,omitempty"`
	// Domain is url.domain, URL url.full.
	Domain string `json:"domain,omitempty"`
	URL    string `json:"url,omitempty"`
	// Provider is the feed the indicator comes from.
	Provider string `json:"provider,omitempty"`
	// Confidence is one of ECS's words: Not Specified, None, Low, Medium,
	// High.
	Confidence  string    `json:"conf,omitempty"`
	Name        string    `json:"name,omitempty"`
	Description string    `json:"desc,omitempty"`
	Reference   string    `json:"ref,omitempty"`
	FirstSeen   time.Time `json:"first,omitzero"`
	LastSeen    time.Time `json:"last,omitzero"`
}

// ECS indicator types (threat.enrichments.indicator.type) the intel
// processor writes; ECS lists more (url, email-addr, ...).
const (
	IndicatorTypeFile       = "file"
	IndicatorTypeIPv4       = "ipv4-addr"
	IndicatorTypeIPv6       = "ipv6-addr"
	IndicatorTypeDomainName = "domain-name"
)

// FileHash is the hashes of a file indicator.
type FileHash struct {
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Matched is threat.enrichments.matched: what matched where.
type Matched struct {
	// Atomic is the event's value that matched, Field the event field
	// holding it (process.hash.sha256, destination.ip, ...).
	Atomic string `json:"atomic,omitempty"`
	Field  string `json:"field,omitempty"`
	// Type is the kind of match; Cairn's intel processor writes
	// indicator_match_rule (MatchTypeIndicatorMatchRule).
	Type string `json:"type,omitempty"`
	// ID and Index identify the indicator document (_id, _index) when the
	// indicator came from an index; Cairn's feeds are files, so intel
	// leaves them empty.
	ID    string `json:"id,omitempty"`
	Index string `json:"index,omitempty"`
	// Occurred is when the match was made: for Cairn, the event's time, so
	// that a replay writes the same document.
	Occurred time.Time `json:"at,omitzero"`
}

// MatchTypeIndicatorMatchRule is the matched.type the intel processor
// writes, ECS's example value and the one Kibana uses for matches made by
// detection (as opposed to investigation_time, its look-ups while an
// analyst views an alert).
const MatchTypeIndicatorMatchRule = "indicator_match_rule"

// AddEnrichment appends e to the event's threat.enrichments, creating the
// array where the record's shape says (nested or flat, see slot).
func (v *View) AddEnrichment(e *Enrichment) {
	e.PutTo(v.AppendObject(ThreatEnrichments.Name))
}

// PutTo writes e into m, an empty object of a threat.enrichments array, as
// nested ECS objects. Members are written in a fixed order (the encoder
// keeps it), and empty ones are left out, so the same enrichment always
// gives the same bytes.
func (e *Enrichment) PutTo(m pcommon.Map) {
	in := &e.Indicator
	ind := m.PutEmptyMap("indicator")
	putStr(ind, "type", in.Type)
	if in.FileHash != (FileHash{}) {
		h := ind.PutEmptyMap("file").PutEmptyMap("hash")
		putStr(h, "md5", in.FileHash.MD5)
		putStr(h, "sha1", in.FileHash.SHA1)
		putStr(h, "sha256", in.FileHash.SHA256)
	}
	putStr(ind, "ip", in.IP)
	if in.Port > 0 {
		ind.PutInt("port", in.Port)
	}
	if in.Domain != "" || in.URL != "" {
		u := ind.PutEmptyMap("url")
		putStr(u, "domain", in.Domain)
		putStr(u, "full", in.URL)
	}
	putStr(ind, "provider", in.Provider)
	putStr(ind, "confidence", in.Confidence)
	putStr(ind, "name", in.Name)
	putStr(ind, "description", in.Description)
	putStr(ind, "reference", in.Reference)
	putTime(ind, "first_seen", in.FirstSeen)
	putTime(ind, "last_seen", in.LastSeen)

	mt := &e.Matched
	matched := m.PutEmptyMap("matched")
	putStr(matched, "atomic", mt.Atomic)
	putStr(matched, "field", mt.Field)
	putStr(matched, "type", mt.Type)
	putStr(matched, "id", mt.ID)
	putStr(matched, "index", mt.Index)
	putTime(matched, "occurred", mt.Occurred)

	if e.FeedName != "" {
		m.PutEmptyMap("feed").PutStr("name", e.FeedName)
	}
	if e.Verdict != "" {
		// cairn.intel.verdict, nested like the rest of the object.
		m.PutEmptyMap("cairn").PutEmptyMap("intel").PutStr("verdict", e.Verdict)
	}
}

func putStr(m pcommon.Map, key, s string) {
	if s != "" {
		m.PutStr(key, s)
	}
}

// putTime writes t as RFC 3339 in UTC with as many fractional digits as it
// needs (what the intel processor has always written).
func putTime(m pcommon.Map, key string, t time.Time) {
	if !t.IsZero() {
		m.PutStr(key, t.UTC().Format(time.RFC3339Nano))
	}
}

// Enrichments appends the event's threat.enrichments to dst, in order,
// skipping entries that are not objects or hold nothing Enrichment knows.
// Strings may share memory with the record: clone what is kept beyond the
// batch.
func (v *View) Enrichments(dst []Enrichment) []Enrichment {
	val, ok := v.Get(ThreatEnrichments)
	if !ok || val.Type() != pcommon.ValueTypeSlice {
		return dst
	}
	s := val.Slice()
	for i := 0; i < s.Len(); i++ {
		el := s.At(i)
		if el.Type() != pcommon.ValueTypeMap {
			continue
		}
		if e, ok := ReadEnrichment(el.Map()); ok {
			dst = append(dst, e)
		}
	}
	return dst
}

// ReadEnrichment reads one object of a threat.enrichments array, in any
// shape (nested objects, dotted keys, or a mix). Of a field given as an
// array (ECS allows arrays everywhere), the first element is read. ok is
// false when the object holds neither an indicator value, a provider nor a
// matched value.
func ReadEnrichment(m pcommon.Map) (e Enrichment, ok bool) {
	in := &e.Indicator
	in.Type = findStr(m, "indicator.type")
	in.FileHash.MD5 = findStr(m, "indicator.file.hash.md5")
	in.FileHash.SHA1 = findStr(m, "indicator.file.hash.sha1")
	in.FileHash.SHA256 = findStr(m, "indicator.file.hash.sha256")
	in.IP = findStr(m, "indicator.ip")
	in.Port = findInt(m, "indicator.port")
	in.Domain = findStr(m, "indicator.url.domain")
	in.URL = findStr(m, "indicator.url.full")
	in.Provider = findStr(m, "indicator.provider")
	in.Confidence = findStr(m, "indicator.confidence")
	in.Name = findStr(m, "indicator.name")
	in.Description = findStr(m, "indicator.description")
	in.Reference = findStr(m, "indicator.reference")
	in.FirstSeen = findTime(m, "indicator.first_seen")
	in.LastSeen = findTime(m, "indicator.last_seen")

	mt := &e.Matched
	mt.Atomic = findStr(m, "matched.atomic")
	mt.Field = findStr(m, "matched.field")
	mt.Type = findStr(m, "matched.type")
	mt.ID = findStr(m, "matched.id")
	mt.Index = findStr(m, "matched.index")
	mt.Occurred = findTime(m, "matched.occurred")

	e.FeedName = findStr(m, "feed.name")
	e.Verdict = findStr(m, EnrichmentVerdictKey)
	ok = in.Value() != "" || in.Provider != "" || mt.Atomic != ""
	return e, ok
}

// Value is the indicator's value: its hash (SHA-256 first), IP, domain or
// URL.
func (in *Indicator) Value() string {
	for _, s := range []string{in.FileHash.SHA256, in.FileHash.SHA1, in.FileHash.MD5, in.IP, in.Domain, in.URL} {
		if s != "" {
			return s
		}
	}
	return ""
}

// SameMatch reports whether e and o record the same indicator matching the
// same value in the same field: everything but when the match was made.
// Two events of one alert that matched the same feed entry carry such
// twins; the alert keeps one.
func (e *Enrichment) SameMatch(o *Enrichment) bool {
	a, b := &e.Indicator, &o.Indicator
	return a.Type == b.Type && a.FileHash == b.FileHash && a.IP == b.IP && a.Port == b.Port &&
		a.Domain == b.Domain && a.URL == b.URL && a.Provider == b.Provider &&
		a.Confidence == b.Confidence && a.Name == b.Name && a.Description == b.Description &&
		a.Reference == b.Reference && a.FirstSeen.Equal(b.FirstSeen) && a.LastSeen.Equal(b.LastSeen) &&
		e.Matched.Atomic == o.Matched.Atomic && e.Matched.Field == o.Matched.Field &&
		e.Matched.Type == o.Matched.Type && e.Matched.ID == o.Matched.ID && e.Matched.Index == o.Matched.Index &&
		e.FeedName == o.FeedName && e.Verdict == o.Verdict
}

// first returns val, or the first element of an array val.
func first(val pcommon.Value) pcommon.Value {
	if val.Type() == pcommon.ValueTypeSlice {
		if s := val.Slice(); s.Len() > 0 {
			return s.At(0)
		}
		return pcommon.NewValueEmpty()
	}
	return val
}

func findStr(m pcommon.Map, path string) string {
	val, ok := Find(m, path)
	if !ok {
		return ""
	}
	if val = first(val); val.Type() == pcommon.ValueTypeStr {
		return val.Str()
	}
	return ""
}

func findInt(m pcommon.Map, path string) int64 {
	val, ok := Find(m, path)
	if !ok {
		return 0
	}
	switch val = first(val); val.Type() {
	case pcommon.ValueTypeInt:
		return val.Int()
	case pcommon.ValueTypeDouble:
		// JSON parsers upstream give numbers as doubles.
		return int64(val.Double())
	case pcommon.ValueTypeStr:
		n, _ := strconv.ParseInt(val.Str(), 10, 64)
		return n
	}
	return 0
}

// findTime reads an RFC 3339 string or epoch milliseconds, the forms of
// ECS dates in documents; anything else reads as no time.
func findTime(m pcommon.Map, path string) time.Time {
	val, ok := Find(m, path)
	if !ok {
		return time.Time{}
	}
	var (
		ns   int64
		good bool
	)
	switch val = first(val); val.Type() {
	case pcommon.ValueTypeStr:
		ns, good = timestamp.ParseRFC3339String(val.Str())
	case pcommon.ValueTypeInt:
		ns, good = timestamp.EpochMillis(true, val.Int(), 0)
	case pcommon.ValueTypeDouble:
		ns, good = timestamp.EpochMillis(false, 0, val.Double())
	}
	if !good {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
