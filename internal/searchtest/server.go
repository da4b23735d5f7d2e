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
//   - create of an existing _id answers 409; index with version_type
//     external_gte answers 409 when the stored version is higher;
//   - documents are checked against the mappings of the matching
//     templates (ip, date, long, float, boolean, keyword, nested, object),
//     unmapped fields are mapped on first sight and must keep their type;
//     a failure answers 400 document_parsing_exception (Elasticsearch) or
//     mapper_parsing_exception (OpenSearch) for that item;
//   - OpenSearch refuses Elasticsearch-only settings (index.lifecycle.*)
//     and has neither ILM nor the built-in logs template;
//   - a body above MaxContentLength answers 413, gzip bodies are accepted.
//
// Faults are injected per request (Hook), per item (ItemFault), by delay,
// and by taking the listener down (connections refused) and up again.
package searchtest

import (
	"bytes"
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
	name       string
	patterns   []string
	priority   int
	dataStream bool
	composedOf []string
	template   map[string]any
	builtin    bool
}

type index struct {
	name       string
	dataStream bool
	types      map[string]string // dotted path -> type (nested/object included)
	docs       map[string]*Doc
	seq        int64
	// keywordStrings: new string fields are keyword (a dynamic template
	// says so), else text.
	keywordStrings bool
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
		s.templates["logs"] = &indexTemplate{name: "logs", patterns: []string{"logs-*-*"}, priority: 100, dataStream: true, builtin: true,
			template: map[string]any{"mappings": map[string]any{"properties": map[string]any{"@timestamp": map[string]any{"type": "date"}}}}}
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
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
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
		s.component(w, r.Method, strings.TrimPrefix(p, "/_component_template/"), body)
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

func (s *Server) component(w http.ResponseWriter, method, name string, body []byte) {
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
		if err := s.checkSettings(tmpl); err != "" {
			s.writeError(w, 400, "illegal_argument_exception", err)
			return
		}
		if err := checkMappings(tmpl); err != "" {
			s.writeError(w, 400, "mapper_parsing_exception", err)
			return
		}
		s.components[name] = c
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(405)
	}
}

// checkSettings refuses settings the flavour does not know.
func (s *Server) checkSettings(tmpl map[string]any) string {
	settings, _ := tmpl["settings"].(map[string]any)
	for k := range flatten(settings, "") {
		if s.Flavour == OpenSearch && strings.HasPrefix(k, "index.lifecycle.") {
			return "unknown setting [" + k + "] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"
		}
	}
	return ""
}

var knownTypes = map[string]bool{"keyword": true, "text": true, "ip": true, "long": true, "integer": true, "float": true, "double": true,
	"date": true, "boolean": true, "nested": true, "object": true, "constant_keyword": true, "date_nanos": true}

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
		_ = json.NewEncoder(w).Encode(map[string]any{"index_templates": []any{map[string]any{"name": name, "index_template": map[string]any{
			"index_patterns": t.patterns, "priority": t.priority, "composed_of": t.composedOf}}}})
	case http.MethodPut:
		var raw struct {
			IndexPatterns []string       `json:"index_patterns"`
			Priority      int            `json:"priority"`
			ComposedOf    []string       `json:"composed_of"`
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
			if _, ok := s.components[c]; !ok {
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
		}
		t := &indexTemplate{name: name, patterns: raw.IndexPatterns, priority: raw.Priority, dataStream: raw.DataStream != nil, composedOf: raw.ComposedOf, template: raw.Template}
		if t.dataStream {
			if typ := s.resolveTypes(t)["@timestamp"]; typ != "date" && typ != "date_nanos" {
				s.writeError(w, 400, "illegal_argument_exception", "data stream timestamp field [@timestamp] of type ["+typ+"] is not date or date_nanos")
				return
			}
		}
		s.templates[name] = t
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(405)
	}
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

// resolveTypes merges the mappings of a template's components and its own.
func (s *Server) resolveTypes(t *indexTemplate) map[string]string {
	types := map[string]string{}
	for _, c := range t.composedOf {
		if tmpl, ok := s.components[c]["template"].(map[string]any); ok {
			m, _ := tmpl["mappings"].(map[string]any)
			collectTypes(m, "", types)
		}
	}
	if t.template != nil {
		m, _ := t.template["mappings"].(map[string]any)
		collectTypes(m, "", types)
	}
	return types
}

// dynamicStringsKeyword says whether the template maps new strings as
// keyword (a dynamic template with match_mapping_type string).
func (s *Server) dynamicStringsKeyword(t *indexTemplate) bool {
	for _, c := range t.composedOf {
		if tmpl, ok := s.components[c]["template"].(map[string]any); ok {
			if m, ok := tmpl["mappings"].(map[string]any); ok {
				b, _ := json.Marshal(m["dynamic_templates"])
				if bytes.Contains(b, []byte(`"match_mapping_type":"string"`)) {
					return true
				}
			}
		}
	}
	return false
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
