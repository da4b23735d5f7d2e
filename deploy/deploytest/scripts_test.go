package deploytest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairnsec/cairn/internal/testkit"
)

// fakeDashboards answers the Kibana / OpenSearch Dashboards APIs the install
// scripts call, checks what they send, and records the calls.
type fakeDashboards struct {
	t         *testing.T
	xsrf      string // kbn-xsrf or osd-xsrf
	auth      string // expected Authorization header ("" = none)
	headers   map[string]string
	objects   []byte // expected saved objects file
	rule      []byte // expected detection rule body
	importErr bool   // answer the import with success:false

	mu       sync.Mutex
	calls    []string
	ruleSeen bool
}

func (f *fakeDashboards) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	f.calls = append(f.calls, call)
	if r.Header.Get("Authorization") != f.auth {
		http.Error(w, `{"statusCode":401,"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/api/status" {
		fmt.Fprint(w, `{"status":{"overall":{"level":"available"}}}`)
		return
	}
	if r.Header.Get(f.xsrf) == "" {
		http.Error(w, `{"message":"Request must contain a `+f.xsrf+` header."}`, http.StatusBadRequest)
		return
	}
	for k, v := range f.headers {
		if r.Header.Get(k) != v {
			f.t.Errorf("%s: header %s %q, want %q", call, k, r.Header.Get(k), v)
		}
	}
	path := r.URL.Path
	if i := strings.Index(path, "/api/"); i > 0 {
		path = path[i:] // after /s/<space>
	}
	switch {
	case r.Method == http.MethodPost && path == "/api/saved_objects/_import":
		if r.URL.Query().Get("overwrite") != "true" {
			f.t.Errorf("%s: import without overwrite=true", call)
		}
		file, _, err := r.FormFile("file")
		if err != nil {
			f.t.Errorf("%s: no multipart file: %v", call, err)
			http.Error(w, "no file", http.StatusBadRequest)
			return
		}
		got, _ := io.ReadAll(file)
		if !bytes.Equal(got, f.objects) {
			f.t.Errorf("%s: the uploaded file differs from the saved objects file", call)
		}
		if f.importErr {
			fmt.Fprint(w, `{"successCount":0,"success":false,"errors":[{"id":"cairn-overview","type":"dashboard","error":{"type":"missing_references"}}]}`)
			return
		}
		fmt.Fprintf(w, `{"successCount":%d,"success":true,"successResults":[]}`, bytes.Count(f.objects, []byte("\n")))
	case path == "/api/detection_engine/rules" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, f.rule) {
			f.t.Errorf("%s: body is not the rule file as JSON (Content-Type %q)", call, r.Header.Get("Content-Type"))
		}
		if r.Method == http.MethodPost && f.ruleSeen {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"message":"rule_id: \"cairn-alert-promotion\" already exists","status_code":409}`)
			return
		}
		f.ruleSeen = true
		fmt.Fprint(w, `{"id":"0d6c1a4e","rule_id":"cairn-alert-promotion"}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeDashboards) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// runScript runs a deploy script with only the given environment (and PATH).
func runScript(t *testing.T, rel string, env map[string]string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(testkit.RepoRoot(), filepath.FromSlash(rel)))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func TestKibanaInstallScript(t *testing.T) {
	needTools(t, "bash", "curl")
	fake := &fakeDashboards{t: t, xsrf: "kbn-xsrf", auth: "ApiKey c2VjcmV0OmtleQ==",
		objects: readRepoFile(t, "deploy/kibana/saved_objects.ndjson"),
		rule:    readRepoFile(t, "deploy/kibana/detection_rule.json")}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	// First install, with an API key, into a space: the rule is created.
	out, err := runScript(t, "deploy/kibana/install.sh", map[string]string{
		"KIBANA_URL": srv.URL + "/", "KIBANA_API_KEY": "c2VjcmV0OmtleQ==", "KIBANA_SPACE": "soc"})
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	want := []string{"GET /api/status", "POST /s/soc/api/saved_objects/_import?overwrite=true", "POST /s/soc/api/detection_engine/rules"}
	if got := fake.takeCalls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if !strings.Contains(out, "10 objects imported") || !strings.Contains(out, "rule created") {
		t.Errorf("output:\n%s", out)
	}

	// Second install, basic authentication with a password JSON and curl
	// config files would trip on: the rule exists (409) and is replaced.
	pw := `p"a\ss w0rd`
	fake.auth = basic("elastic", pw)
	out, err = runScript(t, "deploy/kibana/install.sh", map[string]string{
		"KIBANA_URL": srv.URL, "KIBANA_USER": "elastic", "KIBANA_PASSWORD": pw})
	if err != nil {
		t.Fatalf("install.sh again: %v\n%s", err, out)
	}
	want = []string{"GET /api/status", "POST /api/saved_objects/_import?overwrite=true",
		"POST /api/detection_engine/rules", "PUT /api/detection_engine/rules"}
	if got := fake.takeCalls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if !strings.Contains(out, "rule updated") {
		t.Errorf("output:\n%s", out)
	}

	// Failures end the script with a message that says what to do.
	out, err = runScript(t, "deploy/kibana/install.sh", map[string]string{"KIBANA_URL": srv.URL, "KIBANA_USER": "elastic", "KIBANA_PASSWORD": "wrong"})
	if err == nil || !strings.Contains(out, "refused the credentials") {
		t.Errorf("wrong password: err %v, output:\n%s", err, out)
	}
	fake.importErr = true
	out, err = runScript(t, "deploy/kibana/install.sh", map[string]string{"KIBANA_URL": srv.URL, "KIBANA_USER": "elastic", "KIBANA_PASSWORD": pw})
	if err == nil || !strings.Contains(out, "saved objects import failed") || !strings.Contains(out, "missing_references") {
		t.Errorf("refused import: err %v, output:\n%s", err, out)
	}
	out, err = runScript(t, "deploy/kibana/install.sh", map[string]string{"KIBANA_URL": "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(out, "is not available") {
		t.Errorf("no Kibana: err %v, output:\n%s", err, out)
	}
}

func TestOpenSearchInstallScript(t *testing.T) {
	needTools(t, "bash", "curl")
	pw := `admin"pw\1`
	fake := &fakeDashboards{t: t, xsrf: "osd-xsrf", auth: basic("admin", pw),
		headers: map[string]string{"securitytenant": "global"},
		objects: readRepoFile(t, "deploy/opensearch/dashboards/saved_objects.ndjson")}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	out, err := runScript(t, "deploy/opensearch/install.sh", map[string]string{
		"OPENSEARCH_DASHBOARDS_URL": srv.URL, "OPENSEARCH_DASHBOARDS_USER": "admin",
		"OPENSEARCH_DASHBOARDS_PASSWORD": pw, "OPENSEARCH_DASHBOARDS_TENANT": "global"})
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	want := []string{"GET /api/status", "POST /api/saved_objects/_import?overwrite=true"}
	if got := fake.takeCalls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	fake.importErr = true
	out, err = runScript(t, "deploy/opensearch/install.sh", map[string]string{
		"OPENSEARCH_DASHBOARDS_URL": srv.URL, "OPENSEARCH_DASHBOARDS_USER": "admin",
		"OPENSEARCH_DASHBOARDS_PASSWORD": pw, "OPENSEARCH_DASHBOARDS_TENANT": "global"})
	if err == nil || !strings.Contains(out, "saved objects import failed") {
		t.Errorf("refused import: err %v, output:\n%s", err, out)
	}
}

// TestShellScripts: bash -n always; shellcheck when it is installed.
func TestShellScripts(t *testing.T) {
	needTools(t, "bash")
	scripts, err := filepath.Glob(filepath.Join(testkit.RepoRoot(), "deploy", "*", "*.sh"))
	if err != nil || len(scripts) < 3 {
		t.Fatalf("scripts %v: %v", scripts, err)
	}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
		head, _ := os.ReadFile(s)
		if !bytes.HasPrefix(head, []byte("#!/usr/bin/env bash\n")) || !bytes.Contains(head, []byte("\nset -euo pipefail\n")) {
			t.Errorf("%s: want a bash shebang and set -euo pipefail", s)
		}
		if st, err := os.Stat(s); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck not installed: skipped")
		return
	}
	if out, err := exec.Command("shellcheck", scripts...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
