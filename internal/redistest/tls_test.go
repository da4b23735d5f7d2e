package redistest

import (
	"os/exec"
	"testing"
)

// TestNoTLS: a binary without OpenSSL is reported as lacking TLS (the
// TLS tests then skip, or fail under CI, saying so); a redis-server that
// links it is not, so its start failures are real failures.
func TestNoTLS(t *testing.T) {
	sh, err := exec.LookPath("true")
	if err != nil {
		t.Skip(err)
	}
	if why := noTLS(sh, "exited"); why == "" {
		t.Errorf("%s: no libssl, but noTLS says it can do TLS", sh)
	}
	if why := noTLS(sh, "Bad directive or wrong number of arguments: tls-port"); why == "" {
		t.Error("the log's complaint about tls-port is not recognised")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	if why := noTLS(bin, "exited"); why != "" {
		t.Logf("%s cannot do TLS here: %s", bin, why)
	}
}
