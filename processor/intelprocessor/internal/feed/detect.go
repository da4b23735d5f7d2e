package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

func triedNames() string {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.Name())
	}
	return strings.Join(names, ", ")
}

// classify returns the name of the format of head, or an error saying why
// none fits. It is one decision shared by every built-in Sniff, rather than
// each format judging alone, so that two formats never both claim a file:
// the most specific evidence wins (a JSON shape, then an abuse.ch column
// header, then the shape of the first data row, then a product named in the
// comments), whatever the order of Formats.
func classify(head []byte) (string, error) {
	head = bytes.TrimPrefix(head, utf8BOM)
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) == 0 {
		return "", ErrEmpty
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		if off, err := jsonPrefixError(trimmed); err != nil {
			// "[2001:db8::1],malicious" starts like JSON too.
			if trimmed[0] == '[' {
				return classifyText(head)
			}
			return "", fmt.Errorf("feed: the file starts like JSON but is invalid at byte %d: %v", off, err)
		}
		if name, hint, isJSON := classifyJSON(trimmed); isJSON {
			if name != "" {
				return name, nil
			}
			return "", fmt.Errorf("feed: unrecognised JSON feed (tried %s): %s", triedNames(), hint)
		}
	}
	return classifyText(head)
}

// jsonPrefixError returns the syntax error in head, a prefix of a JSON
// document, if there is one. Running out of input is no error: the head
// usually ends inside the document.
func jsonPrefixError(head []byte) (int64, error) {
	dec := json.NewDecoder(bytes.NewReader(head))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil
		}
		if err != nil {
			return dec.InputOffset(), err
		}
	}
}

// jsonHead is what the first 64 KiB of a JSON document show of its top level.
type jsonHead struct {
	keys      []string
	typeValue string // value of a top-level "type" string
	// firstKeys holds, per top-level key whose value is an array, the keys
	// of the array's first element if that is an object and fits in the head.
	firstKeys map[string][]string
	arrays    map[string]bool
	objects   map[string]bool
}

func (h *jsonHead) has(k string) bool {
	for _, key := range h.keys {
		if key == k {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// classifyJSON looks at the top-level keys. isJSON is false if head does not
// even start like a JSON object or array, so it can be tried as text.
func classifyJSON(head []byte) (name, hint string, isJSON bool) {
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return "", "", false
	}
	if d, _ := tok.(json.Delim); d == '[' {
		return "", "a JSON array at the top level; the JSON feeds are objects (STIX bundle, MISP event, ThreatFox export)", true
	}
	if d, _ := tok.(json.Delim); d != '{' {
		return "", "", false
	}
	h := readJSONHead(dec)

	switch {
	case h.typeValue == "bundle":
		return NameSTIX2, "", true
	case h.typeValue == "" && h.arrays["objects"] && looksSTIXObject(h.firstKeys["objects"]):
		// A bundle whose "type" comes after a long objects array (keys
		// sorted alphabetically, say) shows only the objects in the head.
		return NameSTIX2, "", true
	case h.has("Event") && h.objects["Event"]:
		return NameMISP, "", true
	case h.arrays["response"]:
		return NameMISP, "", true
	case h.has("query_status"):
		return NameThreatFoxJSON, "", true
	case len(h.keys) > 0 && allDigits(h.keys[0]) && h.arrays[h.keys[0]] &&
		(h.firstKeys[h.keys[0]] == nil || contains(h.firstKeys[h.keys[0]], "ioc_value") || contains(h.firstKeys[h.keys[0]], "ioc_type")):
		return NameThreatFoxJSON, "", true
	}
	if h.typeValue != "" {
		return "", fmt.Sprintf("a JSON object of \"type\" %q; a STIX file must be a \"bundle\"", h.typeValue), true
	}
	if len(h.keys) == 0 {
		return "", "an empty or unreadable JSON object", true
	}
	keys := h.keys
	if len(keys) > 5 {
		keys = keys[:5]
	}
	return "", fmt.Sprintf("a JSON object with keys %q", keys), true
}

func looksSTIXObject(keys []string) bool {
	return contains(keys, "type") && contains(keys, "id")
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// readJSONHead collects the top-level keys until the head ends (it usually
// ends inside the document, which is fine).
func readJSONHead(dec *json.Decoder) *jsonHead {
	h := &jsonHead{firstKeys: map[string][]string{}, arrays: map[string]bool{}, objects: map[string]bool{}}
	for len(h.keys) < 64 && dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return h
		}
		key, ok := tok.(string)
		if !ok {
			return h
		}
		h.keys = append(h.keys, key)
		tok, err = dec.Token()
		if err != nil {
			return h
		}
		switch v := tok.(type) {
		case string:
			if key == "type" {
				h.typeValue = v
			}
		case json.Delim:
			switch v {
			case '[':
				h.arrays[key] = true
				if dec.More() {
					var first map[string]json.RawMessage
					if err := dec.Decode(&first); err != nil {
						// An element that is not an object (or does not fit
						// in the head): nothing more to learn.
						return h
					}
					ks := make([]string, 0, len(first))
					for k := range first {
						ks = append(ks, k)
					}
					h.firstKeys[key] = ks
				}
				if !skipRest(dec) {
					return h
				}
			case '{':
				h.objects[key] = true
				if !skipRest(dec) {
					return h
				}
			}
		}
	}
	return h
}

func skipRest(dec *json.Decoder) bool {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return true
}

// plainSniffLines is how many data lines after the first may show that a
// file is a plain list.
const plainSniffLines = 9

// textHead is what the first lines of a text file say about its format.
type textHead struct {
	header       string // format named by a column header line
	mentionMB    bool   // a comment line mentions MalwareBazaar
	mentionTF    bool   // a comment line mentions ThreatFox
	comments     int
	firstData    []byte // first line that is neither blank nor a comment
	firstDataNum int
	// moreData holds the next few data lines, so that one mistyped entry at
	// the top of a hand-kept list does not hide what the file is.
	moreData [][]byte
}

func readTextHead(head []byte) textHead {
	var th textHead
	if len(head) >= SniffLen {
		// The head was cut off: its last line may be partial.
		if i := bytes.LastIndexByte(head, '\n'); i >= 0 {
			head = head[:i+1]
		}
	}
	n := 0
	for len(head) > 0 && len(th.moreData) < plainSniffLines {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		n++
		line = trimSpace(trimEOL(line))
		if len(line) == 0 {
			continue
		}
		if th.firstData != nil {
			// Past the first entry only more entries matter.
			if line[0] != '#' {
				th.moreData = append(th.moreData, line)
			}
			continue
		}
		if line[0] == '#' {
			th.comments++
			body := trimSpace(bytes.TrimLeft(line, "#"))
			if th.header == "" {
				th.header = headerFormat(body)
			}
			lower := bytes.ToLower(body)
			if bytes.Contains(lower, []byte("malwarebazaar")) || bytes.Contains(lower, []byte("malware bazaar")) {
				th.mentionMB = true
			}
			if bytes.Contains(lower, []byte("threatfox")) {
				th.mentionTF = true
			}
			continue
		}
		if th.header == "" {
			if f := headerFormat(line); f != "" {
				th.header = f
				continue
			}
		}
		th.firstData = line
		th.firstDataNum = n
	}
	return th
}

// headerFormat recognises the column header line of the abuse.ch exports
// (written as a comment, quoted) by its distinctive column pairs.
func headerFormat(line []byte) string {
	if !bytes.Contains(line, []byte("first_seen_utc")) {
		return ""
	}
	switch {
	case bytes.Contains(line, []byte("sha256_hash")):
		return NameMalwareBazaarCSV
	case bytes.Contains(line, []byte("ioc_id")) && bytes.Contains(line, []byte("ioc_value")):
		return NameThreatFoxCSV
	}
	return ""
}

// rowFormat recognises a data row of the abuse.ch exports by its shape: a
// timestamp first, then a SHA-256 (MalwareBazaar) or a numeric IOC id and a
// ThreatFox IOC type (ThreatFox).
func rowFormat(line []byte) string {
	fields, _, ok := splitQuoted(line, nil, nil, 0)
	if !ok || len(fields) < 4 {
		return ""
	}
	if _, ok := parseSpaceTime(fields[0]); !ok {
		return ""
	}
	if len(fields[1]) == 64 && isHex(string(fields[1])) {
		return NameMalwareBazaarCSV
	}
	if allDigits(string(fields[1])) && threatFoxType(string(fields[3])) {
		return NameThreatFoxCSV
	}
	return ""
}

func classifyText(head []byte) (string, error) {
	th := readTextHead(head)
	if th.header != "" {
		return th.header, nil
	}
	if th.firstData != nil {
		if f := rowFormat(th.firstData); f != "" {
			return f, nil
		}
		if plainLine(th.firstData) {
			return NamePlain, nil
		}
		for _, line := range th.moreData {
			if rowFormat(line) == "" && plainLine(line) {
				return NamePlain, nil
			}
		}
		return "", fmt.Errorf("feed: unrecognised feed format (tried %s): line %d is %q, which is no abuse.ch export row and not \"indicator,verdict\"",
			triedNames(), th.firstDataNum, truncate(string(th.firstData), 80))
	}
	// Only comments: an export with no rows yet, or a list with nothing in it.
	switch {
	case th.mentionMB && th.mentionTF:
		return "", fmt.Errorf("feed: ambiguous feed: the comments mention both MalwareBazaar and ThreatFox and there is no column header or data row to decide")
	case th.mentionMB:
		return NameMalwareBazaarCSV, nil
	case th.mentionTF:
		return NameThreatFoxCSV, nil
	}
	return NamePlain, nil
}

// plainLine reports whether a line reads as a plain list's header or entry.
func plainLine(line []byte) bool {
	sep := plainSep(line)
	fields := splitPlain(line, sep, nil)
	if len(fields) == 0 {
		return false
	}
	if isPlainHeader(fields) {
		return true
	}
	if len(fields) < 2 {
		return false
	}
	v := string(fields[0])
	if _, err := normalize(inferType(v), v); err != nil {
		return false
	}
	_, err := parseVerdict(fields[1])
	return err == nil
}
