package cairnsearchexporter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
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
