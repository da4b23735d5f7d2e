package redisconf

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/cairnsec/cairn/internal/redistest"
)

// ping connects with rc's settings (through ClientConfig and NewClient,
// as the components do) and sends PING.
func ping(t *testing.T, rc Config) error {
	t.Helper()
	cc, err := rc.ClientConfig(context.Background())
	require.NoError(t, err)
	c, _ := NewClient(cc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func tlsConfig(addr, ca string) Config {
	rc := Default("cairn:")
	rc.Endpoint = addr
	rc.DialTimeout = 5 * time.Second
	rc.TLS = configtls.ClientConfig{Insecure: false, Config: configtls.Config{CAFile: ca}}
	return rc
}

// TestTLS: a redis-server that speaks TLS only, with a certificate of a
// test CA. tls.ca_file with insecure: false connects (with a password,
// and without a warning); without the CA the client refuses the server's
// certificate; plain TCP gets nowhere.
func TestTLS(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	srv := redistest.StartTLSServer(t, files, false, "--requirepass", "tls-s3cret")

	rc := tlsConfig(srv.Addr(), files.CA)
	rc.Password = "tls-s3cret"
	require.NoError(t, rc.Check())
	assert.Empty(t, rc.Warnings())
	require.NoError(t, ping(t, rc), "TLS with the test CA")

	// As every collector TLS client: a CA turns TLS on even with the
	// default insecure: true.
	caOnly := Default("cairn:")
	caOnly.Endpoint, caOnly.Password, caOnly.TLS.CAFile = srv.Addr(), "tls-s3cret", files.CA
	require.True(t, caOnly.TLS.Insecure)
	assert.False(t, caOnly.PlainTCP())
	assert.Empty(t, caOnly.Warnings())
	require.NoError(t, ping(t, caOnly), "TLS with ca_file alone")

	noCA := tlsConfig(srv.Addr(), "")
	noCA.Password = "tls-s3cret"
	err := ping(t, noCA)
	var unknown x509.UnknownAuthorityError
	require.Error(t, err)
	assert.True(t, errors.As(err, &unknown), "a certificate error, got %v", err)
	assert.ErrorContains(t, err, "certificate signed by unknown authority")

	plain := Default("cairn:")
	plain.Endpoint = srv.Addr()
	plain.DialTimeout = time.Second
	plain.Timeout = time.Second
	assert.Error(t, ping(t, plain), "plain TCP to a TLS port")
}

// TestMutualTLS: with tls-auth-clients yes, the client's certificate
// (tls.cert_file, tls.key_file) gets in; without one the server refuses.
func TestMutualTLS(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	srv := redistest.StartTLSServer(t, files, true)

	rc := tlsConfig(srv.Addr(), files.CA)
	rc.TLS.CertFile, rc.TLS.KeyFile = files.ClientCert, files.ClientKey
	require.NoError(t, rc.Check())
	require.NoError(t, ping(t, rc), "mutual TLS with the client certificate")

	err := ping(t, tlsConfig(srv.Addr(), files.CA))
	require.Error(t, err, "no client certificate")
	assert.ErrorContains(t, err, "tls: certificate required")
}
