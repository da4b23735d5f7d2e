// Package searchtest is an in-process stand-in for Elasticsearch (8.x, 9.x)
// and OpenSearch (2.x, 3.x) that answers the way each product documents it,
// for the APIs Cairn's exporter uses: GET / (with the X-Elastic-Product
// header of Elasticsearch), component and composable index templates, ILM
// (Elasticsearch) and ISM (OpenSearch) policies, and _bulk with one status
// per item.
//
// It follows the products' rules where Cairn depends on them:
//
//   - an index name that matches an index template with data_stream (the
//     highest priority template wins; Elasticsearch has its built-in
//     logs-*-* data stream template at priority 100) becomes a data
//     stream, which accepts only "create" and needs @timestamp;
//   - a new index gets the composition of its template (compose.go):
//     component templates in composed_of order, later ones winning, the
//     index template's own template last; Elasticsearch 8.7+ accepts
//     ignore_missing_component_templates, OpenSearch does not (its index
//     template parser refuses unknown fields), and PUT ?create=true of an
//     existing component template is refused;
//   - Elasticsearch: a new data stream matching logs-*-* whose templates
//     set no index.mode gets index.mode logsdb when LogsDBDefault is on
//     (the default from 9.0), with logsdb's defaults, of which Cairn
//     depends on index.mapping.ignore_malformed: a malformed ip, date,
//     number or boolean no longer fails the document, the field is left
//     out of the index and named in _ignored (Doc.Ignored); custom _id
//     values keep working (create of an existing _id answers 409);
//   - OpenSearch attaches an ISM policy to a new index whose name matches
//     the policy's ism_template (IndexPolicy);
//   - create of an existing _id answers 409; index with version_type
//     external_gte answers 409 when the stored version is higher;
//   - documents are checked against the mappings of the matching
//     templates (ip, date, long, float, boolean, keyword, nested, object),
//     unmapped fields are mapped on first sight and must keep their type;
//     a failure answers 400 document_parsing_exception (Elasticsearch) or
//     mapper_parsing_exception (OpenSearch) for that item;
//   - OpenSearch refuses Elasticsearch-only settings (index.lifecycle.*,
//     index.mode) and has neither ILM nor the built-in logs template;
//   - a body above MaxContentLength answers 413, gzip bodies are accepted.
//
// Faults are injected per request (Hook), per item (ItemFault), by delay,
// and by taking the listener down (connections refused) and up again.
package searchtest

import (
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Flavour of the fake.
type Flavour int

const (
	Elasticsearch Flavour = iota
	OpenSearch
)

// Doc is a stored document.
type Doc struct {
	Index   string // the index or data stream written to
	ID      string
	Source  map[string]any
	Raw     []byte
	Version int64
	// Ignored lists the fields left out of the index because their value
	// was malformed and ignore_malformed was on (the _ignored metadata
	// field of both products).
	Ignored []string
}

// Server is the fake cluster.
type Server struct {
	Flavour Flavour
	Version string
	URL     string
	// tls, when set, makes the server speak HTTPS.
	tls *tls.Config

	// Settings; set before use (or under Lock).
	MaxContentLength int           // 413 above this many (decompressed) bytes; 0 = 100 MiB
	Delay            time.Duration // before every answer
	// Auth, when set, is the only accepted Authorization header.
	Auth string
	// Denied maps a path prefix ("/_index_template", "/_ilm") to the
	// action name a 403 names.
	Denied map[string]string
	// Hook, when set, may answer a request itself (status != 0), before
	// anything else; n counts requests from 1.
	Hook func(r *http.Request, n int) (status int, body string)
	// ItemFault, when set, may fail a bulk item (status != 0) before it
	// is applied; attempt counts the tries of that _index/_id from 1.
	ItemFault func(index, id string, attempt int) (status int, errType, reason string)
	// LogsDBDefault is Elasticsearch's cluster.logsdb.enabled: new
	// logs-*-* data streams without an explicit index.mode become logsdb.
	// New sets it for 9.x, where it is on for new clusters (and for
	// clusters upgraded from 8.x that had no logs-*-* data stream):
	// https://www.elastic.co/docs/manage-data/data-store/data-streams/logs-data-stream
	LogsDBDefault bool

	mu         sync.Mutex
	ln         net.Listener
	srv        *http.Server
	addr       string
	requests   int
	components map[string]map[string]any
	templates  map[string]*indexTemplate
	ilm        map[string][]byte
	ism        map[string][]byte
	indices    map[string]*index
	attempts   map[string]int
	stores     map[string]int // successful writes per index/id
	bulkCalls  int
	bodies     int64
}

type indexTemplate struct {
	name          string
	patterns      []string
	priority      int
	dataStream    bool
	composedOf    []string
	ignoreMissing []string
	template      map[string]any
	builtin       bool
}

type index struct {
	name       string
	dataStream bool
	types      map[string]string // dotted path -> type (nested/object included)
	dynamic    []dynamicTemplate
	settings   map[string]any // normalised: "index.number_of_replicas", ...
	mode       string         // Elasticsearch index.mode; "" on OpenSearch
	// ignoreMalformed: index.mapping.ignore_malformed (logsdb's default).
	ignoreMalformed bool
	ismPolicy       string // OpenSearch: the policy attached by ism_template
	docs            map[string]*Doc
	seq             int64
}

// New starts a fake of the given flavour and version on 127.0.0.1.
func New(t testing.TB, f Flavour, version string) *Server {
	t.Helper()
	return NewTLS(t, f, version, nil)
}

// NewTLS is New serving HTTPS with tlsCfg (nil: plain HTTP), for tests of
// CA and client-certificate settings.
func NewTLS(t testing.TB, f Flavour, version string, tlsCfg *tls.Config) *Server {
	t.Helper()
	s := &Server{
		Flavour:    f,
		Version:    version,
		components: map[string]map[string]any{},
		templates:  map[string]*indexTemplate{},
		ilm:        map[string][]byte{},
		ism:        map[string][]byte{},
		indices:    map[string]*index{},
		attempts:   map[string]int{},
		stores:     map[string]int{},
	}
	if f == Elasticsearch {
		// The built-in template that makes every logs-*-* a data stream.
		s.templates["logs"] = builtinLogsTemplate()
		s.LogsDBDefault = s.atLeast(9, 0)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.URL = "http://" + s.addr
	if tlsCfg != nil {
		s.tls = tlsCfg
		s.URL = "https://" + s.addr
	}
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(ln net.Listener) {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	srv := &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	s.srv = srv
	// The goroutine gets its own copy: Down/Close may replace s.srv
	// before it runs.
	go func() { _ = srv.Serve(ln) }()
}

// Down closes the listener and every connection: clients get "connection
// refused" until Up.
func (s *Server) Down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (s *Server) Up(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listening again on %s: %v", s.addr, err)
	}
	s.mu.Lock()
	s.serve(ln)
	s.mu.Unlock()
}

// Close stops the server.
func (s *Server) Close() { s.Down() }

// Lock runs fn with the server locked (to change settings while it runs).
func (s *Server) Lock(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	n := s.requests
	// Settings a test may change while the server runs (under Lock).
	hook, delay := s.Hook, s.Delay
	auth, denied, limit := s.Auth, s.Denied, s.MaxContentLength
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if s.Flavour == Elasticsearch {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if hook != nil {
		if status, body := hook(r, n); status != 0 {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return
		}
	}
	if auth != "" && r.Header.Get("Authorization") != auth {
		w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
		s.writeError(w, 401, "security_exception", "missing authentication credentials for REST request ["+r.URL.Path+"]")
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, 400, "parse_exception", err.Error())
		return
	}
	if limit == 0 {
		limit = 100 << 20
	}
	if len(body) > limit {
		w.WriteHeader(413)
		return
	}
	for prefix, action := range denied {
		if strings.HasPrefix(r.URL.Path, prefix) {
			reason := fmt.Sprintf("action [%s] is unauthorized for user [cairn] with effective roles [cairn_writer], this action is granted by the cluster privileges [manage_index_templates,manage,all]", action)
			if s.Flavour == OpenSearch {
				reason = fmt.Sprintf("no permissions for [%s] and User [name=cairn, backend_roles=[], requestedTenant=null]", action)
			}
			s.writeError(w, 403, "security_exception", reason)
			return
		}
	}
	s.route(w, r, body)
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	}
	return io.ReadAll(rd)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case p == "/" && r.Method == http.MethodGet:
		s.root(w)
	case p == "/_bulk" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		s.bulk(w, body)
	case strings.HasPrefix(p, "/_component_template/"):
		s.component(w, r.Method, strings.TrimPrefix(p, "/_component_template/"), r.URL.Query().Get("create") == "true", body)
	case strings.HasPrefix(p, "/_index_template/"):
		s.indexTemplate(w, r.Method, strings.TrimPrefix(p, "/_index_template/"), body)
	case strings.HasPrefix(p, "/_ilm/policy/") && s.Flavour == Elasticsearch:
		s.policy(w, r.Method, strings.TrimPrefix(p, "/_ilm/policy/"), body, s.ilm, "resource_not_found_exception", "Lifecycle policy not found: ")
	case strings.HasPrefix(p, "/_plugins/_ism/policies/") && s.Flavour == OpenSearch:
		s.policy(w, r.Method, strings.TrimPrefix(p, "/_plugins/_ism/policies/"), body, s.ism, "status_exception", "Policy not found: ")
	default:
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":"no handler found for uri [%s] and method [%s]"}`, p, r.Method)
	}
}

func (s *Server) writeError(w http.ResponseWriter, status int, typ, reason string) {
	e := map[string]any{"type": typ, "reason": reason}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"root_cause": []any{e}, "type": typ, "reason": reason}, "status": status})
}

func (s *Server) root(w http.ResponseWriter) {
	v := map[string]any{
		"number": s.Version, "build_type": "docker", "build_hash": "0123456789abcdef0123456789abcdef01234567",
		"build_date": "2025-01-10T10:08:26.972230187Z", "build_snapshot": false, "lucene_version": "9.12.0",
		"minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0",
	}
	body := map[string]any{"name": "node-1", "cluster_name": "cairn-test", "cluster_uuid": "kW6v2qfYQDa0gWq3kz2a9Q", "version": v}
	if s.Flavour == OpenSearch {
		v["distribution"] = "opensearch"
		v["minimum_wire_compatibility_version"] = "7.10.0"
		body["tagline"] = "The OpenSearch Project: https://opensearch.org/"
	} else {
		v["build_flavor"] = "default"
		body["tagline"] = "You Know, for Search"
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) component(w http.ResponseWriter, method, name string, create bool, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case http.MethodGet:
		c, ok := s.components[name]
		if !ok {
			s.writeError(w, 404, "resource_not_found_exception", "component template matching ["+name+"] not found")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"component_templates": []any{map[string]any{"name": name, "component_template": c}}})
	case http.MethodPut:
		var c map[string]any
		if err := json.Unmarshal(body, &c); err != nil {
			s.writeError(w, 400, "x_content_parse_exception", err.Error())
			return
		}
		tmpl, _ := c["template"].(map[string]any)
		if tmpl == nil {
			s.writeError(w, 400, "action_request_validation_exception", "Validation Failed: 1: template is missing;")
			return
		}
		if _, exists := s.components[name]; exists && create {
			s.writeError(w, 400, "illegal_argument_exception", "component template ["+name+"] already exists")
			return
		}
		if err := s.checkSettings(tmpl); err != "" {
			s.writeError(w, 400, "illegal_argument_exception", err)
			return
		}
		if err := checkMappings(tmpl); err != "" {
			s.writeError(w, 400, "mapper_parsing_exception", err)
			return
		}
		// Both products validate every index template that uses the
		// component with the new version of it.
		old, had := s.components[name]
		s.components[name] = c
		for _, t := range s.templates {
			if !contains(t.composedOf, name) {
				continue
			}
			if err := s.checkComposed(t); err != "" {
				if had {
					s.components[name] = old
				} else {
					delete(s.components, name)
				}
				s.writeError(w, 400, "illegal_argument_exception",
					fmt.Sprintf("updating component template [%s] results in invalid composable template [%s] after templates are merged: %s", name, t.name, err))
				return
			}
		}
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(405)
	}
}

// checkSettings refuses settings the flavour does not know: OpenSearch has
// neither ILM (index.lifecycle.*) nor index modes (index.mode);
// Elasticsearch knows the modes listed in indexModes (index.mode is
// registered since 8.5, when time series data streams left the feature
// flag).
func (s *Server) checkSettings(tmpl map[string]any) string {
	settings, _ := tmpl["settings"].(map[string]any)
	for k, v := range normalizeSettings(settings) {
		unknown := "unknown setting [" + k + "] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"
		switch {
		case s.Flavour == OpenSearch && (strings.HasPrefix(k, "index.lifecycle.") || k == "index.mode"):
			return unknown
		case s.Flavour == Elasticsearch && k == "index.mode":
			if !s.atLeast(8, 5) {
				return unknown
			}
			if mode, _ := v.(string); !indexModes[mode] {
				return fmt.Sprintf("[%v] is an invalid index mode, valid modes are: [standard, time_series, logsdb, lookup]", v)
			}
		}
	}
	return ""
}

var knownTypes = map[string]bool{"keyword": true, "text": true, "match_only_text": true, "wildcard": true, "ip": true,
	"long": true, "integer": true, "short": true, "byte": true, "float": true, "double": true, "half_float": true, "scaled_float": true,
	"date": true, "boolean": true, "nested": true, "object": true, "constant_keyword": true, "date_nanos": true, "flattened": true, "geo_point": true}

// checkMappings refuses unknown field types.
func checkMappings(tmpl map[string]any) string {
	m, _ := tmpl["mappings"].(map[string]any)
	types := map[string]string{}
	if err := collectTypes(m, "", types); err != "" {
		return err
	}
	return ""
}

func collectTypes(m map[string]any, prefix string, out map[string]string) string {
	props, _ := m["properties"].(map[string]any)
	for k, v := range props {
		def, ok := v.(map[string]any)
		if !ok {
			return "Expected map for property [" + prefix + k + "]"
		}
		path := prefix + k
		typ, _ := def["type"].(string)
		if _, sub := def["properties"]; sub {
			if typ == "" {
				typ = "object"
			}
			out[path] = typ
			if err := collectTypes(def, path+".", out); err != "" {
				return err
			}
			continue
		}
		if !knownTypes[typ] {
			return "No handler for type [" + typ + "] declared on field [" + path + "]"
		}
		out[path] = typ
	}
	return ""
}

// Body fields of a composable index template each product's parser
// accepts; any other field is refused. ignore_missing_component_templates
// came with Elasticsearch 8.7 (elastic/elasticsearch#92436); OpenSearch
// never added it.
var indexTemplateFields = map[Flavour][]string{
	Elasticsearch: {"index_patterns", "composed_of", "template", "data_stream", "priority", "version", "_meta", "allow_auto_create", "deprecated"},
	OpenSearch:    {"index_patterns", "composed_of", "template", "data_stream", "priority", "version", "_meta", "context"},
}

func (s *Server) indexTemplate(w http.ResponseWriter, method, name string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case http.MethodGet:
		t, ok := s.templates[name]
		if !ok {
			s.writeError(w, 404, "resource_not_found_exception", "index template matching ["+name+"] not found")
			return
		}
		it := map[string]any{"index_patterns": t.patterns, "priority": t.priority, "composed_of": t.composedOf}
		if t.ignoreMissing != nil {
			it["ignore_missing_component_templates"] = t.ignoreMissing
		}
		if t.template != nil {
			it["template"] = t.template
		}
		if t.dataStream {
			it["data_stream"] = map[string]any{}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"index_templates": []any{map[string]any{"name": name, "index_template": it}}})
	case http.MethodPut:
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			s.writeError(w, 400, "x_content_parse_exception", err.Error())
			return
		}
		known := append([]string{}, indexTemplateFields[s.Flavour]...)
		if s.Flavour == Elasticsearch && s.atLeast(8, 7) {
			known = append(known, "ignore_missing_component_templates")
		}
		for k := range fields {
			if !contains(known, k) {
				s.writeError(w, 400, "x_content_parse_exception", "[1:2] [index_template] unknown field ["+k+"]")
				return
			}
		}
		var raw struct {
			IndexPatterns []string       `json:"index_patterns"`
			Priority      int            `json:"priority"`
			ComposedOf    []string       `json:"composed_of"`
			IgnoreMissing []string       `json:"ignore_missing_component_templates"`
			DataStream    map[string]any `json:"data_stream"`
			Template      map[string]any `json:"template"`
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			s.writeError(w, 400, "x_content_parse_exception", err.Error())
			return
		}
		if len(raw.IndexPatterns) == 0 {
			s.writeError(w, 400, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;")
			return
		}
		var missing []string
		for _, c := range raw.ComposedOf {
			if _, ok := s.components[c]; !ok && !contains(raw.IgnoreMissing, c) {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			s.writeError(w, 400, "invalid_index_template_exception", fmt.Sprintf("index_template [%s] invalid, cause [index template [%s] specifies component templates %v that do not exist]", name, name, missing))
			return
		}
		for _, other := range s.templates {
			if other.name == name || other.priority != raw.Priority {
				continue
			}
			if overlaps(other.patterns, raw.IndexPatterns) {
				s.writeError(w, 400, "illegal_argument_exception", fmt.Sprintf("index template [%s] has index patterns %v matching patterns from existing templates [%s] with patterns (%s => %v) that have the same priority [%d], multiple index templates may not match during index creation, please use a different priority",
					name, raw.IndexPatterns, other.name, other.name, other.patterns, raw.Priority))
				return
			}
		}
		if raw.Template != nil {
			if err := s.checkSettings(raw.Template); err != "" {
				s.writeError(w, 400, "illegal_argument_exception", err)
				return
			}
			if err := checkMappings(raw.Template); err != "" {
				s.writeError(w, 400, "mapper_parsing_exception", err)
				return
			}
		}
		t := &indexTemplate{name: name, patterns: raw.IndexPatterns, priority: raw.Priority, dataStream: raw.DataStream != nil,
			composedOf: raw.ComposedOf, ignoreMissing: raw.IgnoreMissing, template: raw.Template}
		if err := s.checkComposed(t); err != "" {
			s.writeError(w, 400, "illegal_argument_exception", err)
			return
		}
		s.templates[name] = t
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(405)
	}
}

// checkComposed validates what an index template composes to: a data
// stream needs @timestamp mapped as a date.
func (s *Server) checkComposed(t *indexTemplate) string {
	if !t.dataStream {
		return ""
	}
	_, mappings := s.compose(t)
	types := map[string]string{}
	collectTypes(mappings, "", types)
	if typ := types["@timestamp"]; typ != "date" && typ != "date_nanos" {
		return "data stream timestamp field [@timestamp] of type [" + typ + "] is not date or date_nanos"
	}
	return ""
}

// overlaps is the products' rough test: a pattern of one matches a pattern
// of the other taken literally.
func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if match(x, y) || match(y, x) {
				return true
			}
		}
	}
	return false
}

// match is a glob with * only.
func match(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

func (s *Server) policy(w http.ResponseWriter, method, name string, body []byte, store map[string][]byte, notFound, prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case http.MethodGet:
		p, ok := store[name]
		if !ok {
			s.writeError(w, 404, notFound, prefix+name)
			return
		}
		fmt.Fprintf(w, `{"%s":{"policy":%s}}`, name, p)
	case http.MethodPut:
		var v struct {
			Policy json.RawMessage `json:"policy"`
		}
		if err := json.Unmarshal(body, &v); err != nil || len(v.Policy) == 0 {
			s.writeError(w, 400, "parse_exception", "request body is required and must hold a policy")
			return
		}
		if _, ok := store[name]; ok && s.Flavour == OpenSearch {
			// ISM updates need if_seq_no/if_primary_term.
			s.writeError(w, 409, "version_conflict_engine_exception", "["+name+"]: version conflict, document already exists (current version [1])")
			return
		}
		store[name] = v.Policy
		if s.Flavour == OpenSearch {
			w.WriteHeader(201)
			fmt.Fprintf(w, `{"_id":%q,"_version":1,"_primary_term":1,"_seq_no":0,"policy":{"policy":%s}}`, name, v.Policy)
			return
		}
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(405)
	}
}

// createIndex makes the index (or data stream) name from its matching
// template, as the first write to a missing index does (under s.mu).
func (s *Server) createIndex(name string) *index {
	ix := &index{name: name, types: map[string]string{}, settings: map[string]any{}, docs: map[string]*Doc{}}
	if tmpl := s.templateFor(name); tmpl != nil {
		settings, mappings := s.compose(tmpl)
		ix.dataStream = tmpl.dataStream
		ix.settings = settings
		collectTypes(mappings, "", ix.types)
		ix.dynamic = dynamicTemplates(mappings)
	}
	if s.Flavour == Elasticsearch {
		ix.mode, _ = ix.settings["index.mode"].(string)
		if ix.mode == "" {
			// Elasticsearch's logsdb settings provider: only for data
			// streams named logs-*-*, only when nothing set a mode.
			ix.mode = "standard"
			if ix.dataStream && s.LogsDBDefault && match("logs-*-*", name) {
				ix.mode = "logsdb"
			}
			ix.settings["index.mode"] = ix.mode
		}
		if ix.mode == "logsdb" {
			for k, v := range logsdbDefaults {
				if _, set := ix.settings[k]; !set {
					ix.settings[k] = v
				}
			}
			// logsdb sorts on host.name and @timestamp and maps them when
			// the templates do not.
			if _, ok := ix.types["@timestamp"]; !ok {
				ix.types["@timestamp"] = "date"
			}
			if _, ok := ix.types["host.name"]; !ok {
				if t, ok := ix.types["host"]; !ok || t == "object" {
					ix.types["host"] = "object"
					ix.types["host.name"] = "keyword"
				}
			}
		}
	} else {
		ix.ismPolicy = s.ismPolicyFor(name, ix.dataStream)
	}
	ix.ignoreMalformed = truthy(ix.settings["index.mapping.ignore_malformed"])
	s.indices[name] = ix
	return ix
}

// ismPolicyFor returns the ISM policy whose ism_template matches a new
// index (the highest priority wins). For a data stream both its name and
// its first backing index's name are tried.
func (s *Server) ismPolicyFor(name string, dataStream bool) string {
	names := []string{name}
	if dataStream {
		names = append(names, ".ds-"+name+"-000001")
	}
	best, bestPriority := "", -1
	for id, raw := range s.ism {
		var p struct {
			ISMTemplate json.RawMessage `json:"ism_template"`
		}
		_ = json.Unmarshal(raw, &p)
		var list []struct {
			IndexPatterns []string `json:"index_patterns"`
			Priority      int      `json:"priority"`
		}
		if err := json.Unmarshal(p.ISMTemplate, &list); err != nil {
			// ism_template may be one object instead of a list.
			var one struct {
				IndexPatterns []string `json:"index_patterns"`
				Priority      int      `json:"priority"`
			}
			if json.Unmarshal(p.ISMTemplate, &one) != nil {
				continue
			}
			list = append(list, one)
		}
		for _, t := range list {
			for _, n := range names {
				if anyMatch(t.IndexPatterns, n) && t.Priority > bestPriority {
					best, bestPriority = id, t.Priority
				}
			}
		}
	}
	return best
}

// templateFor returns the highest-priority template matching name.
func (s *Server) templateFor(name string) *indexTemplate {
	var best *indexTemplate
	for _, t := range s.templates {
		for _, p := range t.patterns {
			if match(p, name) && (best == nil || t.priority > best.priority) {
				best = t
			}
		}
	}
	return best
}

// Template reports whether an index template of that name is installed.
func (s *Server) Template(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.templates[name]
	return ok
}

// Component returns an installed component template's body.
func (s *Server) Component(name string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.components[name]
	return c, ok
}

// Policy returns an installed ILM or ISM policy.
func (s *Server) Policy(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.ilm[name]; ok {
		return p, true
	}
	p, ok := s.ism[name]
	return p, ok
}

// IsDataStream reports whether name exists as a data stream.
func (s *Server) IsDataStream(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	return ok && ix.dataStream
}

// IndexMode returns the index.mode an existing index or data stream got
// ("standard", "logsdb", ...; "" on OpenSearch or when name is missing).
func (s *Server) IndexMode(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix, ok := s.indices[name]; ok {
		return ix.mode
	}
	return ""
}

// IndexSetting returns a setting of an existing index or data stream as
// its templates composed it; key may omit the "index." prefix.
func (s *Server) IndexSetting(name, key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		return nil, false
	}
	if !strings.HasPrefix(key, "index.") {
		key = "index." + key
	}
	v, ok := ix.settings[key]
	return v, ok
}

// FieldType returns the mapped type of a dotted path in an existing index
// or data stream ("" when unmapped).
func (s *Server) FieldType(name, path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix, ok := s.indices[name]; ok {
		return ix.types[path]
	}
	return ""
}

// IndexPolicy returns the lifecycle policy managing an existing index or
// data stream: index.lifecycle.name on Elasticsearch, the ISM policy its
// name matched on OpenSearch ("" for none).
func (s *Server) IndexPolicy(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		return ""
	}
	if s.Flavour == OpenSearch {
		return ix.ismPolicy
	}
	p, _ := ix.settings["index.lifecycle.name"].(string)
	return p
}

// Request sends one request to the fake as a user or a script would (for
// tests that change templates by hand); it returns the status and body.
func (s *Server) Request(t testing.TB, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.Auth != "" {
		req.Header.Set("Authorization", s.Auth)
	}
	client := http.DefaultClient
	if s.tls != nil {
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a test's own server
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Docs returns the documents of every index or data stream whose name
// matches pattern (glob with *), sorted by index and id.
func (s *Server) Docs(pattern string) []*Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Doc
	for name, ix := range s.indices {
		if !match(pattern, name) {
			continue
		}
		for _, d := range ix.docs {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Stores returns how many times each index/id was written successfully
// (a document delivered exactly once has 1; an alert has one per state).
func (s *Server) Stores() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.stores))
	for k, v := range s.stores {
		out[k] = v
	}
	return out
}

// Stats returns the number of requests and of _bulk requests.
func (s *Server) Stats() (requests, bulks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.bulkCalls
}

// flatten turns nested settings into dotted keys.
func flatten(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for k2, v2 := range flatten(sub, prefix+k+".") {
				out[k2] = v2
			}
			continue
		}
		out[prefix+k] = v
	}
	return out
}

// DeletePolicy removes an ILM or ISM policy.
func (s *Server) DeletePolicy(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ilm, name)
	delete(s.ism, name)
}
