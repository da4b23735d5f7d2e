package feed

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// MISP is a MISP event in the MISP JSON / feed format ({"Event": {...}}), or
// a REST search result holding a list of them ({"response": [{"Event":
// ...}]}). The attributes of the event and of its objects yield indicators:
// hashes (sha256, sha1, md5), addresses (ip-dst, ip-src), names (domain,
// hostname) and the usable parts of composite types (domain|ip, ip-dst|port,
// filename|sha256, ...). An attribute flagged for detection (to_ids) is
// Malicious, any other Suspicious. The provider is the event's creator
// organisation (Orgc) and the name its info line.
type MISP struct{}

func (MISP) Name() string { return NameMISP }

func (MISP) Sniff(head []byte) bool {
	name, err := classify(head)
	return err == nil && name == NameMISP
}

type mispEvent struct {
	Info jsonText `json:"info"`
	UUID jsonText `json:"uuid"`
	Orgc struct {
		Name jsonText `json:"name"`
	} `json:"Orgc"`
	// Attributes are decoded one by one so that one odd attribute costs
	// that attribute, not the event.
	Attribute []json.RawMessage `json:"Attribute"`
	Object    []struct {
		Deleted   jsonBool          `json:"deleted"`
		Attribute []json.RawMessage `json:"Attribute"`
	} `json:"Object"`
}

// ref names the event in problems.
func (ev *mispEvent) ref() string {
	if ev.UUID != "" {
		return string(ev.UUID)
	}
	return strconv.Quote(truncate(string(ev.Info), 60))
}

type mispAttribute struct {
	Type      jsonText `json:"type"`
	Value     jsonText `json:"value"`
	ToIDs     jsonBool `json:"to_ids"`
	Deleted   jsonBool `json:"deleted"`
	Timestamp jsonText `json:"timestamp"`
	FirstSeen jsonText `json:"first_seen"`
	UUID      jsonText `json:"uuid"`
}

// mispPart is what one part of a (possibly composite) attribute value is.
type mispPart uint8

const (
	mispSkip mispPart = iota // a part Cairn has no use for (file name, …)
	mispHash                 // type from the attribute type
	mispIP
	mispDomain
	mispPort
)

// mispTypes lists the attribute types used and the meaning of each part of
// their "|"-separated value. Other types (url, link, filename, regkey,
// sha512, …) are counted as ignored.
var mispTypes = map[string][]mispPart{
	"md5":             {mispHash},
	"sha1":            {mispHash},
	"sha256":          {mispHash},
	"ip-dst":          {mispIP},
	"ip-src":          {mispIP},
	"domain":          {mispDomain},
	"hostname":        {mispDomain},
	"domain|ip":       {mispDomain, mispIP},
	"hostname|port":   {mispDomain, mispSkip},
	"ip-dst|port":     {mispIP, mispPort},
	"ip-src|port":     {mispIP, mispPort},
	"filename|md5":    {mispSkip, mispHash},
	"filename|sha1":   {mispSkip, mispHash},
	"filename|sha256": {mispSkip, mispHash},
	"malware-sample":  {mispSkip, mispHash}, // "file name|md5"
}

func mispHashType(attrType string) indicator.Type {
	switch {
	case strings.HasSuffix(attrType, "sha256"):
		return indicator.SHA256
	case strings.HasSuffix(attrType, "sha1"):
		return indicator.SHA1
	default:
		return indicator.MD5
	}
}

func (MISP) Parse(r io.Reader, provider string, emit func(indicator.Indicator) error) (Stats, error) {
	provider = orDefault(provider, ProviderMISP)
	var st Stats
	out := emitter{emit: emit, st: &st}
	s := newJSONStream(r, NameMISP)

	attribute := func(ev *mispEvent, base indicator.Indicator, raw json.RawMessage) error {
		var a mispAttribute
		if err := json.Unmarshal(raw, &a); err != nil {
			st.skip(0, "event %s: attribute: %v", ev.ref(), err)
			return nil
		}
		if a.Deleted {
			st.Ignored++
			return nil
		}
		typ := strings.ToLower(strings.TrimSpace(string(a.Type)))
		layout := mispTypes[typ]
		if layout == nil {
			st.Ignored++
			return nil
		}
		// One part more than the layout is enough to tell a wrong count, and
		// a value of a million "|" then costs no million-element slice.
		parts := strings.SplitN(string(a.Value), "|", len(layout)+1)
		if len(parts) != len(layout) {
			st.skip(0, "event %s: attribute %s: %s value %q should have %d parts", ev.ref(), a.UUID, typ, truncate(string(a.Value), 80), len(layout))
			return nil
		}
		base.Verdict = indicator.Suspicious
		if a.ToIDs {
			base.Verdict = indicator.Malicious
		}
		if a.FirstSeen != "" {
			base.FirstSeen, _ = parseRFC3339(string(a.FirstSeen))
		}
		if base.FirstSeen.IsZero() {
			base.FirstSeen, _ = parseUnix(string(a.Timestamp))
		}
		port := 0
		for i, p := range layout {
			if p == mispPort {
				n, err := strconv.Atoi(strings.TrimSpace(parts[i]))
				if err != nil || n < 0 || n > 65535 {
					st.skip(0, "event %s: attribute %s: port %q", ev.ref(), a.UUID, truncate(parts[i], 20))
					return nil
				}
				port = n
			}
		}
		for i, p := range layout {
			ind := base
			var err error
			switch p {
			case mispHash:
				ind.Type = mispHashType(typ)
				ind.Value, err = normalize(ind.Type, parts[i])
			case mispIP:
				ind.Type = indicator.IP
				ind.Value, err = normIPOrHostPrefix(parts[i])
				ind.Port = port
			case mispDomain:
				ind.Type = indicator.Domain
				ind.Value, err = normDomain(parts[i])
			default:
				continue
			}
			if err != nil {
				st.skip(0, "event %s: attribute %s: %s: %v", ev.ref(), a.UUID, typ, err)
				continue
			}
			if err := out.send(ind); err != nil {
				return err
			}
		}
		return nil
	}

	event := func(ev *mispEvent) error {
		base := indicator.Indicator{
			Provider:   provider,
			Confidence: -1,
			Name:       strings.TrimSpace(string(ev.Info)),
		}
		if org := strings.TrimSpace(string(ev.Orgc.Name)); org != "" {
			base.Provider = org
		}
		for _, raw := range ev.Attribute {
			if err := attribute(ev, base, raw); err != nil {
				return err
			}
		}
		for _, o := range ev.Object {
			if o.Deleted {
				st.Ignored += len(o.Attribute)
				continue
			}
			for _, raw := range o.Attribute {
				if err := attribute(ev, base, raw); err != nil {
					return err
				}
			}
		}
		return nil
	}

	if err := s.beginObject(); err != nil {
		return st, err
	}
	recognised := false
	for {
		key, more, err := s.key()
		if err != nil {
			return st, err
		}
		if !more {
			break
		}
		switch key {
		case "Event":
			recognised = true
			var ev mispEvent
			if err := s.decode(&ev); err != nil {
				// The file is this one event: if it cannot be read, the file
				// cannot be used.
				if broken(err) {
					return st, s.fail(err)
				}
				return st, structuralError(NameMISP, "Event: %v", err)
			}
			if err := event(&ev); err != nil {
				return st, err
			}
		case "response":
			tok, err := s.valueStart()
			if err != nil {
				return st, err
			}
			if tok != json.Delim('[') {
				return st, structuralError(NameMISP, "\"response\" is not a list of events")
			}
			recognised = true
			for n := 1; s.more(); n++ {
				var wrapper struct {
					Event *mispEvent `json:"Event"`
				}
				if err := s.decode(&wrapper); err != nil {
					if broken(err) {
						return st, s.fail(err)
					}
					st.skip(0, "response event %d: %v", n, err)
					continue
				}
				if wrapper.Event == nil {
					st.skip(0, "response element %d has no Event", n)
					continue
				}
				if err := event(wrapper.Event); err != nil {
					return st, err
				}
			}
			if err := s.delim(']', "end of response"); err != nil {
				return st, err
			}
		default:
			tok, err := s.valueStart()
			if err != nil {
				return st, err
			}
			if err := s.skipValueAfter(tok); err != nil {
				return st, err
			}
		}
	}
	if err := s.end(); err != nil {
		return st, err
	}
	if !recognised {
		return st, structuralError(NameMISP, "neither an \"Event\" nor a \"response\" list of events")
	}
	return st, nil
}
