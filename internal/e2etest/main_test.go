package e2etest

import (
	"os"
	"testing"

	"github.com/cairnsec/cairn/internal/testkit"
)

// helperEnv makes the test binary play a program the tests run: a copy of
// it, with a hash of its own, is the "new network tool" of the live test.
const helperEnv = "CAIRN_E2E_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runHelper(mode string, args []string) int {
	switch mode {
	case "connect":
		// args: address hold
		return testkit.DialAndHold(args[0], args[1])
	}
	return 99
}
