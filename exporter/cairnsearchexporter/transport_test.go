package cairnsearchexporter

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/cairnsec/cairn/internal/searchtest"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	caFile, clientCert, clientKey string
	pool                          *x509.CertPool
	server                        tls.Certificate
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cairn test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return b
	}
	srvDER, srvKey := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	cliDER, cliKey := leaf(3, "cairn", x509.ExtKeyUsageClientAuth, nil)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{
		caFile:     write("ca.pem", "CERTIFICATE", caDER),
		clientCert: write("client.pem", "CERTIFICATE", cliDER),
		clientKey:  write("client-key.pem", "EC PRIVATE KEY", keyDER(cliKey)),
		pool:       pool,
		server:     tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
}

// TestTLSWithClientCertificate: a cluster whose certificate is signed by a
// private CA and that requires client certificates is reached with
// tls.ca_file, tls.cert_file and tls.key_file; without the client
// certificate nothing is delivered.
func TestTLSWithClientCertificate(t *testing.T) {
	pki := newPKI(t)
	srv := searchtest.NewTLS(t, searchtest.Elasticsearch, "8.17.1", &tls.Config{
		Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	require.Contains(t, srv.URL, "https://")

	cfg := testConfig(srv.URL)
	cfg.TLS.CAFile = pki.caFile
	cfg.TLS.CertFile = pki.clientCert
	cfg.TLS.KeyFile = pki.clientKey
	h := startExporter(t, cfg, nil)
	h.consume(t, logsOf(t, scenarioLines(t, 5)...))
	eventually(t, 5*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == 5 }, func() string { return "not delivered over TLS" })
	h.stop(t)

	noCert := testConfig(srv.URL)
	noCert.TLS.CAFile = pki.caFile
	noQueue(noCert)
	noCert.BackOffConfig.Enabled = false
	h2 := startExporter(t, noCert, nil)
	err := h2.exp.ConsumeLogs(context.Background(), logsOf(t, scenarioLines(t, 10)[5:]...))
	require.Error(t, err, "the server requires a client certificate")
	h2.stop(t)
	assert.Len(t, srv.Docs("logs-cairn.events-default"), 5)
}

// TestProxy: proxy_url sends every request through the proxy.
func TestProxy(t *testing.T) {
	srv := searchtest.New(t, searchtest.OpenSearch, "2.19.0")
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy for plain HTTP: the request line holds the
		// absolute URL of the target.
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		proxied.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)

	cfg := testConfig(srv.URL)
	cfg.ProxyURL = proxy.URL
	h := startExporter(t, cfg, nil)
	h.consume(t, logsOf(t, scenarioLines(t, 5)...))
	eventually(t, 5*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == 5 }, func() string { return "not delivered through the proxy" })
	h.stop(t)
	requests, _ := srv.Stats()
	assert.Equal(t, int64(requests), proxied.Load(), "every request went through the proxy")
}

// headerAuth is a client auth extension, as any collector auth extension
// (oauth2client, sigv4auth, …) plugs in: it adds an Authorization header.
type headerAuth struct {
	component.StartFunc
	component.ShutdownFunc
	value string
}

func (a *headerAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", a.value)
		return base.RoundTrip(r)
	}), nil
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAuthExtension: auth.authenticator names a collector auth extension,
// whose credentials reach the cluster.
func TestAuthExtension(t *testing.T) {
	srv := searchtest.New(t, searchtest.Elasticsearch, "9.1.0")
	srv.Auth = "Bearer from-extension"
	id := component.MustNewID("oauth2client")
	cfg := testConfig(srv.URL)
	cfg.Auth = configoptional.Some(configauth.Config{AuthenticatorID: id})
	host := storagetest.NewStorageHost().WithExtension(id, &headerAuth{value: "Bearer from-extension"})
	h := startExporter(t, cfg, host)
	h.consume(t, logsOf(t, scenarioLines(t, 5)...))
	eventually(t, 5*time.Second, func() bool { return len(srv.Docs("logs-cairn.events-default")) == 5 }, func() string { return "not delivered with the extension's credentials" })
	h.stop(t)
}

// recorded is what a test server saw of one request.
type recorded struct {
	method, path, encoding, transfer, auth string
	length                                 int64
	body                                   []byte
}

// recorder is an httptest server that records every request and answers
// like Elasticsearch (with the product header the official client checks)
// or with answer, when set.
func recorder(t *testing.T, answer http.HandlerFunc) (*httptest.Server, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var seen []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, recorded{method: r.Method, path: r.URL.Path, encoding: r.Header.Get("Content-Encoding"),
			transfer: strings.Join(r.TransferEncoding, ","), auth: r.Header.Get("Authorization"), length: r.ContentLength, body: body})
		mu.Unlock()
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"version":{"number":"8.17.1"},"tagline":"You Know, for Search"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), seen...)
	}
}

// TestNoBodyOnGetOrHead: neither client sends a body with GET or HEAD,
// even when given one and with compression on (the collector's own
// compression would send a gzip stream of nothing, with Content-Encoding);
// POST and PUT bodies are compressed.
func TestNoBodyOnGetOrHead(t *testing.T) {
	srv, seen := recorder(t, nil)
	comp := newCompressor("gzip", 0)
	es, err := newESClient(srv.URL, http.DefaultTransport, time.Second, comp)
	require.NoError(t, err)
	for _, c := range []searchClient{&plainClient{base: srv.URL, client: http.DefaultClient, comp: comp}, es} {
		for _, m := range []string{"GET", "HEAD"} {
			_, err := c.do(t.Context(), m, "/_ilm/policy/cairn", []byte(`{"ignored":true}`))
			require.NoError(t, err)
		}
		_, err := c.do(t.Context(), "GET", "/", nil)
		require.NoError(t, err)
		_, err = c.do(t.Context(), "POST", "/_bulk", []byte("{\"create\":{}}\n{}\n"))
		require.NoError(t, err)
	}
	reqs := seen()
	require.Len(t, reqs, 8)
	for _, r := range reqs {
		if r.method == "GET" || r.method == "HEAD" {
			assert.Empty(t, r.body, "%s %s", r.method, r.path)
			assert.Zero(t, r.length, "%s %s: Content-Length", r.method, r.path)
			assert.Empty(t, r.encoding, "%s %s: Content-Encoding", r.method, r.path)
			assert.Empty(t, r.transfer, "%s %s: Transfer-Encoding", r.method, r.path)
			continue
		}
		assert.Equal(t, "gzip", r.encoding)
		zr, err := gzip.NewReader(bytes.NewReader(r.body))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.Equal(t, "{\"create\":{}}\n{}\n", string(plain))
	}
}

// TestNoBodyOnGetEndToEnd: through the exporter (detection, bootstrap,
// _bulk) against both products, with the default gzip compression, no GET
// or HEAD reaching the cluster carries a body.
func TestNoBodyOnGetEndToEnd(t *testing.T) {
	for f, version := range map[searchtest.Flavour]string{searchtest.Elasticsearch: "8.17.1", searchtest.OpenSearch: "2.19.1"} {
		srv := searchtest.New(t, f, version)
		var gets, bad atomic.Int32
		srv.Hook = func(r *http.Request, _ int) (int, string) {
			if r.Method == "GET" || r.Method == "HEAD" {
				gets.Add(1)
				if r.ContentLength != 0 || r.Header.Get("Content-Encoding") != "" || len(r.TransferEncoding) > 0 {
					bad.Add(1)
				}
			}
			return 0, ""
		}
		cfg := testConfig(srv.URL)
		require.Equal(t, "gzip", string(cfg.Compression))
		h := startExporter(t, cfg, nil)
		h.consume(t, logsOf(t, scenarioLines(t, 5)...))
		h.stop(t)
		assert.Len(t, srv.Docs("logs-cairn.events-default"), 5)
		assert.Positive(t, gets.Load(), "detection and bootstrap read with GET")
		assert.Zero(t, bad.Load(), "GET or HEAD requests with a body")
	}
}

// TestRedirects: a redirect to another host is refused with an error that
// says why, and that host receives nothing (so never the credentials);
// a redirect within the endpoint's host is followed with them. The
// Elasticsearch client never follows redirects.
func TestRedirects(t *testing.T) {
	other, otherSeen := recorder(t, nil)
	t.Run("plain client, other host", func(t *testing.T) {
		first, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
		})
		cfg := testConfig(first.URL)
		cfg.APIKey = "s3cret"
		cfg.BackOffConfig.Enabled = false
		h := startExporter(t, cfg, nil)
		err := h.exp.ConsumeLogs(t.Context(), logsOf(t, scenarioLines(t, 2)...))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "refusing to follow a redirect to another host")
		h.stop(t)
		assert.Empty(t, otherSeen(), "the other host received no request")
	})
	t.Run("elasticsearch client, other host", func(t *testing.T) {
		first, _ := recorder(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				_, _ = io.WriteString(w, `{"version":{"number":"8.17.1"}}`)
				return
			}
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusPermanentRedirect)
		})
		cfg := testConfig(first.URL)
		cfg.APIKey = "s3cret"
		cfg.BackOffConfig.Enabled = false
		h := startExporter(t, cfg, nil)
		err := h.exp.ConsumeLogs(t.Context(), logsOf(t, scenarioLines(t, 2)...))
		require.Error(t, err, "bootstrap gets a 308 answer, not the other host's")
		h.stop(t)
		assert.Empty(t, otherSeen(), "the other host received no request")
	})
	t.Run("same host", func(t *testing.T) {
		var srvURL string
		srv, seen := recorder(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/old" {
				http.Redirect(w, r, srvURL+"/new", http.StatusTemporaryRedirect)
				return
			}
			_, _ = io.WriteString(w, `{}`)
		})
		srvURL = srv.URL
		hc := &http.Client{Transport: &credentials{next: http.DefaultTransport, value: "ApiKey s3cret"}, CheckRedirect: checkRedirect}
		res, err := (&plainClient{base: srv.URL, client: hc}).do(t.Context(), "GET", "/old", nil)
		require.NoError(t, err)
		assert.Equal(t, 200, res.status)
		reqs := seen()
		require.Len(t, reqs, 2)
		assert.Equal(t, "/new", reqs[1].path)
		assert.Equal(t, "ApiKey s3cret", reqs[1].auth, "credentials kept within the host")
	})
	t.Run("rules", func(t *testing.T) {
		req := func(u string) *http.Request { r, _ := http.NewRequest("GET", u, nil); return r }
		assert.NoError(t, checkRedirect(req("https://es.example.com:9200/b"), []*http.Request{req("https://es.example.com:9200/a")}))
		assert.NoError(t, checkRedirect(req("https://ES.example.com:9200/b"), []*http.Request{req("http://es.example.com:9200/a")}), "upgrade to https")
		assert.ErrorIs(t, checkRedirect(req("https://es.example.com:9201/b"), []*http.Request{req("https://es.example.com:9200/a")}), errCrossHostRedirect, "another port")
		assert.ErrorIs(t, checkRedirect(req("https://evil.example.com:9200/b"), []*http.Request{req("https://es.example.com:9200/a")}), errCrossHostRedirect)
		assert.ErrorContains(t, checkRedirect(req("http://es.example.com:9200/b"), []*http.Request{req("https://es.example.com:9200/a")}), "from https to http")
	})
}

// TestPlainHTTPCredentialsWarning: credentials configured with an
// http:// endpoint are warned about at start (naming which, never their
// value); https, or no credentials, gives no warning.
func TestPlainHTTPCredentialsWarning(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint string
		set      func(*Config)
		want     []string
	}{
		{"api_key", "http://127.0.0.1:1", func(c *Config) { c.APIKey = "s3cret" }, []string{"api_key"}},
		{"basic", "http://127.0.0.1:1", func(c *Config) { c.User, c.Password = "cairn", "s3cret" }, []string{"user/password"}},
		{"bearer", "http://127.0.0.1:1", func(c *Config) { c.BearerToken = "s3cret" }, []string{"bearer_token"}},
		{"header", "http://127.0.0.1:1", func(c *Config) {
			c.Headers = configopaque.MapList{{Name: "authorization", Value: "Basic s3cret"}}
		}, []string{"headers::authorization"}},
		{"none", "http://127.0.0.1:1", func(*Config) {}, nil},
		{"https", "https://127.0.0.1:1", func(c *Config) { c.APIKey = "s3cret" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := withSpool(testConfig(tc.endpoint), t.TempDir())
			tc.set(cfg)
			h := startExporter(t, cfg, nil)
			h.stop(t)
			warned := h.logs.FilterMessageSnippet("plain http:// endpoint").All()
			if tc.want == nil {
				assert.Empty(t, warned)
				return
			}
			require.Len(t, warned, 1)
			assert.Equal(t, fmt.Sprint(tc.want), fmt.Sprint(warned[0].ContextMap()["credentials"]))
			for _, e := range h.logs.All() {
				assert.NotContains(t, e.Message+fmt.Sprint(e.ContextMap()), "s3cret")
			}
		})
	}
}
