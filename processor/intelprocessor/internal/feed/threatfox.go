package feed

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

// threatFoxType reports the ioc_type values ThreatFox documents.
func threatFoxType(s string) bool {
	switch s {
	case "ip:port", "domain", "url", "md5_hash", "sha1_hash", "sha256_hash", "sha3_384_hash":
		return true
	}
	return false
}

// threatFoxValue fills the type, value and port of ind from a ThreatFox IOC.
// ignored is set for documented IOC types Cairn does not match; a type
// ThreatFox does not document is an error, as it means the columns are not
// what we think they are.
func threatFoxValue(iocType, value string, ind *indicator.Indicator) (ignored bool, err error) {
	value = strings.TrimSpace(value)
	iocType = strings.ToLower(strings.TrimSpace(iocType))
	switch iocType {
	case "ip:port":
		ind.Type = indicator.IP
		if ap, perr := netip.ParseAddrPort(value); perr == nil {
			ind.Value, err = normIP(ap.Addr().String())
			ind.Port = int(ap.Port())
			return false, err
		}
		// Some entries carry the address alone.
		ind.Value, err = normIP(value)
		if err != nil {
			return false, fmt.Errorf("ip:port value %q is not an address and port", truncate(value, 80))
		}
		return false, nil
	case "domain":
		ind.Type = indicator.Domain
		ind.Value, err = normDomain(value)
		return false, err
	case "url":
		// ECS has url indicators, but Cairn matches hosts (DNS names and
		// peer addresses), never full URLs, so a URL IOC becomes its host.
		host, herr := urlHost(value)
		if herr != nil {
			return false, herr
		}
		if _, perr := netip.ParseAddr(strings.Trim(host, "[]")); perr == nil {
			ind.Type = indicator.IP
			ind.Value, err = normIP(host)
		} else {
			ind.Type = indicator.Domain
			ind.Value, err = normDomain(host)
		}
		return false, err
	case "sha256_hash":
		ind.Type = indicator.SHA256
	case "sha1_hash":
		ind.Type = indicator.SHA1
	case "md5_hash":
		ind.Type = indicator.MD5
	default:
		if threatFoxType(iocType) {
			return true, nil
		}
		return false, fmt.Errorf("unknown ioc_type %q", truncate(iocType, 40))
	}
	ind.Value, err = normHash(ind.Type, []byte(value))
	return false, err
}

func urlHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err == nil && u.Host == "" && !strings.Contains(raw, "://") {
		// Scheme-less "host/path".
		u, err = url.Parse("http://" + raw)
	}
	if err != nil {
		return "", fmt.Errorf("url %q: %v", truncate(raw, 80), err)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("url %q has no host", truncate(raw, 80))
	}
	return u.Hostname(), nil
}

// ThreatFoxCSV is the abuse.ch ThreatFox CSV export. Every IOC is Malicious,
// with ThreatFox's confidence_level, the malware_printable name and
// first_seen_utc. Columns are found by the file's column header (ThreatFox
// has added columns over time, e.g. is_compromised); without one, the
// documented order is assumed.
type ThreatFoxCSV struct{}

func (ThreatFoxCSV) Name() string { return NameThreatFoxCSV }

func (ThreatFoxCSV) Sniff(head []byte) bool {
	name, err := classify(head)
	return err == nil && name == NameThreatFoxCSV
}

// Documented column order: first_seen_utc, ioc_id, ioc_value, ioc_type,
// threat_type, fk_malware, malware_alias, malware_printable, last_seen_utc,
// confidence_level, reference, tags, anonymous, reporter.
const (
	tfFirstSeen  = 0
	tfID         = 1
	tfValue      = 2
	tfType       = 3
	tfMalware    = 7
	tfConfidence = 9
)

func (ThreatFoxCSV) Parse(r io.Reader, provider string, emit func(indicator.Indicator) error) (Stats, error) {
	provider = orDefault(provider, ProviderThreatFox)
	var st Stats
	out := emitter{emit: emit, st: &st}
	names := interner{}
	firstSeen, id, value, typ, malware, confidence := tfFirstSeen, tfID, tfValue, tfType, tfMalware, tfConfidence

	var times timeCache
	rows := &csvRows{format: NameThreatFoxCSV, st: &st, limit: needed(firstSeen, id, value, typ, malware, confidence)}
	rows.header = func(cols map[string]int) error {
		_, hasValue := cols["ioc_value"]
		_, hasType := cols["ioc_type"]
		if !hasValue || !hasType {
			if _, mb := cols["sha256_hash"]; mb {
				return structuralError(NameThreatFoxCSV, "the column header is MalwareBazaar's, not ThreatFox's")
			}
			return structuralError(NameThreatFoxCSV, "the column header lacks ioc_value or ioc_type")
		}
		firstSeen = column(cols, "first_seen_utc", tfFirstSeen)
		id = column(cols, "ioc_id", tfID)
		value = column(cols, "ioc_value", tfValue)
		typ = column(cols, "ioc_type", tfType)
		malware = column(cols, "malware_printable", tfMalware)
		confidence = column(cols, "confidence_level", tfConfidence)
		rows.limit = needed(firstSeen, id, value, typ, malware, confidence)
		return nil
	}
	rows.row = func(line int, fields [][]byte) error {
		v, t := field(fields, value), field(fields, typ)
		if v == nil || t == nil {
			st.skip(line, "no ioc_value or ioc_type (%d fields)", len(fields))
			return nil
		}
		ind := indicator.Indicator{
			Verdict:    indicator.Malicious,
			Provider:   provider,
			Confidence: -1,
		}
		ignored, err := threatFoxValue(string(t), string(v), &ind)
		if ignored {
			st.Ignored++
			return nil
		}
		if err != nil {
			st.skip(line, "ioc %s: %v", field(fields, id), err)
			return nil
		}
		if b := field(fields, malware); b != nil {
			ind.Name = names.get(b)
		}
		if b := field(fields, confidence); b != nil {
			ind.Confidence = parseConfidence(string(b))
		}
		if b := field(fields, firstSeen); b != nil {
			ind.FirstSeen, _ = times.parse(b)
		}
		return out.send(ind)
	}
	err := rows.run(r)
	return st, err
}

// ThreatFoxJSON is the ThreatFox JSON export (full.json, recent.json: an
// object from IOC id to an array of IOC objects) or a ThreatFox API response
// ({"query_status": "ok", "data": [...]}, whose IOC objects name their
// fields "ioc" and "first_seen"). Indicators are as for ThreatFoxCSV.
type ThreatFoxJSON struct{}

func (ThreatFoxJSON) Name() string { return NameThreatFoxJSON }

func (ThreatFoxJSON) Sniff(head []byte) bool {
	name, err := classify(head)
	return err == nil && name == NameThreatFoxJSON
}

type threatFoxEntry struct {
	ID           jsonText `json:"id"`
	IOCValue     jsonText `json:"ioc_value"`
	IOC          jsonText `json:"ioc"`
	IOCType      jsonText `json:"ioc_type"`
	Malware      jsonText `json:"malware_printable"`
	FirstSeenUTC jsonText `json:"first_seen_utc"`
	FirstSeen    jsonText `json:"first_seen"`
	Confidence   jsonText `json:"confidence_level"`
}

func (ThreatFoxJSON) Parse(r io.Reader, provider string, emit func(indicator.Indicator) error) (Stats, error) {
	provider = orDefault(provider, ProviderThreatFox)
	var st Stats
	out := emitter{emit: emit, st: &st}
	names := interner{}
	s := newJSONStream(r, NameThreatFoxJSON)

	entries := func(id string) error {
		for s.more() {
			var e threatFoxEntry
			if err := s.decode(&e); err != nil {
				if broken(err) {
					return s.fail(err)
				}
				st.skip(0, "ioc %s: %v", id, err)
				continue
			}
			name := id
			if e.ID != "" {
				name = string(e.ID)
			}
			value := e.IOCValue
			if value == "" {
				value = e.IOC
			}
			if value == "" || e.IOCType == "" {
				st.skip(0, "ioc %s: no ioc_value or ioc_type", name)
				continue
			}
			ind := indicator.Indicator{Verdict: indicator.Malicious, Provider: provider, Confidence: parseConfidence(string(e.Confidence))}
			ignored, err := threatFoxValue(string(e.IOCType), string(value), &ind)
			if ignored {
				st.Ignored++
				continue
			}
			if err != nil {
				st.skip(0, "ioc %s: %v", name, err)
				continue
			}
			if m := string(e.Malware); m != "" && !nullish([]byte(m)) {
				// Interned: a feed of a million IOCs has a few hundred
				// malware names. The interner stops growing if every name is
				// different.
				ind.Name = names.str(m)
			}
			seen := e.FirstSeenUTC
			if seen == "" {
				seen = e.FirstSeen
			}
			ind.FirstSeen, _ = parseSpaceTime([]byte(seen))
			if err := out.send(ind); err != nil {
				return err
			}
		}
		return s.delim(']', "end of array")
	}

	if err := s.beginObject(); err != nil {
		return st, err
	}
	recognised := false
	status := ""
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
		isArray := tok == json.Delim('[')
		switch {
		case key == "query_status":
			recognised = true
			status, _ = tok.(string)
		case key == "data" && isArray:
			recognised = true
			if err := entries(""); err != nil {
				return st, err
			}
		case allDigits(key):
			recognised = true
			if !isArray {
				st.skip(0, "ioc %s: expected an array of IOCs", key)
				if err := s.skipValueAfter(tok); err != nil {
					return st, err
				}
				continue
			}
			if err := entries(key); err != nil {
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
	if !recognised {
		return st, structuralError(NameThreatFoxJSON, "neither an export (keyed by IOC id) nor an API response (query_status)")
	}
	switch status {
	case "", "ok", "no_result", "no_results":
	default:
		// An error answer saved as the feed file (bad auth key, rate limit):
		// keep what was loaded before.
		return st, structuralError(NameThreatFoxJSON, "API response with query_status %q", status)
	}
	return st, nil
}
