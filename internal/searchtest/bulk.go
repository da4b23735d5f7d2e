package searchtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

type bulkAction struct {
	Index       string `json:"_index"`
	ID          string `json:"_id"`
	Version     *int64 `json:"version"`
	VersionType string `json:"version_type"`
}

func (s *Server) bulk(w http.ResponseWriter, body []byte) {
	if len(body) > 0 && body[len(body)-1] != '\n' {
		s.writeError(w, 400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulkCalls++
	s.bodies += int64(len(body))
	start := time.Now()
	var items []any
	errorsSeen := false
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	for i := 0; i < len(lines); i++ {
		var head map[string]bulkAction
		if err := json.Unmarshal(lines[i], &head); err != nil || len(head) != 1 {
			s.writeError(w, 400, "illegal_argument_exception", fmt.Sprintf("Malformed action/metadata line [%d], expected a simple value for field [_index] but found [START_OBJECT]", i+1))
			return
		}
		var op string
		var a bulkAction
		for k, v := range head {
			op, a = k, v
		}
		if op != "create" && op != "index" {
			s.writeError(w, 400, "illegal_argument_exception", "Malformed action/metadata line ["+strconv.Itoa(i+1)+"], expected one of [create, delete, index, update] but found ["+op+"]")
			return
		}
		if i+1 >= len(lines) {
			s.writeError(w, 400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
			return
		}
		i++
		res := s.apply(op, a, lines[i])
		if _, bad := res["error"]; bad {
			errorsSeen = true
		}
		items = append(items, map[string]any{op: res})
	}
	out := map[string]any{"errors": errorsSeen, "took": time.Since(start).Milliseconds(), "items": items}
	_ = json.NewEncoder(w).Encode(out)
}

func itemError(index, id string, status int, typ, reason string, causedBy map[string]any) map[string]any {
	e := map[string]any{"type": typ, "reason": reason}
	if causedBy != nil {
		e["caused_by"] = causedBy
	}
	return map[string]any{"_index": index, "_id": id, "status": status, "error": e}
}

// apply runs one item (under s.mu).
func (s *Server) apply(op string, a bulkAction, source []byte) map[string]any {
	key := a.Index + "/" + a.ID
	s.attempts[key]++
	if s.ItemFault != nil {
		if status, typ, reason := s.ItemFault(a.Index, a.ID, s.attempts[key]); status != 0 {
			return itemError(a.Index, a.ID, status, typ, reason, nil)
		}
	}
	ix := s.indices[a.Index]
	if ix == nil {
		// The products create the index (or data stream) before the
		// item runs, so it exists even when the item fails.
		ix = s.createIndex(a.Index)
	}
	if ix.dataStream && op != "create" {
		return itemError(a.Index, a.ID, 400, "illegal_argument_exception", "only write ops with an op_type of create are allowed in data streams", nil)
	}
	if a.ID == "" {
		a.ID = fmt.Sprintf("auto-%d", len(ix.docs)+1)
	}
	parseErr := "mapper_parsing_exception"
	if s.Flavour == Elasticsearch {
		parseErr = "document_parsing_exception"
	}
	dec := json.NewDecoder(bytes.NewReader(source))
	dec.UseNumber()
	var src map[string]any
	if err := dec.Decode(&src); err != nil {
		return itemError(a.Index, a.ID, 400, parseErr, "failed to parse", map[string]any{"type": "x_content_parse_exception", "reason": err.Error()})
	}
	if ix.dataStream {
		if _, ok := src["@timestamp"]; !ok {
			return itemError(a.Index, a.ID, 400, parseErr, "data stream timestamp field [@timestamp] is missing", nil)
		}
	}
	// Check against a copy of the mappings: a refused document maps nothing.
	c := &docChecker{types: make(map[string]string, len(ix.types)), dynamic: ix.dynamic, ignoreMalformed: ix.ignoreMalformed}
	for k, v := range ix.types {
		c.types[k] = v
	}
	if msg, cause := c.object(src, ""); msg != "" {
		reason := fmt.Sprintf("%s in document with id '%s'", msg, a.ID)
		return itemError(a.Index, a.ID, 400, parseErr, reason, cause)
	}
	prev := ix.docs[a.ID]
	version := int64(1)
	switch {
	case op == "create" && prev != nil:
		return itemError(a.Index, a.ID, 409, "version_conflict_engine_exception",
			fmt.Sprintf("[%s]: version conflict, document already exists (current version [%d])", a.ID, prev.Version), nil)
	case a.Version != nil && a.VersionType == "external_gte":
		if prev != nil && prev.Version > *a.Version {
			return itemError(a.Index, a.ID, 409, "version_conflict_engine_exception",
				fmt.Sprintf("[%s]: version conflict, current version [%d] is higher than the provided version [%d]", a.ID, prev.Version, *a.Version), nil)
		}
		version = *a.Version
	case prev != nil:
		version = prev.Version + 1
	}
	ix.types = c.types
	ix.seq++
	var plain map[string]any
	_ = json.Unmarshal(source, &plain)
	ix.docs[a.ID] = &Doc{Index: a.Index, ID: a.ID, Source: plain, Raw: append([]byte(nil), source...), Version: version, Ignored: c.ignored}
	s.stores[a.Index+"/"+a.ID]++
	result, status := "created", 201
	if prev != nil {
		result, status = "updated", 200
	}
	name := a.Index
	if ix.dataStream {
		name = ".ds-" + a.Index + "-000001"
		if s.Flavour == Elasticsearch {
			name = ".ds-" + a.Index + "-2026.01.01-000001"
		}
	}
	return map[string]any{"_index": name, "_id": a.ID, "_version": version, "result": result,
		"_shards": map[string]any{"total": 2, "successful": 1, "failed": 0}, "_seq_no": ix.seq - 1, "_primary_term": 1, "status": status}
}

// docChecker validates a document against an index's mappings and maps
// the new fields it brings (dynamic templates first, then the products'
// defaults).
type docChecker struct {
	types   map[string]string // dotted path -> type; new fields are added
	dynamic []dynamicTemplate
	// ignoreMalformed: a value the field's type cannot parse leaves the
	// field out of the index instead of failing the document (only for
	// the types that support it, never for an object given to a leaf):
	// https://www.elastic.co/docs/reference/elasticsearch/mapping-reference/ignore-malformed
	ignoreMalformed bool
	ignored         []string // the fields left out, as _ignored lists them
}

// malformable are the types ignore_malformed applies to.
var malformable = map[string]bool{"ip": true, "date": true, "date_nanos": true, "long": true, "integer": true, "short": true, "byte": true,
	"float": true, "double": true, "half_float": true, "scaled_float": true, "boolean": true}

// object checks obj (the fields under prefix); it returns the failure's
// reason and cause.
func (c *docChecker) object(obj map[string]any, prefix string) (string, map[string]any) {
	for k, v := range obj {
		if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
			return fmt.Sprintf("field name cannot be an empty string [%s%s]", prefix, k), nil
		}
		if msg, cause := c.value(prefix+k, v); msg != "" {
			return msg, cause
		}
	}
	return "", nil
}

func (c *docChecker) value(path string, v any) (string, map[string]any) {
	typ := c.types[path]
	switch x := v.(type) {
	case nil:
		return "", nil
	case []any:
		for _, e := range x {
			if msg, cause := c.value(path, e); msg != "" {
				return msg, cause
			}
		}
		return "", nil
	case map[string]any:
		switch typ {
		case "":
			c.types[path] = "object"
		case "object", "nested":
		case "flattened":
			return "", nil
		default:
			return fmt.Sprintf("failed to parse field [%s] of type [%s]", path, typ),
				map[string]any{"type": "illegal_state_exception", "reason": "Can't get text on a START_OBJECT"}
		}
		return c.object(x, path+".")
	}
	if typ == "object" || typ == "nested" {
		return fmt.Sprintf("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", path, path), nil
	}
	if typ == "" {
		jsonType := ""
		switch x := v.(type) {
		case string:
			jsonType = "string"
		case json.Number:
			jsonType = "double"
			if _, err := x.Int64(); err == nil {
				jsonType = "long"
			}
		case bool:
			jsonType = "boolean"
		}
		if jsonType == "" {
			return "", nil
		}
		typ = dynamicType(c.dynamic, path, jsonType)
		c.types[path] = typ
	}
	msg, cause := checkLeaf(path, typ, v)
	if msg != "" && c.ignoreMalformed && malformable[typ] {
		if !contains(c.ignored, path) {
			c.ignored = append(c.ignored, path)
			sort.Strings(c.ignored)
		}
		return "", nil
	}
	return msg, cause
}

// checkLeaf parses a value as the type typ does.
func checkLeaf(path, typ string, v any) (string, map[string]any) {
	preview := fmt.Sprint(v)
	fail := func(cause string) (string, map[string]any) {
		return fmt.Sprintf("failed to parse field [%s] of type [%s]. Preview of field's value: '%s'", path, typ, preview),
			map[string]any{"type": "illegal_argument_exception", "reason": cause}
	}
	switch typ {
	case "ip":
		s, ok := v.(string)
		if !ok {
			return fail("failed to parse IP")
		}
		if _, err := netip.ParseAddr(s); err != nil {
			return fail(fmt.Sprintf("'%s' is not an IP string literal.", s))
		}
	case "date", "date_nanos":
		switch x := v.(type) {
		case json.Number:
		case string:
			if !parseDate(x) {
				return fail(fmt.Sprintf("failed to parse date field [%s] with format [strict_date_optional_time||epoch_millis]", x))
			}
		default:
			return fail("failed to parse date")
		}
	case "long", "integer", "short", "byte":
		switch x := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(x), 64); err != nil {
				return fail("For input string: \"" + string(x) + "\"")
			}
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				return fail("For input string: \"" + x + "\"")
			}
		default:
			return fail("Current token (VALUE_" + strings.ToUpper(fmt.Sprintf("%T", v)) + ") not numeric")
		}
	case "float", "double", "half_float", "scaled_float":
		switch x := v.(type) {
		case json.Number:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				return fail("For input string: \"" + x + "\"")
			}
		default:
			return fail("Current token not numeric")
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
		case string:
			if x != "true" && x != "false" && x != "" {
				return fail("Failed to parse value [" + x + "] as only [true] or [false] are allowed.")
			}
		default:
			return fail("Failed to parse value as only [true] or [false] are allowed.")
		}
	}
	return "", nil
}

var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04", "2006-01-02"}

func parseDate(s string) bool {
	for _, l := range dateLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}
