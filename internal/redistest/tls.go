package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TLSFiles are PEM files of a test CA and of a server and a client
// certificate it signed, in a temporary directory. The server certificate
// is for 127.0.0.1 and localhost; the client certificate's common name is
// ClientName.
type TLSFiles struct {
	CA         string
	ServerCert string
	ServerKey  string
	ClientCert string
	ClientKey  string
}

// ClientName is the common name of the test client certificate.
const ClientName = "cairn-test-agent"

// NewTLSFiles generates a CA and the two certificates (ECDSA P-256, valid
// for a day) in t.TempDir().
func NewTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	now := time.Now().Add(-time.Hour)
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Cairn test CA"},
		NotBefore:             now,
		NotAfter:              now.Add(25 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	f := TLSFiles{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	writePEM(t, f.CA, "CERTIFICATE", caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certFile, keyFile string, ips []net.IP, dns []string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now,
			NotAfter:     now.Add(25 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
			DNSNames:     dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, certFile, "CERTIFICATE", der)
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, keyFile, "PRIVATE KEY", kder)
	}
	leaf(2, "localhost", x509.ExtKeyUsageServerAuth, f.ServerCert, f.ServerKey, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	leaf(3, ClientName, x509.ExtKeyUsageClientAuth, f.ClientCert, f.ClientKey, nil, nil)
	return f
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ClientTLS is a client configuration trusting the test CA and presenting
// the client certificate.
func (f TLSFiles) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// StartTLSServer runs redis-server like StartServer, but listening for TLS
// only (no plain TCP port) with the certificates of f. mutual: clients must
// present a certificate signed by the CA (tls-auth-clients yes); otherwise
// they need not.
//
// A redis-server built without TLS cannot run it: the test skips, except
// under CI ($CI set), where it fails and says what is missing.
func StartTLSServer(t testing.TB, f TLSFiles, mutual bool, extra ...string) *Server {
	t.Helper()
	Addr(t) // same gate as the shared server
	auth := "no"
	if mutual {
		auth = "yes"
	}
	args := append([]string{
		"--tls-cert-file", f.ServerCert, "--tls-key-file", f.ServerKey,
		"--tls-ca-cert-file", f.CA, "--tls-auth-clients", auth,
	}, extra...)
	s := &Server{t: t, bin: serverBinary(t), dir: t.TempDir(), port: FreePort(t), args: args, tls: f.ClientTLS(t)}
	if err := s.start(); err != nil {
		if why := noTLS(s.bin, err.Error()); why != "" {
			msg := fmt.Sprintf("%s has no TLS support (%s): install a redis-server built with BUILD_TLS=yes (Debian's is) or point CAIRN_REDIS_SERVER at one", s.bin, why)
			if os.Getenv("CI") != "" {
				t.Fatalf("%s\n%v", msg, err)
			}
			t.Skip(msg)
		}
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// noTLS says why the binary that failed to start with TLS options cannot do
// TLS at all, or "" when it can (the failure is something else). Redis
// links OpenSSL when built with TLS (BUILD_TLS=yes); a build with TLS as a
// module (BUILD_TLS=module) would need --loadmodule, which the log then
// asks for.
func noTLS(bin, failure string) string {
	low := strings.ToLower(failure)
	if strings.Contains(low, "tls") && (strings.Contains(low, "not supported") || strings.Contains(low, "not built") ||
		strings.Contains(low, "bad directive") || strings.Contains(low, "loadmodule")) {
		return "its log: TLS not supported"
	}
	f, err := elf.Open(bin)
	if err != nil {
		return ""
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		return ""
	}
	for _, l := range libs {
		if strings.HasPrefix(l, "libssl") {
			return ""
		}
	}
	return "it does not link libssl"
}

// PingTLS sends PING over a fresh TLS connection and expects +PONG.
func PingTLS(addr string, cfg *tls.Config, timeout time.Duration) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	return ping(c, timeout)
}
