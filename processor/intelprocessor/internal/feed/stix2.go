package feed

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// STIX2 is a STIX 2.1 (or 2.0) bundle. Indicator objects with a "stix"
// pattern (the default) yield one indicator per usable comparison of the
// pattern: file hashes (SHA-256, SHA-1, MD5), IPv4/IPv6 addresses (a CIDR
// only if it is a single address) and domain names. valid_from and
// valid_until bound the indicator; name, confidence and created become Name,
// Confidence and FirstSeen. The provider is the name of the identity the
// indicator was created by, when the bundle holds it.
type STIX2 struct{}

func (STIX2) Name() string { return NameSTIX2 }

func (STIX2) Sniff(head []byte) bool {
	name, err := classify(head)
	return err == nil && name == NameSTIX2
}

type stixObject struct {
	Type           jsonText   `json:"type"`
	ID             jsonText   `json:"id"`
	Name           jsonText   `json:"name"`
	Pattern        jsonText   `json:"pattern"`
	PatternType    jsonText   `json:"pattern_type"`
	ValidFrom      jsonText   `json:"valid_from"`
	ValidUntil     jsonText   `json:"valid_until"`
	Created        jsonText   `json:"created"`
	Confidence     *jsonText  `json:"confidence"`
	IndicatorTypes []jsonText `json:"indicator_types"`
	Labels         []jsonText `json:"labels"` // STIX 2.0's indicator_types
	CreatedByRef   jsonText   `json:"created_by_ref"`
	Revoked        jsonBool   `json:"revoked"`
}

// stixVerdict maps indicator_types (open vocabulary indicator-type-ov).
// "benign" marks allow-list entries and wins; the malicious kinds come
// next; anomalous-activity and unknown are only suspicious. An indicator
// with no type is taken as malicious, which is what sharing it means.
func stixVerdict(types ...[]jsonText) indicator.Verdict {
	has := func(want ...string) bool {
		for _, list := range types {
			for _, t := range list {
				for _, w := range want {
					if strings.EqualFold(string(t), w) {
						return true
					}
				}
			}
		}
		return false
	}
	switch {
	case has("benign"):
		return indicator.Benign
	case has("malicious-activity", "attribution", "compromised"):
		return indicator.Malicious
	case has("anomalous-activity", "unknown"):
		return indicator.Suspicious
	}
	return indicator.Malicious
}

// stixTarget maps a comparison's object path to an indicator type.
func stixTarget(path string) (indicator.Type, bool) {
	objType, prop, ok := strings.Cut(path, ":")
	if !ok {
		return indicator.Unknown, false
	}
	switch strings.ToLower(objType) {
	case "ipv4-addr", "ipv6-addr":
		return indicator.IP, prop == "value"
	case "domain-name":
		return indicator.Domain, prop == "value"
	case "file":
		algo, ok := strings.CutPrefix(prop, "hashes.")
		if !ok {
			return indicator.Unknown, false
		}
		// 'SHA-256' is the 2.1 spelling; STIX 2.0 producers also write
		// SHA256 or sha256.
		algo = strings.ToUpper(strings.NewReplacer("'", "", "-", "", "_", "").Replace(algo))
		switch algo {
		case "SHA256":
			return indicator.SHA256, true
		case "SHA1":
			return indicator.SHA1, true
		case "MD5":
			return indicator.MD5, true
		}
	}
	return indicator.Unknown, false
}

// pendingSTIX is an indicator whose created_by_ref identity may come later
// in the bundle.
type pendingSTIX struct {
	ind indicator.Indicator
	ref string
}

func (x STIX2) Parse(r io.Reader, provider string, emit func(indicator.Indicator) error) (Stats, error) {
	return x.parseLimited(r, provider, Limits{}, emit)
}

// parseLimited counts the indicators held back for a later identity
// against lim.MaxIndicators along with the ones emitted: without that, a
// bundle of indicators that all name a missing identity would be held in
// memory whole before the limit was ever checked.
func (STIX2) parseLimited(r io.Reader, provider string, lim Limits, emit func(indicator.Indicator) error) (Stats, error) {
	provider = orDefault(provider, ProviderSTIX)
	var st Stats
	out := emitter{emit: emit, st: &st}
	identities := map[string]string{}
	var pending []pendingSTIX
	s := newJSONStream(r, NameSTIX2)

	indicatorObject := func(o *stixObject) error {
		id := string(o.ID)
		if o.Revoked {
			st.Ignored++
			return nil
		}
		if pt := strings.TrimSpace(string(o.PatternType)); pt != "" && !strings.EqualFold(pt, "stix") {
			// Snort, YARA, Sigma… patterns are for other tools.
			st.Ignored++
			return nil
		}
		base := indicator.Indicator{
			Verdict:    stixVerdict(o.IndicatorTypes, o.Labels),
			Provider:   provider,
			Confidence: -1,
			Name:       strings.TrimSpace(string(o.Name)),
		}
		if o.Confidence != nil {
			base.Confidence = parseConfidence(string(*o.Confidence))
		}
		if o.Created != "" {
			base.FirstSeen, _ = parseRFC3339(string(o.Created))
		}
		if o.ValidFrom != "" {
			t, err := parseRFC3339(string(o.ValidFrom))
			if err != nil {
				st.skip(0, "indicator %s: valid_from %q is not a timestamp", id, truncate(string(o.ValidFrom), 40))
				return nil
			}
			base.ValidFrom = t
		}
		if o.ValidUntil != "" {
			t, err := parseRFC3339(string(o.ValidUntil))
			if err != nil {
				st.skip(0, "indicator %s: valid_until %q is not a timestamp", id, truncate(string(o.ValidUntil), 40))
				return nil
			}
			if !base.ValidFrom.IsZero() && !t.After(base.ValidFrom) {
				// The spec requires valid_until after valid_from; an empty
				// window would make the indicator never match.
				st.skip(0, "indicator %s: valid_until %s is not after valid_from %s", id, t.Format(time.RFC3339), base.ValidFrom.Format(time.RFC3339))
				return nil
			}
			base.ValidUntil = t
		}
		if strings.TrimSpace(string(o.Pattern)) == "" {
			st.skip(0, "indicator %s: no pattern", id)
			return nil
		}
		tree, err := parsePattern(string(o.Pattern))
		if errors.Is(err, errTooDeep) || errors.Is(err, errPatternTooLong) {
			st.refuse(0, "indicator %s: pattern refused: %v", id, err)
			return nil
		}
		if err != nil {
			st.skip(0, "indicator %s: cannot parse pattern %q: %v", id, truncate(string(o.Pattern), 80), err)
			return nil
		}
		cmps, unusable := tree.sufficient(nil, nil)
		for _, u := range unusable {
			st.skip(0, "indicator %s: %s", id, u)
		}
		ref := string(o.CreatedByRef)
		name, resolved := identities[ref]
		if resolved {
			base.Provider = name
		}
		for _, c := range cmps {
			t, ok := stixTarget(c.path)
			if !ok {
				st.skip(0, "indicator %s: comparison on %s is not supported", id, c.path)
				continue
			}
			if c.negated || (c.op != "=" && c.op != "IN") || c.nonStr || len(c.values) == 0 {
				st.skip(0, "indicator %s: comparison %s is not an equality", id, c)
				continue
			}
			for _, v := range c.values {
				ind := base
				ind.Type = t
				var err error
				if t == indicator.IP {
					ind.Value, err = normIPOrHostPrefix(v)
				} else {
					ind.Value, err = normalize(t, v)
				}
				if err != nil {
					st.skip(0, "indicator %s: %s: %v", id, c.path, err)
					continue
				}
				if ref != "" && !resolved {
					if lim.MaxIndicators > 0 && st.Indicators+len(pending) >= lim.MaxIndicators {
						return tooManyIndicators(lim.MaxIndicators)
					}
					pending = append(pending, pendingSTIX{ind: ind, ref: ref})
					continue
				}
				if err := out.send(ind); err != nil {
					return err
				}
			}
		}
		return nil
	}

	if err := s.beginObject(); err != nil {
		return st, err
	}
	bundleType := ""
	objects := 0
	for {
		key, more, err := s.key()
		if err != nil {
			return st, err
		}
		if !more {
			break
		}
		tok, err := s.valueStart()
		if err != nil {
			return st, err
		}
		switch {
		case key == "type":
			bundleType, _ = tok.(string)
		case key == "objects" && tok == json.Delim('['):
			for s.more() {
				objects++
				var o stixObject
				if err := s.decode(&o); err != nil {
					if broken(err) {
						return st, s.fail(err)
					}
					st.skip(0, "object %d: %v", objects, err)
					continue
				}
				switch string(o.Type) {
				case "identity":
					if n := strings.TrimSpace(string(o.Name)); n != "" {
						if _, known := identities[string(o.ID)]; !known && len(identities) >= maxIdentities {
							st.refuse(0, "identity %s: more than %d identities in one bundle", truncate(string(o.ID), 80), maxIdentities)
							continue
						}
						identities[string(o.ID)] = clip(n, MaxText)
					}
				case "indicator":
					if err := indicatorObject(&o); err != nil {
						return st, err
					}
				}
			}
			if err := s.delim(']', "end of objects"); err != nil {
				return st, err
			}
		default:
			if err := s.skipValueAfter(tok); err != nil {
				return st, err
			}
		}
	}
	if err := s.end(); err != nil {
		return st, err
	}
	if bundleType != "bundle" {
		if bundleType == "" {
			return st, structuralError(NameSTIX2, "not a STIX bundle: no \"type\": \"bundle\"")
		}
		return st, structuralError(NameSTIX2, "not a STIX bundle: \"type\" is %q", bundleType)
	}
	for _, p := range pending {
		if name, ok := identities[p.ref]; ok {
			p.ind.Provider = name
		}
		if err := out.send(p.ind); err != nil {
			return st, err
		}
	}
	return st, nil
}
