package feed

import (
	"bytes"
	"os"
	"testing"

	"github.com/cairnsec/cairn/processor/intelprocessor/internal/indicator"
)

func TestZZHang(t *testing.T) {
	for _, f := range []string{"/tmp/fuzzlast-12111", "/tmp/fuzzlast-12112"} {
		data, _ := os.ReadFile(f)
		t.Log("classify", f)
		classify(data)
		t.Log("parse", f)
		STIX2{}.Parse(bytes.NewReader(data), "x", func(indicator.Indicator) error { return nil })
		t.Log("done", f)
	}
}
